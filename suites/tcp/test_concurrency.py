"""tcp.concurrency.*: a server serves many clients, and no client can stall the others."""

from __future__ import annotations

from fixtures.checkmark import check
from fixtures.clients import COMPLETE, converse, exchange, open_many
from fixtures.verdict import violation

PARALLEL_CLIENTS = 64
PARALLEL_CHUNKS = 4
BURST_CLIENTS = 200
BURST_DEADLINE = 10.0


def expect_each_own(rule: str, results, expected: list[bytes], within: float) -> None:
    """Every client got exactly its own bytes back; name the first one that did not."""
    bad = [(i, r) for i, (r, want) in enumerate(zip(results, expected)) if r.data != want]
    if bad:
        index, result = bad[0]
        stolen = [j for j, want in enumerate(expected) if j != index and want and want[:16] in result.data]
        detail = f"; it got bytes of client #{stolen[0] + 1}" if stolen else ""
        raise violation(rule, f"each of {len(expected)} clients to get exactly its own bytes within {within:.1f}s",
                        f"{len(bad)} did not: client #{index + 1} got {len(result.data)} of {len(expected[index])} bytes "
                        f"{result.describe_end()}{detail}".strip())


@check("tcp.concurrency.parallel")
def test_parallel(target, payloads, prompt, timeout_scale):
    """A concurrent server keeps each client's stream separate, whatever the interleaving.

    64 clients connect and send 4 chunks of their own bytes each, the chunks
    of all clients interleaved on the wire, while reading.  Shared buffers,
    mixed-up descriptors or a global "current client" variable show up as one
    client receiving another's bytes.  Pass: each client receives exactly its
    own 1 KiB, promptly.
    """
    socks, problem = open_many(target.address, PARALLEL_CLIENTS, timeout=prompt)
    try:
        if problem:
            raise violation("parallel clients", f"{PARALLEL_CLIENTS} connections", problem)
        chunks = [[payloads.data(256, f"c{i}k{k}") for k in range(PARALLEL_CHUNKS)] for i in range(PARALLEL_CLIENTS)]
        results = converse(socks, chunks, idle_timeout=prompt, total_timeout=5.0 * timeout_scale)
        expect_each_own("parallel clients", results, [b"".join(c) for c in chunks], prompt)
    finally:
        for sock in socks:
            sock.close()


@check("tcp.concurrency.idle-peer")
def test_idle_peer(target, tcp_client, payloads, prompt):
    """One connected client that sends nothing must not delay anyone else.

    An iterative server, or one that blocks in read() on a single connection,
    serves nobody while an idle client holds it.  The first client connects
    and stays silent; a second connects and sends 32 bytes.  Pass: the second
    client's echo arrives promptly.
    """
    idle = tcp_client()
    payload = payloads.data(32)
    result = exchange(tcp_client(), payload, expect=len(payload), idle_timeout=prompt)
    if result.data != payload:
        raise violation("idle peer", f"the second client's {len(payload)} bytes back within {prompt:.1f}s while another client is idle",
                        f"{len(result.data)} bytes {result.describe_end()}".strip())
    idle.close()


@check("tcp.concurrency.burst-accept")
def test_burst_accept(target, payloads, prompt, timeout_scale):
    """A burst of connections must all be accepted and served.

    200 clients connect before any of them sends; then each sends 32 bytes of
    its own and reads them back.  A thread-per-connection server that hands
    the thread a pointer to its accept loop's fd variable (&fd) loses
    connections when accepts outrun thread start-up; a tiny listen backlog
    drops handshakes.  Pass: every client is echoed its own bytes within 10 s.
    """
    deadline = BURST_DEADLINE * timeout_scale
    socks, problem = open_many(target.address, BURST_CLIENTS, timeout=deadline)
    try:
        if problem:
            raise violation("burst accept", f"{BURST_CLIENTS} connections within {deadline:.0f}s", problem)
        chunks = [[piece] for piece in payloads.pieces(BURST_CLIENTS, 32, "burst")]
        results = converse(socks, chunks, idle_timeout=prompt, total_timeout=deadline)
        expect_each_own("burst accept", results, [c[0] for c in chunks], deadline)
        assert all(r.end == COMPLETE for r in results)
    finally:
        for sock in socks:
            sock.close()
