"""tcp.nagle.*: tiny writes leave coalesced (the kernel's part), and come back intact (the server's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sockcheck.capture.ladder import client_bytes
from sockcheck.judgments.causes import names_causes, stream_cause
from sockcheck.net.stream import EOF_, RESET, describe_end
from sockcheck.verdicts.findings import Violation, describe_stream, violation

if TYPE_CHECKING:
    from sockcheck.capture.ladder import Segment


def data_segments(segments: list[Segment]) -> int:
    """How many segments carried the client's data."""
    return sum(1 for s in segments if s.from_client and s.length)


@names_causes(stream_cause)
def judge_nagle(sent: bytes, received: bytes, end: str, segments: list[Segment],
                within: float) -> Violation | AssertionError | None:
    """One-byte writes of ``sent`` (one write per byte): the capture shows them coalesced, and the echo is intact.

    A capture that misses some of the bytes, or a kernel that sent one
    segment per write, leaves nothing to judge: an AssertionError, the
    harness's error, never the server's.  A server that ended the
    connection before the client's kernel had sent everything is the
    server's fault all the same.
    """
    writes = len(sent)
    captured = client_bytes(segments)
    if captured < writes:
        if end in (EOF_, RESET) and received != sent:
            # The server ended the connection: what the client still held was never sent.
            return violation("nagle", f"the {writes} bytes of tiny writes echoed intact",
                             f"{describe_stream(sent, received)} {describe_end(end)}".strip(),
                             cause=stream_cause(sent, received, end))
        return AssertionError(f"nagle: the capture showed {captured} of the {writes} bytes "
                              f"within {within:.0f}s: cannot count the segments")
    count = data_segments(segments)
    if count >= writes:
        return AssertionError(f"nagle: the kernel sent {count} segments for {writes} writes: no coalescing to test")
    if received != sent:
        return violation("nagle", f"the {writes} bytes of coalesced tiny writes echoed intact",
                         f"{describe_stream(sent, received)} {describe_end(end)}".strip(),
                         cause=stream_cause(sent, received, end))
    return None
