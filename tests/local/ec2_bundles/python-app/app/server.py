"""The app: GET / names its version, /health says ok, /whoami names the host and the user."""

import getpass
import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

APP_DIR = "/home/ec2-user/app"

with open(os.path.join(APP_DIR, "VERSION")) as f:
    VERSION = f.read().strip()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = "ok\n"
        elif self.path == "/whoami":
            body = f"{socket.gethostname()} {getpass.getuser()}\n"
        else:
            body = f"python app version {VERSION}\n"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
