"""udp.burst: a UDP server absorbs a burst of datagrams (UDP may drop, but a good server rarely does)."""

from __future__ import annotations

import socket
import time

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.udp import judge_burst, tally_burst

COUNT = 500
SIZE = 512
REQUIRED = 0.95
ALLOWED_LOSS = COUNT - int(REQUIRED * COUNT)
# Datagrams sent back-to-back before the client waits for their replies.  The
# kernel's default receive buffer (net.core.rmem_default, 212,992 bytes)
# queues about 166 datagrams of 512 bytes, so a server that does not run at
# all during a burst still loses none of 50; a 16 KiB SO_RCVBUF (32 KiB once
# the kernel doubles it) queues about 25 and drops the rest of every burst
# that arrives while it is busy.
BURST = 50
# Room for a whole burst of replies while the client is still sending (the
# kernel caps the request at net.core.rmem_max; its default still holds 300).
CLIENT_RCVBUF = 4 * 1024 * 1024


def receive_replies(sock: socket.socket, got: list[bytes], sent: list[bytes], quiet: float) -> None:
    """Append replies to ``got`` until they match ``sent`` in count or in bytes, or none came for ``quiet`` s."""
    wanted_bytes = sum(map(len, sent))
    sock.settimeout(quiet)
    while len(got) < len(sent) and sum(map(len, got)) < wanted_bytes:
        try:
            got.append(sock.recv(65536))
        except TimeoutError:
            return


@check("udp.burst")
def test_burst(target, udp_client, payloads, prompt, note):
    """UDP has no flow control.  Datagrams that arrive while the server is
    busy wait in its receive buffer; whatever does not fit is dropped by the
    kernel, silently.  Keeping up means absorbing a burst: every datagram of
    it is read, from the buffer or as it arrives.  The kernel's default buffer
    queues a burst of 50 small datagrams whole, so a plain recvfrom()/sendto()
    loop loses none even when it gets no CPU during the burst; a tiny
    SO_RCVBUF drops datagrams as soon as a few are queued.

    Rule: A UDP server drains its socket as fast as a client sends, or queues
    the difference.

    Pass: at least 95% come back, and every one that does is intact
    (byte-identical to one that was sent, no duplicates: an altered or
    duplicated datagram is a must-level finding).  The loss figure is recorded
    either way; once more than 5% are lost for good the check stops sending.

    Setup: 500 datagrams of 512 bytes go out in bursts of 50 back-to-back; the
    next burst waits until the last one's replies are back (or none came for a
    quarter of the prompt time), so the pace follows the server, never this
    machine's speed or load.

    Attribution: replies that are not one sent datagram (merged, split) make
    the loss uncountable, and the check then says it cannot judge, naming
    udp.datagram.boundaries.
    """
    sock = udp_client()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CLIENT_RCVBUF)
    datagrams = payloads.pieces(COUNT, SIZE, "burst")
    started = time.monotonic()
    got: list[bytes] = []
    sent = 0
    while sent < COUNT:
        for datagram in datagrams[sent:sent + BURST]:
            sock.sendto(datagram, target.address)
        sent = min(sent + BURST, COUNT)
        receive_replies(sock, got, datagrams[:sent], prompt / 4)
        if tally_burst(datagrams[:sent], got).lost > ALLOWED_LOSS:
            break
    # Stragglers of a server that was slow, not lossy, still count.
    receive_replies(sock, got, datagrams[:sent], prompt)
    tally = tally_burst(datagrams[:sent], got)
    elapsed = time.monotonic() - started
    stopped = f", stopped after {sent} of {COUNT}" if sent < COUNT else ""
    if tally.reshaped:
        note(f"bursts of {BURST}: {tally.returned} of {sent} back as sent, replies of another size: "
             f"{len(tally.reshaped)}, in {elapsed:.2f}s{stopped}")
    else:
        note(f"bursts of {BURST}: {tally.loss()} in {elapsed:.2f}s{stopped}")
    finding = judge_burst(tally, replies=len(got), size=SIZE, count=COUNT, allowed_loss=ALLOWED_LOSS)
    if finding:
        raise finding
