"""tcp.concurrency.*: each client gets its own bytes, and how many were served at once, and when."""

from __future__ import annotations

from sockcheck.verdicts.catalogue import MUST
from sockcheck.verdicts.findings import Inconclusive, Violation, ordinal, violation

WAVE_GAP = 0.5  # seconds between arrivals that start a new wave (SYN retransmission waits 1 s, then 3 s ...)


def stolen_bytes(received: list[bytes], expected: list[bytes]) -> str | None:
    """The first client that got bytes other than its own, said with whose bytes they were; None if none did."""
    for index, (got, want) in enumerate(zip(received, expected)):
        if got and got != want[:len(got)]:
            owners = [j for j, other in enumerate(expected) if j != index and other and other[:16] in got]
            whose = f": bytes of client #{owners[0] + 1}" if owners else ""
            return f"client #{index + 1} got {len(got)} bytes that are not its own{whose}"
    return None


def judge_own_bytes(rule: str, clients: int, received: list[bytes], expected: list[bytes]) -> Violation | None:
    """Every client's bytes are its own (a prefix of what it sent).

    Another client's bytes are corruption, not a shortfall: the finding is
    must-level whatever the check's own level.
    """
    stolen = stolen_bytes(received, expected)
    if stolen is None:
        return None
    return violation(rule, f"each of {clients} clients to get exactly its own bytes", stolen, level=MUST)


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
