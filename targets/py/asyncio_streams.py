"""asyncio streams echo server: asyncio.start_server and one task per client.

What it gets right: SO_REUSEADDR and a deep accept backlog; every write is
followed by await writer.drain(), so a client that stops reading suspends
its task once the transport buffer passes its high-water mark, and the
StreamReader in turn pauses reading, which bounds memory and costs no CPU.
The stream protocol keeps the transport open after EOF, so the client's
shutdown(SHUT_WR) still gets every byte back before the writer is closed
(a FIN).  A reset ends only its own task.  SIGTERM, through
loop.add_signal_handler, ends main(): exit status 0 without waiting for
clients."""

import asyncio
import signal

from serverargs import log, parse_args


async def echo(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()
    except OSError:  # reset by the client: only this connection ends
        pass
    except asyncio.CancelledError:
        # Shutdown.  Ending normally, not cancelled, spares Python < 3.12
        # a spurious "Exception in callback" traceback (gh-113538).
        pass
    finally:
        writer.close()  # not awaited: a stalled client must not delay exit


async def main(host, port, family):
    # Handlers before listen(): a client that sees the port open may signal.
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        server = await asyncio.start_server(
            echo, host, port, family=family, reuse_address=True, backlog=1024)
    except OSError as e:
        log(f"bind {host} port {port}: {e}")
        raise SystemExit(1)
    log(f"listening on {host} port {port} (tcp)")
    await stop.wait()
    server.close()  # asyncio.run() then cancels the client tasks


if __name__ == "__main__":
    asyncio.run(main(*parse_args()))
