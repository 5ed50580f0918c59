"""tcp.limits.*: many descriptors: select()'s FD_SETSIZE ceiling, and ten thousand clients."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import psutil

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.causes import DESCRIPTOR_LIMIT, FD_SETSIZE
from sockcheck.judgments.concurrency import served_at_once_cause
from sockcheck.judgments.limits import Tally, select_death
from sockcheck.net.holding import ConnectionHolder
from sockcheck.net.stream import COMPLETE, EOF_, RESET, TIMEOUT, exchange, read_exactly
from sockcheck.polling import poll_until
from sockcheck.verdicts.catalogue import MUST
from sockcheck.verdicts.findings import Inconclusive, describe_stream, ordinal, violation

SELECT_CONNECTIONS = 1100
# Seconds for all of them, below the catalogue's timeout (85 s) with room for the verdict's
# own waits and the teardown of a fork-per-connection server's 1100 children, and far above
# what a forking server needs, even on a heavily loaded machine.
SELECT_BUDGET = 60.0
C10K_CONNECTIONS = 10_000
C10K_DEADLINE = 30.0
C10K_WINDOW = 512  # connections open and not yet echoed, at most
C10K_RECHECK = 20.0  # seconds for the last round trip on every held connection


def _death(target) -> str:
    """How the server died, from its exit status and log."""
    return select_death(target.exited(), target.log.text())


@check("tcp.limits.select-fd")
def test_select_fd(target, payloads, prompt, deadline, note):
    """select() can only watch descriptors below FD_SETSIZE (1024): FD_SET(fd)
    on fd >= 1024 writes outside the fd_set, memory corruption, or an abort
    when glibc's _FORTIFY_SOURCE catches it.  A select() server has to refuse
    (close) connections whose descriptor is too large, or use poll/epoll.

    Rule: A server does not pass select() a descriptor at or above FD_SETSIZE
    (1024).

    Pass: the server stays alive, every connection is either echoed or closed
    by the server promptly (none hangs), and after they are closed a new
    client is echoed.  A server that dies, or echoes a connection another
    connection's bytes, has lost its clients' data: a must-level finding;
    a limit on connections served at once is the figure.

    Setup: the target runs with RLIMIT_NOFILE 4096; 1100 connections are
    opened one by one, each round-trips 16 bytes of its own before the next
    connects (so a small listen backlog or a slow fork per connection does not
    matter), and every echoed one is kept open.  The check has its own budget
    of 60 s for the 1100: a server too slow to get through them gets a verdict
    saying how far it got.  When a connection is neither echoed nor closed,
    the check closes the oldest held connection: if the waiting one is then
    served, the server limits how many connections it serves at once
    (tcpserver's -c, an iterative server's 1), and the verdict gives that
    figure, a capacity finding.

    Attribution: a first connection that is not echoed, or a final echo with
    the wrong bytes, is tcp.echo.roundtrip's finding (inconclusive here).
    """
    budget = deadline(SELECT_BUDGET)
    pieces = payloads.pieces(SELECT_CONNECTIONS, 16, "fd")
    tally = Tally(SELECT_CONNECTIONS)
    held: list[socket.socket] = []
    started = time.monotonic()
    try:
        for index, piece in enumerate(pieces):
            remaining = started + budget - time.monotonic()
            if remaining <= 0:
                raise violation("FD_SETSIZE", f"{SELECT_CONNECTIONS} connections round-tripped within {budget:.0f}s",
                                f"the budget ran out at {tally.progress(index)}, "
                                f"{(time.monotonic() - started) / index * 1000:.1f} ms per connection: "
                                "the server cannot keep up")
            sock, fate = connect_and_echo(target, piece, min(prompt, remaining))
            if fate.kind == ECHOED:
                held.append(sock)
                tally.count(ECHOED)
                continue
            if fate.kind == CLOSED:
                sock.close()
                tally.count(CLOSED)
                continue
            # A refused connection, or the listening socket gone: a dying process closes its
            # descriptors before it becomes a zombie (and an abort may dump core first).
            if fate.kind == REFUSED:
                poll_until(target.exited, lambda status: status is not None, prompt)
            if target.exited() is not None:
                # A dead server lost every client it held: not a figure under a threshold.
                raise violation("FD_SETSIZE", f"the server alive through {SELECT_CONNECTIONS} connections",
                                f"at {tally.progress(index)}: {_death(target)}", level=MUST, cause=FD_SETSIZE)
            if index == 0:
                if sock is not None:
                    sock.close()
                raise Inconclusive("FD_SETSIZE", f"the first connection {fate.detail}", "tcp.echo.roundtrip")
            if fate.kind == OTHER_BYTES:
                sock.close()
                raise violation("FD_SETSIZE", "each connection echoed its own 16 bytes or closed",
                                f"{tally.progress(index)}: it {fate.detail}", level=MUST)
            hung, limit = hang_verdict(target, held, sock, piece, fate, tally, index, prompt)
            raise violation("FD_SETSIZE", f"each of {SELECT_CONNECTIONS} connections echoed or closed within "
                            f"{prompt:.1f}s", hung, cause=served_at_once_cause(limit) if limit else None)
    finally:
        for sock in held:
            sock.close()
    elapsed = time.monotonic() - started
    payload = payloads.data(16, "afterwards")

    def fresh_echo() -> tuple[bytes, str]:
        try:
            with socket.create_connection(target.address, timeout=prompt) as sock:
                result = exchange(sock, payload, expect=len(payload), idle_timeout=prompt)
                return result.data, f"{len(result.data)} bytes {result.describe_end()}".strip()
        except OSError as exc:
            return b"", "connection refused" if isinstance(exc, ConnectionRefusedError) else str(exc)

    ok, (data, how) = poll_until(fresh_echo, lambda reply: reply[0] == payload, prompt)
    note(f"{tally.progress(SELECT_CONNECTIONS)} in {elapsed:.1f}s")
    if not ok:
        if data:
            raise Inconclusive("FD_SETSIZE", f"a new client's echo came back as {describe_stream(payload, data)}",
                               "tcp.echo.roundtrip")
        died = target.exited() is not None
        raise violation("FD_SETSIZE", f"a new client echoed within {prompt:.1f}s after the {SELECT_CONNECTIONS} "
                        f"connections closed", _death(target) if died else f"{how}, the server still running",
                        level=MUST if died else None, cause=FD_SETSIZE if died else None)


ECHOED = "echoed"
CLOSED = "closed"  # EOF or RST instead of the echo: the server turned the connection away
REFUSED = "refused"
HUNG = "hung"  # connected, but neither echo nor close
UNANSWERED = "unanswered"  # the handshake itself did not complete
OTHER_BYTES = "other bytes"


@dataclass
class Fate:
    """What became of one connection of tcp.limits.select-fd."""

    kind: str
    detail: str = ""
    elapsed: float = 0.0


def connect_and_echo(target, payload: bytes, timeout: float) -> tuple[socket.socket | None, Fate]:
    """Open one connection and round-trip ``payload`` on it, each step within ``timeout``.

    Returns the socket (None once it is of no use) and what became of it.
    """
    started = time.monotonic()
    sock = socket.socket(target.family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(target.address)
    except ConnectionRefusedError:
        sock.close()
        return None, Fate(REFUSED, "was refused")
    except TimeoutError:
        sock.close()
        return None, Fate(UNANSWERED, f"got no answer to its handshake within {timeout:.1f}s "
                          "(the accept queue is full)", time.monotonic() - started)
    except OSError as exc:
        sock.close()
        return None, Fate(CLOSED, f"failed to connect: {exc}")
    try:
        sock.sendall(payload)
    except OSError:
        return sock, Fate(CLOSED, "was reset")
    data, end = read_exactly(sock, len(payload))
    elapsed = time.monotonic() - started
    if end == COMPLETE and data == payload:
        return sock, Fate(ECHOED, elapsed=elapsed)
    if not data and end in (EOF_, RESET):
        return sock, Fate(CLOSED, f"was closed by the server ({end})", elapsed)
    if end == TIMEOUT and not data:
        return sock, Fate(HUNG, f"got neither its echo nor a close within {timeout:.1f}s", elapsed)
    return sock, Fate(OTHER_BYTES, f"got {describe_stream(payload, data)}, then {end}", elapsed)


def hang_verdict(target, held: list[socket.socket], waiting: socket.socket | None, payload: bytes, fate: Fate,
                 tally: Tally, index: int, prompt: float) -> tuple[str, int | None]:
    """What the check saw at the first connection that was neither echoed nor closed, and the number of
    connections the server serves at once when that is what it showed (None: a hang).

    Closing the oldest held connection tells a hang from a limit: a server
    that serves at most N connections at once (the rest wait in the
    listen backlog, as tcpserver's -c does) serves the waiting one as soon
    as a slot frees.
    """
    what = f"{tally.progress(index)}: it {fate.detail}"
    if not held:
        if waiting is not None:
            waiting.close()
        return what, None
    held.pop(0).close()
    freed = time.monotonic()
    if waiting is not None:
        waiting.settimeout(prompt)
        data, end = read_exactly(waiting, len(payload))
        released = end == COMPLETE and data == payload
        waiting.close()
    else:
        sock, late = connect_and_echo(target, payload, prompt)
        released = late.kind == ECHOED
        if sock is not None:
            sock.close()
    if not released:
        return f"{what}; closing the oldest held connection did not release it", None
    limit = len(held) + 1
    how = "was refused" if fate.kind == REFUSED else f"waited {fate.elapsed:.1f}s unanswered"
    served = f"{limit} connections served at once" if limit > 1 else "1 connection served at a time"
    closed_before = f"; {tally.closed} connections closed by the server before" if tally.closed else ""
    closer = f"one of the {limit}" if limit > 1 else "the one being served"
    return (f"{served}; the {ordinal(limit + 1)} {how}, and was echoed {time.monotonic() - freed:.2f}s after "
            f"{closer} closed: the server limits concurrent connections to {limit} "
            f"(a capacity figure{closed_before})", limit)


def descriptor_limit(target, connections: int) -> str:
    """``; the server holds 19998 descriptors, at its RLIMIT_NOFILE of 20000 ...`` when it is near it.

    Servers spend descriptors per connection beyond the socket: Go's
    io.Copy between two TCP connections splices through a pipe, two more
    descriptors for every connection it is copying on.
    """
    if not target.spec.managed or not target.nofile:
        return ""
    held = 0
    for proc in target.processes():
        try:
            held = max(held, proc.num_fds())  # the limit is per process
        except psutil.Error:  # it exited meanwhile
            pass
    if held < target.nofile * 0.95:
        return ""
    return (f"; the server holds {held} descriptors, at its RLIMIT_NOFILE of {target.nofile} "
            f"({held / max(connections, 1):.1f} per connection): a descriptor limit")


@check("tcp.limits.c10k")
def test_c10k(target, payloads, prompt, deadline, note):
    """Thread-per-client and select() designs run out of threads, memory or
    descriptor range long before ten thousand connections; readiness APIs
    (epoll) scale.  C10K is about holding the connections at once, not about
    surviving a flood of handshakes: the kernel completes handshakes before
    the server accepts them, and one that overflows the listen backlog waits
    seconds for SYN retransmission.

    Rule: A server that claims C10K holds 10,000 concurrent connections and
    serves each one.

    Pass: all 10,000 are echoed within 30 s, none is dropped while held, and
    all answer the last byte promptly; the connection rate, the handshakes and
    the times are recorded.

    Setup: the target runs with RLIMIT_NOFILE 20,000.  The client keeps at
    most 512 connections open and not yet echoed: each one connects,
    round-trips 16 bytes of its own and stays open, and only then does another
    one start.  The echoed ones are watched while held (a server that closes
    or resets one shows), and when all 10,000 are held each sends one more
    byte, which must come back.

    Attribution: connections are held at most 512 open and not yet echoed, so
    an accept queue the driver outran is not the finding; a server that falls
    short while holding nearly as many descriptors as its RLIMIT_NOFILE is
    told as such (a descriptor limit, with the figure: some servers spend more
    than one descriptor per connection); a server that answers no connection
    at all is tcp.echo.roundtrip's finding; this check then says it cannot
    judge.
    """
    budget = deadline(C10K_DEADLINE)
    with ConnectionHolder(target.address) as holder:
        run = holder.hold(payloads.pieces(C10K_CONNECTIONS, 16, "c10k"), window=C10K_WINDOW, timeout=budget)
        if run.echoed < C10K_CONNECTIONS:
            stop = run.failure or f"{budget:.0f}s passed"
            limited = ""
            if target.exited() is not None:
                stop += f"; {_death(target)}"
            else:
                limited = descriptor_limit(target, run.echoed + run.pending)
            raise violation("C10K", f"{C10K_CONNECTIONS} connections held at once, each echoed within {budget:.0f}s "
                            f"(at most {C10K_WINDOW} open and not yet echoed)",
                            f"{run.describe()}: {stop}{limited}; {run.figures()}",
                            cause=DESCRIPTOR_LIMIT if limited else None)
        checked = time.monotonic()
        silent = holder.dropped + holder.ping(payloads.pieces(C10K_CONNECTIONS, 1, "still-open"),
                                              timeout=deadline(C10K_RECHECK))
        note(run.figures())
        if silent:
            raise violation("C10K", f"all {C10K_CONNECTIONS} held connections still served at the end",
                            f"{len(silent)} did not echo one more byte; the first: {silent[0]}")
        note(f"all {C10K_CONNECTIONS} still open at the end, one more byte each echoed in "
             f"{time.monotonic() - checked:.2f}s")
