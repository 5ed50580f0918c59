"""tcp.process.*: children reaped, descriptors released, the whole tree gone on SIGTERM: judged from counts."""

from __future__ import annotations

from sockcheck.judgments.causes import (CHILDREN_LINGER, EXIT_STATUS, IGNORES_SIGTERM, NEVER_REAPED, NOT_CLOSED_ON_EOF,
                                        NOT_CLOSED_ON_RESET, ONE_PER_SIGNAL, ORPHANS, names_causes, stream_cause)
from sockcheck.net.stream import COMPLETE, TIMEOUT
from sockcheck.verdicts.findings import Inconclusive, Violation, describe_stream, violation

FD_SLACK = 2  # descriptors above the baseline that are not a leak (a runtime's lazily opened ones)


def unechoed_connection(rule: str, index: int, count: int, detail: str) -> Inconclusive:
    """Connection ``index`` (from 0) of ``count`` opened one by one was not echoed: the check cannot set up.

    The first one is tcp.echo.roundtrip's finding; a later one, with
    others held open, tcp.concurrency.parallel's.
    """
    owner = "tcp.echo.roundtrip" if index == 0 else "tcp.concurrency.parallel"
    return Inconclusive(rule, f"connection #{index + 1} of {count}, opened while {index} were held "
                        f"open, was not echoed ({detail})", owner)


def serves_one_at_a_time(index: int, received: bytes, end: str) -> bool:
    """The second client, connected while the first is held, got nothing and no end, only silence: the
    server serves one client at a time (an iterative server), which tcp.concurrency.parallel measures."""
    return index == 1 and not received and end == TIMEOUT


def forks_for_a_client(baseline_live: int, live: int, zombies: int) -> bool:
    """With one client connected and echoed, the server has a child it did not have before: it forks
    (per connection, or on demand).  A server that forks none has no child to reap."""
    return live + zombies > baseline_live


def reaped(live: int, zombies: int, baseline_live: int) -> bool:
    """No zombie child, and no more live children than before the clients came."""
    return live <= baseline_live and zombies == 0


@names_causes(ONE_PER_SIGNAL, NEVER_REAPED, CHILDREN_LINGER)
def judge_zombies(live: int, zombies: int, baseline_live: int, *, clients: int, round_number: int,
                  within: float) -> Violation | None:
    """After ``clients`` disconnected together: every connection's child gone, none left a zombie.

    Zombies, but fewer than the clients that left, are a SIGCHLD handler
    that reaps one child per signal (signals merge); as many as the clients
    or more, a server that never reaps; no zombie but live children, children
    that outlive their clients.
    """
    if reaped(live, zombies, baseline_live):
        return None
    cause = CHILDREN_LINGER if not zombies else ONE_PER_SIGNAL if zombies < clients else NEVER_REAPED
    return violation("zombies", f"no zombie children {within:.1f}s after {clients} clients disconnected together",
                     f"{zombies} zombie(s) and {live} live child(ren) after round {round_number} "
                     f"(baseline {baseline_live})", cause=cause)


@names_causes(stream_cause)
def judge_fd_cycle(cycle: int, sent: bytes, received: bytes, end: str) -> Violation | Inconclusive | None:
    """Cycle ``cycle`` (from 0) of connect/echo/close must be echoed.

    ``end`` is how reading ended (COMPLETE, EOF_, RESET, TIMEOUT) or the
    name of the error that ended the attempt.  Nothing at all back is a
    connection turned away (a rate or connection limit: inetd takes 256
    connections a minute), which is about how many connections a server
    takes, not a leak: inconclusive.
    """
    if received == sent:
        return None
    if not received and end != COMPLETE:
        return Inconclusive("fd leak", f"cycle {cycle + 1} was turned away ({end}) after {cycle} cycles "
                            "were served", "tcp.limits.select-fd")
    return violation("fd leak", f"cycle {cycle + 1} echoed",
                     f"{len(received)} bytes" + ("" if end == COMPLETE else f" then {end}"),
                     cause=stream_cause(sent, received, end))


