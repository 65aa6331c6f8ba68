#!/usr/bin/python3
"""Webhook sink for the local stack and the tests: records every request it is sent.

Each POST (also PUT and PATCH) is stored as DIR/<timestamp>-<seq>.json with
{"method", "path", "headers", "body", "status", "received_at"} and answered with 200 and an
empty JSON object. "body" is the request body as text; a body that is not UTF-8 is stored as
"body_base64" instead. Files appear by rename, so a reader never sees a partial one.

GET /healthz answers 200. To test retries, POST /_sink/respond with {"status": 503, "count": 2}
makes the next 2 recorded requests answer 503 (they are still recorded, with that status).
{"delay_ms": 3000} (with or without "status"; "count" defaults to 1) makes them wait that long
before answering: a slow endpoint, or with a large value one that hangs. A delayed request is
recorded when it arrives (with "delay_ms" in its file), before the wait. DELETE /_sink/respond
goes back to an immediate 200 and releases requests that are still waiting.

Requests are served concurrently (a thread each), so a slow or hanging request does not hold up
the others.

Usage: webhook_sink.py --port 8025 --dir /path/to/webhooks
Runs until SIGTERM or SIGINT. Standard library only.
"""

import argparse
import base64
import datetime
import itertools
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recorder:
    """Shared by the server's request threads; guarded by its own lock."""

    def __init__(self, directory):
        self.dir = directory
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._fail_status = 200
        self._fail_delay_ms = 0
        self._fail_count = 0
        # Set to release the requests waiting out a delay; replaced by a fresh one on each reset.
        self._release = threading.Event()

    def set_response(self, status, count, delay_ms=0):
        with self._lock:
            self._fail_status, self._fail_count, self._fail_delay_ms = status, count, delay_ms

    def reset(self):
        """Back to an immediate 200; wakes every request still waiting out a delay."""
        with self._lock:
            self._fail_status, self._fail_count, self._fail_delay_ms = 200, 0, 0
            self._release.set()
            self._release = threading.Event()

    def next_response(self):
        """(status, delay_ms, release event) for the next recorded request."""
        with self._lock:
            if self._fail_count > 0:
                self._fail_count -= 1
                return self._fail_status, self._fail_delay_ms, self._release
            return 200, 0, self._release

    def record(self, entry):
        now = datetime.datetime.now(datetime.timezone.utc)
        with self._lock:
            seq = next(self._seq)
        name = "%s-%06d.json" % (now.strftime("%Y%m%dT%H%M%S.%fZ"), seq)
        entry["received_at"] = now.isoformat()
        tmp = os.path.join(self.dir, "." + name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(entry, f, indent=2)
            f.write("\n")
        os.replace(tmp, os.path.join(self.dir, name))
        return name


class Handler(BaseHTTPRequestHandler):
    server_version = "meldpunt-webhook-sink"
    protocol_version = "HTTP/1.1"

    def _reply(self, status, body=b"{}"):
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. timed out on a delayed answer): nothing to answer to.
            self.close_connection = True

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self):
        if self.path.split("?", 1)[0] == "/healthz":
            self._reply(200, b'{"status":"ok"}')
        else:
            self._reply(404, b'{"error":"not found"}')

    def do_DELETE(self):
        if self.path == "/_sink/respond":
            self.server.recorder.reset()
            self._reply(200)
        else:
            self._reply(404, b'{"error":"not found"}')

    def _record(self):
        raw = self._body()
        if self.path == "/_sink/respond" and self.command == "POST":
            try:
                spec = json.loads(raw or b"{}")
                if not isinstance(spec, dict):
                    raise ValueError("expected a JSON object like {\"status\": 503, \"count\": 2}")
                status = int(spec.get("status", 200))
                count = int(spec.get("count", 1))
                delay_ms = int(spec.get("delay_ms", 0))
                if not 100 <= status <= 599:
                    raise ValueError("status %d is not an HTTP status (100-599)" % status)
                if count < 0 or delay_ms < 0:
                    raise ValueError("count and delay_ms must not be negative")
                self.server.recorder.set_response(status, count, delay_ms)
            except (ValueError, TypeError) as e:
                self._reply(400, json.dumps({"error": str(e)}).encode())
                return
            self._reply(200)
            return
        status, delay_ms, release = self.server.recorder.next_response()
        entry = {
            "method": self.command,
            "path": self.path,
            "headers": {k: v for k, v in self.headers.items()},
            "status": status,
        }
        if delay_ms:
            entry["delay_ms"] = delay_ms
        try:
            entry["body"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            entry["body"] = None
            entry["body_base64"] = base64.b64encode(raw).decode("ascii")
        name = self.server.recorder.record(entry)
        self.log_message("recorded %s %s -> %s (%d%s)", self.command, self.path, name, status,
                         ", after %d ms" % delay_ms if delay_ms else "")
        if delay_ms:
            # Waits on this thread only; reset() (DELETE /_sink/respond) and shutdown cut it short.
            release.wait(delay_ms / 1000.0)
        self._reply(status, b"{}" if status < 400 else b'{"error":"injected by the sink"}')

    do_POST = _record
    do_PUT = _record
    do_PATCH = _record

    def log_message(self, fmt, *args):
        sys.stdout.write("%s %s\n" % (self.log_date_time_string(), fmt % args))
        sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True, help="folder for the recorded requests")
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.recorder = Recorder(os.path.abspath(args.dir))

    def shutdown(*_):
        # shutdown() blocks until serve_forever returns, so it must not run on that thread.
        server.recorder.reset()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    print("webhook sink listening on %s:%d, storing in %s" % (args.host, args.port, args.dir),
          flush=True)
    server.serve_forever(poll_interval=0.5)
    server.server_close()
    print("webhook sink stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
