"""tcp.echo.*: a TCP echo server returns every byte it receives, unchanged."""

from __future__ import annotations

import hashlib

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.causes import stream_cause
from sockcheck.net.stream import COMPLETE, exchange
from sockcheck.verdicts.findings import describe_stream, violation

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
def test_ipv6(target, tcp_client, payloads, prompt):
    """IPv6 needs an AF_INET6 socket and a sockaddr_in6; code that hard-codes
    sockaddr_in or inet_addr() cannot do it.

    Rule: A server that claims IPv6 listens on ::1 when started with {host} =
    ::1 and echoes there.

    Pass: 32 bytes sent to [::1] come back unchanged, promptly.

    Setup: the target is started with {host} = ::1; 32 seeded bytes on a fresh
    connection to it.

    Attribution: none.  A server that does not serve on ::1 when started with
    {host} = ::1 fails here; the IPv4 checks are not affected.
    """
    payload = payloads.data(32)
    result = exchange(tcp_client(), payload, expect=len(payload), idle_timeout=prompt)
    expect_echo("IPv6 echo", result, payload, prompt)
