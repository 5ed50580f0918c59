"""tcp.half-close.*: after the client's FIN, the server echoes everything it received, then closes its side."""

from __future__ import annotations

from fixtures.checkmark import check
from fixtures.clients import EOF_, exchange
from fixtures.verdict import describe_stream, violation


def half_close_echo(sock, payload: bytes, prompt: float, rule: str) -> None:
    """Write ``payload``, shutdown(SHUT_WR), and require all of it back followed by EOF."""
    result = exchange(sock, payload, shutdown=True, until_eof=True, idle_timeout=prompt)
    if result.data != payload or result.end != EOF_:
        raise violation(rule, f"{len(payload)} bytes then EOF within {prompt:.1f}s",
                        f"{describe_stream(payload, result.data)} {result.describe_end()}".strip())


@check("tcp.half-close.eof-after-echo")
def test_eof_after_echo(target, tcp_client, payloads, prompt):
    """shutdown(SHUT_WR) says "I have no more to send", not "stop talking to me".

    After the client's FIN the server reads EOF; it must still send back
    everything it received and then close its own side, which the client sees
    as EOF.  Pass: 64 KiB written then SHUT_WR gives all 64 KiB back, then EOF
    promptly, with no reset.
    """
    half_close_echo(tcp_client(), payloads.data(64 * 1024), prompt, "half-close")


@check("tcp.half-close.large")
def test_large(target, tcp_client, payloads, prompt):
    """A server that closes at EOF while its output is still queued loses the tail of the stream.

    With 4 MiB in flight, the server still holds unsent echo data when the
    client's FIN arrives.  Pass: all 4 MiB come back, then EOF, no reset.
    """
    half_close_echo(tcp_client(), payloads.data(4 * 1024 * 1024), prompt, "half-close (4 MiB)")
