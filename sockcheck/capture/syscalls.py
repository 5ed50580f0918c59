"""A trace of a target's system calls: strace attached to a running launch, and its excerpt.

Where strace runs: outside the sandbox, as the harness's own child, and it
attaches (``strace -f -p PID ...``) to every process of a launch once the
launch serves.  Three reasons against the alternatives:

* the pid the launcher started stays the target's, so the process checks
  (tcp.process.*) see the same tree as without a trace; strace wrapping the
  command would make its own pid the launch's, and strace cannot be made a
  child of the target;
* strace inside the sandbox would run as the sandbox uid, and its file
  would have to live where that uid may write and the harness may read
  after the launch's private /tmp is gone; outside, it writes straight into
  ``reports/evidence/``;
* attached once the target serves, the trace holds the server's calls
  during the check, not the noise of sockcheck-enter, the dynamic loader
  and the interpreter's start: what a reader needs to see a bug.  The
  socket(), bind() and listen() of start-up are left out for that reason.

The trace follows forks (``-f``), keeps strings short (``-s 64``), stamps
each line with the time of day (``-tt``) and is limited to the network,
descriptor, process and signal calls.  Its file is capped (RLIMIT_FSIZE on
strace, with SIGXFSZ ignored, so writes past the cap are dropped and the
target is never held up by it), and its time can be bounded
(``detach_after``): a server that spins (a select() loop that reads EOF
from a socket it never closes) makes a traced process many times slower,
so a replay would take minutes; detached, the rest of the replay runs at
full speed and the trace keeps its first seconds, where the bug already
shows.  Without the permission to trace (no root,
a Yama ptrace_scope that forbids it) the trace says why it is missing.
"""

from __future__ import annotations

import datetime
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from sockcheck.verdicts.folding import fold_repeats

STRACE = "strace"
TRACE_FILTER = "trace=%network,%desc,%process,%signal"
STRING_LIMIT = 64
MAX_TRACE_BYTES = 16 * 1024 * 1024
ATTACH_TIMEOUT = 5.0  # seconds for strace to attach to every process of the launch
STOP_TIMEOUT = 2.0  # seconds for strace to finish once its tracees are gone


class TraceUnavailable(Exception):
    """strace is missing or could not attach; the message says which."""


def strace_command(pids: list[int], path: Path, strace: str = STRACE) -> list[str]:
    """strace attached to ``pids`` (following their forks), appending to ``path``, its size capped."""
    argv = ["prlimit", f"--fsize={MAX_TRACE_BYTES}", "--", strace, "-f", "-tt", "-s", str(STRING_LIMIT),
            "-e", TRACE_FILTER, "-A", "-o", str(path)]
    for pid in pids:
        argv += ["-p", str(pid)]
    return argv


