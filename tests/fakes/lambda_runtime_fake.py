#!/usr/bin/env python3
"""A fake of the Lambda Runtime API (2018-06-01) that drives a custom runtime's ``bootstrap``.

It serves, on 127.0.0.1 and a free port, what Lambda serves at ``$AWS_LAMBDA_RUNTIME_API``:

  GET  /2018-06-01/runtime/invocation/next              the next event (waits for one)
  POST /2018-06-01/runtime/invocation/{id}/response     the invocation's result
  POST /2018-06-01/runtime/invocation/{id}/error        the invocation failed
  POST /2018-06-01/runtime/init/error                   the runtime could not start

and checks the runtime the way Lambda would:
  * ``next`` carries the headers Lambda sends (Lambda-Runtime-Aws-Request-Id,
    Lambda-Runtime-Deadline-Ms, Lambda-Runtime-Invoked-Function-Arn, Lambda-Runtime-Trace-Id);
  * a result must name the request id of the invocation in flight, once: an unknown id or a
    second result is refused with 400 and recorded as a violation;
  * asking for ``next`` while an invocation is unanswered is a violation;
  * ``init/error`` after the first ``next`` is refused with 403 (InvalidStateTransition);
  * error bodies must be JSON with errorMessage and errorType, and results at most 6 MB;
  * any other method or path is answered 404 and recorded as a violation.

From Python::

    with LambdaRuntimeFake() as runtime:
        env = {"AWS_LAMBDA_RUNTIME_API": runtime.address, ...}   # start bootstrap with it
        result = runtime.invoke(event_dict, timeout_ms=60_000)   # blocks until answered
        result.kind        # "response" | "error"
        result.body        # the posted body (text)
        result.error_type  # Lambda-Runtime-Function-Error-Type header, for errors
        runtime.violations # list of strings; a correct runtime leaves it empty
        runtime.posted     # every body the runtime posted, as (path, text), refused ones too

``invoke`` returns None if no answer came within ``wait_seconds``.
"""
import json
import queue
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

MAX_RESPONSE_BYTES = 6 * 1024 * 1024
API = "/2018-06-01"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:bluegreen"


@dataclass
class Result:
    request_id: str
    kind: str  # "response" or "error"
    body: str
    content_type: str = ""
    error_type: str = ""


@dataclass
class _Invocation:
    request_id: str
    payload: bytes
    deadline_ms: int
    trace_id: str
    answered: threading.Event = field(default_factory=threading.Event)
    result: Optional[Result] = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A runtime that is killed resets its connection; that is the test's doing, not news.
        pass


