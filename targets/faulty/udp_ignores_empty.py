"""FAULTY: a UDP echo server that never answers an empty datagram.

Bug: ``if not data: continue`` -- the server treats a zero-length read as
"nothing happened", the way a stream server treats recv() == 0 as EOF.
Why it is wrong: in UDP a zero-length datagram is a real message with a
sender; recvfrom() returning 0 means exactly that, never end-of-input.  A
client that sends an empty datagram (a keepalive, a probe) waits forever.
Exposed by: udp.datagram.empty.  Everything else is a correct echo.
"""
import os
import socket
import sys

# The plumbing shared with the reference servers lives in ../py.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "py"))
from serverargs import exit_on_stop_signals, log, parse_args  # noqa: E402


def main():
    host, port, family = parse_args()
    exit_on_stop_signals()
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)  # bursts are not the bug here
    sock.bind((host, port))
    log(f"bound to {host} port {port} (udp)")
    while True:
        data, peer = sock.recvfrom(65536)
        if not data:  # BUG: an empty datagram is a message too
            continue
        sock.sendto(data, peer)


if __name__ == "__main__":
    main()
