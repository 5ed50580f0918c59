"""tcp.half-close.*: after the client's FIN, every byte it wrote comes back, then EOF."""

from __future__ import annotations

from sockcheck.judgments.causes import NO_EOF, RESET_AFTER_ECHO, names_causes, stream_cause
from sockcheck.net.stream import COMPLETE, EOF_, RESET, STALLED, TIMEOUT, describe_end
from sockcheck.verdicts.findings import Violation, describe_stream, violation


@names_causes(stream_cause, RESET_AFTER_ECHO, NO_EOF)
def judge_half_close(rule: str, expected: bytes, received: bytes, end: str, promise: str) -> Violation | None:
    """After shutdown(SHUT_WR): ``expected`` back byte for byte, then EOF; not a reset, not silence.

    ``end`` is how reading ended (EOF_, RESET, TIMEOUT); ``promise`` is the
    expectation in words, for the message.  Every byte back and then a RST
    is an abortive close; every byte and then silence, a close that never
    came.
    """
    if received == expected and end == EOF_:
        return None
    cause = stream_cause(expected, received, end) or (RESET_AFTER_ECHO if end == RESET else NO_EOF)
    return violation(rule, promise, f"{describe_stream(expected, received)} {describe_end(end)}".strip(), cause=cause)


def describe_push(end: str, taken: int, total: int, elapsed: float) -> str:
    """How much a client writing without reading got the server to take before its FIN.

    ``end`` is how send_until_stalled() stopped: COMPLETE, STALLED or TIMEOUT.
    """
    return {COMPLETE: f"the server took all {taken} bytes while the client did not read",
            STALLED: f"the server took {taken} of {total} bytes, then stopped reading",
            TIMEOUT: f"the server took {taken} of {total} bytes in {elapsed:.1f}s"}[end]
