"""udp.echo.*: a UDP echo server answers each datagram with the same bytes."""

from __future__ import annotations

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.causes import NO_REPLY, OTHER_SOCKET, datagram_cause
from sockcheck.verdicts.findings import violation


@check("udp.echo.roundtrip")
def test_roundtrip(target, udp_client, payloads, prompt):
    """Rule: A UDP echo server replies to each datagram with one datagram
    holding the same bytes.

    Pass: the datagram is answered, within the prompt timeout, by one datagram
    of the same 32 bytes from the server's address.

    Setup: a 32-byte datagram sent with sendto() from a fresh socket.

    Attribution: none.  Every other UDP check relies on this one; a server
    that answers no datagram at all fails here too.
    """
    sock = udp_client()
    payload = payloads.data(32)
    sock.sendto(payload, target.address)
    try:
        data, peer = sock.recvfrom(65536)
    except TimeoutError:
        raise violation("udp echo", f"a {len(payload)}-byte reply within {prompt:.1f}s", "no reply",
                        cause=NO_REPLY) from None
    if data != payload:
        raise violation("udp echo", f"the same {len(payload)} bytes", f"{len(data)} bytes that differ",
                        cause=datagram_cause(payload, [data]))
    if peer[:2] != target.address:
        raise violation("udp echo", f"the reply from {target.where}", f"it came from {peer[0]}:{peer[1]}",
                        cause=OTHER_SOCKET)


@check("udp.echo.ipv6")
def test_ipv6(target, udp_client, payloads, prompt):
    """Rule: A server that claims IPv6 answers on ::1 when started with {host}
    = ::1.

    Pass: the datagram comes back unchanged, promptly.

    Setup: the target is started with {host} = ::1; a 32-byte datagram is sent
    to [::1].

    Attribution: none.  A server that does not serve on ::1 when started with
    {host} = ::1 fails here; the IPv4 checks are not affected.
    """
    sock = udp_client()
    payload = payloads.data(32)
    sock.sendto(payload, target.address)
    try:
        data = sock.recv(65536)
    except TimeoutError:
        raise violation("udp IPv6 echo", f"a reply within {prompt:.1f}s", "no reply") from None
    if data != payload:
        raise violation("udp IPv6 echo", f"the same {len(payload)} bytes", f"{len(data)} bytes that differ",
                        cause=datagram_cause(payload, [data]))
