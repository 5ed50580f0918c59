"""tcp.backpressure.*: a server waits, without spinning, while a client does not read."""

from __future__ import annotations

import time

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.causes import BUSY_LOOP, stream_cause
from sockcheck.net.stream import exchange, send_without_reading
from sockcheck.launch.proctree import cpu_seconds, sched_times
from sockcheck.verdicts.findings import describe_stream, violation

TOTAL = 16 * 1024 * 1024
STALL = 1.0  # seconds the client does not read: the stimulus, not a wait for an event
CPU_BUDGET = 0.2  # seconds of CPU time the server may use during the stall
DEMAND_BUDGET = 0.5  # seconds it may want a CPU (on one, or runnable and queued for one)
CLIENT_RCVBUF = 256 * 1024


@check("tcp.backpressure.slow-reader")
def test_slow_reader(target, tcp_client, payloads, prompt, note):
    """When a client writes without reading, the echo fills its receive
    buffer, the server's sends stop making progress, and a correct server
    sleeps in write(), poll() or epoll_wait() until the client drains.  A
    server that retries non-blocking sends in a loop burns a core.  On a busy
    machine the scheduler may grant a spinning server little CPU time, but it
    never sleeps: so besides the CPU time it used, the check reads how long
    its threads wanted a CPU (on one, or runnable in a run queue:
    /proc/PID/task/TID/schedstat), which a busy machine cannot hide.

    Rule: When a client stops reading, the server blocks or waits for
    writability; it does not spin.

    Pass: the server's process tree uses less than 0.2 s of CPU during the
    stall and, where the kernel keeps schedstat, wants a CPU for less than 0.5
    s of it; afterwards all 16 MiB arrive intact.

    Setup: a client with a 256 KiB receive buffer (so the echo cannot all hide
    in socket buffers) writes as much of 16 MiB as the connection takes
    without reading for 1 s, then writes the rest while reading the echo.

    Attribution: a server that answers no connection at all is
    tcp.echo.roundtrip's finding; this check then says it cannot judge.
    """
    payload = payloads.data(TOTAL)
    # A small client receive buffer: with it the echo of 16 MiB cannot all
    # hide in socket buffers, so the server really has to wait for the client.
    sock = tcp_client(rcvbuf=CLIENT_RCVBUF)
    processes = target.processes()
    cpu_before, sched_before = cpu_seconds(processes), sched_times(processes)
    stalled = time.monotonic()
    sent = send_without_reading(sock, payload, STALL)
    # Where tcp_rmem lets the server's receive buffer grow past 16 MiB, all of
    # it may be sent at once; the server still has it all to echo, and the
    # client still does not read until the stall is over.
    time.sleep(max(0.0, STALL - (time.monotonic() - stalled)))
    stall = time.monotonic() - stalled
    processes = target.processes()
    cpu_used, sched_after = cpu_seconds(processes) - cpu_before, sched_times(processes)
    rest = exchange(sock, [payload[sent:]], expect=TOTAL, idle_timeout=prompt)
    expected = f"under {CPU_BUDGET} s of server CPU during a {stall:.1f} s read stall"
    measured = f"{cpu_used:.2f} s of CPU"
    wanted = 0.0
    if sched_before is not None and sched_after is not None:
        running, queued = sched_after.since(sched_before)
        wanted = running + queued
        expected += f", and under {DEMAND_BUDGET} s wanting a CPU"
        measured += f", {wanted:.2f} s wanting a CPU ({queued:.2f} s of it queued)"
    note(f"during the {stall:.1f} s stall the server used {measured}")
    if cpu_used >= CPU_BUDGET or wanted >= DEMAND_BUDGET:
        raise violation("backpressure", expected, "a busy loop", cause=BUSY_LOOP)
    if rest.data != payload:
        raise violation("backpressure", f"all {TOTAL} bytes intact after the stall",
                        f"{describe_stream(payload, rest.data)} {rest.describe_end()}".strip(),
                        cause=stream_cause(payload, rest.data, rest.end))
