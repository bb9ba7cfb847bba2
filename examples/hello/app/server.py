#!/usr/bin/env python3
"""hello: a tiny HTTP service that says which version it is.

GET /        -> "hello from version <VERSION>"
GET /healthz -> "ok"
Listens on 127.0.0.1:$PORT (or --host, --port). The version is read from the VERSION file next to
this script, which make-bundle writes.
"""
import argparse
import os
import pathlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = pathlib.Path(__file__).resolve().parent


def read_version():
    try:
        return (HERE / "VERSION").read_text().strip() or "unknown"
    except OSError:
        return "unknown"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection serves many requests
    version = read_version()

    def do_GET(self):
        if self.path == "/healthz":
            self.answer(200, "ok\n")
        elif self.path == "/":
            self.answer(200, f"hello from version {self.version}\n")
        else:
            self.answer(404, "not found\n")

    def answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # one line per request would fill the log
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"hello version {Handler.version} listening on {args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