def judge_fd_warmup(sent: bytes, received: bytes) -> Inconclusive | None:
    """The warm-up connection (before the baseline is read) must be echoed, or nothing can be counted."""
    if received == sent:
        return None
    return Inconclusive("fd leak", f"the warm-up connection was not echoed ({describe_stream(sent, received)})",
                        "tcp.echo.roundtrip")


LEAK_SHARE = 4  # a descriptor left for every this many connections, or more, is a leak without a second batch


def fds_back(count: int, baseline: int, slack: int = FD_SLACK) -> bool:
    """The open descriptors are back to ``baseline``, give or take ``slack``."""
    return count <= baseline + slack


def leaks_at_once(baseline: int, first: int, cycles: int) -> bool:
    """More descriptors left after ``cycles`` cycles than any cache keeps: one for every LEAK_SHARE cycles
    or more.  No second batch is needed to tell this leak from a cache (a pool of a runtime's pipes or
    timers holds a few, whatever the clients served)."""
    return first - baseline > cycles // LEAK_SHARE


@names_causes(NOT_CLOSED_ON_EOF, NOT_CLOSED_ON_RESET)
def judge_fd_growth(baseline: int, first: int, again: int | None, *, cycles: int, slack: int = FD_SLACK,
                    eof_missing: int = 0) -> Violation | None:
    """Descriptors still above the baseline after ``cycles`` cycles: a cache stops growing, a leak does not.

    ``first`` is the count after the first batch, ``again`` after a second
    batch of as many cycles, None when the first batch left so many
    (leaks_at_once) that none was run; ``eof_missing`` counts half-closed
    connections that got no EOF: where the leak is.  A server that closes
    the half-closed ones (they got EOF) and still leaks forgets the
    connections that end with a reset, the third kind of cycle.
    """
    if again is not None and fds_back(again, first, slack):
        return None
    if again is None and not leaks_at_once(baseline, first, cycles):
        return None
    extra = "; a half-closed connection got no EOF" if eof_missing else ""
    cause = NOT_CLOSED_ON_EOF if eof_missing else NOT_CLOSED_ON_RESET
    expected = f"at most {baseline + slack} open fds (baseline {baseline} + {slack}) after {cycles} cycles"
    if again is None:
        return violation("fd leak", expected, f"{first} after {cycles} ({first - baseline} more: more than one in "
                         f"{LEAK_SHARE} connections, which no cache keeps){extra}", cause=cause)
    return violation("fd leak", f"{expected}, or no growth in {cycles} more",
                     f"{first} after {cycles} ({first - baseline} more), {again} after {2 * cycles}{extra}",
                     cause=cause)


@names_causes(IGNORES_SIGTERM, ORPHANS, EXIT_STATUS)
def judge_shutdown(status: int | None, gone: bool, survivors: list[int], *, within: float,
                   graceful: bool) -> Violation | None:
    """After SIGTERM to the main process: the whole tree gone within ``within`` seconds.

    ``status`` is the main process's exit status (None: still running),
    ``gone`` whether every process of the tree had ended, ``survivors``
    the pids still there; ``graceful``: the target claims
    graceful-shutdown, so its exit status must be 0.
    """
    if status is None or not gone:
        if status is None:
            actual = f"the server still running ({len(survivors)} process(es))"
        else:
            actual = (f"the server exited with status {status} but {len(survivors)} orphaned child(ren) still run "
                      f"(pid {', '.join(str(pid) for pid in survivors)})")
        return violation("shutdown", f"the whole process tree gone within {within:.0f}s of SIGTERM", actual,
                         cause=IGNORES_SIGTERM if status is None else ORPHANS)
    if graceful and status != 0:
        return violation("shutdown", "exit status 0 (the target claims graceful-shutdown)", f"status {status}",
                         cause=EXIT_STATUS)
    return None
