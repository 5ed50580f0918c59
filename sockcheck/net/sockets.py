"""The sockets a check opens: a connected TCP socket and a bound UDP socket, each with a timeout.

Every socket the suite opens has a timeout, so no check can hang on a
server that stops answering; the fixtures' tcp_client() and udp_client()
factories make theirs here.
"""

from __future__ import annotations

import socket


def tcp_connect(address: tuple[str, int], timeout: float, *, nodelay: bool = False,
                rcvbuf: int | None = None, sndbuf: int | None = None, maxseg: int | None = None) -> socket.socket:
    """A connected TCP socket with a timeout.

    ``rcvbuf`` and ``sndbuf`` cap SO_RCVBUF and SO_SNDBUF (which also stops
    the kernel autotuning them), and ``maxseg`` the MSS (TCP_MAXSEG), all set
    before connect so that they hold from the handshake on: the SYN carries
    the small window and the small MSS.
    """
    host = address[0]
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if sndbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    if maxseg:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, maxseg)
    if nodelay:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock


def udp_socket(address: tuple[str, int], timeout: float, *, connect: bool = False) -> socket.socket:
    """A UDP socket bound to an ephemeral port of ``address``'s family, with a timeout; ``connect`` fixes the peer."""
    sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    sock.bind((address[0], 0))
    if connect:
        sock.connect(address)
    return sock
