"""Faulty UDP echo: replies from a second, unbound socket instead of the one the request arrived on.

The bug: the reply leaves from an ephemeral port chosen by the kernel, not
from the server's port.  A client that called connect() on its UDP socket
only accepts datagrams from the address it connected to, so the kernel drops
every reply and the client waits forever.  Unconnected clients (recvfrom)
still see an answer, from a surprising port.

Exposed by: udp.peers.connected-client (and the source check of udp.echo.roundtrip).
"""

import os
import signal
import socket
import sys

# The plumbing shared with the reference servers lives in ../py.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             os.pardir, "py"))
from serverargs import parse_args  # noqa: E402


def main():
    host, port, family = parse_args()
    listener = socket.socket(family, socket.SOCK_DGRAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)  # bursts are not the bug here
    listener.bind((host, port))
    replier = socket.socket(family, socket.SOCK_DGRAM)  # BUG: a different socket, so a different source port
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"{sys.argv[0]}: bound to {host} port {port} (udp)", file=sys.stderr, flush=True)
    while True:
        data, peer = listener.recvfrom(65536)
        replier.sendto(data, peer)


if __name__ == "__main__":
    main()
