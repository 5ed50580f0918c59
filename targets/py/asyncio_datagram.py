"""asyncio UDP echo server on a DatagramProtocol.

What it gets right: each datagram goes back whole to its sender, up to the
65,507-byte IPv4 maximum (asyncio reads up to 256 KiB at a time), and an
empty datagram comes back empty: asyncio's transport.sendto() silently
drops empty data before Python 3.13, so those are sent on the socket
directly.  Receive and send buffers of 1 MiB absorb a burst of hundreds of
datagrams.  ICMP errors from departed clients are ignored rather than
ending the server.  SIGTERM, through loop.add_signal_handler, ends main():
exit status 0."""

import asyncio
import signal
import socket

from serverargs import log, parse_args

BUFSIZE = 1 << 20


class Echo(asyncio.DatagramProtocol):
    def __init__(self, sock):
        self.sock = sock

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if data:
            self.transport.sendto(data, addr)
        else:
            try:
                self.sock.sendto(data, addr)
            except OSError:  # full send buffer: UDP may drop
                pass

    def error_received(self, exc):  # e.g. ICMP port unreachable
        pass


async def main(host, port, family):
    loop = asyncio.get_running_loop()
    # Handlers before bind(): a client that sees the port open may signal.
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        sock.setsockopt(socket.SOL_SOCKET, opt, BUFSIZE)
    try:
        sock.bind((host, port))
    except OSError as e:
        log(f"bind {host} port {port}: {e}")
        raise SystemExit(1)
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Echo(sock), sock=sock)
    log(f"bound to {host} port {port} (udp)")
    await stop.wait()
    transport.close()


if __name__ == "__main__":
    asyncio.run(main(*parse_args()))
