"""tcp.process.*: the server's processes and descriptors: reaped, released, and ended on SIGTERM."""

from __future__ import annotations

import socket

import psutil

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.process import (fds_back, forks_for_a_client, judge_fd_cycle, judge_fd_growth,
                                         judge_fd_warmup, judge_shutdown, judge_zombies, leaks_at_once, reaped,
                                         serves_one_at_a_time, unechoed_connection)
from sockcheck.launch.proctree import format_snapshot, snapshot
from sockcheck.net.stream import exchange, read_exactly, read_until_eof, set_linger_reset
from sockcheck.polling import poll_until
from sockcheck.verdicts.findings import describe_stream

ZOMBIE_CLIENTS = 32
ZOMBIE_ROUNDS = 3
FD_CYCLES = 300
SHUTDOWN_LIMIT = 3.0
SHUTDOWN_CLIENTS = 3


def children_by_state(pid: int) -> tuple[int, int]:
    """(live, zombie) direct children of ``pid``."""
    try:
        children = psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return 0, 0
    live = zombies = 0
    for child in children:
        try:
            zombie = child.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            continue
        zombies += zombie
        live += not zombie
    return live, zombies


def tree_fds(target) -> int:
    total = 0
    for proc in target.processes():
        try:
            total += proc.num_fds()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return total


def settled(probe, timeout: float) -> int:
    """A reading of ``probe`` once two consecutive readings agree (or at ``timeout``)."""
    previous = [probe()]

    def reading() -> tuple[int, int]:
        current = probe()
        pair = (previous[0], current)
        previous[0] = current
        return pair

    _, (_, value) = poll_until(reading, lambda pair: pair[0] == pair[1], timeout)
    return value


def connect_one_by_one(target, payloads, count: int, prompt: float, rule: str) -> list[socket.socket]:
    """``count`` connections, each echoed before the next connects, all kept open.

    One at a time, so a server with a tiny listen backlog (busybox nc has 2)
    or a slow fork serves them all; the rules this set-up serves are about
    disconnects and shutdown, not about simultaneous connects.  A server
    seen to serve one client at a time (the second gets nothing while the
    first is held) only has to echo the first; the rest wait connected.  A
    connection that is not echoed otherwise is tcp.echo.roundtrip's (or, once
    others are held, tcp.concurrency.parallel's) finding: Inconclusive.
    """
    one_at_a_time = False
    socks: list[socket.socket] = []
    try:
        for index in range(count):
            sock = socket.socket(target.family, socket.SOCK_STREAM)
            socks.append(sock)
            sock.settimeout(prompt)
            payload = payloads.data(16, f"{rule}-{index}")
            try:
                sock.connect(target.address)
                if one_at_a_time:
                    continue
                reply = exchange(sock, payload, expect=len(payload), idle_timeout=prompt)
            except OSError as exc:
                reply = None
                detail = f"{type(exc).__name__}: {exc}"
            else:
                detail = f"{describe_stream(payload, reply.data)} {reply.describe_end()}".strip()
            if reply is not None and serves_one_at_a_time(index, reply.data, reply.end):
                one_at_a_time = True
                continue
            if reply is None or reply.data != payload:
                raise unechoed_connection(rule, index, count, detail)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


@check("tcp.process.zombies")
def test_zombies(target, payloads, prompt, evidence, note):
    """SIGCHLD signals merge: when several children exit together the kernel
    may deliver a single SIGCHLD for all of them.  A handler that calls
    waitpid() once per signal reaps one child and leaves the rest as zombies;
    the fix is to loop ``while (waitpid(-1, NULL, WNOHANG) > 0)``.

    Rule: A forking server reaps every child, however many exit at once.

    Pass: after each round, promptly, every connection's child is gone and no
    child of the server is a zombie.  A server that forks no child for a
    client (observed, whatever its manifest says) passes, with a note.

    Setup: a first client is connected and echoed; if the server then has a
    child it did not have before, 32 clients connect one after another, each echoed before the next
    (so a tiny backlog does not matter), then all 32 close at the same
    instant; this is done three times, because whether signals merge depends
    on scheduling.

    Attribution: a connection that is not echoed is tcp.echo.roundtrip's
    finding (the first) or tcp.concurrency.parallel's (a later one, while
    others are held open); this check then says it cannot judge.
    """
    baseline_live = settled(lambda: children_by_state(target.pid)[0], prompt)
    (first,) = connect_one_by_one(target, payloads, 1, prompt, "zombies")
    with first:
        forks = forks_for_a_client(baseline_live, *children_by_state(target.pid))
    if not forks:
        note("the server forked no child for a client (observed): no child to reap")
        return
    for round_number in range(1, ZOMBIE_ROUNDS + 1):
        socks = connect_one_by_one(target, payloads, ZOMBIE_CLIENTS, prompt, f"zombies (round {round_number})")
        for sock in socks:  # all at once: the children exit together
            sock.close()
        _, (live, zombies) = poll_until(lambda: children_by_state(target.pid),
                                        lambda s: reaped(*s, baseline_live), prompt)
        finding = judge_zombies(live, zombies, baseline_live, clients=ZOMBIE_CLIENTS, round_number=round_number,
                                within=prompt)
        if finding:
            evidence("process tree", format_snapshot(snapshot(target.processes() + _zombies_of(target.pid))))
            raise finding
    note(f"{ZOMBIE_ROUNDS} rounds of {ZOMBIE_CLIENTS} simultaneous disconnects, no zombie left")


def _zombies_of(pid: int) -> list[psutil.Process]:
    try:
        return [c for c in psutil.Process(pid).children() if c.status() == psutil.STATUS_ZOMBIE]
    except psutil.NoSuchProcess:
        return []


