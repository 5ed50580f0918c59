"""tcp.concurrency.*: a server serves many clients, and no client can stall the others."""

from __future__ import annotations

import time

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.causes import stream_cause
from sockcheck.judgments.concurrency import (accept_queue_overflowed, burst_cause, describe_next_served,
                                             describe_waves, gone_with_clients, judge_own_bytes, partly_served,
                                             served_figures, shortfall_cause, waves)
from sockcheck.judgments.model import Observation, observed_model
from sockcheck.launch.launcher import describe_exit
from sockcheck.launch.proctree import TreeCounts, tree_counts
from sockcheck.net.crowd import converse, converse_through_retransmission, open_many
from sockcheck.net.stream import TIMEOUT, StreamResult, exchange, unacknowledged_bytes
from sockcheck.polling import poll_until
from sockcheck.verdicts.catalogue import MUST
from sockcheck.verdicts.findings import violation

PARALLEL_CLIENTS = 64
PARALLEL_CHUNKS = 4
PARALLEL_DEADLINE = 5.0
BURST_CLIENTS = 200
BURST_DEADLINE = 10.0


@check("tcp.concurrency.parallel")
def test_parallel(target, payloads, prompt, deadline, note, observe):
    """Shared buffers, mixed-up descriptors or a global "current client"
    variable show up as one client receiving another's bytes.  A server that
    serves at most N clients at once (a configured limit such as tcpserver's
    -c 40, or a pool) leaves the others without a byte: the verdict gives N,
    and how soon a waiting client was served once one of the N closed.

    Rule: A concurrent server keeps each client's stream separate, whatever
    the interleaving.

    Pass: each client receives exactly its own 1 KiB within 5 s; the figure
    (how many were served at once, how fast) is recorded either way, and a
    shortfall is below the threshold when waiting clients are served as
    others leave (an iterative server, a limit on clients at once, a full
    accept queue).  A client that receives another client's bytes, and
    clients the server connected and never serves while it serves others
    (closing a served client gets none of them served), are a must-level
    finding: their data is lost.

    Setup: 64 clients connect, one handshake at a time, and stay connected;
    then they send 4 chunks of 256 bytes of their own each, the chunks of all
    clients interleaved on the wire, while reading.  Meanwhile the server's
    process tree is read (processes, threads, an epoll instance): the model
    observed, which the reports show beside the manifest's claim.

    Attribution: a listen backlog too small for handshakes coming one after
    another (the kernel completes them before the server accepts) is
    tcp.concurrency.burst-accept's finding: when some clients could not
    connect but every one that did was served, this check is inconclusive.  A
    server that answers no connection at all is tcp.echo.roundtrip's finding;
    this check then says it cannot judge.
    """
    within = deadline(PARALLEL_DEADLINE)
    before = tree_counts(target.processes()) if target.spec.managed else None
    opened = open_many(target.address, PARALLEL_CLIENTS, timeout=prompt, in_flight=1)
    socks = opened.socks
    try:
        chunks = [[payloads.data(256, f"c{i}k{k}") for k in range(PARALLEL_CHUNKS)] for i in range(len(socks))]
        expected = [b"".join(c) for c in chunks]
        results = converse(socks, chunks, idle_timeout=prompt, total_timeout=within)
        received = [r.data for r in results]
        served = sum(1 for got, want in zip(received, expected) if got == want)
        # The clients are still connected: the server's tree as it serves them.
        model = model_of(before, tree_counts(target.processes()), served) if before is not None else None
        if model is not None and served >= 2:
            observe("model", model)
        finding = (judge_own_bytes("parallel clients", PARALLEL_CLIENTS, received, expected)
                   or accept_queue_overflowed(received, expected, opened.describe(PARALLEL_CLIENTS), opened.problem,
                                              prompt))
        if finding:
            raise finding
        figures = served_figures(received, expected, PARALLEL_CLIENTS, results[0].elapsed if results else 0.0)
        done = [r for r, want in zip(results, expected) if r.data == want]
        if opened.problem:
            figures += f"; {opened.describe(PARALLEL_CLIENTS)}"
        if len(done) == PARALLEL_CLIENTS:
            note(f"{figures}; first bytes within {max(r.first_byte for r in done):.2f}s, "
                 f"all done in {max(r.finished for r in done):.2f}s")
            return
        after, stuck = next_served(socks, results, expected, prompt)
        gone = gone_with_clients(_ends_on_its_own(target, socks, prompt))
        if model is not None and served == 1 and after and not stuck and not gone:
            observe("model", model)  # one served, the next served once it closed: one client at a time
        # Clients connected and never served while others are, or left by a server that ended: data
        # loss, whatever the check's level.
        raise violation("parallel clients", f"each of {PARALLEL_CLIENTS} clients to get exactly its own bytes "
                        f"within {within:.1f}s", figures + after + gone, level=MUST if stuck or gone else None,
                        cause=shortfall_cause(sum(1 for got in received if got), stuck,
                                              partly_served(received, expected), exited=bool(gone)))
    finally:
        for sock in socks:
            sock.close()


def _ends_on_its_own(target, socks, prompt: float) -> str | None:
    """After a shortfall: close the clients and see whether the server then ends on its own
    (``exited with status 0``), as a server that serves N clients and returns does; None when it
    keeps running (or is not ours to watch)."""
    if not target.spec.managed:
        return None
    for sock in socks:
        sock.close()
    _, status = poll_until(target.exited, lambda status: status is not None, prompt)
    return describe_exit(status) if status is not None else None


def model_of(before: TreeCounts, during: TreeCounts, served: int) -> str:
    return observed_model(Observation(served, max(0, during.processes - before.processes),
                                      max(0, during.threads - before.threads), during.epoll or before.epoll,
                                      before.processes, before.threads))


