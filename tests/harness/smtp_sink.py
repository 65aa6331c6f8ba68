#!/usr/bin/python3
"""SMTP sink for the local stack and the tests: accepts every message and stores it on disk.

Plain SMTP on loopback (no TLS, no AUTH), so libcurl's smtp:// client can deliver to it. Each
message is stored as DIR/<timestamp>-<seq>.eml with the raw RFC 5322 bytes as received, and the
envelope beside it as DIR/<timestamp>-<seq>.json ({"mail_from", "rcpt_tos", "received_at",
"eml"}). The .json is written before the .eml and both appear by rename, so a reader that sees
an .eml never sees a partial file and always finds its envelope.

Usage: smtp_sink.py --port 2525 --dir /path/to/mail
Runs until SIGTERM or SIGINT. Needs python3-aiosmtpd (Debian's system python).
"""

import argparse
import datetime
import itertools
import json
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller


class StoreHandler:
    """Writes each accepted message to a folder. Called on the controller's event-loop thread."""

    def __init__(self, directory):
        self._dir = directory
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def _write(self, path, data):
        tmp = os.path.join(self._dir, "." + os.path.basename(path) + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    async def handle_DATA(self, server, session, envelope):
        now = datetime.datetime.now(datetime.timezone.utc)
        with self._lock:
            seq = next(self._seq)
        base = "%s-%06d" % (now.strftime("%Y%m%dT%H%M%S.%fZ"), seq)
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "received_at": now.isoformat(),
            "peer": str(session.peer[0]) if session.peer else None,
            "eml": base + ".eml",
        }
        self._write(os.path.join(self._dir, base + ".json"),
                    (json.dumps(meta, indent=2) + "\n").encode("utf-8"))
        self._write(os.path.join(self._dir, base + ".eml"), content)
        print("stored %s.eml from=%s to=%s bytes=%d"
              % (base, envelope.mail_from, ",".join(envelope.rcpt_tos), len(content)), flush=True)
        return "250 OK stored as %s" % base


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True, help="folder for the received messages")
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(
        StoreHandler(os.path.abspath(args.dir)),
        hostname=args.host,
        port=args.port,
        server_hostname="meldpunt-smtp-sink",
        enable_SMTPUTF8=True,
        data_size_limit=64 * 1024 * 1024,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller.start()
    print("smtp sink listening on %s:%d, storing in %s" % (args.host, args.port, args.dir),
          flush=True)
    while not stop.wait(1.0):
        pass
    controller.stop()
    print("smtp sink stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
