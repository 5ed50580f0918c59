"""FAULTY: an asyncio Protocol echo server that aborts the transport at the client's EOF.

Bug: ``eof_received()`` calls ``transport.abort()``.  abort() closes the
socket at once and throws away the transport's write buffer: every byte of
echo that data_received() handed to transport.write() but the kernel has not
taken yet.  (close() would be right: it sends what is buffered, then closes,
and it is what asyncio does by itself when eof_received() returns None.)
Why it is wrong: the client's EOF (shutdown(SHUT_WR)) ends only the
client->server direction.  The client is still reading its echo; the server
owes it every byte it received, and only then its FIN.  When the client
sends faster than it reads, the echo waits in user space, in the
transport's buffer, and abort() loses it.
Exposed by: tcp.half-close.large (4 MiB, then SHUT_WR while most of the
echo is still queued: it comes back short, then EOF).  A small echo that
the kernel took before the EOF arrived is not affected, so
tcp.half-close.eof-after-echo and the fd-leak check's half-closes pass.

Everything else is the plain asyncio echo protocol of the asyncio
documentation: transport.write() for every data_received(), a reset ends
only its own connection, SIGTERM -> exit 0.
"""
import asyncio
import os
import signal
import sys

# The plumbing shared with the reference servers lives in ../py.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "py"))
from serverargs import log, parse_args  # noqa: E402


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def eof_received(self):
        self.transport.abort()  # BUG: drops the echo still in the write buffer; close() would send it first


async def main(host, port, family):
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    loop = asyncio.get_running_loop()
    try:
        server = await loop.create_server(Echo, host, port, family=family, reuse_address=True, backlog=1024)
    except OSError as e:
        log(f"bind {host} port {port}: {e}")
        raise SystemExit(1)
    log(f"listening on {host} port {port} (tcp)")
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main(*parse_args()))
