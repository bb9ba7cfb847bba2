"""One group's clients cannot starve the others: a flood of idle connections to one group's
service, larger than the server's whole file descriptor limit, leaves another group's service
and the admin API answering, and the flooded service answers again once the flood ends."""

import errno
import resource
import socket
import unittest

from reliability import ReliabilityTestCase, make_bundle, wait_until
from harness import free_port, http_get  # noqa: E402 (found through the path reliability sets)

# The server runs with this soft RLIMIT_NOFILE, so the flood can exceed it many times over
# with a few thousand sockets. Its listeners' default cap is an eighth of it (64).
SERVER_FILE_LIMIT = 512
FLOOD = 1500


class ProxyFloodTest(ReliabilityTestCase):
    def setUp(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < FLOOD + 200:
            self.skipTest(f"the open files hard limit ({hard}) is too low for the flood")
        # The server inherits the lowered limit; this process takes it back up at once.
        resource.setrlimit(resource.RLIMIT_NOFILE, (SERVER_FILE_LIMIT, hard))
        try:
            super().setUp()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, FLOOD + 200), hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))

    def flood(self, address):
        host, port = address.rsplit(":", 1)
        sockets = []
        for _ in range(FLOOD):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            code = s.connect_ex((host, int(port)))
            self.assertIn(code, (0, errno.EINPROGRESS))
            sockets.append(s)
        return sockets

    def test_an_idle_flood_on_one_group_leaves_the_others_answering(self):
        other = f"127.0.0.1:{free_port()}"
        for group, listen, version in (("web", self.listen, 1), ("api", other, 2)):
            code, result, done = self.deploy(self.params(make_bundle(version, self.tmp),
                                                         GROUP_ID=group, LISTEN=listen,
                                                         CAPACITY=1))
            self.assertEqual(code, 0, done.stderr + self.server.log()[-2000:])

        sockets = self.flood(self.listen)
        try:
            status, body = http_get(f"http://{other}/", timeout=20)
            self.assertEqual((status, body.strip()), (200, "hello from version 2"))
            done = self.cli("status", "--output", "json", timeout=60)
            self.assertEqual(done.returncode, 0, done.stderr)
        finally:
            for s in sockets:
                s.close()
        # The flood's connections are closed; the flooded group serves again.
        wait_until(lambda: self.service()[0] == 200, timeout=60)
        self.assert_serves(1)


if __name__ == "__main__":
    unittest.main()
