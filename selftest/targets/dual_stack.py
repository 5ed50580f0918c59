"""A correct echo server on an AF_INET6 socket bound to the IPv4-mapped address (::ffff:HOST), the way
a JVM binds 127.0.0.1; with HOST "any" it listens on the wildcard :: (Go's and Node's default).
This used to be never seen listening: readiness and the TIME_WAIT reads asked AF_INET only."""

import socket
import sys

from _serve import log, serve_echo

port, where = int(sys.argv[1]), sys.argv[2]
sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
sock.bind(("::" if where == "any" else "::ffff:" + where, port))
sock.listen(128)
log(f"listening on [{sock.getsockname()[0]}]:{port}")
serve_echo(sock)
