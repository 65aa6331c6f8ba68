#!/usr/bin/python3
"""Webhook sink for the local stack and the tests: records every request it is sent.

Each POST (also PUT and PATCH) is stored as DIR/<timestamp>-<seq>.json with
{"method", "path", "headers", "body", "status", "received_at"} and answered with 200 and an
empty JSON object. "body" is the request body as text; a body that is not UTF-8 is stored as
"body_base64" instead. Files appear by rename, so a reader never sees a partial one.

GET /healthz answers 200. To test retries, POST /_sink/respond with {"status": 503, "count": 2}
makes the next 2 recorded requests answer 503 (they are still recorded, with that status);
DELETE /_sink/respond goes back to 200.

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
        self._fail_count = 0

    def set_response(self, status, count):
        with self._lock:
            self._fail_status, self._fail_count = status, count

    def next_status(self):
        with self._lock:
            if self._fail_count > 0:
                self._fail_count -= 1
                return self._fail_status
            return 200

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
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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
            self.server.recorder.set_response(200, 0)
            self._reply(200)
        else:
            self._reply(404, b'{"error":"not found"}')

    def _record(self):
        raw = self._body()
        if self.path == "/_sink/respond" and self.command == "POST":
            try:
                spec = json.loads(raw or b"{}")
                self.server.recorder.set_response(int(spec.get("status", 200)),
                                                  int(spec.get("count", 1)))
            except (ValueError, TypeError) as e:
                self._reply(400, json.dumps({"error": str(e)}).encode())
                return
            self._reply(200)
            return
        status = self.server.recorder.next_status()
        entry = {
            "method": self.command,
            "path": self.path,
            "headers": {k: v for k, v in self.headers.items()},
            "status": status,
        }
        try:
            entry["body"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            entry["body"] = None
            entry["body_base64"] = base64.b64encode(raw).decode("ascii")
        name = self.server.recorder.record(entry)
        self.log_message("recorded %s %s -> %s (%d)", self.command, self.path, name, status)
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
