"""Floods of clients at the admin address: idle connections far beyond the cap (also when the
server has few file descriptors), and more live streams than the cap. The server's own user
still gets answers, the server does not spin, and the excess is refused with a message."""

import json
import os
import resource
import socket
import time
import unittest

from reliability import ReliabilityTestCase


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class AdminFloodTest(ReliabilityTestCase):
    def setUp(self):
        super().setUp()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        self.sockets = []
        self.addCleanup(self.close_all)

    def close_all(self):
        for s in self.sockets:
            s.close()
        self.sockets = []

    def address(self):
        host, port = self.server.url.removeprefix("http://").rsplit(":", 1)
        return host, int(port)

    def open_idle(self, count):
        for _ in range(count):
            self.sockets.append(socket.create_connection(self.address(), timeout=10))

    def assert_status_answers(self):
        done = self.cli("status", "--output", "json", timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr + self.server.log()[-2000:])
        self.assertEqual(json.loads(done.stdout), {"groups": []})

    def test_idle_connections_beyond_the_cap_leave_the_server_user_served(self):
        # 1024 descriptors, the usual default; 1200 idle clients would take them all.
        self.restart_with(nofile=1024)
        self.open_idle(1200)
        self.assert_status_answers()
        self.assert_status_answers()

    def test_a_server_short_of_descriptors_neither_spins_nor_stops_answering(self):
        self.restart_with(nofile=160)
        self.open_idle(400)
        time.sleep(1)
        pid = self.server.process.pid
        before = cpu_seconds(pid)
        time.sleep(2)
        used = cpu_seconds(pid) - before
        self.assertLess(used, 1.0, f"the idle server used {used:.2f} s of CPU in 2 s")
        self.assert_status_answers()

    def test_live_streams_beyond_the_cap_are_refused_and_status_still_answers(self):
        cap = 64  # the default
        answers = []
        for _ in range(cap + 16):
            s = socket.create_connection(self.address(), timeout=20)
            self.sockets.append(s)
            s.sendall(b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    break
                head += chunk
            answers.append(head)
        streaming = [a for a in answers if a.startswith(b"HTTP/1.1 200")]
        refused = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
        self.assertEqual((len(streaming), len(refused)), (cap, 16), answers[-1][:300])
        # The refusal says what happened (its body follows the head).
        last = self.sockets[-1]
        body = answers[-1]
        while b"live streams" not in body:
            chunk = last.recv(4096)
            if not chunk:
                break
            body += chunk
        self.assertIn(b"live streams are open", body)
        self.assert_status_answers()
        # Closing streams frees their places.
        for s in self.sockets[:8]:
            s.close()
        self.sockets = self.sockets[8:]
        time.sleep(2.5)  # a stream notices its client left at its next status tick (1 s)
        s = socket.create_connection(self.address(), timeout=20)
        self.sockets.append(s)
        s.sendall(b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200"))


if __name__ == "__main__":
    unittest.main()
