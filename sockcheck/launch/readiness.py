"""Waiting until a target serves: the socket table for managed targets, a probe for unmanaged ones.

Readiness is polled with a growing interval against the target's
``ready_timeout``.  A managed target is ready when the kernel's socket table
shows its listening (TCP) or bound (UDP) socket; an unmanaged target, which
may live elsewhere, gets a TCP connect or a UDP echo probe instead.

A managed target that ignores ``{port}`` (a hard-coded port, as in Stevens'
SERV_PORT) is found by ownership: the server sockets of the namespace whose
inodes its processes hold open (own_server_sockets).  A command that can
never serve because it cannot be executed is told before the launch
(cannot_execute), or read from the sandbox wrappers' last words after it
(wrapper_exec_failure), in the target's terms either way.
"""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from sockcheck.launch.manifest import TargetSpec, address_family
from sockcheck.net import socket_table

# Seconds.  A compiled target listens almost as soon as it is started, so the first question comes at once.
READY_BACKOFF_FIRST = 0.001
READY_BACKOFF_MAX = 0.05
# A readiness question is one sock_diag request, cheap next to a launch: growing the interval by a
# quarter, not doubling it, keeps the time between listening and being seen ready under a quarter of
# the launch, for a few more questions.
READY_BACKOFF_GROWTH = 1.25
UDP_PROBE = b"sockcheck-ready-probe"

# Seconds a target must keep serving elsewhere, and not on the port it was given, before it is taken
# to have ignored {port}: a server may open another socket (an admin or metrics port) just before
# it listens on the given one.
ELSEWHERE_SETTLE = 0.1

# What wait_until_serving saw.
READY = "ready"
EXITED = "exited"
TIMED_OUT = "timed out"


def probe_once(host: str, port: int, transport: str, timeout: float) -> bool:
    """One readiness probe: a TCP connect, or a UDP datagram answered by any datagram.

    The UDP probe socket is not connected, so a server that answers from
    another port still counts as ready (udp.peers.connected-client judges that).
    """
    kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
    with socket.socket(address_family(host), kind) as sock:
        sock.settimeout(timeout)
        try:
            if transport == "tcp":
                sock.connect((host, port))
            else:
                sock.sendto(UDP_PROBE, (host, port))
                sock.recvfrom(65535)
            return True
        except (ConnectionRefusedError, ConnectionResetError, TimeoutError):
            return False


def serving(spec: TargetSpec, host: str, port: int, timeout: float) -> bool:
    """Managed targets: the kernel's socket table shows the listening (or bound UDP) socket.

    No probe connection is made: a connection the target must accept and
    serve would fork a child, take a descriptor, or (in a thread server
    with a race) share state with the check's first client.  Unmanaged
    targets, which may live elsewhere, are probed with a connect or an
    echo.
    """
    if spec.managed:
        return socket_table.serving_socket(host, port, spec.transport)
    return probe_once(host, port, spec.transport, timeout)


def wait_until_serving(is_serving: Callable[[float], bool], process: subprocess.Popen | None,
                       timeout: float) -> str:
    """Ask ``is_serving(probe timeout)`` with backoff until it says yes (READY), ``process`` exits
    (EXITED) or ``timeout`` seconds pass (TIMED_OUT).  An OSError of the question propagates."""
    deadline = time.monotonic() + timeout
    delay = READY_BACKOFF_FIRST
    while True:
        if process is not None and process.poll() is not None:
            return EXITED
        if is_serving(max(delay, 0.01)):
            return READY
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return TIMED_OUT
        if process is not None:
            try:  # sleeps at most `delay`, and wakes at once if the target exits
                process.wait(min(delay, remaining))
            except subprocess.TimeoutExpired:
                pass
        else:
            time.sleep(min(delay, remaining))
        delay = min(delay * READY_BACKOFF_GROWTH, READY_BACKOFF_MAX)


def own_server_sockets(transport: str, pids: Callable[[], Iterable[int]], foreign: set[int]
                       ) -> list[socket_table.TcpSocket]:
    """The listening (TCP) or bound, unconnected (UDP) sockets that the processes ``pids()`` hold,
    whatever their port and address, lowest port first.

    Ownership is the socket's inode among the /proc/PID/fd links of the
    target's processes: in a worker's namespace the only other server
    sockets are the harness's own (its DNS responder) and, at times, another
    launch of the same target, whose sockets must not be mistaken for this
    one's.  ``foreign`` collects the inodes found not to be the target's, so
    a poll asks for the processes' descriptors only when a new server socket
    appeared (on a shared loopback every service of the machine listens).
    """
    records = [record for record in socket_table.server_sockets(transport)
               if record.inode and record.inode not in foreign]
    if not records:
        return []
    held = socket_table.socket_inodes(list(pids()))
    foreign.update(record.inode for record in records if record.inode not in held)
    return sorted((record.row for record in records if record.inode in held),
                  key=lambda row: (row.local[1], row.family, row.local[0]))


