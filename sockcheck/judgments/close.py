"""tcp.close.*: a server ends a connection with FIN, not RST, and a peer's abort does not take it down."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from sockcheck.judgments.causes import CLIENT_RST, NO_FIN, STOPPED_SERVING, names_causes
from sockcheck.judgments.resets import death_cause, describe_reset, explain_reset
from sockcheck.net.stream import COMPLETE, RESET, describe_end
from sockcheck.verdicts.findings import Inconclusive, Violation, describe_stream, violation

if TYPE_CHECKING:
    from sockcheck.capture.ladder import Segment


def _server_fins(segments: list[Segment]) -> list[Segment]:
    return [s for s in segments if not s.from_client and "F" in s.flags]


def close_settled(segments: list[Segment]) -> bool:
    """Enough of the close is on the wire to judge it: a RST, or the server's FIN acknowledged by the client."""
    if any("R" in s.flags for s in segments):
        return True
    fins = _server_fins(segments)
    return bool(fins) and any(s.from_client and s.ack >= fins[-1].seq + 1 and "A" in s.flags for s in segments)


@names_causes(explain_reset, CLIENT_RST, NO_FIN)
def judge_orderly_close(segments: list[Segment], within: float, *, sent: int, echoed: int,
                        status: int | None = None, watched: float | None = None) -> Violation | None:
    """After the client's close: a FIN from the server, and no RST from either side.

    A RST from the server says why (explain_reset, from ``sent`` and
    ``echoed``, the bytes the client sent and read back, and ``status`` /
    ``watched``, how the process stood after the RST); one from the client
    answers data the server sent that the client had not read when it
    closed, or that came after.
    """
    resets = [s for s in segments if "R" in s.flags]
    if resets and not resets[0].from_client:
        cause, why = explain_reset(segments, sent=sent, echoed=echoed, status=status, watched=watched)
        return violation("close", "FIN from the server and no RST",
                         f"RST from the server{describe_reset(segments)}: {why}", cause=cause, reset_explained=True)
    if resets:
        unread = sum(s.length for s in segments if not s.from_client) - echoed
        why = (f"the client closed with {unread} of the server's bytes unread or still to come, and its kernel "
               "reset the connection (close() → RST)" if unread > 0 else "the client's kernel answered a segment "
               "of the server's that came after the client's close")
        return violation("close", "FIN from the server and no RST", f"RST from the client ({resets[0].describe()}): "
                         f"{why}", cause=CLIENT_RST, reset_explained=True)
    if not _server_fins(segments):
        return violation("close", f"FIN from the server within {within:.1f}s of the client's close", "no FIN",
                         cause=NO_FIN)
    return None


def reset_while_not_reading(rule: str, taken: int, before: str) -> Inconclusive:
    """The server reset a client that wrote without reading, ``before`` the moment the check needs.

    Resetting a client that does not read is tcp.backpressure.slow-reader's
    finding; the check that needed the connection cannot judge.
    """
    return Inconclusive(rule, f"the server reset the connection after taking {taken} bytes from a client that "
                        f"was not reading, before {before}", "tcp.backpressure.slow-reader")


def judge_warmup(sent: bytes, received: bytes, end: str) -> Inconclusive | None:
    """The aborting client's warm-up must come back whole, or the server is not serving it (tcp.echo.large's)."""
    if received == sent:
        return None
    return Inconclusive("peer reset", f"the aborting client's {len(sent)}-byte warm-up came back as "
                        f"{describe_stream(sent, received)} {describe_end(end)}".strip(), "tcp.echo.large")


def reset_stage(taken: int, push_end: str) -> str:
    """``after a reset by a client that had sent 1048576 bytes unread (all taken)``, for messages."""
    return (f"after a reset by a client that had sent {taken} bytes unread"
            f" ({'all taken' if push_end == COMPLETE else 'the server had stopped taking more'})")


def describe_death(status: int | None, waited: float) -> str:
    """How a server that stopped listening ended, from its exit status (negative: the signal that killed it)."""
    if status is None:
        return f"the server is no longer listening, but its process was still running {waited:.1f}s later"
    if status < 0:
        name = signal.Signals(-status).name if -status in signal.valid_signals() else f"signal {-status}"
        return f"the server died of {name}"
    return f"the server exited with status {status}"


@names_causes(death_cause, explain_reset, STOPPED_SERVING)
def judge_peer_reset(stage: str, sent: bytes, received: bytes, end: str, *, refused: bool, exited: bool,
                     death: str, within: float, status: int | None = None,
                     watched: float | None = None) -> Violation | None:
    """After a peer's reset (``stage`` says which): the server still runs and echoes a new client.

    ``refused``: the new client's connect was refused (an RST answered its
    SYN); ``exited``: the server's process has ended; ``death`` says how
    (describe_death), from ``status`` (negative: the signal; None: not
    known), which also names the cause; ``watched``: seconds the process
    was seen still running (None: not visible); ``sent``/``received``/``end``:
    the new client's round trip.  A reset the new client met is explained
    (explain_reset: no capture here, so from the process and the bytes).
    """
    if refused:
        cause, why = explain_reset(None, sent=len(sent), echoed=0, status=status, watched=watched, refused=True)
        return violation("peer reset", f"the server to keep serving {stage}", f"connection refused: {why}",
                         cause=cause, reset_explained=True)
    if exited:
        if end == RESET and status is not None:
            death = f"the new client's connection reset: {explain_reset(None, sent=0, echoed=0, status=status)[1]}"
        return violation("peer reset", f"the server still running {stage}", death, cause=death_cause(status),
                         reset_explained=True)
    if received != sent:
        got = f"{len(received)} bytes {describe_end(end)}".strip()
        if end == RESET:
            cause, why = explain_reset(None, sent=len(sent), echoed=len(received), watched=watched)
            return violation("peer reset", f"a new client echoed within {within:.1f}s {stage}", f"{got}: {why}",
                             cause=cause if received else STOPPED_SERVING, reset_explained=True)
        return violation("peer reset", f"a new client echoed within {within:.1f}s {stage}", got,
                         cause=None if received else STOPPED_SERVING)
    return None
