"""FAULTY: polls non-blocking sockets in a tight loop (busy waiting).

Bug: the server never blocks waiting for readiness (no select/poll/epoll);
it loops forever trying accept()/recv()/send() on every socket and treating
BlockingIOError as "nothing yet, try again".
Why it is wrong: non-blocking sockets are meant to be combined with a
readiness wait.  Without one, every idle moment is spent spinning: the
process burns a full CPU core doing nothing, starving other programs on the
host.  The echo itself comes out right, which is why it can go unnoticed.
Exposed by: tcp.backpressure.slow-reader, by CPU time.  While a connected
client sends nothing or stops reading for 1 s, the process consumes about
1 s of CPU time.  With no client at all it does wait in select() on the
listening socket (so that it does not burn a core between test cases); the
spinning starts with the first connection.
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

    while not stop:  # BUG: spins; never waits for readiness while it has connections
        if not conns:
            try:
                select.select([lsock], [], [], 0.5)
            except InterruptedError:
                continue
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
                if not state[1] and len(out) <= HIGH_WATER:
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
        os.sched_yield()
    sys.exit(0)


if __name__ == "__main__":
    main()
