"""FAULTY: claims IPv6 but always binds the IPv4 loopback, whatever host it is given.

Bug: the server hard-codes AF_INET and 127.0.0.1 (as code written with
sockaddr_in and inet_addr() does) and ignores the host argument.  Started
with {host} = ::1 it still listens on 127.0.0.1 only, so IPv6 clients get
"connection refused" (TCP) or no answer (UDP).
Why it is wrong: IPv6 needs an AF_INET6 socket bound to an IPv6 address
(or a dual-stack socket on ::); getaddrinfo() on the given host gives the
right family without hard-coding either.
Exposed by: tcp.echo.ipv6 / udp.echo.ipv6 (the manifest claims "ipv6").

Usage: ipv4_only.py PORT [HOST] [udp].  Everything else is a correct echo.
"""
import os
import socket
import sys

# The plumbing shared with the reference servers lives in ../py.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "py"))
from serverargs import echo_blocking, exit_on_stop_signals, log, start_thread  # noqa: E402


def main():
    port = int(sys.argv[1])
    udp = sys.argv[-1] == "udp"
    exit_on_stop_signals()
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    sock = socket.socket(socket.AF_INET, kind)  # BUG: IPv4 only, the host argument is ignored
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if udp:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)  # bursts are not the bug here
    sock.bind(("127.0.0.1", port))
    log(f"listening on 127.0.0.1 port {port} ({'udp' if udp else 'tcp'}), whatever host was asked for")
    if udp:
        while True:
            data, peer = sock.recvfrom(65536)
            sock.sendto(data, peer)
    sock.listen(512)
    while True:
        conn, _ = sock.accept()
        start_thread(serve, conn)


def serve(conn):
    with conn:  # closed after the echo: FIN
        echo_blocking(conn)


if __name__ == "__main__":
    main()
