"""udp.peers.*: a UDP server answers each datagram to the address it came from."""

from __future__ import annotations

import selectors

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.udp import judge_connected_client, judge_reply_to_sender
from sockcheck.launch.manifest import format_address
from sockcheck.net.datagram import recv_datagrams

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
    alternating, back-to-back; when neither hears anything, a third, lone
    client sends one more.

    Attribution: replies are matched to their datagrams by content, also
    when merged, cut or altered (a run of 8 bytes of a seeded datagram names
    it), so only where they went is judged here: a client that gets the other
    client's bytes fails, and so does a datagram never answered while the
    server answers others (or answers the lone client).  Merging is
    udp.datagram.boundaries' finding.  Replies that all reached their sender
    but cut short make the check inconclusive, naming udp.datagram.max-size
    (which a server that cuts a 64-byte datagram fails); replies otherwise
    altered, or no echo at all, name udp.echo.roundtrip.
    """
    clients = [udp_client(), udp_client()]
    sent: list[list[bytes]] = [[], []]
    for i in range(PER_CLIENT):
        for c, sock in enumerate(clients):
            datagram = payloads.data(64, f"client{c}-{i}")
            sent[c].append(datagram)
            sock.sendto(datagram, target.address)
    got = collect_from(clients, 2 * PER_CLIENT, prompt)
    lone_echo = None
    if not any(got):
        lone_echo = answered_from(udp_client(), payloads.data(64, "lone"), target.address, prompt) is not None
    finding = judge_reply_to_sender(sent, got, lone_echo)
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

    Setup: 32 bytes sent with send() on a connected socket; when nothing
    comes back, 32 other bytes with sendto() from an unconnected one.

    Attribution: a reply that reaches the connect()ed socket came from the
    server's address, which is all this check judges: when its bytes are cut
    short the check is inconclusive naming udp.datagram.max-size (which a
    server that cuts a 32-byte datagram fails), when otherwise altered
    naming udp.echo.roundtrip.  With no reply, the unconnected socket's
    datagram tells whether the echo works at all: answered (from another
    port, or even from the server's), the connected client's silence is this
    check's finding; unanswered, it is udp.echo.roundtrip's.
    """
    sock = udp_client(connect=True)
    payload = payloads.data(32)
    sock.send(payload)
    got = recv_datagrams(sock, 1, prompt)
    unconnected = None
    if not got:
        peer = answered_from(udp_client(), payloads.data(32, "unconnected"), target.address, prompt)
        unconnected = format_address(*peer[:2]) if peer else None
    finding = judge_connected_client(payload, got, prompt, target.where, unconnected)
    if finding:
        raise finding


def answered_from(sock, payload: bytes, address: tuple[str, int], timeout: float) -> tuple | None:
    """Where the reply to one datagram sent from the unconnected ``sock`` came from, None when none came
    within ``timeout``: whether the server answers at all, whatever the bytes or the source."""
    sock.sendto(payload, address)
    sock.settimeout(timeout)
    try:
        return sock.recvfrom(65536)[1]
    except TimeoutError:
        return None
