"""dies_on_urgent.py - FAULTY: a select() echo server that drops any
connection on which TCP urgent data arrives.

Usage: python dies_on_urgent.py PORT [HOST]     (HOST defaults to 127.0.0.1)

The concept
-----------
sock.send(b"!", socket.MSG_OOB) puts "!" into the TCP byte stream and marks
it with the URG flag and the urgent pointer.  On Linux, without
SO_OOBINLINE, the receiving kernel takes that one byte out of the stream
(recv() never returns it; recv(1, MSG_OOB) can fetch it once), and select()
lists the socket in its third list, the "exceptional conditions", while the
byte waits.  Urgent data is legitimate TCP: a server may ignore the byte
(policy "discard": a plain recv() loop echoes "abcdef" for "abc" + urgent
"!" + "def"), keep it in-band with SO_OOBINLINE, or read it out of band.

The mistake
-----------
This server passes its sockets in the exceptional list too, and reads an
"exceptional condition" as "something is wrong with this socket", as many
people assume from the name.  For TCP it only ever means urgent data, so
as soon as the client sends "!" with MSG_OOB the server closes the
connection: the rest of the echo never comes (the client typically gets
"abc" or nothing, then EOF or, because the unread urgent byte is still in
the receive queue when close() is called, a reset).  Apart from that it is
a correct echo server: non-blocking sockets, per-connection buffers,
half-close, resets survived, SIGTERM -> exit status 0.

Exposed by: tcp.urgent.stream-intact (the connection ends at the urgent
byte instead of echoing "abcdef").
"""

import errno
import os
import select
import sys

# The plumbing shared with the reference servers lives in ../py.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             os.pardir, "py"))
from serverargs import (  # noqa: E402
    StopSignals, accept_all, parse_args, tcp_listener)

OUT_CAP = 256 * 1024
FD_LIMIT = 1024
RETRY = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.eof = False
        self.out = bytearray()

    def read(self):
        try:
            data = self.sock.recv(min(65536, OUT_CAP - len(self.out)))
        except OSError as e:
            if e.errno in RETRY:
                return
            raise
        if data:
            self.out += data
        else:
            self.eof = True

    def flush(self):
        while self.out:
            try:
                n = self.sock.send(self.out)
            except OSError as e:
                if e.errno in RETRY:
                    return
                raise
            del self.out[:n]


def main():
    host, port, family = parse_args()
    stop = StopSignals()  # SIGTERM/SIGINT: a flag plus a wakeup pipe
    lsock = tcp_listener(host, port, family, v6only=True)
    lsock.setblocking(False)
    sys.stderr.write("dies_on_urgent: listening on %s port %d (tcp)\n"
                     % (host, port))
    conns = {}
    paused = False

    while not stop:
        rlist = [stop.fd] + ([] if paused else [lsock])
        wlist, xlist = [], []
        for c in conns.values():
            if not c.eof and len(c.out) < OUT_CAP:
                rlist.append(c.sock)
            if c.out:
                wlist.append(c.sock)
            xlist.append(c.sock)
        r, w, x = select.select(rlist, wlist, xlist, 0.1 if paused else None)
        paused = False
        if stop.fd in r:
            stop.drain()
            continue
        r, w, x = set(r), set(w), set(x)

        for fd, c in list(conns.items()):
            s = c.sock
            if s in x:
                # THE BUG: an "exceptional condition" on a TCP socket is
                # urgent data, not an error.  Dropping the connection here
                # loses the rest of the stream.
                sys.stderr.write("dies_on_urgent: exceptional condition, "
                                 "dropping connection\n")
                del conns[fd]
                s.close()
                continue
            if s not in r and s not in w:
                continue
            try:
                if s in r and not c.eof:
                    c.read()
                c.flush()
                dead = False
            except OSError:
                dead = True
            if dead or (c.eof and not c.out):
                del conns[fd]
                s.close()

        if lsock in r:
            socks, err = accept_all(lsock, FD_LIMIT)
            for s in socks:
                conns[s.fileno()] = Conn(s)
            if err:  # EMFILE and friends: pause accepting
                sys.stderr.write("dies_on_urgent: accept: %s\n" % err)
                paused = True

    for c in conns.values():
        c.sock.close()
    lsock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
