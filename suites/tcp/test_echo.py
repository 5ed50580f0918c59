"""tcp.echo.*: a TCP echo server returns every byte it receives, unchanged."""

from __future__ import annotations

import hashlib

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.causes import stream_cause
from sockcheck.net.stream import COMPLETE, exchange
from sockcheck.launch.launcher import LaunchError
from sockcheck.net.serving import ROUNDTRIP
from sockcheck.net.sockets import tcp_connect
from sockcheck.verdicts.catalogue import IPV4_HOST
from sockcheck.verdicts.findings import Inconclusive, describe_stream, violation

LARGE = 8 * 1024 * 1024


def expect_echo(rule: str, result, payload: bytes, within: float) -> None:
    """Raise a Violation unless ``result`` holds exactly ``payload``."""
    if result.data != payload:
        raise violation(rule, f"the same {len(payload)} bytes back within {within:.1f}s",
                        f"{describe_stream(payload, result.data)} {result.describe_end()}".strip(),
                        cause=stream_cause(payload, result.data, result.end))


@check("tcp.echo.roundtrip")
def test_roundtrip(target, tcp_client, payloads, prompt):
    """Rule: An echo server sends back exactly what a client sent.

    Pass: the same 32 bytes come back within the prompt timeout (2 s).

    Setup: 32 seeded bytes written on a fresh connection, read back while
    writing.

    Attribution: none.  Every other check relies on this one: a server that
    answers no connection at all fails here, and the other TCP checks then say
    they cannot judge, naming this one.
    """
    payload = payloads.data(32)
    result = exchange(tcp_client(), payload, expect=len(payload), idle_timeout=prompt)
    expect_echo("echo", result, payload, prompt)


@check("tcp.echo.binary")
def test_binary(target, tcp_client, payloads, prompt):
    """TCP carries bytes, not text: NUL, 0xFF, CR and LF are data like any
    other.  A server that uses string functions (strlen, line reading, text
    decoding) loses or changes some of them.

    Rule: A server echoes every byte value unchanged, NUL included.

    Pass: all 256 byte values, in seeded order and then in ascending order,
    come back unchanged, promptly.

    Setup: the 512 bytes written on a fresh connection.  It is the only check
    whose payloads hold NUL (the others send bytes 1..255), so a server that
    echoes through string functions fails here alone.

    Attribution: a server that answers no connection at all is
    tcp.echo.roundtrip's finding; this check then says it cannot judge.
    """
    payload = payloads.permutation(bytes(range(256))) + bytes(range(256))
    result = exchange(tcp_client(), payload, expect=len(payload), idle_timeout=prompt)
    expect_echo("binary echo", result, payload, prompt)


@check("tcp.echo.large")
def test_large(target, tcp_client, payloads, prompt):
    """8 MiB is far more than the socket buffers hold, so a server that does
    not handle short writes, or that stops reading while it cannot write,
    loses data or deadlocks.

    Rule: A server keeps echoing a long stream while the client keeps writing.

    Pass: the 8 MiB stream comes back byte-identical, with no pause longer
    than the prompt timeout.

    Setup: one connection writes 8 MiB of seeded bytes and reads while it
    writes, so the client never causes the deadlock itself.

    Attribution: a server that answers no connection at all is
    tcp.echo.roundtrip's finding; this check then says it cannot judge.
    """
    payload = payloads.data(LARGE)
    result = exchange(tcp_client(), payload, expect=len(payload), idle_timeout=prompt)
    if result.end != COMPLETE or result.data != payload:
        raise violation("large echo", f"{LARGE} bytes back identical (sha256 {hashlib.sha256(payload).hexdigest()[:16]})",
                        f"{describe_stream(payload, result.data)} {result.describe_end()}".strip(),
                        cause=stream_cause(payload, result.data, result.end))


@check("tcp.echo.ipv6")
def test_ipv6(target, tcp_client, payloads, prompt, fresh_launch):
    """IPv6 needs an AF_INET6 socket and a sockaddr_in6; code that hard-codes
    sockaddr_in or inet_addr() cannot do it.

    Rule: A server that serves IPv6 listens on ::1 when started with {host} =
    ::1 and echoes there as it does over IPv4.

    Pass: 32 bytes sent to [::1] come back unchanged, promptly.

    Setup: the target is started with {host} = ::1; 32 seeded bytes on a fresh
    connection to it.  Whether it serves IPv6 is observed: a target that,
    started so, listens only on IPv4 sockets (or exits) does not serve IPv6,
    and the check does not apply to it, saying what it saw; a target that
    claims ``ipv6`` fails instead.

    Attribution: when the echo over ::1 is wrong, the same 32 bytes go to a
    fresh launch over IPv4 (127.0.0.1); if they fail there too, the fault is
    the echo's (tcp.echo.roundtrip) and this check says it cannot judge.
    """
    payload = payloads.data(32)
    result = exchange(tcp_client(), payload, expect=len(payload), idle_timeout=prompt)
    if result.data != payload:
        over_ipv4 = ipv4_echo_fault(fresh_launch, payload, prompt)
        if over_ipv4:
            raise Inconclusive("tcp.echo.ipv6", f"the echo fails over IPv4 too ({over_ipv4})", ROUNDTRIP)
    expect_echo("IPv6 echo", result, payload, prompt)


def ipv4_echo_fault(fresh_launch, payload: bytes, prompt: float) -> str | None:
    """How the echo of ``payload`` fails on a fresh launch of the target over IPv4, or None when it works."""
    try:
        with fresh_launch(IPV4_HOST) as twin:
            with tcp_connect(twin.address, prompt) as sock:
                result = exchange(sock, payload, expect=len(payload), idle_timeout=prompt)
    except LaunchError as exc:
        return str(exc)
    except ConnectionError as exc:
        return f"{type(exc).__name__}: {exc}"
    if result.data == payload:
        return None
    return f"{describe_stream(payload, result.data)} {result.describe_end()}".strip()