def next_served(socks, results: list[StreamResult], expected: list[bytes], prompt: float) -> tuple[str, bool]:
    """After a shortfall: close one fully served client and see how soon a waiting one is served; and
    whether none was (clients the server accepted and never serves: a must-level finding).

    A server that serves N at once serves the next client as soon as a
    slot frees: that tells a concurrency limit from a server that stopped.
    Only clients still connected (no EOF, no RST) whose bytes the server's
    kernel has acknowledged are waiting for the server; the others wait for
    retransmission, or were turned away (a server at its connection limit
    that accepts and closes, as ncat's --max-conns does: a capacity figure).
    """
    done = [i for i, (r, want) in enumerate(zip(results, expected)) if r.data == want]
    waiting = [i for i, r in enumerate(results)
               if not r.data and r.end == TIMEOUT and not unacknowledged_bytes(socks[i])]
    if not done or not waiting:
        return "", False
    socks[done[0]].close()
    late = converse([socks[i] for i in waiting], [[] for _ in waiting], expect=[len(expected[i]) for i in waiting],
                    idle_timeout=prompt, total_timeout=prompt)
    firsts = [r.first_byte for r in late if r.first_byte is not None]
    return describe_next_served(sum(1 for r in results if r.data), len(waiting),
                                results[waiting[0]].elapsed, firsts, prompt)


@check("tcp.concurrency.idle-peer")
def test_idle_peer(target, tcp_client, payloads, prompt):
    """An iterative server, or one that blocks in read() on a single
    connection, serves nobody while an idle client holds it.

    Rule: One connected client that sends nothing does not delay anyone else.

    Pass: the second client's echo arrives promptly.

    Setup: the first client connects and stays silent; a second connects and
    sends 32 bytes.

    Attribution: a server that answers no connection at all is
    tcp.echo.roundtrip's finding; this check then says it cannot judge.
    """
    idle = tcp_client()
    payload = payloads.data(32)
    result = exchange(tcp_client(), payload, expect=len(payload), idle_timeout=prompt)
    if result.data != payload:
        # Silence is this check's own finding (the default fix); bytes other than the echo are not.
        raise violation("idle peer", f"the second client's {len(payload)} bytes back within {prompt:.1f}s while another client is idle",
                        f"{len(result.data)} bytes {result.describe_end()}".strip(),
                        cause=stream_cause(payload, result.data, result.end) if result.data else None)
    idle.close()


@check("tcp.concurrency.burst-accept")
def test_burst_accept(target, payloads, prompt, deadline, note):
    """A thread-per-connection server that hands the thread a pointer to its
    accept loop's fd variable (&fd) loses connections when accepts outrun
    thread start-up.  A listen backlog smaller than the burst overflows: the
    kernel drops the handshakes it has no room for, and those clients wait for
    SYN (or SYN-ACK) retransmission, 1 s, then 3 s, then 7 s.

    Rule: A burst of connections is accepted and served, every one of them.

    Pass: every client is echoed its own bytes within 10 s of the burst; the
    waves of handshakes and echoes are recorded either way.  A client that
    receives another client's bytes, and clients the server connected and
    never serves while it serves others, are a must-level finding.

    Setup: 200 clients connect at once, before any of them sends; then each
    sends 32 bytes of its own and reads them back.  Silence ends the wait only
    once the server's kernel has acknowledged every byte sent (a client
    waiting for retransmission is not a slow server).  The verdict says how
    many got through and when, in waves; when some clients are served and the
    rest never are, closing one served client tells a limit on concurrent
    clients (tcpserver's -c) from a stall.

    Attribution: a server that answers no connection at all is
    tcp.echo.roundtrip's finding; this check then says it cannot judge.
    """
    within = deadline(BURST_DEADLINE)
    started = time.monotonic()
    opened = open_many(target.address, BURST_CLIENTS, timeout=within)
    socks = opened.socks
    try:
        chunks = [[piece] for piece in payloads.pieces(len(socks), 32, "burst")]
        expected = [c[0] for c in chunks]
        offset = time.monotonic() - started
        remaining = within - offset
        results = (converse_through_retransmission(socks, chunks, idle_timeout=prompt, total_timeout=remaining)
                   if remaining > 0 else [])
        stolen = judge_own_bytes("burst accept", BURST_CLIENTS, [r.data for r in results], expected)
        if stolen:
            raise stolen
        echoed = [r.finished + offset for r, want in zip(results, expected) if r.data == want]
        figures = f"handshakes: {describe_waves(opened.times)}; echoes: {describe_waves(echoed)}"
        if len(echoed) == BURST_CLIENTS:
            note(figures)
            return
        got = f"{len(echoed)} of {BURST_CLIENTS} echoed within {within:.1f}s"
        if opened.problem:
            got += f", {opened.describe(BURST_CLIENTS)}"
        retransmitted = waves(opened.times) > 1 or waves(echoed) > 1
        if retransmitted:
            figures += ": the clients beyond what the accept queue holds waited for retransmission"
        after, stuck = next_served(socks, results, expected, prompt)
        gone = gone_with_clients(_ends_on_its_own(target, socks, prompt))
        raise violation("burst accept", f"each of {BURST_CLIENTS} clients connected at once echoed its own bytes "
                        f"within {within:.1f}s", f"{got} ({figures}){after}{gone}",
                        level=MUST if stuck or gone else None,
                        cause=burst_cause(sum(1 for r in results if r.data), stuck, retransmitted,
                                          partly_served([r.data for r in results], expected), exited=bool(gone)))
    finally:
        for sock in socks:
            sock.close()
