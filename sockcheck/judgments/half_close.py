"""tcp.half-close.*: after the client's FIN, every byte it wrote comes back, then EOF."""

from __future__ import annotations

from sockcheck.net.stream import COMPLETE, EOF_, STALLED, TIMEOUT, describe_end
from sockcheck.verdicts.findings import Violation, describe_stream, violation


def judge_half_close(rule: str, expected: bytes, received: bytes, end: str, promise: str) -> Violation | None:
    """After shutdown(SHUT_WR): ``expected`` back byte for byte, then EOF; not a reset, not silence.

    ``end`` is how reading ended (EOF_, RESET, TIMEOUT); ``promise`` is the
    expectation in words, for the message.
    """
    if received == expected and end == EOF_:
        return None
    return violation(rule, promise, f"{describe_stream(expected, received)} {describe_end(end)}".strip())


def describe_push(end: str, taken: int, total: int, elapsed: float) -> str:
    """How much a client writing without reading got the server to take before its FIN.

    ``end`` is how send_until_stalled() stopped: COMPLETE, STALLED or TIMEOUT.
    """
    return {COMPLETE: f"the server took all {taken} bytes while the client did not read",
            STALLED: f"the server took {taken} of {total} bytes, then stopped reading",
            TIMEOUT: f"the server took {taken} of {total} bytes in {elapsed:.1f}s"}[end]
