"""tcp.half-close.*: after the client's FIN, every byte it wrote comes back, then EOF."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sockcheck.judgments.causes import NO_EOF, names_causes, stream_cause
from sockcheck.judgments.resets import describe_reset, explain_reset
from sockcheck.net.stream import COMPLETE, EOF_, RESET, STALLED, TIMEOUT, describe_end
from sockcheck.verdicts.findings import Violation, describe_stream, violation

if TYPE_CHECKING:
    from sockcheck.capture.ladder import Segment


@names_causes(stream_cause, explain_reset, NO_EOF)
def judge_half_close(rule: str, expected: bytes, received: bytes, end: str, promise: str, *,
                     segments: list[Segment] | None = None, status: int | None = None, watched: float | None = None,
                     echo_held: bool = False, aborts_anyway: bool | None = None) -> Violation | None:
    """After shutdown(SHUT_WR): ``expected`` back byte for byte, then EOF; not a reset, not silence.

    ``end`` is how reading ended (EOF_, RESET, TIMEOUT); ``promise`` is the
    expectation in words, for the message.  A reset is explained
    (explain_reset) from the connection's ``segments`` (None without a
    capture), the process's ``status`` and ``watched`` (how it stood after
    the reset) and ``echo_held`` (the client let echo wait in the server's
    buffers; ``aborts_anyway`` then settles it: a second connection that left
    the server nothing unread was reset too), and names the cause, unless the
    bytes themselves were wrong;
    every byte and then silence is a close that never came.
    """
    if received == expected and end == EOF_:
        return None
    got = f"{describe_stream(expected, received)} {describe_end(end)}".strip()
    if end == RESET:
        cause, why = explain_reset(segments, sent=len(expected), echoed=len(received), status=status,
                                   watched=watched, echo_held=echo_held, aborts_anyway=aborts_anyway)
        if not expected.startswith(received):  # altered, missing or extra bytes: that is the finding's cause
            cause = stream_cause(expected, received, end)
        return violation(rule, promise, f"{got}{describe_reset(segments)}: {why}", cause=cause,
                         reset_explained=True)
    return violation(rule, promise, got, cause=stream_cause(expected, received, end) or NO_EOF)


def describe_push(end: str, taken: int, total: int, elapsed: float) -> str:
    """How much a client writing without reading got the server to take before its FIN.

    ``end`` is how send_until_stalled() stopped: COMPLETE, STALLED or TIMEOUT.
    """
    return {COMPLETE: f"the server took all {taken} bytes while the client did not read",
            STALLED: f"the server took {taken} of {total} bytes, then stopped reading",
            TIMEOUT: f"the server took {taken} of {total} bytes in {elapsed:.1f}s"}[end]
