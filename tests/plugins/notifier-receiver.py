#!/usr/bin/env python3
"""notifier-receiver: a webhook receiver for the notifier plugin's tests.

Listens on 127.0.0.1 on a port the OS picks (or --port), writes that port to DIR/port,
and appends one JSON line per POST to DIR/requests.jsonl:
{"n": 1, "path": ..., "headers": {lowercased name: value}, "body": <the raw
body as text>, "t": <seconds since the epoch>}. Every request is recorded
before it is answered.

  notifier-receiver.py DIR [--fail N] [--fail-status CODE] [--status CODE]
                           [--sleep SECONDS] [--port PORT]

--fail N answers --fail-status (500) to the first N requests; --status
answers CODE to every other request (default 200); --sleep waits before
answering; --port listens on PORT (a receiver that comes up late on the
URL the notifier was given). Standard library only.
"""
import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--fail", type=int, default=0)
    ap.add_argument("--fail-status", type=int, default=500)
    ap.add_argument("--status", type=int, default=200)
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()

    lock = threading.Lock()
    seen = [0]
    log_path = os.path.join(args.dir, "requests.jsonl")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode("utf-8", "replace")
            with lock:
                seen[0] += 1
                n = seen[0]
                rec = {"n": n, "path": self.path, "body": body, "t": time.time(),
                       "headers": {k.lower(): v for k, v in self.headers.items()}}
                with open(log_path, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            if args.sleep:
                time.sleep(args.sleep)
            status = args.fail_status if n <= args.fail else args.status
            answer = json.dumps({"message": "receiver says %d" % status}).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the notifier gave up waiting: fine

        def log_message(self, fmt, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    tmp = os.path.join(args.dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, os.path.join(args.dir, "port"))
    server.serve_forever()


if __name__ == "__main__":
    main()
