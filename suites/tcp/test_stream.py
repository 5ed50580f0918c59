"""tcp.stream.*: TCP is a byte stream; message boundaries are not preserved."""

from __future__ import annotations

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.causes import stream_cause
from sockcheck.net.stream import TIMEOUT, exchange, write_one_segment_each
from sockcheck.verdicts.findings import describe_stream, violation
from sockcheck.capture.ladder import client_bytes

SMALL_WRITES = 200
SPLIT_PAUSE = 0.05  # seconds between the two halves of a split message: the stimulus itself


def _letters(payloads, size: int, label: str) -> bytes:
    """A printable 'message' of ``size`` bytes ending in a newline."""
    raw = payloads.data(size - 1, label)
    return bytes(ord("a") + b % 26 for b in raw) + b"\n"


@check("tcp.stream.reassembly")
def test_reassembly(target, wire, tcp_client, payloads, prompt, note):
    """TCP delivers a byte stream: the writes a sender makes are not the reads
    a receiver sees, and a server may read and write in any chunking it likes.

    Rule: A server echoes the byte stream, whatever writes it was made of.

    Pass: the echoed stream equals the concatenation of the writes, byte for
    byte.  Where a capture runs, the verdict message says how many segments
    the writes left as; without one it says the check is unconfirmed on the
    wire.

    Setup: the client makes 200 writes of 1 to 64 bytes each with TCP_NODELAY,
    each once the previous one is acknowledged (so each leaves as its own
    segment), then reads the echo one byte at a time.

    Attribution: a server that answers no connection at all is
    tcp.echo.roundtrip's finding; this check then says it cannot judge.
    """
    chunks = [payloads.data(size, f"chunk{i}") for i, size in enumerate(payloads.sizes(SMALL_WRITES, 1, 64))]
    expected = b"".join(chunks)
    sock = tcp_client(nodelay=True)
    paced = write_one_segment_each(sock, chunks, prompt)
    result = exchange(sock, [], expect=len(expected), idle_timeout=prompt, read_size=1)
    if wire is None:
        note("wire: unconfirmed (no capture)")
    else:
        wire.wait_for(lambda segs: client_bytes(segs) >= len(expected), prompt)
        sent = [s for s in wire.segments() if s.from_client and s.length]
        confirmed = "" if len(sent) == SMALL_WRITES else " (unconfirmed: some were merged)"
        note(f"wire: {SMALL_WRITES} writes left as {len(sent)} segments{confirmed}")
    if not paced:
        note("a write was not acknowledged promptly")
    if result.data != expected:
        raise violation("reassembly", f"the {len(expected)}-byte concatenation of {SMALL_WRITES} writes",
                        f"{describe_stream(expected, result.data)} {result.describe_end()}".strip(),
                        cause=stream_cause(expected, result.data, result.end))


@check("tcp.stream.coalesced")
def test_coalesced(target, tcp_client, payloads, prompt):
    """A server that treats each recv() as one message, or an edge-triggered
    server that reads once per readiness event without draining the socket,
    loses or mangles bytes.

    Rule: A server does not assume one recv() returns exactly one message.

    Pass: all 1800 bytes come back, in order, and the connection stays open
    between the two halves.

    Setup: two 600-byte newline-terminated messages are sent in a single write
    (one segment), then one 600-byte message is sent in two halves 50 ms
    apart, on one connection with TCP_NODELAY.

    Attribution: a server that answers no connection at all is
    tcp.echo.roundtrip's finding; this check then says it cannot judge.
    """
    sock = tcp_client(nodelay=True)
    together = _letters(payloads, 600, "first") + _letters(payloads, 600, "second")
    result = exchange(sock, together, expect=len(together), idle_timeout=prompt)
    if result.data != together:
        raise violation("coalesced messages", f"both messages ({len(together)} bytes, sent in one write) back",
                        f"{describe_stream(together, result.data)} {result.describe_end()}".strip(),
                        cause=stream_cause(together, result.data, result.end))
    split = _letters(payloads, 600, "split")
    # Reading until the line has been quiet for 50 ms is the pause between the halves.
    first = exchange(sock, split[:300], until_eof=True, idle_timeout=SPLIT_PAUSE)
    if first.end != TIMEOUT:
        raise violation("split message", "the connection to stay open after the first half",
                        f"{len(first.data)} bytes {first.describe_end()}",
                        cause=stream_cause(split, first.data, first.end))
    rest = exchange(sock, split[300:], expect=len(split) - len(first.data), idle_timeout=prompt)
    got = first.data + rest.data
    if got != split:
        raise violation("split message", f"a {len(split)}-byte message sent in two halves {SPLIT_PAUSE * 1000:.0f} ms apart back whole",
                        f"{describe_stream(split, got)} {rest.describe_end()}".strip(),
                        cause=stream_cause(split, got, rest.end))
