#!/usr/bin/env python3
"""The backend many teams run: Python's http.server with ThreadingMixIn and the default listen
backlog of 5 (request_queue_size), keep-alive (HTTP/1.1), answering every GET with its name.

    python_backend.py [--port N] [--name NAME]

--port 0 (or no --port and no $PORT) lets the system choose; prints "port N" once it listens.
"""
import argparse
import http.server
import os
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    name = b"backend"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(self.name)))
        self.end_headers()
        self.wfile.write(self.name)

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    request_queue_size = 5
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A proxy closing a keep-alive connection (at a switch, at exit) is not news.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "0")))
    parser.add_argument("--name", default=os.environ.get("BLUEGREEN_INSTANCE_ID", "backend"))
    args = parser.parse_args()
    Handler.name = args.name.encode()
    server = Server(("127.0.0.1", args.port), Handler)
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
