"""FAULTY: a UDP echo that treats its socket like a byte stream and merges datagrams.

Bug: the server collects what each peer sends into one buffer, the way a
relay between UDP and a stream (a pipe, a pty, a TCP backend) does, and
sends the buffer back once that peer has been quiet for 10 ms.  A lone
datagram comes back as it was; datagrams that arrive close together come
back as one datagram holding all their bytes.
Why it is wrong: UDP keeps message boundaries.  Each datagram is a message
of its own; its bytes must never be joined to another's, or a client that
frames by datagram (DNS, RTP, any request/response protocol) reads garbage.
Exposed by: udp.datagram.boundaries (1, 700 and 1400 bytes sent back-to-back
come back as one datagram of 2101 bytes).  Replies go to their own sender,
empty datagrams are answered with empty ones, and a datagram of 65,507 bytes
comes back whole: everything else is a correct echo.
"""
import os
import select
import socket
import sys
import time

# The plumbing shared with the reference servers lives in ../py.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "py"))
from serverargs import exit_on_stop_signals, log, parse_args  # noqa: E402

QUIET = 0.010  # seconds without a datagram from a peer before its bytes are sent back
MAX_DATAGRAM = 65507


def main():
    host, port, family = parse_args()
    exit_on_stop_signals()
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)  # bursts are not the bug here
    sock.bind((host, port))
    sock.setblocking(False)
    log(f"bound to {host} port {port} (udp)")
    pending = {}  # peer -> [bytes collected, time of its last datagram]
    while True:
        now = time.monotonic()
        for peer in [p for p, (_, last) in pending.items() if now - last >= QUIET]:
            flush(sock, peer, pending.pop(peer)[0])
        wait = min((last + QUIET - now for _, last in pending.values()), default=None)
        select.select([sock], [], [], None if wait is None else max(wait, 0))
        while True:
            try:
                data, peer = sock.recvfrom(65535)
            except BlockingIOError:
                break
            except OSError:  # e.g. ICMP port unreachable from an earlier reply
                continue
            collected = pending.setdefault(peer, [bytearray(), 0.0])
            if len(collected[0]) + len(data) > MAX_DATAGRAM:  # no datagram can hold both
                flush(sock, peer, collected[0])
                collected[0] = bytearray()
            collected[0] += data  # BUG: joins this datagram to the ones before it
            collected[1] = time.monotonic()


def flush(sock, peer, data):
    try:
        sock.sendto(data, peer)
    except OSError:  # a full send buffer: UDP may drop
        pass


if __name__ == "__main__":
    main()
