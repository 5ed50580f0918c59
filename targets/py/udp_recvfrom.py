"""The textbook UDP echo server: one socket, a blocking recvfrom()/sendto() loop.

What it gets right: a 65,535-byte receive buffer, larger than any UDP
payload, so no datagram is truncated; each datagram goes back whole, as one
datagram, to the address recvfrom() reported for it, so any number of
clients share the socket; a zero-length datagram is echoed as a zero-length
one (recvfrom() returning b"" is a datagram, not EOF); a failed sendto()
costs only that datagram.  It leaves SO_RCVBUF and SO_SNDBUF at the
kernel's defaults, as the textbooks do: the suite must judge such a server
correct.  SIGTERM raises SystemExit out of recvfrom(): exit status 0."""

import socket

from serverargs import exit_on_stop_signals, log, parse_args


def main():
    host, port, family = parse_args()
    # Handlers before bind(): a client that sees the port open may signal.
    exit_on_stop_signals()
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError as e:
        log(f"bind {host} port {port}: {e}")
        raise SystemExit(1)
    log(f"bound to {host} port {port} (udp)")
    while True:
        data, peer = sock.recvfrom(65535)
        try:
            sock.sendto(data, peer)
        except OSError:  # e.g. a full send buffer: UDP may drop this one reply
            pass


if __name__ == "__main__":
    main()
