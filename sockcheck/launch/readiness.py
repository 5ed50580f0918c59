"""Waiting until a target serves: the socket table for managed targets, a probe for unmanaged ones.

Readiness is polled with a growing interval against the target's
``ready_timeout``.  A managed target is ready when the kernel's socket table
shows its listening (TCP) or bound (UDP) socket; an unmanaged target, which
may live elsewhere, gets a TCP connect or a UDP echo probe instead.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

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
