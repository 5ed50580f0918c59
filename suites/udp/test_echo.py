"""udp.echo.*: a UDP echo server answers each datagram with the same bytes."""

from __future__ import annotations

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.causes import NO_REPLY, OTHER_SOCKET, datagram_cause
from sockcheck.launch.launcher import LaunchError
from sockcheck.net.sockets import udp_socket
from sockcheck.verdicts.catalogue import IPV4_HOST
from sockcheck.verdicts.findings import Inconclusive, violation


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
def test_ipv6(target, udp_client, payloads, prompt, fresh_launch):
    """Rule: A server that serves IPv6 answers on ::1 when started with {host}
    = ::1, as it does over IPv4.

    Pass: the datagram comes back unchanged, promptly.

    Setup: the target is started with {host} = ::1; a 32-byte datagram is sent
    to [::1].  Whether it serves IPv6 is observed: a target that, started so,
    binds only IPv4 sockets (or exits) does not serve IPv6, and the check does
    not apply to it, saying what it saw; a target that claims ``ipv6`` fails
    instead.

    Attribution: when the reply over ::1 is missing or wrong, the same
    datagram goes to a fresh launch over IPv4 (127.0.0.1); if it fails there
    too, the fault is the echo's (udp.echo.roundtrip) and this check says it
    cannot judge.  A server that keeps the peer in a sockaddr_in answers over
    IPv4 only and fails here.
    """
    payload = payloads.data(32)
    data = _echo(udp_client(), payload, target.address)
    if data != payload:
        over_ipv4 = _ipv4_echo_fault(fresh_launch, payload, prompt)
        if over_ipv4:
            raise Inconclusive("udp.echo.ipv6", f"the echo fails over IPv4 too ({over_ipv4})", "udp.echo.roundtrip")
    if data is None:
        raise violation("udp IPv6 echo", f"a reply within {prompt:.1f}s", "no reply (over IPv4 it answers)",
                        cause=NO_REPLY)
    if data != payload:
        raise violation("udp IPv6 echo", f"the same {len(payload)} bytes", f"{len(data)} bytes that differ",
                        cause=datagram_cause(payload, [data]))


def _echo(sock, payload: bytes, address: tuple[str, int]) -> bytes | None:
    """The reply to one datagram, None when none came within the socket's timeout."""
    sock.sendto(payload, address)
    try:
        return sock.recv(65536)
    except TimeoutError:
        return None


def _ipv4_echo_fault(fresh_launch, payload: bytes, prompt: float) -> str | None:
    """How the echo of ``payload`` fails on a fresh launch of the target over IPv4, or None when it works."""
    try:
        with fresh_launch(IPV4_HOST) as twin, udp_socket(twin.address, prompt) as sock:
            data = _echo(sock, payload, twin.address)
    except LaunchError as exc:
        return str(exc)
    if data == payload:
        return None
    return "no reply" if data is None else f"{len(data)} bytes that differ"
