"""The admin API under malformed requests: bad JSON, a huge body, wrong methods, unknown paths,
garbage bytes and half requests on the socket. Each gets a 4xx answer (or the connection is
closed for bytes that are not HTTP), and the server keeps serving afterwards."""

import json
import socket
import unittest
import urllib.error
import urllib.request

from reliability import ReliabilityTestCase

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class AdminMalformedTest(ReliabilityTestCase):
    def request(self, method, path, body=None, headers=None):
        req = urllib.request.Request(self.server.url + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with _opener.open(req, timeout=30) as answer:
                return answer.status, answer.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def raw(self, data, read_timeout=10):
        """Sends raw bytes on a new connection; returns what came back before it closed."""
        host, port = self.server.url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=read_timeout) as s:
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            except OSError:
                return b""
            received = b""
            try:
                while len(received) < 65536:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    received += chunk
            except OSError:
                pass
            return received

    def assert_still_serving(self):
        status, body = self.request("GET", "/api/health")
        self.assertEqual(status, 200, body)

    def assert_client_error(self, status, body, what):
        self.assertTrue(400 <= status < 500, f"{what}: {status} {body[:300]}")
        self.assert_still_serving()

    def test_bad_json_bodies_get_400_naming_the_problem(self):
        for body in [b"{", b"not json", b"[]", b"null", b'{"GROUP_ID": 5}', b"\xff\xfe\x00",
                     b'{"a":' * 10000]:
            with self.subTest(body=body[:20]):
                status, answer = self.request("POST", "/api/deployments", body,
                                              {"Content-Type": "application/json"})
                self.assert_client_error(status, answer, body[:20])
                self.assertTrue(json.loads(answer), "the error is a JSON object")

    def test_a_huge_body_is_refused(self):
        # The server answers once it sees the length, without waiting for 64 MiB. Only the head
        # is sent: unread body bytes would make the closing server reset the connection, and
        # a reset may discard its answer before the client reads it.
        head = (b"POST /api/deployments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (64 << 20))
        answer = self.raw(head)
        self.assertTrue(answer.startswith(b"HTTP/1.1 4"), answer[:200])
        self.assert_still_serving()

    def test_wrong_methods_and_unknown_paths(self):
        for method, path in [("DELETE", "/api/deployments"), ("PUT", "/api/status"),
                             ("POST", "/api/health"), ("GET", "/api/shutdown"),
                             ("GET", "/api/nothing"), ("GET", "/api/deployments/..%2f..%2fetc"),
                             ("GET", "/api/deployments/" + "x" * 5000),
                             ("GET", "/api/deployments/d-none/logs"), ("PATCH", "/")]:
            with self.subTest(method=method, path=path[:40]):
                status, answer = self.request(method, path)
                self.assert_client_error(status, answer, f"{method} {path[:40]}")

    def test_garbage_on_the_socket(self):
        cases = [b"\x00\x01\x02\x03" * 256, b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                 b"GET /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                 b"POST /api/deployments HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
                 b"GET /api/status HTTP/1.1\r\nHost: x\r\nX: " + b"a" * (1 << 20) + b"\r\n\r\n",
                 b"GET /api/status HTTP/1.1\r\nHost: x\r\n",  # never finished
                 bytes(range(256)) * 64]
        for data in cases:
            with self.subTest(data=data[:30]):
                answer = self.raw(data)
                if answer:
                    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
                    self.assertTrue(400 <= status < 500, answer[:200])
                self.assert_still_serving()


if __name__ == "__main__":
    unittest.main()
