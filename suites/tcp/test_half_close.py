"""tcp.half-close.*: after the client's FIN, the server echoes everything it received, then closes its side."""

from __future__ import annotations

import socket

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.close import reset_while_not_reading
from sockcheck.judgments.half_close import describe_push, judge_half_close
from sockcheck.judgments.resets import SETTLE, reset_seen
from sockcheck.net.serving import resets_with_nothing_unread
from sockcheck.net.stream import (RESET, exchange, narrow_connect, narrow_server_share, read_until_eof,
                                  send_until_stalled)
from sockcheck.polling import poll_until

LARGE = 4 * 1024 * 1024
QUIET = 0.25  # seconds without progress, echo waiting, after which the server counts as no longer reading
WRITE_LIMIT = 8.0
READ_LIMIT = 15.0
NO_RESET = (None, None, None)  # reset_evidence() of a connection that was not reset


def reset_evidence(target, wire, prompt: float, settle: float) -> tuple[list | None, int | None, float | None]:
    """What explains a reset the client met: the connection's segments (None without a capture) once the
    capture holds the server's RST, and how the server's process stood (judge_half_close's ``status`` and
    ``watched``).  A dying process resets its connections before its exit status shows: it is watched
    for ``settle`` seconds."""
    status = watched = None
    if target.spec.managed:
        ended, status = poll_until(target.exited, lambda s: s is not None, settle)
        watched = None if ended else settle
    if wire is not None:
        wire.wait_for(reset_seen, prompt)
    return (wire.segments() if wire is not None else None), status, watched


def half_close_echo(target, wire, sock, payload: bytes, prompt: float, settle: float, rule: str) -> None:
    """Write ``payload``, shutdown(SHUT_WR), and require all of it back followed by EOF."""
    result = exchange(sock, payload, shutdown=True, until_eof=True, idle_timeout=prompt)
    segments, status, watched = reset_evidence(target, wire, prompt, settle) if result.end == RESET else NO_RESET
    finding = judge_half_close(rule, payload, result.data, result.end,
                               f"{len(payload)} bytes then EOF within {prompt:.1f}s", segments=segments,
                               status=status, watched=watched)
    if finding:
        raise finding


@check("tcp.half-close.eof-after-echo")
def test_eof_after_echo(target, wire, tcp_client, payloads, prompt, deadline):
    """shutdown(SHUT_WR) says "I have no more to send", not "stop talking to
    me".  After the client's FIN the server reads EOF; it must still send back
    everything it received and then close its own side, which the client sees
    as EOF.

    Rule: After the client's FIN, the server echoes everything it received,
    then closes its side.

    Pass: all 64 KiB come back, then EOF, promptly, with no reset.

    Setup: a fresh connection writes 64 KiB while reading, then
    shutdown(SHUT_WR), and reads until EOF.  A capture runs where it can, so
    that a reset is explained: the RST's flags and acknowledgment number, the
    FIN before it, the bytes echoed and whether the process still ran tell
    unread input at close() from SO_LINGER {1, 0}, a death and a socket
    already gone (without a capture, the bytes and the process alone).

    Attribution: a server that answers no connection at all is
    tcp.echo.roundtrip's finding; this check then says it cannot judge.
    """
    half_close_echo(target, wire, tcp_client(), payloads.data(64 * 1024), prompt, deadline(SETTLE), "half-close")


@check("tcp.half-close.large")
def test_large(target, payloads, prompt, deadline, note):
    """The condition: when the client's FIN arrives, the server holds echo in
    its own memory that it has not yet handed to the kernel.  Bytes already in
    the server's socket survive close(); bytes in its own buffers do not.  A
    server that closes or aborts at EOF (asyncio's eof_received calling
    transport.abort(), a relay that quits at the first EOF) loses what it
    still held.

    Rule: After the client's FIN, the server still sends everything it had
    queued for the client, then closes.

    Pass: every byte written before the FIN comes back, then EOF, with no
    reset, each read arriving promptly.

    Setup: the client keeps the kernel's buffers from holding the echo.
    Before connect it sets a small receive buffer (a window of a few KiB), a 1
    KiB MSS (the kernel sizes an autotuned send buffer from the peer's MSS, so
    the server's stays near 100 KiB whatever tcp_wmem allows) and a small send
    buffer of its own (what it has written has reached the server, not waited
    in the client's kernel).  Then it writes 4 MiB (eight times the default
    send buffer where tcp_wmem makes that more) without reading.  A server
    that keeps reading piles the echo up in its own memory.  A server that
    reads only when it can write (backpressure) stops taking data, and the
    client stops writing once nothing more was taken for a quarter of a second
    while echo waited unread.  Then shutdown(SHUT_WR), then the client reads.
    A reset is explained from the bytes and the server's process (its exit
    status, or still running), without a capture: the echo the server held
    for the client may be lost with the connection, so when bytes never came
    back, unread input and SO_LINGER {1, 0} cannot be told apart even on the
    wire.  A second connection then sends a few bytes, reads them back and
    half-closes, leaving the server nothing unread: reset too, the server
    aborts every close (SO_LINGER {1, 0}); EOF, the first had input unread.
    When that probe gets no whole echo, the message says the suite cannot
    tell.

    Attribution: a reset before the FIN, while the client is not reading, is
    tcp.backpressure.slow-reader's finding: this check then reports
    inconclusive.  A server that answers no connection at all is
    tcp.echo.roundtrip's finding; this check then says it cannot judge.
    """
    payload = payloads.data(max(LARGE, 8 * narrow_server_share()))
    with narrow_connect(target.address, prompt) as sock:
        push = send_until_stalled(sock, payload, quiet=deadline(QUIET), patience=prompt, limit=deadline(WRITE_LIMIT))
        try:
            if push.end == RESET:
                raise ConnectionResetError
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            raise reset_while_not_reading("half-close (4 MiB)", push.sent, "the client's FIN") from None
        result = read_until_eof(sock, prompt, deadline(READ_LIMIT))
    how = describe_push(push.end, push.sent, len(payload), push.elapsed)
    segments, status, watched = (reset_evidence(target, None, prompt, deadline(SETTLE)) if result.end == RESET
                                 else NO_RESET)
    # Echo the server held is lost with the connection: unread input and SO_LINGER {1, 0} look the same.
    # A second connection that leaves the server nothing unread tells them apart.
    aborts_anyway = (resets_with_nothing_unread(target.address, target.family, prompt)
                     if result.end == RESET and status is None else None)
    finding = judge_half_close("half-close (4 MiB)", payload[:push.sent], result.data, result.end,
                               f"all {push.sent} bytes written before the FIN back, then EOF ({how})",
                               segments=segments, status=status, watched=watched, echo_held=True,
                               aborts_anyway=aborts_anyway)
    if finding:
        raise finding
    note(f"{how}; all of it back, then EOF, {result.elapsed:.2f}s after the FIN")

