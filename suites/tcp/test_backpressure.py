"""tcp.backpressure.*: a server waits, without spinning, while a client does not read."""

from __future__ import annotations

import hashlib
import time

from fixtures.checkmark import check
from fixtures.clients import exchange, send_without_reading
from fixtures.proctree import cpu_seconds
from fixtures.verdict import describe_stream, violation

TOTAL = 16 * 1024 * 1024
STALL = 1.0  # seconds the client does not read: the stimulus, not a wait for an event
CPU_BUDGET = 0.2
CLIENT_RCVBUF = 256 * 1024


@check("tcp.backpressure.slow-reader")
def test_slow_reader(target, tcp_client, payloads, prompt):
    """When a client stops reading, the server must block or wait for writability, not spin.

    The client writes 16 MiB and does not read for 1 s.  The echo fills the
    client's receive buffer, the server's sends stop making progress, and a
    correct server sleeps in write(), poll() or epoll_wait() until the client
    drains.  A server that retries non-blocking sends in a loop burns a core.
    Pass: the server's whole process tree uses less than 0.2 s of CPU during
    the stall, and afterwards all 16 MiB arrive intact.
    """
    payload = payloads.data(TOTAL)
    # A small client receive buffer: with it the 16 MiB cannot all hide in
    # socket buffers (at most 6 + 4 + 4 MiB on the other legs), so the server
    # really has to wait for the client.
    sock = tcp_client(rcvbuf=CLIENT_RCVBUF)
    cpu_before = cpu_seconds(target.processes())
    stalled = time.monotonic()
    sent = send_without_reading(sock, payload, STALL)
    cpu_used = cpu_seconds(target.processes()) - cpu_before
    stall = time.monotonic() - stalled
    rest = exchange(sock, [payload[sent:]], expect=TOTAL, idle_timeout=prompt)
    if cpu_used >= CPU_BUDGET:
        raise violation("backpressure", f"under {CPU_BUDGET} s of server CPU during a {stall:.1f} s read stall",
                        f"{cpu_used:.2f} s (busy loop)")
    if rest.data != payload:
        raise violation("backpressure", f"all {TOTAL} bytes intact after the stall",
                        f"{describe_stream(payload, rest.data)} {rest.describe_end()}".strip())
    assert hashlib.sha256(rest.data).digest() == hashlib.sha256(payload).digest()