def fd_cycles(target, payload: bytes, prompt: float, first: int, count: int) -> int:
    """``count`` connect/echo/close cycles, numbered from ``first``, ended in turn by a graceful close,
    a reset (SO_LINGER 0) and a half-close; returns how many half-closed connections got no EOF
    (counting stops at the first, so a broken server does not cost 100 x prompt)."""
    eof_missing = 0
    for cycle in range(first, first + count):
        with socket.socket(target.family, socket.SOCK_STREAM) as sock:
            sock.settimeout(prompt)
            try:
                sock.connect(target.address)
                sock.sendall(payload)
                reply, end = read_exactly(sock, len(payload))
            except OSError as exc:
                reply, end = b"", f"{type(exc).__name__}"
            finding = judge_fd_cycle(cycle, payload, reply, end)
            if finding:
                raise finding
            mode = cycle % 3
            if mode == 1:
                set_linger_reset(sock)
            elif mode == 2:
                sock.shutdown(socket.SHUT_WR)
                if not eof_missing and read_until_eof(sock, prompt).end != "EOF":
                    eof_missing += 1
    return eof_missing


@check("tcp.process.fd-leak")
def test_fd_leak(target, payloads, prompt, note):
    """Servers often close on the happy path and forget the error paths: a
    client reset (ECONNRESET/EPIPE), or a half-close.  A forking parent that
    does not close its copy of the connected socket leaks one descriptor per
    client.

    Rule: A server closes every connection's descriptor, however the
    connection ends.

    Pass: promptly after the cycles the open descriptors of the server's whole
    process tree are back to the baseline + 2; or, when they are not, 300 more
    cycles add no more than 2 (a bounded cache, such as Go's pool of splice
    pipes, is no leak; a leak grows with every batch).  More than 75 left
    after the first 300 (one in four connections) is a leak without the
    second batch: no cache keeps that many.

    Setup: the baseline is read after one warm-up exchange, since runtimes
    open their poller's descriptors on first use.  Then 300 connections are
    echoed and ended in turn by a graceful close, a reset (SO_LINGER 0) and a
    half-close.

    Attribution: a warm-up connection that is not echoed is
    tcp.echo.roundtrip's finding; a cycle the server turns away (a rate or
    connection limit) is not a leak but about how many connections it takes
    (tcp.limits.select-fd's); this check then says it cannot judge.
    """
    payload = payloads.data(32)
    # A warm-up exchange first: runtimes open descriptors on first use (Go's poller opens its epoll
    # fd and an eventfd when the first connection arrives), which are not leaks.
    with socket.socket(target.family, socket.SOCK_STREAM) as sock:
        sock.settimeout(prompt)
        sock.connect(target.address)
        warmup = exchange(sock, payload, expect=len(payload), idle_timeout=prompt)
    unready = judge_fd_warmup(payload, warmup.data)
    if unready:
        raise unready
    baseline = settled(lambda: tree_fds(target), prompt)
    eof_missing = fd_cycles(target, payload, prompt, 0, FD_CYCLES)
    done, count = poll_until(lambda: tree_fds(target), lambda n: fds_back(n, baseline), prompt)
    note(f"fds: baseline {baseline}, after {FD_CYCLES} cycles {count}")
    if done:
        return
    # Above the baseline: a leak, or a cache the server keeps.  Another batch tells them apart, unless
    # far more are left than a cache keeps.
    first = settled(lambda: tree_fds(target), prompt)
    again = None
    if not leaks_at_once(baseline, first, FD_CYCLES):
        eof_missing += fd_cycles(target, payload, prompt, FD_CYCLES, FD_CYCLES)
        _, again = poll_until(lambda: tree_fds(target), lambda n: fds_back(n, first), prompt)
        note(f"after {2 * FD_CYCLES} cycles {again}")
    finding = judge_fd_growth(baseline, first, again, cycles=FD_CYCLES, eof_missing=eof_missing)
    if finding:
        raise finding


@check("tcp.process.shutdown")
def test_shutdown(target, payloads, prompt, deadline, evidence):
    """A forking server that exits without signalling its children leaves them
    serving connections as orphans (re-parented away from the server), out of
    any supervisor's reach.

    Rule: On SIGTERM a server ends with its whole process tree; no child is
    left running as an orphan.

    Pass: within 3 s of SIGTERM every process of the tree is gone; where the
    target claims graceful-shutdown, the exit status is 0.

    Setup: 3 clients are connected one by one, each echoed (only the first for
    a server seen to serve one client at a time), so a tiny backlog does not
    matter; then SIGTERM goes to the main process only, as a service manager
    sends it.  Every process known at that moment counts (descendants, members
    of the target's session and process group, whatever their environment),
    and stays counted after it is re-parented away.

    Attribution: a connection that is not echoed is tcp.echo.roundtrip's
    finding (the first) or tcp.concurrency.parallel's (a later one); this
    check then says it cannot judge.
    """
    limit = deadline(SHUTDOWN_LIMIT)
    socks = connect_one_by_one(target, payloads, SHUTDOWN_CLIENTS, prompt, "shutdown")
    try:
        status = target.terminate_main(limit)
        done, left = poll_until(target.processes, lambda procs: not procs, limit)
        rows = []
        if not done or status is None:
            rows = snapshot(left)
            evidence("process tree after SIGTERM", format_snapshot(rows))
        finding = judge_shutdown(status, done, [r.pid for r in rows], within=limit,
                                 graceful="graceful-shutdown" in target.spec.capabilities)
        if finding:
            raise finding
    finally:
        for sock in socks:
            sock.close()
