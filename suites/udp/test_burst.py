"""udp.burst: a UDP server keeps up with a burst (UDP may drop, but a good server rarely does)."""

from __future__ import annotations

import selectors
import socket
import time

from fixtures.checkmark import check
from fixtures.verdict import violation

COUNT = 500
SIZE = 512
REQUIRED = 0.95
CLIENT_RCVBUF = 4 * 1024 * 1024


@check("udp.burst")
def test_burst(target, udp_client, payloads, prompt):
    """UDP has no flow control: datagrams that arrive while the receive buffer is full are dropped.

    A server that reads slowly or has a tiny SO_RCVBUF loses most of a burst.
    500 datagrams of 512 bytes are sent back-to-back (the client drains its
    replies as it goes).  Pass: at least 95% come back, and every one that
    does is intact (byte-identical to one that was sent, no duplicates).
    """
    sock = udp_client()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CLIENT_RCVBUF)
    sent = {payloads.data(SIZE, f"burst{i}") for i in range(COUNT)}
    got: list[bytes] = []
    sock.setblocking(False)
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        for datagram in sent:
            sock.sendto(datagram, target.address)
            while selector.select(0):
                got.append(sock.recv(65536))
        last = time.monotonic()
        while len(got) < COUNT and time.monotonic() - last < prompt / 4:
            for _ in selector.select(prompt / 4):
                try:
                    got.append(sock.recv(65536))
                except BlockingIOError:
                    continue
                last = time.monotonic()
    broken = [g for g in got if g not in sent]
    duplicates = len(got) - len(set(got))
    if broken or duplicates:
        raise violation("udp burst", "every returned datagram intact",
                        f"{len(broken)} altered and {duplicates} duplicated of {len(got)} returned")
    if len(got) < REQUIRED * COUNT:
        raise violation("udp burst", f"at least {int(REQUIRED * COUNT)} of {COUNT} datagrams back",
                        f"{len(got)} ({100 * len(got) / COUNT:.0f}%)")
