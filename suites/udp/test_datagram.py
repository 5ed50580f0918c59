"""udp.datagram.*: UDP keeps message boundaries: one send is one datagram is one receive."""

from __future__ import annotations

from fixtures.checkmark import check
from fixtures.clients import recv_datagrams
from fixtures.verdict import violation

BOUNDARY_SIZES = (1, 700, 1400)
MAX_IPV4_PAYLOAD = 65507  # 65535 - 20 (IPv4 header) - 8 (UDP header)


def sizes(datagrams: list[bytes]) -> str:
    return "[" + ", ".join(str(len(d)) for d in datagrams) + "]" if datagrams else "no datagram"


@check("udp.datagram.boundaries")
def test_boundaries(target, udp_client, payloads, prompt):
    """Each datagram is delivered whole and separately; the receiver's buffer decides nothing else.

    A server that reads into a small buffer truncates (the rest of the
    datagram is discarded, not kept for the next read); one that collects
    bytes like a stream merges datagrams.  Pass: datagrams of 1, 700 and 1400
    bytes sent back-to-back come back as three datagrams of exactly those
    sizes and contents.
    """
    sock = udp_client()
    sent = [payloads.data(size, f"d{size}") for size in BOUNDARY_SIZES]
    for datagram in sent:
        sock.sendto(datagram, target.address)
    got = recv_datagrams(sock, len(sent), prompt)
    if sorted(got, key=len) != sent:
        raise violation("datagram boundaries", f"3 datagrams of sizes {sizes(sent)} back intact",
                        f"{sizes(got)}" + ("" if [len(g) for g in got] != list(BOUNDARY_SIZES) else " with different bytes"))


@check("udp.datagram.max-size")
def test_max_size(target, udp_client, payloads, prompt):
    """The largest IPv4 UDP payload, 65,507 bytes, is still one datagram.

    A server must receive into a buffer of at least 65,507 bytes (64 KiB is
    usual) or it silently truncates.  Pass: a 65,507-byte datagram comes back
    as one datagram of 65,507 identical bytes.
    """
    sock = udp_client()
    payload = payloads.data(MAX_IPV4_PAYLOAD)
    sock.sendto(payload, target.address)
    got = recv_datagrams(sock, 1, prompt)
    if got != [payload]:
        detail = sizes(got) if not got or len(got[0]) != len(payload) else "65507 bytes that differ"
        raise violation("max-size datagram", f"one datagram of {len(payload)} identical bytes", detail)


@check("udp.datagram.empty")
def test_empty(target, udp_client, prompt):
    """A zero-length datagram is a real datagram, and its echo is a zero-length datagram.

    recvfrom() returns 0 for it, which is not EOF in UDP: a server that
    treats 0 as "nothing happened" or as end of input never answers.  Pass:
    an empty datagram gets an empty reply promptly.
    """
    sock = udp_client()
    sock.sendto(b"", target.address)
    got = recv_datagrams(sock, 1, prompt)
    if got != [b""]:
        raise violation("empty datagram", f"an empty reply within {prompt:.1f}s", sizes(got))
