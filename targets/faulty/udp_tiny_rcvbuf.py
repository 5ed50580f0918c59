"""Faulty UDP echo: a minimal receive buffer and slow per-datagram work, so bursts are dropped.

The bug: SO_RCVBUF is shrunk to 16 KiB (to "save memory") while the
server spends time on every datagram (a synchronous log line and 2 ms of
work standing in for, say, a blocking DNS lookup per request).  UDP has no flow control: while the server is busy, datagrams
that do not fit in the tiny buffer are silently discarded by the kernel.
A real server sizes its receive buffer for the bursts it must absorb.

Exposed by: udp.burst (the buffer holds some 25 of each burst of 50, the rest is lost).
"""

import os
import signal
import socket
import sys
import time

# The plumbing shared with the reference servers lives in ../py.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             os.pardir, "py"))
from serverargs import parse_args  # noqa: E402


def main():
    host, port, family = parse_args()
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)  # BUG: room for ~20 datagrams
    sock.bind((host, port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"{sys.argv[0]}: bound to {host} port {port} (udp)", file=sys.stderr, flush=True)
    while True:
        data, peer = sock.recvfrom(65536)
        os.write(2, f"datagram of {len(data)} bytes from {peer[0]}:{peer[1]}\n".encode())
        time.sleep(0.002)  # the per-datagram work
        sock.sendto(data, peer)


if __name__ == "__main__":
    main()