class LambdaRuntimeFake:
    def __init__(self):
        self._pending: "queue.Queue[_Invocation]" = queue.Queue()
        self._lock = threading.Lock()
        self._in_flight: Optional[_Invocation] = None
        self._known: dict = {}
        self.started_serving = False
        self.violations: list = []
        self.init_errors: list = []
        self.posted: list = []
        self.next_calls = 0
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ---- test side ----------------------------------------------------------------------
    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def enqueue(self, event, timeout_ms: int = 60_000, trace_id: Optional[str] = None) -> _Invocation:
        payload = event if isinstance(event, (bytes, str)) else json.dumps(event)
        if isinstance(payload, str):
            payload = payload.encode()
        invocation = _Invocation(
            request_id=str(uuid.uuid4()),
            payload=payload,
            deadline_ms=int(time.time() * 1000) + timeout_ms,
            trace_id=trace_id or f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1",
        )
        with self._lock:
            self._known[invocation.request_id] = invocation
        self._pending.put(invocation)
        return invocation

    def invoke(self, event, timeout_ms: int = 60_000, wait_seconds: Optional[float] = None,
               trace_id: Optional[str] = None) -> Optional[Result]:
        invocation = self.enqueue(event, timeout_ms, trace_id)
        limit = wait_seconds if wait_seconds is not None else timeout_ms / 1000 + 30
        if not invocation.answered.wait(limit):
            return None
        return invocation.result

    # ---- server side --------------------------------------------------------------------
    def _violation(self, text: str):
        with self._lock:
            self.violations.append(text)

    def _next(self) -> _Invocation:
        with self._lock:
            self.next_calls += 1
            self.started_serving = True
            if self._in_flight is not None and not self._in_flight.answered.is_set():
                self.violations.append(
                    f"next called while {self._in_flight.request_id} was unanswered")
        invocation = self._pending.get()
        with self._lock:
            self._in_flight = invocation
        return invocation

    def _answer(self, request_id: str, result: Result) -> Optional[str]:
        with self._lock:
            invocation = self._known.get(request_id)
            if invocation is None:
                self.violations.append(f"result for unknown request id {request_id}")
                return "InvalidRequestID"
            if invocation.answered.is_set():
                self.violations.append(f"second result for {request_id}")
                return "InvalidStateTransition"
            invocation.result = result
            invocation.answered.set()
        return None

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def _reply(self, status: int, body: dict, headers: Optional[dict] = None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Optional[bytes]:
                length = self.headers.get("Content-Length")
                if length is None:
                    if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                        return self._chunked()
                    return b""
                return self.rfile.read(int(length))

            def _chunked(self) -> bytes:
                data = b""
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()

            def do_GET(self):
                if self.path != f"{API}/runtime/invocation/next":
                    fake._violation(f"GET {self.path}")
                    return self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})
                invocation = fake._next()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(invocation.payload)))
                self.send_header("Lambda-Runtime-Aws-Request-Id", invocation.request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(invocation.deadline_ms))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
                self.send_header("Lambda-Runtime-Trace-Id", invocation.trace_id)
                self.end_headers()
                self.wfile.write(invocation.payload)

            def do_POST(self):
                body = self._body() or b""
                with fake._lock:
                    fake.posted.append((self.path, body.decode(errors="replace")))
                if self.path == f"{API}/runtime/init/error":
                    if fake.started_serving:
                        fake._violation("init/error after the first next")
                        return self._reply(403, {"errorType": "InvalidStateTransition",
                                                 "errorMessage": "init already done"})
                    if not self._valid_error_body(body):
                        return None
                    fake.init_errors.append(Result("", "init_error", body.decode(errors="replace"),
                                                   self.headers.get("Content-Type", ""),
                                                   self.headers.get("Lambda-Runtime-Function-Error-Type", "")))
                    return self._reply(202, {"status": "OK"})
                match = re.fullmatch(API + r"/runtime/invocation/([^/]+)/(response|error)", self.path)
                if not match:
                    fake._violation(f"POST {self.path}")
                    return self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})
                request_id, kind = match.groups()
                if len(body) > MAX_RESPONSE_BYTES:
                    fake._violation(f"{kind} for {request_id} over 6 MB")
                    return self._reply(413, {"errorType": "RequestEntityTooLarge",
                                             "errorMessage": "payload too large"})
                if kind == "error" and not self._valid_error_body(body):
                    return None
                refused = fake._answer(request_id, Result(
                    request_id, kind, body.decode(errors="replace"),
                    self.headers.get("Content-Type", ""),
                    self.headers.get("Lambda-Runtime-Function-Error-Type", "")))
                if refused:
                    return self._reply(400, {"errorType": refused, "errorMessage": request_id})
                return self._reply(202, {"status": "OK"})

            def _valid_error_body(self, body: bytes) -> bool:
                try:
                    parsed = json.loads(body)
                    ok = isinstance(parsed, dict) and "errorMessage" in parsed and "errorType" in parsed
                except ValueError:
                    ok = False
                if not ok:
                    fake._violation(f"error body is not {{errorMessage, errorType}}: {self.path}")
                    self._reply(400, {"errorType": "InvalidErrorBody", "errorMessage": "bad body"})
                return ok

            def do_PUT(self):
                fake._violation(f"PUT {self.path}")
                self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})

            do_DELETE = do_PUT

        return Handler
