"""udp.peers.*: a UDP server answers each datagram to the address it came from."""

from __future__ import annotations

import selectors

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.causes import datagram_cause
from sockcheck.judgments.udp import judge_reply_to_sender
from sockcheck.net.datagram import recv_datagrams
from sockcheck.verdicts.findings import violation

PER_CLIENT = 8


@check("udp.peers.reply-to-sender")
def test_reply_to_sender(target, udp_client, payloads, prompt):
    """recvfrom() tells the server who sent each datagram; a server that keeps
    a single "current client" (the last one it heard from, or the first) sends
    replies to the wrong peer when clients interleave.

    Rule: One UDP socket serves every client; the reply goes to the sender of
    each datagram.

    Pass: each client receives exactly its own 8 datagrams' bytes and none of
    the other's.

    Setup: two clients on different ports send 8 datagrams of 64 bytes each,
    alternating, back-to-back.

    Attribution: replies are matched by content, so a server that merges
    datagrams is judged here only on where its replies went (merging is
    udp.datagram.boundaries' finding).
    """
    clients = [udp_client(), udp_client()]
    sent: list[list[bytes]] = [[], []]
    for i in range(PER_CLIENT):
        for c, sock in enumerate(clients):
            datagram = payloads.data(64, f"client{c}-{i}")
            sent[c].append(datagram)
            sock.sendto(datagram, target.address)
    got = collect_from(clients, 2 * PER_CLIENT, prompt)
    finding = judge_reply_to_sender(sent, got)
    if finding:
        raise finding


def collect_from(socks, total: int, timeout: float) -> list[list[bytes]]:
    """Datagrams per socket, until ``total`` arrived across all of them or nothing came for ``timeout``."""
    got: list[list[bytes]] = [[] for _ in socks]
    with selectors.DefaultSelector() as selector:
        for index, sock in enumerate(socks):
            selector.register(sock, selectors.EVENT_READ, index)
        while sum(map(len, got)) < total:
            ready = selector.select(timeout)
            if not ready:
                break
            for key, _ in ready:
                got[key.data].append(key.fileobj.recv(65536))
    return got


@check("udp.peers.connected-client")
def test_connected_client(target, udp_client, payloads, prompt):
    """connect() on a UDP socket fixes the peer: send()/recv() work without an
    address, and the kernel drops datagrams from any other source.  A server
    that replies from a different socket or port (or address) is never heard
    by such a client.

    Rule: A server replies from the address it was sent to, so a connect()ed
    UDP client hears it.

    Pass: the 32 bytes come back through recv(), promptly.

    Setup: 32 bytes sent with send() on a connected socket.

    Attribution: none.  A reply from another address or port is this check's
    finding; a server that answers no datagram at all fails udp.echo.roundtrip
    too.
    """
    sock = udp_client(connect=True)
    payload = payloads.data(32)
    sock.send(payload)
    got = recv_datagrams(sock, 1, prompt)
    if got != [payload]:
        raise violation("connected client", f"the {len(payload)} bytes back on a connect()ed socket within {prompt:.1f}s",
                        "no reply from the connected address" if not got else f"{len(got[0])} bytes that differ",
                        cause=datagram_cause(payload, got) if got else None)
