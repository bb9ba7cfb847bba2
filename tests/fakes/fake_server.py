"""Shared plumbing of the HTTP fakes in this folder (spot_fake.py, aws_fake.py).

* ``FakeHandler``: a keep-alive HTTP/1.1 request handler that reads the body, hands the request
  to the fake's ``handle(request)`` and writes its ``Answer`` (or drops the connection).
* ``serve(fake, port)``: runs a ThreadingHTTPServer on 127.0.0.1 in a background thread.
* ``run_main(fake, port, describe)`` / ``wait_for_parent(server, description)``: the
  command-line life cycle every fake shares: serve, print one line ``READY {json}`` on stdout,
  run until stdin reaches end-of-file (the parent closed it or died) or SIGTERM arrives.
* ``FaultScript``: scripted failures (400 with an errors list, 429 with rate-limit headers, 500,
  a dropped connection), matched by method and path, each used a number of times.
"""
import json
import re
import signal
import socket
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict  # lower-case names
    body: bytes
    raw_path: str  # path and query exactly as received

    def header(self, name):
        return self.headers.get(name.lower())


@dataclass
class Answer:
    status: int = 200
    body: object = None  # dict/list (sent as JSON), str or bytes
    headers: dict = field(default_factory=dict)
    drop: bool = False  # close the connection without answering

    def payload(self):
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can reuse connections

    def log_message(self, *args):  # quiet: the call log is the record
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(self.command, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                          {k.lower(): v for k, v in self.headers.items()}, body, self.path)
        answer = self.server.fake.handle(request)
        if answer.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload = answer.payload()
        self.send_response(answer.status)
        headers = {"Content-Type": "application/json"}
        headers.update(answer.headers)
        for name, value in headers.items():
            self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client killed before its answer went out (a crash test) is not the fake's error.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def serve(fake, port=0, wrap=None):
    """Starts serving `fake` on 127.0.0.1:`port` (0: any free port); returns the server.
    `wrap`, when given, wraps the listening socket (e.g. an SSLContext's wrap_socket)."""
    server = FakeHTTPServer(("127.0.0.1", port), FakeHandler)
    if wrap is not None:
        server.socket = wrap(server.socket, server_side=True)
    server.fake = fake
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def wait_for_parent(server, description):
    """Prints READY {description}, then serves until stdin reaches EOF or SIGTERM arrives."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        print("READY " + json.dumps(description), flush=True)
        sys.stdin.read()
    finally:
        server.shutdown()


def run_main(fake, port, describe):
    """Serves `fake`, prints READY {describe(server)}, waits for stdin EOF or SIGTERM."""
    server = serve(fake, port)
    wait_for_parent(server, describe(server))


def json_body(request):
    """The request body as JSON, or raises ValueError."""
    if not request.body:
        raise ValueError("empty body")
    return json.loads(request.body)


class FaultScript:
    """Scripted failures. A fault is a dict:

      method, path        which requests it hits ("*" or absent: any); path may be a regex
                          when given as "path_regex"
      operation           for AWS fakes: the X-Amz-Target operation it hits
      answer              "error_400" | "rate_limit" | "server_error" | "drop"
      times               how many matching requests it hits (default 1)
      after               true: the request takes effect first, then the failure is
                          answered (a lost answer to an applied change)
      reset_seconds       for rate_limit: X-RateLimit-Reset (default 1)
      errors              for error_400: the errors list ([{code, message, field}])
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []

    def replace(self, faults):
        with self._lock:
            self._faults = [dict(f, times=f.get("times", 1)) for f in faults]

    def remaining(self):
        with self._lock:
            return [dict(f) for f in self._faults]

    def take(self, request, operation=None):
        """The first fault matching `request`, consumed once; None when none matches."""
        with self._lock:
            for fault in self._faults:
                if "operation" in fault and fault["operation"] != operation:
                    continue
                if fault.get("method", "*") not in ("*", request.method):
                    continue
                if "path" in fault and fault["path"] != request.path:
                    continue
                if "path_regex" in fault and not re.fullmatch(fault["path_regex"], request.path):
                    continue
                fault["times"] -= 1
                if fault["times"] <= 0:
                    self._faults.remove(fault)
                return dict(fault)
        return None
