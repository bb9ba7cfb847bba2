#!/usr/bin/env python3
"""An HTTPS server on 127.0.0.1 for TLS tests: every GET is answered 200 "tls ok".

Usage: tls_server.py CERT.pem KEY.pem
prints ``READY {"url": "https://127.0.0.1:PORT", "port": PORT}`` and serves until stdin
closes or SIGTERM.
"""
import ssl
import sys

import fake_server
from fake_server import Answer


class Hello:
    def handle(self, request):
        return Answer(200, "tls ok", {"Content-Type": "text/plain"})


def main():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[1], sys.argv[2])
    server = fake_server.serve(Hello(), 0, wrap=context.wrap_socket)
    fake_server.wait_for_parent(server, {"url": f"https://127.0.0.1:{server.server_address[1]}",
                                         "port": server.server_address[1]})


if __name__ == "__main__":
    main()
