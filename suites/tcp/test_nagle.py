"""tcp.nagle.*: Nagle's algorithm and the byte stream a server must cope with."""

from __future__ import annotations

from sockcheck.capture.ladder import client_bytes
from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.nagle import data_segments, judge_nagle
from sockcheck.net.scheduling import unpreempted
from sockcheck.net.stream import exchange

TINY_WRITES = 1000


@check("tcp.nagle.small-writes")
def test_small_writes(target, wire, tcp_client, payloads, prompt, note):
    """Without TCP_NODELAY, tiny writes are held back while a segment is
    unacknowledged, then sent together: Nagle's algorithm (RFC 896) keeps at
    most one small segment in flight, and what the application writes
    meanwhile is coalesced into the next segment.  So 1000 one-byte writes
    leave as far fewer segments, and a server reads them in chunks that match
    none of the writes.

    Rule: A server echoes tiny writes that the client's kernel coalesced as
    the same bytes.

    Pass: the capture shows fewer client data segments than writes, and the
    echo is the 1000 bytes, intact.  The first half is the kernel's behaviour
    (the capture must show coalescing, or the check has not tested what it
    claims, a harness error); the second is the server's.

    Setup: with a capture running, 1000 one-byte writes without TCP_NODELAY,
    in a tight loop run at real-time priority where permitted (so that the
    server, woken on the same CPU, cannot preempt it and ACK each byte before
    the next write), then the client reads the echo.

    Attribution: a server that answers no connection at all is
    tcp.echo.roundtrip's finding; this check then says it cannot judge.
    """
    data = payloads.data(TINY_WRITES)
    sock = tcp_client(nodelay=False)
    # A tight loop of writes (1000 bytes always fit in the socket buffer, so
    # none blocks) comes faster than the first byte's ACK returns, unless the
    # server, woken on this CPU by each byte, preempts the loop and echoes
    # (and so ACKs) it before the next write: on a busy machine that made
    # nearly every write a segment of its own.  Real-time priority keeps it
    # off for the few ms it takes.
    # The capture runs in a process of its own and takes nothing from here.
    with unpreempted() as realtime:
        for i in range(TINY_WRITES):
            sock.send(data[i:i + 1])
    if not realtime:
        note("the writes ran without real-time priority (not permitted here)")
    result = exchange(sock, [], expect=TINY_WRITES, idle_timeout=prompt)
    wire.wait_for(lambda segs: client_bytes(segs) >= TINY_WRITES, prompt)
    segments = wire.segments()
    if client_bytes(segments) >= TINY_WRITES:
        note(f"{TINY_WRITES} one-byte writes left as {data_segments(segments)} segments")
    finding = judge_nagle(data, result.data, result.end, segments, prompt)
    if finding:
        raise finding
