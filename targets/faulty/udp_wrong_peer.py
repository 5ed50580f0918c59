"""FAULTY: UDP echo that sends a whole batch back to the last sender.

Bug: the server waits for a datagram, lets a 20 ms "batching window" pass,
drains every pending datagram, remembers only the LAST sender's address,
and echoes every datagram of the batch to that one address.
Why it is wrong: a UDP socket is shared by all clients; there is no
connection, so the peer address belongs to each datagram and must be kept
with it (recvfrom's address goes to that datagram's sendto).
Exposed by: udp.peers.reply-to-sender (two clients sending datagrams
interleaved, back to back: both land in one batch, so one client receives
the other's datagrams, and its own go elsewhere).  A single client works.

Everything else is meant to be correct: datagrams echoed whole (64 KiB
buffer), zero-length datagrams echoed, no busy loop, SIGTERM -> exit 0.
"""
import os
import select
import socket
import sys

# The plumbing shared with the reference servers lives in ../py.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             os.pardir, "py"))
from serverargs import exit_on_stop_signals, parse_args  # noqa: E402

BATCH_WINDOW = 0.020  # seconds


def main():
    host, port, family = parse_args()
    exit_on_stop_signals()  # SystemExit(0)

    sock = socket.socket(family, socket.SOCK_DGRAM)
    # Room for a whole burst during the batching window: the bug is the
    # reply address, not dropped datagrams.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind((host, port))
    sock.setblocking(False)
    while True:
        select.select([sock], [], [])  # block until a datagram arrives
        select.select([], [], [], BATCH_WINDOW)  # let the batch fill up
        batch, peer = [], None
        while True:
            try:
                data, addr = sock.recvfrom(65535)
            except BlockingIOError:
                break
            except OSError:  # e.g. ICMP port unreachable from an earlier send
                continue
            batch.append(data)
            peer = addr  # BUG: only the last sender is remembered
        for data in batch:
            try:
                sock.sendto(data, peer)  # BUG: should go to its own sender
            except OSError:
                pass


if __name__ == "__main__":
    main()
