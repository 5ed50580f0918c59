"""tcp.backpressure.*: a server whose client has stopped reading waits; judged from its threads.

The judgment looks only at a window in which the server's application moved
no byte: it read nothing from its end of the connection and wrote nothing to
it (the kernel's counters of its socket stood still), because the client's
receive window was closed and the server's send queue full.  There is then
nothing for the server to do, so a correct server sleeps: in write(),
poll(), select() or epoll_wait(), whatever its buffer size.  The copying it
did before, up to the moment the buffers filled, is work, not spinning,
and is not judged: with a 16-byte buffer it takes a blocking server a
fraction of a second of CPU, longer on a busy machine.

A thread spins over that window when it was:
  - runnable (state R) in at least half of its samples: a waiting thread is
    S, and no load makes a sleeping thread runnable, while a thread that
    never sleeps is R whether it is on a CPU or queued for one; or
  - on a CPU for at least a quarter of the window: a waiting thread uses
    none (load can only take CPU time away from a spinner, so this catches
    on an idle machine what the states catch everywhere); or
  - put to sleep and woken at least 200 times a second: a loop that sleeps
    a millisecond between retries (poll() with a 1 ms timeout, usleep() on
    EAGAIN) is S in most samples and uses little CPU, but it polls; a
    runtime's housekeeping ticks (a JVM's 20 Hz, socketserver's 2 Hz) stay
    far below, and a thread woken by events that bring no byte is polling
    too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sockcheck.judgments.causes import BUSY_LOOP, names_causes
from sockcheck.launch.threads import ThreadActivity
from sockcheck.verdicts.findings import Violation, violation

RUNNABLE_SHARE = 0.5  # of a thread's samples in state R
CPU_SHARE = 0.25  # of the window, on a CPU
SLEEP_RATE = 200.0  # times a second a thread goes to sleep and is woken
MIN_SAMPLES = 4  # a thread seen fewer times (one that started or ended in the window) is not judged by its states


@dataclass(frozen=True)
class Spinner:
    """A thread that did not wait, and what showed it."""

    thread: ThreadActivity
    why: str


def spinning(thread: ThreadActivity, window: float) -> str | None:
    """Why ``thread`` counts as spinning over ``window`` seconds in which the server moved no byte;
    None when it waited."""
    runnable, samples = thread.states.count("R"), len(thread.states)
    if samples >= MIN_SAMPLES and runnable >= RUNNABLE_SHARE * samples:
        return f"runnable in {runnable} of {samples} samples"
    if thread.cpu >= CPU_SHARE * window:
        return f"{thread.cpu:.2f} s on a CPU"
    if window > 0 and thread.sleeps >= SLEEP_RATE * window:
        return f"woken {thread.sleeps / window:.0f} times a second"
    return None


def spinners(threads: list[ThreadActivity], window: float) -> list[Spinner]:
    return [Spinner(thread, why) for thread in threads if (why := spinning(thread, window)) is not None]


def _times(n: int) -> str:
    return f"{n} time{'' if n == 1 else 's'}"


def describe_thread(thread: ThreadActivity) -> str:
    """``pid 12 tid 12 (srv): states SSSSSSSSSS, 0.00 s of CPU, slept 0 times, in wait_woken``."""
    place = f", in {thread.wchan}" if thread.wchan else ""
    return f"{thread.label}: states {thread.states}, {thread.cpu:.2f} s of CPU, slept {_times(thread.sleeps)}{place}"


def describe_threads(threads: list[ThreadActivity], window: float) -> str:
    """Every thread that spun in full, then the others counted by where they slept (``?`` for one
    never seen asleep): ``2 threads, all waiting (poll_schedule_timeout 1, wait_woken 1)``."""
    spun = spinners(threads, window)
    shown = {id(s.thread) for s in spun}
    waiting = Counter(thread.wchan or "?" for thread in threads if id(thread) not in shown)
    places = ", ".join(f"{place} {n}" for place, n in sorted(waiting.items(), key=lambda item: (-item[1], item[0])))
    parts = [f"{s.thread.label} {s.why} (states {s.thread.states}, {s.thread.cpu:.2f} s of CPU, "
             f"slept {_times(s.thread.sleeps)})" for s in spun]
    count = f"{len(threads)} thread{'s' if len(threads) != 1 else ''}"
    if not spun:
        return f"{count}, all waiting ({places})" if threads else "no thread seen"
    if waiting:
        parts.append(f"{sum(waiting.values())} waiting ({places})")
    return f"{count}: " + "; ".join(parts)


def cpu_used(threads: list[ThreadActivity]) -> float:
    return sum(thread.cpu for thread in threads)


@names_causes(BUSY_LOOP)
def judge_stall(threads: list[ThreadActivity], window: float) -> Violation | None:
    """Over ``window`` seconds in which the server moved no byte, no thread of it may spin (see the
    module's docstring for what spinning is)."""
    if not spinners(threads, window):
        return None
    return violation("backpressure", f"every thread waiting while the server could move no byte "
                     f"({window:.2f} s, its client not reading)", f"a busy loop: {describe_threads(threads, window)}",
                     cause=BUSY_LOOP)
