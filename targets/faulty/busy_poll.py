"""FAULTY: retries send() in a tight loop while output is pending (busy waiting).

Bug: the server waits for readability with select(), but never for
writability: while any connection has output the kernel will not take yet
(send() raises BlockingIOError), it loops at once and tries again, treating
EAGAIN as "not yet, try again".
Why it is wrong: non-blocking sockets are meant to be combined with a
readiness wait, in both directions.  Without one, every moment a client is
slow to read is spent spinning: the process burns a full CPU core doing
nothing, starving other programs on the host.  The echo itself comes out
right, which is why it can go unnoticed.
Exposed by: CPU time.  While a connected client stops reading for 1 s with
the echo backed up, the process consumes about 1 s of CPU time.  When no
output is pending it waits in select() like a correct server, so it costs
nothing between and during the other checks.
(os.sched_yield() only lets other runnable processes go first; it is not a
wait, the core is still busy.)

Everything else is meant to be correct: output buffers, backpressure,
half-close, resets, SIGTERM -> exit 0.
"""
import os
import select
import signal
import sys

# The plumbing shared with the reference servers lives in ../py.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             os.pardir, "py"))
from serverargs import parse_args, tcp_listener  # noqa: E402

HIGH_WATER = 256 * 1024  # stop reading while this much is waiting to go out
stop = False


def on_signal(*_):
    global stop
    stop = True


def main():
    host, port, family = parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    lsock = tcp_listener(host, port, family)
    lsock.setblocking(False)
    conns = {}  # socket -> [output buffer, client EOF seen]

    while not stop:
        pending = any(state[0] for state in conns.values())
        wanted = [conn for conn, state in conns.items() if not state[1] and len(state[0]) <= HIGH_WATER]
        poller = select.poll()  # poll(), not select(): no FD_SETSIZE limit
        for sock in (lsock, *wanted):
            poller.register(sock, select.POLLIN)
        # BUG: with output pending it does not wait at all (timeout 0): it
        # goes round again at once to retry send().  The 500 ms when idle
        # only lets a signal's flag be seen.
        readable = {fd for fd, _ in poller.poll(0 if pending else 500)}
        if lsock.fileno() in readable:
            try:
                while True:
                    conn, _ = lsock.accept()
                    conn.setblocking(False)
                    conns[conn] = [bytearray(), False]
            except OSError:  # BlockingIOError: nobody waiting (or EMFILE etc.)
                pass
        for conn, state in list(conns.items()):
            out = state[0]
            try:
                if conn.fileno() in readable:
                    try:
                        data = conn.recv(65536)
                        if data:
                            out += data
                        else:
                            state[1] = True
                    except BlockingIOError:
                        pass
                if out:
                    try:
                        del out[:conn.send(out)]
                    except BlockingIOError:
                        pass
                done = state[1] and not out  # all echoed: close sends FIN
            except OSError:  # reset by peer, broken pipe
                done = True
            if done:
                del conns[conn]
                conn.close()
        if pending:
            os.sched_yield()
    sys.exit(0)


if __name__ == "__main__":
    main()
