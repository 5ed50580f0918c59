"""tcp.backpressure.*: a server waits, without spinning, while a client does not read."""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.backpressure import cpu_used, describe_thread, describe_threads, judge_stall
from sockcheck.judgments.causes import stream_cause
from sockcheck.launch.threads import ThreadActivity, activities, sample_window
from sockcheck.net.socket_progress import ProgressReader, push_until_still, send_some
from sockcheck.net.stream import exchange, unacknowledged_bytes, unread_bytes
from sockcheck.verdicts.findings import describe_stream, violation

TOTAL = 16 * 1024 * 1024
STALL = 1.0  # seconds the client does not read, at least: the stimulus, not a wait for an event
MIN_WINDOW = 0.5  # seconds of samples judged, at least, once the server has stopped moving bytes
QUIET = 0.05  # seconds without a byte moved before the window opens
SETTLE_LIMIT = 5.0  # seconds (scaled) for the server to fill the buffers and stop moving bytes
# Not a divisor or multiple of the usual timer periods (10, 20, 50, 100 ms), so a thread woken by a
# periodic timer is not caught runnable in every sample by chance.
SAMPLE_INTERVAL = 0.043
CLIENT_RCVBUF = 256 * 1024
MIB = 1024 * 1024


@dataclass
class Stall:
    """What the client saw while it did not read: how much it sent, when the server stopped moving
    bytes (None: it never did before the limit) and its threads over the window that followed."""

    sent: int
    settled: float | None = None  # seconds into the stall
    window: float = 0.0
    samples: int = 0
    threads: list[ThreadActivity] | None = None
    send_queue: int | None = None  # bytes in the server's send queue when the window opened
    counted_by: str = "the server's socket"


def watch_stall(sock, payload: bytes, target, *, settle_by: float) -> Stall:
    """Write without reading until the server stops moving bytes, then sample its threads for the rest
    of the stall (at least MIN_WINDOW).  A window in which the server moved a byte after all (it was
    only slow, or starved of a CPU) does not count: the wait for stillness starts again."""
    stalled = time.monotonic()
    stall = Stall(0)
    with ProgressReader(sock) as server:
        def mark() -> Hashable:
            moved = server.moved()
            if moved is not None:
                return moved
            # The server's socket is not in this namespace's table (or it is gone): what the client
            # sees moving, which misses copying the server does while the client's window is closed.
            stall.counted_by = "the client's socket"
            return stall.sent - unacknowledged_bytes(sock), unread_bytes(sock)

        while True:
            stall.sent, still_since = push_until_still(sock, payload, stall.sent, mark, quiet=QUIET,
                                                       until=settle_by)
            if still_since is None:
                return stall
            before, progress = mark(), server.read()

            def unmoved() -> bool:
                if stall.sent < len(payload):  # keep the pressure on: whatever the connection takes
                    stall.sent += send_some(sock, payload, stall.sent)
                return mark() == before

            window = max(MIN_WINDOW, STALL - (time.monotonic() - stalled))
            watched = sample_window(target.processes(), window, SAMPLE_INTERVAL, unmoved)
            if watched is not None:
                rounds, stall.window = watched
                stall.samples = len(rounds)
                stall.settled, stall.threads = still_since - stalled, activities(rounds)
                stall.send_queue = progress.send_queue if progress is not None else None
                return stall
            if time.monotonic() >= settle_by:
                return stall


@check("tcp.backpressure.slow-reader")
def test_slow_reader(target, tcp_client, payloads, prompt, deadline, note, evidence):
    """When a client writes without reading, the echo fills its receive
    buffer, then the server's send buffer, and the server has nothing left
    to do: a correct server sleeps in write(), poll() or epoll_wait() until
    the client drains, whatever the size of its own buffer.  A server that
    retries non-blocking sends in a loop burns a core.  The check judges the
    server only once it has stopped moving bytes (the kernel's counters of
    the server's socket say what the application read and wrote), so the
    copying it does while the buffers fill, slow with a small buffer and
    slower on a busy machine, is not held against it; and it judges what the
    threads do, not how much CPU they were granted, so that the verdict does
    not depend on the machine's load: a sleeping thread is S however busy
    the machine is, a spinning one is R, running or queued for a CPU.

    Rule: When a client stops reading, the server blocks or waits for
    writability; it does not spin.

    Pass: over the window in which the server moves no byte, sampled every
    43 ms, no thread of its process tree is runnable (state R) in half of
    its samples or more, on a CPU for a quarter of the window or more, or
    woken 200 times a second or more; afterwards all 16 MiB arrive intact.
    The CPU time the threads used and each one's states are reported.

    Setup: a client with a 256 KiB receive buffer (so the echo cannot all
    hide in socket buffers) writes as much of 16 MiB as the connection takes
    without reading until the server's socket shows no byte read or written
    for 50 ms (within 5 s), then keeps not reading while the server's
    threads are sampled, until 1 s has passed and for at least 0.5 s (a
    window in which a byte moves after all starts over); then it writes the
    rest while reading the echo.  A server that never stops moving bytes
    within 5 s has had no idle time to judge: that is noted.

    Attribution: a server that answers no connection at all is
    tcp.echo.roundtrip's finding; this check then says it cannot judge.
    """
    payload = payloads.data(TOTAL)
    # A small client receive buffer: with it the echo of 16 MiB cannot all
    # hide in socket buffers, so the server really has to wait for the client.
    sock = tcp_client(rcvbuf=CLIENT_RCVBUF)
    started = time.monotonic()
    stall = watch_stall(sock, payload, target, settle_by=started + deadline(SETTLE_LIMIT))
    stalled_for = time.monotonic() - started
    rest = exchange(sock, [payload[stall.sent:]], expect=TOTAL, idle_timeout=prompt)
    if stall.threads is None:
        note(f"the server was still moving bytes {stalled_for:.1f} s into the client's stall: no idle time to judge")
    else:
        queued = "" if stall.send_queue is None else f"{stall.send_queue / MIB:.1f} MiB in its send queue, "
        finding = judge_stall(stall.threads, stall.window)
        note(f"the server stopped moving bytes {stall.settled:.2f} s into a {stalled_for:.1f} s stall "
             f"({queued}counted at {stall.counted_by}); over the next {stall.window:.2f} s ({stall.samples} "
             f"samples) its threads used {cpu_used(stall.threads):.2f} s of CPU"
             + ("" if finding else f": {describe_threads(stall.threads, stall.window)}"))
        if finding is not None:
            evidence("threads while no byte moved", "\n".join(describe_thread(thread) for thread in stall.threads))
            raise finding
    if rest.data != payload:
        raise violation("backpressure", f"all {TOTAL} bytes intact after the stall",
                        f"{describe_stream(payload, rest.data)} {rest.describe_end()}".strip(),
                        cause=stream_cause(payload, rest.data, rest.end))

