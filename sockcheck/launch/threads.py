"""What each thread of a target's process tree is doing: sampled from /proc/PID/task/TID.

A thread's scheduler state says whether it waits or wants a CPU, whatever
else the machine runs: a thread asleep in write(), poll() or epoll_wait() is
``S`` on an idle machine and on a loaded one, and a thread that never goes
to sleep is ``R`` (running, or runnable and queued for a CPU) on both.  The
CPU time it used and how often it went to sleep (its voluntary context
switches) complete the picture for loops that sleep briefly between spins.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

CLOCK_TICK = 1e9 / os.sysconf("SC_CLK_TCK")  # nanoseconds per utime/stime tick


@dataclass(frozen=True)
class ThreadSample:
    """One thread at one moment."""

    pid: int
    tid: int
    name: str  # the thread's comm
    state: str  # R running or runnable, S sleeping, D uninterruptible, T stopped, Z zombie, ...
    cpu_ns: int  # time on a CPU since the thread began (schedstat's nanoseconds, else utime + stime)
    sleeps: int  # voluntary context switches: times it went to sleep
    wchan: str  # the kernel function it sleeps in ("" while it runs, or when hidden)


@dataclass(frozen=True)
class ThreadActivity:
    """One thread over a sampled window: the states seen (one letter per sample, in order), the CPU
    seconds it used and the times it went to sleep between its first and last sample, and where it
    last slept."""

    label: str  # "pid 12 tid 14 (python3)"
    states: str
    cpu: float
    sleeps: int
    wchan: str


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def _sample(pid: int, tid: int) -> ThreadSample | None:
    """One thread now; None when it has ended."""
    folder = f"/proc/{pid}/task/{tid}"
    stat, status = _read(f"{folder}/stat"), _read(f"{folder}/status")
    if stat is None or status is None:
        return None
    # The comm sits in parentheses and may hold spaces and parentheses: split at the last one.
    name = stat[stat.find("(") + 1:stat.rfind(")")]
    fields = stat[stat.rfind(")") + 2:].split()
    state, utime, stime = fields[0], int(fields[11]), int(fields[12])
    schedstat = _read(f"{folder}/schedstat")
    cpu_ns = int(schedstat.split()[0]) if schedstat else int((utime + stime) * CLOCK_TICK)
    sleeps = 0
    for line in status.splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            sleeps = int(line.split()[1])
    # The symbol, without the compiler's suffixes (poll_schedule_timeout.constprop.0).
    wchan = (_read(f"{folder}/wchan") or "").split(".")[0]
    return ThreadSample(pid, tid, name, state, cpu_ns, sleeps, "" if wchan == "0" else wchan)


def sample_threads(processes: list[psutil.Process]) -> list[ThreadSample]:
    """Every live thread of the processes, now."""
    found = []
    for proc in processes:
        try:
            tids = sorted(int(tid) for tid in os.listdir(f"/proc/{proc.pid}/task"))
        except (FileNotFoundError, ProcessLookupError):
            continue
        for tid in tids:
            sample = _sample(proc.pid, tid)
            if sample is not None:
                found.append(sample)
    return found


def sample_window(processes: list[psutil.Process], duration: float, interval: float,
                  still: Callable[[], bool]) -> tuple[list[list[ThreadSample]], float] | None:
    """Sample every thread of the processes every ``interval`` seconds for ``duration`` seconds, while
    ``still()`` holds (it is asked after each sample).  Returns the samples and the seconds from the
    first to the last, or None as soon as ``still()`` does not hold.  The intervals are the
    measurement, not a wait for an event."""
    rounds: list[list[ThreadSample]] = []
    started = time.monotonic()
    end = started + duration
    while True:
        now = time.monotonic()
        rounds.append(sample_threads(processes))
        if not still():
            return None
        if now >= end:
            return rounds, now - started
        time.sleep(min(interval, max(end - time.monotonic(), 0.0)))


def activities(rounds: list[list[ThreadSample]]) -> list[ThreadActivity]:
    """Each thread seen in the rounds, folded: its states in order, and what it used and how often
    it slept between its first and last sample."""
    series: dict[tuple[int, int], list[ThreadSample]] = {}
    for samples in rounds:
        for sample in samples:
            series.setdefault((sample.pid, sample.tid), []).append(sample)
    folded = []
    for (pid, tid), seen in series.items():
        first, last = seen[0], seen[-1]
        folded.append(ThreadActivity(f"pid {pid} tid {tid} ({last.name})", "".join(s.state for s in seen),
                                     (last.cpu_ns - first.cpu_ns) / 1e9, last.sleeps - first.sleeps,
                                     next((s.wchan for s in reversed(seen) if s.wchan), "")))
    return folded
