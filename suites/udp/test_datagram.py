"""udp.datagram.*: UDP keeps message boundaries: one send is one datagram is one receive."""

from __future__ import annotations

import itertools
import socket
import time

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.causes import datagram_cause
from sockcheck.judgments.udp import boundaries_finding, judge_boundaries, sizes
from sockcheck.net.datagram import recv_datagrams
from sockcheck.verdicts.findings import violation

BOUNDARY_SIZES = (1, 700, 1400)
# Each group goes out in one of the six orders of its sizes, so any two
# neighbours meet: a merge of any pair, in either order, has its chance.
GROUP_ORDERS = tuple(itertools.permutations(BOUNDARY_SIZES))
# Whether two datagrams meet in a merging relay is a scheduling race, and
# its odds change with the run: socat UDP-LISTEN,fork EXEC:cat merges nearly
# every group in some runs and few in others (its child and cat on different
# CPUs, cat reading each datagram before the next is written).  120 groups
# caught it several times in every run tried, loaded or not; a few dozen
# groups sometimes caught it only once.
BOUNDARY_GROUPS = 120
# Every other group comes from a new client port: a relay that starts a
# worker per peer (socat's child and its EXEC) has that peer's first
# datagrams queued before the worker reads, which is where they meet; the
# other groups repeat on one port, for relays that merge while warm.
FRESH_PEER_EVERY = 2
# A group is three datagrams (2,101 bytes): any receive buffer holds it
# whole, so a correct server loses none whatever its speed or buffer size.
# A lossy relay may drop a whole group now and then (socat UDP-RECVFROM,fork
# does) and must still be tried on the rest; a server that never answers is
# told apart after a few.
SILENT_GROUPS_TO_STOP = 3
BOUNDARY_BUDGET = 20.0  # seconds for every group, scaled; several times what a correct server needs
MAX_IPV4_PAYLOAD = 65507  # 65535 - 20 (IPv4 header) - 8 (UDP header)


def receive_until(sock: socket.socket, got: list[bytes], sent: list[bytes], quiet: float, end_by: float) -> None:
    """Append replies to ``got`` until they match ``sent`` in count or in bytes, none came for ``quiet`` s, or ``end_by``.

    Either measure ends the wait: a merging server returns the bytes in fewer
    datagrams, a truncating one as many datagrams with fewer bytes.
    """
    wanted_bytes = sum(map(len, sent))
    while len(got) < len(sent) and sum(map(len, got)) < wanted_bytes:
        wait = min(quiet, end_by - time.monotonic())
        if wait <= 0:
            return
        sock.settimeout(wait)
        try:
            got.append(sock.recv(65536))
        except TimeoutError:
            return


@check("udp.datagram.boundaries")
def test_boundaries(target, udp_client, payloads, prompt, deadline, note):
    """A server that reads into a small buffer truncates (the rest of the
    datagram is discarded, not kept for the next read); one that collects
    bytes like a stream, or relays them through a pipe (socat's UDP-LISTEN
    with EXEC), merges datagrams that arrive close together.  Whether two
    datagrams meet in such a server is a race, so the check runs it many
    times.

    Rule: Each datagram is delivered whole and separately: one send is one
    datagram is one receive.

    Pass: every reply is exactly one of the datagrams sent, same size and
    bytes (no merge, no split, no truncation).

    Setup: 120 groups of three datagrams of 1, 700 and 1400 bytes, each group
    sent back-to-back in one of the six orders, every other group from a new
    client port (a relay that starts a worker per peer has the first datagrams
    queued before it reads), the next group once the previous one's replies
    are back (so a correct server, however slow or small its buffer, never has
    more than three datagrams queued).

    Attribution: when no datagram comes back, that is udp.echo.roundtrip's
    finding; when fewer than half come back, losing them is udp.burst's.  This
    check then says it cannot judge.
    """
    end_by = time.monotonic() + deadline(BOUNDARY_BUDGET)
    repeated = udp_client()
    exchanges: dict[socket.socket, tuple[list[bytes], list[bytes]]] = {}
    silent_groups = 0
    for group in range(BOUNDARY_GROUPS):
        if time.monotonic() >= end_by:
            break
        sock = udp_client() if group % FRESH_PEER_EVERY == FRESH_PEER_EVERY - 1 else repeated
        sent, got = exchanges.setdefault(sock, ([], []))
        # Pairs of groups share an order, so both kinds of port see all six.
        for size in GROUP_ORDERS[group // FRESH_PEER_EVERY % len(GROUP_ORDERS)]:
            datagram = payloads.data(size, f"group{group}-{size}")
            sent.append(datagram)
            sock.sendto(datagram, target.address)
        before = len(got)
        receive_until(sock, got, sent, prompt, end_by)
        silent_groups += len(got) == before
        if silent_groups == SILENT_GROUPS_TO_STOP:
            break  # the server does not answer (or not new peers): more groups would only wait the same
    on_repeated = len(judge_boundaries(*exchanges.get(repeated, ([], [])))[0])
    sent = [datagram for port_sent, _ in exchanges.values() for datagram in port_sent]
    got = [reply for _, port_got in exchanges.values() for reply in port_got]
    groups = len(sent) // len(BOUNDARY_SIZES)
    wrong, lost = judge_boundaries(sent, got)
    note(f"{groups} groups from {len(exchanges)} ports, {len(sent)} datagrams: {len(got)} replies, "
         f"{len(wrong)} not whole ({on_repeated} on the repeated port), {lost} lost")
    finding = boundaries_finding(wrong, lost, len(sent), len(got), groups, BOUNDARY_SIZES)
    if finding:
        raise finding


@check("udp.datagram.max-size")
def test_max_size(target, udp_client, payloads, prompt):
    """A server must receive into a buffer of at least 65,507 bytes (64 KiB is
    usual) or it silently truncates.

    Rule: The largest IPv4 UDP payload, 65,507 bytes, is still one datagram.

    Pass: the datagram comes back as one datagram of 65,507 identical bytes,
    promptly.

    Setup: one datagram of 65,507 seeded bytes, alone, so neither a burst nor
    a merge can be the cause.

    Attribution: none.  A server that answers no datagram at all fails
    udp.echo.roundtrip too.
    """
    sock = udp_client()
    payload = payloads.data(MAX_IPV4_PAYLOAD)
    sock.sendto(payload, target.address)
    got = recv_datagrams(sock, 1, prompt)
    if got != [payload]:
        detail = sizes(got) if not got or len(got[0]) != len(payload) else "65507 bytes that differ"
        raise violation("max-size datagram", f"one datagram of {len(payload)} identical bytes", detail,
                        cause=datagram_cause(payload, got))


@check("udp.datagram.empty")
def test_empty(target, udp_client, prompt):
    """recvfrom() returns 0 for a zero-length datagram, which is not EOF in
    UDP: a server that treats 0 as "nothing happened" or as end of input never
    answers.

    Rule: A zero-length datagram is a real datagram, and its echo is a
    zero-length datagram.

    Pass: the empty datagram gets an empty reply promptly.

    Setup: one empty datagram, alone.

    Attribution: none.  A server that answers no datagram at all fails
    udp.echo.roundtrip too.
    """
    sock = udp_client()
    sock.sendto(b"", target.address)
    got = recv_datagrams(sock, 1, prompt)
    if got != [b""]:
        raise violation("empty datagram", f"an empty reply within {prompt:.1f}s", sizes(got))
