"""tcp.concurrency.*: each client gets its own bytes, and how many were served at once, and when."""

from __future__ import annotations

from sockcheck.judgments.causes import (BACKLOG, CROSSED, LIMIT, NEVER_SERVED, ONE_AT_A_TIME, SERVER_EXITED, STALLED,
                                        names_causes, stream_cause)
from sockcheck.verdicts.catalogue import MUST
from sockcheck.verdicts.findings import Inconclusive, Violation, ordinal, violation

WAVE_GAP = 0.5  # seconds between arrivals that start a new wave (SYN retransmission waits 1 s, then 3 s ...)


def _first_not_own(received: list[bytes], expected: list[bytes]) -> tuple[int, list[int]] | None:
    """(the first client that got bytes other than its own, the clients whose bytes they hold); None if none did."""
    for index, (got, want) in enumerate(zip(received, expected)):
        if got and got != want[:len(got)]:
            return index, [j for j, other in enumerate(expected) if j != index and other and other[:16] in got]
    return None


def stolen_bytes(received: list[bytes], expected: list[bytes]) -> str | None:
    """The first client that got bytes other than its own, said with whose bytes they were; None if none did."""
    found = _first_not_own(received, expected)
    if found is None:
        return None
    index, owners = found
    whose = f": bytes of client #{owners[0] + 1}" if owners else ""
    return f"client #{index + 1} got {len(received[index])} bytes that are not its own{whose}"


@names_causes(CROSSED, stream_cause)
def judge_own_bytes(rule: str, clients: int, received: list[bytes], expected: list[bytes]) -> Violation | None:
    """Every client's bytes are its own (a prefix of what it sent).

    Another client's bytes are corruption, not a shortfall: the finding is
    must-level whatever the check's own level.  Bytes of another client
    name the cause (a descriptor or a buffer shared between clients); bytes
    of nobody's are what the server did to the client's own.
    """
    found = _first_not_own(received, expected)
    if found is None:
        return None
    index, owners = found
    cause = CROSSED if owners else stream_cause(expected[index], received[index], "")
    return violation(rule, f"each of {clients} clients to get exactly its own bytes",
                     stolen_bytes(received, expected), level=MUST, cause=cause)


def served_figures(received: list[bytes], expected: list[bytes], total: int, within: float) -> str:
    """``40 of 64 served at once; 24 connected but got no byte back within 5.0s`` (and the partly served).

    ``received`` is what came back to each client that connected, ``total``
    how many tried.
    """
    complete = sum(1 for got, want in zip(received, expected) if got == want)
    served = sum(1 for got in received if got)
    text = f"{served} of {total} served at once"
    if complete < served:
        text += f" ({served - complete} of them only partly: they stalled)"
    if served < len(received):
        text += f"; {len(received) - served} connected but got no byte back within {within:.1f}s"
    return text


def accept_queue_overflowed(received: list[bytes], expected: list[bytes], connected: str, problem: str | None,
                            within: float) -> Inconclusive | None:
    """Not every client could connect, one handshake at a time, yet every one that did was served.

    The handshakes the kernel completed before the server accepted them
    overflowed its listen backlog: tcp.concurrency.burst-accept's finding.
    ``connected`` says how many connected (Opened.describe), ``problem``
    why not all did (None: all did).
    """
    if problem is None or any(got != want for got, want in zip(received, expected)):
        return None
    return Inconclusive("parallel clients", f"{connected}, one handshake at a time, within {within:.1f}s, and all "
                        "of those were served: the server's accept queue overflowed", "tcp.concurrency.burst-accept")


@names_causes(ONE_AT_A_TIME, LIMIT)
def served_at_once_cause(served: int) -> str:
    """A server seen to serve ``served`` clients at a time: one (iterative), or a fixed number (a limit)."""
    return ONE_AT_A_TIME if served <= 1 else LIMIT


@names_causes(SERVER_EXITED, NEVER_SERVED, STALLED, served_at_once_cause)
def shortfall_cause(served: int, stuck: bool, partly: int = 0, exited: bool = False) -> str:
    """Why clients connected at once were not all served: some never are while others are (``stuck``, a
    descriptor handed over by pointer or a client dropped from the set), ``partly`` clients got part of
    their bytes and then nothing (a read that does not drain the socket), or the server serves ``served``
    at a time; or the server ended (``exited``) with clients connected."""
    if exited:
        return SERVER_EXITED
    if stuck:
        return NEVER_SERVED
    return STALLED if partly else served_at_once_cause(served)


@names_causes(BACKLOG, shortfall_cause)
def burst_cause(served: int, stuck: bool, retransmitted: bool, partly: int = 0, exited: bool = False) -> str:
    """shortfall_cause(), or, when the handshakes or echoes came in waves (``retransmitted``) and none is
    stuck or cut short, a listen backlog the burst overflowed."""
    if retransmitted and not stuck and not partly and not exited:
        return BACKLOG
    return shortfall_cause(served, stuck, partly, exited)


def gone_with_clients(exit_words: str | None) -> str:
    """After a shortfall, a server that ended on its own once the clients let go (``exit_words``:
    ``exited with status 0``) left the rest unserved for good: lost, not late."""
    return (f"; once the served clients closed, the server {exit_words} on its own, with clients still "
            f"connected: they are never served") if exit_words else ""


def partly_served(received: list[bytes], expected: list[bytes]) -> int:
    """How many clients got some of their bytes back but not all."""
    return sum(1 for got, want in zip(received, expected) if got and got != want)


def waves(times: list[float], gap: float = WAVE_GAP) -> int:
    """How many waves the arrival times come in (see describe_waves)."""
    ordered = sorted(times)
    return sum(1 for a, b in zip(ordered, ordered[1:]) if b - a > gap) + 1 if ordered else 0


def describe_waves(times: list[float], gap: float = WAVE_GAP) -> str:
    """Arrival times summed up in waves: ``6 within 0.01s, 66 by 1.02s, 200 by 3.05s``.

    A wave ends where the next arrival comes more than ``gap`` seconds
    later; each wave is said with the running count and its last time.
    """
    if not times:
        return "none"
    ordered = sorted(times)
    ends = []
    for index, moment in enumerate(ordered):
        if index + 1 == len(ordered) or ordered[index + 1] - moment > gap:
            ends.append((index + 1, moment))
    first = f"{ends[0][0]} within {ends[0][1]:.2f}s"
    return ", ".join([first] + [f"{count} by {moment:.2f}s" for count, moment in ends[1:]])


def describe_next_served(served: int, waiting: int, waited_before: float, firsts: list[float],
                         within: float) -> tuple[str, bool]:
    """What closing one served client did for the ``waiting`` ones (connected, their bytes acknowledged by
    the server's kernel, no byte back), and whether they are stuck.

    A waiting client served soon after a slot freed is a server that serves
    at most ``served`` at once: a capacity figure.  None served is a server
    that accepted clients and never serves them while it serves others (a
    descriptor handed to the wrong thread, a client dropped from its list):
    the clients' data is lost, a must-level finding.
    """
    if not firsts:
        return (f"; {waiting} connected client(s) got no byte back while {served} other(s) were served, and "
                f"closing a served client did not get a waiting one served within {within:.1f}s: the server "
                f"never serves clients it has connected", True)
    waited = waited_before + min(firsts)
    closer = f"one of the {served}" if served > 1 else "the one served"
    clients = f"{served} clients" if served > 1 else "one client"
    return (f"; the {ordinal(served + 1)} waited {waited:.1f}s, and was served {min(firsts):.2f}s after {closer} "
            f"closed: the server serves at most {clients} at once", False)
