"""tcp.close.*: a server ends a connection with FIN, not RST, and a peer's abort does not take it down."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from sockcheck.judgments.causes import (CLIENT_RST, CRASH, EXIT_ON_ERROR, NO_FIN, SERVER_RST, SIGPIPE, STOPPED_SERVING,
                                        names_causes)
from sockcheck.net.stream import COMPLETE, describe_end
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


@names_causes(SERVER_RST, CLIENT_RST, NO_FIN)
def judge_orderly_close(segments: list[Segment], within: float) -> Violation | None:
    """After the client's close: a FIN from the server, and no RST from either side.

    A RST from the server is an abortive close (SO_LINGER {1, 0}, or unread
    input at close()); one from the client answers data the server sent
    after the client had closed.
    """
    resets = [s for s in segments if "R" in s.flags]
    if resets:
        who = "client" if resets[0].from_client else "server"
        return violation("close", "FIN from the server and no RST", f"RST from the {who} ({resets[0].describe()})",
                         cause=CLIENT_RST if resets[0].from_client else SERVER_RST)
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


@names_causes(SIGPIPE, EXIT_ON_ERROR, CRASH)
def death_cause(status: int | None) -> str | None:
    """The cause a server's end names: SIGPIPE's default action, an exit() on the error, another signal."""
    if status is None:
        return None
    if status == -signal.SIGPIPE:
        return SIGPIPE
    return CRASH if status < 0 else EXIT_ON_ERROR


@names_causes(SIGPIPE, EXIT_ON_ERROR, CRASH, STOPPED_SERVING)
def judge_peer_reset(stage: str, sent: bytes, received: bytes, end: str, *, refused: bool, exited: bool,
                     death: str, within: float, status: int | None = None) -> Violation | None:
    """After a peer's reset (``stage`` says which): the server still runs and echoes a new client.

    ``refused``: the new client's connect was refused; ``exited``: the
    server's process has ended; ``death`` says how (describe_death), from
    ``status`` (negative: the signal; None: not known), which also names
    the cause; ``sent``/``received``/``end``: the new client's round trip.
    """
    if refused:
        return violation("peer reset", f"the server to keep serving {stage}", f"connection refused: {death}",
                         cause=death_cause(status))
    if exited:
        return violation("peer reset", f"the server still running {stage}", death, cause=death_cause(status))
    if received != sent:
        return violation("peer reset", f"a new client echoed within {within:.1f}s {stage}",
                         f"{len(received)} bytes {describe_end(end)}".strip(),
                         cause=None if received else STOPPED_SERVING)
    return None