# -- a command that cannot start serving at all ---------------------------------------------------

# prlimit(1), setpriv(1) and sockcheck-enter exec the target's command in place; when that exec fails they say so
# (err(3): "NAME: failed to execute PROGRAM: REASON") and exit 126 (cannot invoke) or 127 (not found).
_WRAPPER_EXEC_FAILED = re.compile(r"(?:prlimit|setpriv|sockcheck-enter): failed to execute (?P<program>.+): "
                                  r"(?P<why>[^:]+)")
_WRAPPER_EXEC_STATUSES = (126, 127)


def wrapper_exec_failure(status: int | None, log_text: str) -> tuple[str, str] | None:
    """(program, reason) when the sandbox's wrappers could not execute the command: their message
    is then the first line of the log, since nothing of the command ever ran."""
    if status not in _WRAPPER_EXEC_STATUSES:
        return None
    found = _WRAPPER_EXEC_FAILED.fullmatch(log_text.strip().split("\n", 1)[0].strip())
    return (found["program"], found["why"]) if found else None


def _may_execute(path: str, mode: int, owner: int, group: int, uid: int | None, gid: int | None) -> bool:
    if uid is None:  # runs as this process
        return os.access(path, os.X_OK)
    if uid == 0:
        return bool(mode & 0o111)
    bit = stat.S_IXUSR if owner == uid else stat.S_IXGRP if group == gid else stat.S_IXOTH
    return bool(mode & bit)


def _bad_interpreter(path: str, cwd: Path) -> str | None:
    """The missing interpreter of a ``#!`` script, as a reason; None when it exists or there is none."""
    try:
        with open(path, "rb") as fh:
            first = fh.read(256).split(b"\n", 1)[0]
    except OSError:
        return None
    if not first.startswith(b"#!") or not first[2:].split():
        return None
    interpreter = first[2:].split()[0].decode(errors="replace")
    if os.path.exists(os.path.join(cwd, interpreter)):
        return None
    return f"bad interpreter {interpreter}: No such file or directory"


def cannot_execute(program: str, cwd: Path, search_path: str, uid: int | None = None,
                   gid: int | None = None) -> str | None:
    """Why ``execvp(program)`` from ``cwd`` with PATH ``search_path`` would fail, as the target's
    author would say it ("No such file or directory", "Permission denied"); None when it would run.

    execvp's rules: a name with a slash is a path (relative to cwd), any
    other is looked up in each PATH folder (an empty entry is cwd), and a
    file found but not executable makes it fail with EACCES only if no later
    folder has one that is.  ``uid``/``gid``: the sandbox user it runs as
    (no supplementary groups), or None for this process.  Only the file
    itself is judged; a folder on the way that the sandbox user cannot enter
    shows up after the launch, in the wrappers' words (wrapper_exec_failure).
    """
    if "/" in program:
        candidates = [os.path.join(cwd, program)]
    else:
        candidates = [os.path.join(cwd, folder or ".", program) for folder in search_path.split(os.pathsep)]
    denied = None
    for path in candidates:
        try:
            info = os.stat(path)
        except PermissionError:
            denied = denied or "Permission denied"
            continue
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            denied = denied or "Permission denied (a directory)"
        elif not stat.S_ISREG(info.st_mode) or not _may_execute(path, info.st_mode, info.st_uid, info.st_gid, uid, gid):
            who = "" if uid is None else f" by the sandbox user, uid {uid}"
            denied = denied or f"Permission denied ({stat.filemode(info.st_mode)}: not executable{who})"
        else:
            return _bad_interpreter(path, cwd)
    return denied or "No such file or directory"


def execute_hint(program: str, cwd: Path) -> str:
    """Where a command that cannot be executed was looked for, for the message."""
    if "/" not in program:
        if os.path.exists(os.path.join(cwd, program)):
            return f" (not found on PATH; ./{program} would name the one in {cwd})"
        return " (not found on PATH)"
    return "" if os.path.isabs(program) else f" (in {cwd})"