def tracer_of(pid: int) -> int | None:
    """The TracerPid of a process (0 when untraced), None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return 0


class Tracer:
    """strace attached to the processes of one launch, writing to one file."""

    def __init__(self, path: Path):
        self.path = path
        self.process: subprocess.Popen | None = None
        self.detached = False  # whether detach_after's time ran out before the launch ended
        self._timer: threading.Timer | None = None

    def attach(self, pids: list[int]) -> None:
        """Start strace on ``pids`` and wait until it traces each of them; TraceUnavailable otherwise."""
        if shutil.which(STRACE) is None:
            raise TraceUnavailable("strace is not installed (Debian: apt-get install strace)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # restore_signals=False keeps SIGXFSZ ignored (Python ignores it): past the cap, writes fail quietly.
        self.process = subprocess.Popen(strace_command(pids, self.path), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        restore_signals=False, start_new_session=True)
        deadline = time.monotonic() + ATTACH_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if all(tracer_of(pid) in (self.process.pid, None) for pid in pids):
                return
            time.sleep(0.01)
        ours = self.process.pid
        untraced = [pid for pid in pids if tracer_of(pid) not in (ours, None)] or pids
        why = self._stop_now(prefer="attach")
        raise TraceUnavailable(f"strace could not attach to {', '.join(map(str, untraced))}: {why or 'timed out'}")

    def detach_after(self, seconds: float) -> None:
        """Stop tracing ``seconds`` from now, if the launch still runs then: the tracees run on untraced."""
        self._timer = threading.Timer(seconds, self._detach)
        self._timer.daemon = True
        self._timer.start()

    def _detach(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            self.detached = True
            process.send_signal(signal.SIGTERM)  # strace detaches from every tracee and exits

    def _stop_now(self, prefer: str = "") -> str:
        """End strace (SIGTERM detaches it from its tracees), return the last line it said (the last one
        that mentions ``prefer``, when one does)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            _, err = self.process.communicate(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        lines = [line for line in err.decode(errors="replace").splitlines() if line.strip()]
        preferred = [line for line in lines if prefer and prefer in line]
        return (preferred or lines or [""])[-1]

    def stop(self) -> None:
        """Once the launch is gone: strace ends by itself when its last tracee has; ended here otherwise."""
        if self._timer is not None:
            self._timer.cancel()
        if self.process is None:
            return
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        self._stop_now()
        self.process = None


EXCERPT_STRING = 16  # characters of a string argument kept in the excerpt
EXCERPT_LINE = 160  # characters of a line kept in the excerpt
EXCERPT_CALLS = 6  # lines of the trace's end in a failure's evidence: a terminal shows every failure's
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"(\.\.\.)?')


def shorten_call(line: str) -> str:
    """One trace line for the excerpt: string arguments cut to EXCERPT_STRING characters (a payload
    says little in a trace; its length and the call's result do), the line to EXCERPT_LINE."""
    def cut(match: re.Match) -> str:
        body = match.group(1)
        if len(body) <= EXCERPT_STRING and not match.group(2):
            return match.group(0)
        return f'"{body[:EXCERPT_STRING].rstrip(chr(92))}"...'
    line = _STRING.sub(cut, line)
    return line if len(line) <= EXCERPT_LINE else line[:EXCERPT_LINE - 4] + " ..."


def call_time(line: str) -> str | None:
    """The time of day strace stamped on a line (``PID HH:MM:SS.ffffff call...``), None for other lines."""
    fields = line.split(None, 2)
    for field in fields[:2]:
        if len(field) == 15 and field[2] == ":" and field[8] == ".":
            return field
    return None


def trace_excerpt(text: str, whole: str | None = None, until: str | None = None,
                  last: int = EXCERPT_CALLS, head: bool = True) -> str:
    """The end of the trace, sized for a terminal: the ``last`` lines up to the time of day ``until``
    (when the check ended: the teardown's SIGTERM and what it set off stay in the file), strace's own
    messages left out, each line shortened (shorten_call) and lines of one shape folded with a count
    (a SIGCHLD per connection, a read() = 0 on every select() round; folding.py).  The end, because
    that is where a failure shows: the write() before the SIGPIPE, the loop the server is stuck in.
    ``head``: a first line saying how much was left out and where the whole trace is."""
    lines = [shorten_call(line) for line in text.splitlines() if line.strip() and not line.startswith("strace: ")]
    if until is not None:
        lines = [line for line in lines if (call_time(line) or "") <= until]
    if not lines:
        return "(no system calls recorded)"
    folded = fold_repeats(lines)
    shown = folded[-last:]
    where = f"; the whole trace: {whole}" if whole else ""
    return "\n".join([f"[{len(lines)} calls and signals, the last {len(shown)} lines shown{where}]"] * head + shown)


def timed_calls(text: str, day: datetime.date, until: str | None = None) -> list[tuple[float, str]]:
    """(seconds since the epoch, ``[PID] call``) of each traced line up to the time of day ``until``,
    for a ladder that shows them beside the packets; strace -tt stamps the local time of day."""
    calls = []
    for line in text.splitlines():
        stamp = call_time(line)
        if stamp is None or (until is not None and stamp > until):
            continue
        pid, _, rest = line.partition(stamp)
        when = datetime.datetime.combine(day, datetime.time.fromisoformat(stamp)).timestamp()
        calls.append((when, shorten_call(f"[{pid.strip()}] {rest.strip()}" if pid.strip() else rest.strip())))
    return calls


def read_trace(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""

