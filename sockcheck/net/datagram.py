"""The UDP client's side: receiving replies until they stop coming."""

from __future__ import annotations

import socket


def recv_datagrams(sock: socket.socket, count: int, timeout: float, bufsize: int = 65536) -> list[bytes]:
    """Up to ``count`` datagrams, stopping when none arrives for ``timeout`` seconds."""
    got: list[bytes] = []
    old = sock.gettimeout()
    sock.settimeout(timeout)
    try:
        while len(got) < count:
            try:
                got.append(sock.recv(bufsize))
            except TimeoutError:
                break
    finally:
        sock.settimeout(old)
    return got
