"""Plumbing shared by the bundled Python servers (and by the faulty ones in
../faulty), the counterpart of targets/c/net.h.  Every server is started as

    python SCRIPT PORT [HOST]

where HOST defaults to 127.0.0.1 and may be an IPv6 literal such as ::1."""

import os
import signal
import socket
import sys
import threading

PROG = os.path.basename(sys.argv[0])


def log(msg):
    """Prints "PROGRAM: message" to stderr."""
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def parse_args():
    """Returns (host, port, family); exits with status 2 on bad input."""
    if not 2 <= len(sys.argv) <= 3:
        print(f"usage: {sys.argv[0]} PORT [HOST]", file=sys.stderr)
        sys.exit(2)
    arg = sys.argv[1]
    if not (arg.isascii() and arg.isdigit() and 1 <= int(arg) <= 65535):
        log(f"bad port '{arg}'")
        sys.exit(2)
    host = sys.argv[2] if len(sys.argv) == 3 else "127.0.0.1"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return host, int(arg), family


def tcp_listener(host, port, family, backlog=512, v6only=False):
    """A listening TCP socket on host:port with SO_REUSEADDR (and, if
    v6only, IPV6_V6ONLY on an IPv6 one); exits with status 1 if bind()
    fails.  The socket is blocking: callers choose."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only and family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        log(f"bind {host} port {port}: {e}")
        raise SystemExit(1)
    sock.listen(backlog)
    return sock


class StopSignals:
    """SIGTERM and SIGINT for a select() loop: the handler only sets a flag
    (bool(self) is True once a stop is requested), and the wakeup pipe,
    whose read end self.fd goes into select()'s read list, makes select()
    return whatever moment the signal arrives at."""

    def __init__(self):
        self.signals = []
        self.fd, wake_w = os.pipe()
        os.set_blocking(self.fd, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handler)

    def _handler(self, signo, frame):
        self.signals.append(signo)

    def __bool__(self):
        return bool(self.signals)

    def drain(self):
        """Empties the wakeup pipe (after select() reported it readable)."""
        try:
            os.read(self.fd, 512)
        except BlockingIOError:
            pass


def exit_on_stop_signals():
    """SIGTERM and SIGINT raise SystemExit(0) in the main thread, which
    unwinds the server there and exits with status 0."""
    def stop(signum, frame):
        raise SystemExit(0)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)


def start_thread(target, *args):
    """Starts a daemon thread running target(*args) with SIGTERM and SIGINT
    blocked in it, so that the kernel delivers them to the main thread.

    Python runs signal handlers in the main thread only, when it next
    executes bytecode.  A process-directed signal may land on any thread
    that does not block it: taken by a connection's thread, it leaves the
    main thread asleep in accept(), and exit_on_stop_signals() never
    fires.  The new thread inherits the mask in force while it is created."""
    stops = {signal.SIGTERM, signal.SIGINT}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return thread


def echo_blocking(sock):
    """The blocking echo loop: recv() and sendall() (which loops over short
    writes) until the client's EOF; everything it sent has then been echoed.
    A reset by the client ends only this connection."""
    try:
        while data := sock.recv(65536):
            sock.sendall(data)
    except OSError:
        pass


def accept_all(lsock, fd_limit):
    """Accepts every connection waiting on non-blocking lsock.  Returns
    (socks, error): the new connections, made non-blocking, except any whose
    descriptor is fd_limit or more (select() cannot watch it), which is
    closed at once; and the OSError that ended the loop when it was not
    just "nothing left" (EMFILE and friends: the caller should stop
    accepting for a moment instead of spinning on a listener that stays
    readable), else None."""
    socks = []
    while True:
        try:
            s, _ = lsock.accept()
        except (BlockingIOError, InterruptedError):
            return socks, None
        except ConnectionAbortedError:
            continue
        except OSError as e:
            return socks, e
        if s.fileno() >= fd_limit:
            s.close()
            continue
        s.setblocking(False)
        socks.append(s)
