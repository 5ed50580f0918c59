"""tcp.limits.*: many descriptors: select()'s FD_SETSIZE ceiling, and ten thousand clients."""

from __future__ import annotations

import socket
import time

from fixtures.checkmark import check
from fixtures.clients import COMPLETE, EOF_, RESET, TIMEOUT, converse, exchange, open_many
from fixtures.polling import poll_until
from fixtures.verdict import violation

SELECT_CONNECTIONS = 1100
C10K_CONNECTIONS = 10_000
C10K_DEADLINE = 30.0
FORTIFY_MARK = "bit out of range"


def _death(target) -> str:
    """How the server died, from its exit status and log."""
    status = target.exited()
    log = target.log.text()
    how = f"the server died (status {status})"
    if status is not None and status < 0:
        how = f"the server died of signal {-status}"
    if FORTIFY_MARK in log:
        how += ": glibc's FORTIFY check aborted it ('*** bit out of range 0 - FD_SETSIZE on fd_set ***': FD_SET on an fd >= 1024)"
    elif status is not None and status < 0:
        how += " (memory corruption: FD_SET on an fd >= 1024 writes past the fd_set)"
    return how


@check("tcp.limits.select-fd")
def test_select_fd(target, payloads, prompt, note):
    """select() can only watch descriptors below FD_SETSIZE (1024); a server must not pass it larger ones.

    FD_SET(fd) on fd >= 1024 writes outside the fd_set: memory corruption,
    or an abort when glibc's _FORTIFY_SOURCE catches it.  A select() server
    has to refuse (close) connections whose descriptor is too large, or use
    poll/epoll.  The target runs with RLIMIT_NOFILE 4096; 1100 connections
    are opened one by one and kept open, then each round-trips 16 bytes of
    its own (all at once, so the check costs one timeout, not 1100).
    Pass: the server stays alive, every connection is either echoed or
    closed by the server promptly (none hangs), and after they are closed a
    new client is echoed.
    """
    socks: list[socket.socket] = []
    try:
        for index in range(SELECT_CONNECTIONS):
            sock = socket.socket(target.family, socket.SOCK_STREAM)
            socks.append(sock)
            sock.settimeout(prompt)
            try:
                sock.connect(target.address)
            except OSError as exc:
                if target.exited() is not None:
                    raise violation("FD_SETSIZE", f"the server alive through {SELECT_CONNECTIONS} connections",
                                    f"at connection #{index + 1} {_death(target)}") from None
                raise violation("FD_SETSIZE", f"connection #{index + 1} accepted", str(exc)) from None
        # Every connection now holds a descriptor in the server; each round-trips its own bytes.
        chunks = [[piece] for piece in payloads.pieces(len(socks), 16, "fd")]
        results = converse(socks, chunks, idle_timeout=prompt)
    finally:
        for sock in socks:
            sock.close()
    if target.exited() is not None:
        raise violation("FD_SETSIZE", f"the server alive through {SELECT_CONNECTIONS} connections", _death(target))
    echoed = sum(1 for r, c in zip(results, chunks) if r.data == c[0])
    refused = sum(1 for r in results if r.end in (EOF_, RESET) and not r.data)
    hung = [i for i, r in enumerate(results) if r.end == TIMEOUT]
    if hung:
        raise violation("FD_SETSIZE", f"each of {SELECT_CONNECTIONS} connections echoed or closed within {prompt:.1f}s",
                        f"{len(hung)} hang, the first is connection #{hung[0] + 1}")
    wrong = len(results) - echoed - refused
    if wrong:
        raise violation("FD_SETSIZE", "each connection echoed its own 16 bytes or closed", f"{wrong} got other bytes")
    payload = payloads.data(16, "afterwards")

    def fresh_echo() -> bool:
        try:
            with socket.create_connection(target.address, timeout=prompt) as sock:
                return exchange(sock, payload, expect=len(payload), idle_timeout=prompt).data == payload
        except OSError:
            return False

    ok, _ = poll_until(fresh_echo, bool, prompt)
    note(f"{echoed} echoed, {refused} closed by the server")
    if not ok:
        raise violation("FD_SETSIZE", "a new client echoed after the 1100 connections closed",
                        _death(target) if target.exited() is not None else "no echo")


@check("tcp.limits.c10k")
def test_c10k(target, payloads, timeout_scale, note):
    """A server that claims C10K holds 10,000 concurrent connections and serves each one.

    Thread-per-client and select() designs run out of threads, memory or
    descriptor range long before; readiness APIs (epoll) scale.  The client
    opens 10,000 connections (at most 512 handshakes in flight) with one
    epoll-based selector, then every connection round-trips 16 bytes of its
    own.  Pass: all 10,000 are echoed within 30 s; the connection rate and
    total time are recorded.
    """
    deadline = C10K_DEADLINE * timeout_scale
    started = time.monotonic()
    socks, problem = open_many(target.address, C10K_CONNECTIONS, timeout=deadline, in_flight=512)
    connected = time.monotonic() - started
    try:
        if problem:
            raise violation("C10K", f"{C10K_CONNECTIONS} connections within {deadline:.0f}s", problem)
        chunks = [[piece] for piece in payloads.pieces(len(socks), 16, "c10k")]
        results = converse(socks, chunks, idle_timeout=deadline, total_timeout=deadline - connected)
        total = time.monotonic() - started
        good = sum(1 for r, c in zip(results, chunks) if r.end == COMPLETE and r.data == c[0])
        note(f"{C10K_CONNECTIONS} connections in {connected:.2f}s ({C10K_CONNECTIONS / connected:.0f}/s), "
             f"all round trips done in {total:.2f}s")
        if good != C10K_CONNECTIONS:
            raise violation("C10K", f"{C10K_CONNECTIONS} connections each echoed within {deadline:.0f}s",
                            f"{good} echoed")
    finally:
        for sock in socks:
            sock.close()
