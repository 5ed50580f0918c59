"""select_urgent.py - a select() echo server that echoes TCP urgent data
out of band.  Declared policy: oob = "urgent".

Usage: python select_urgent.py PORT [HOST]     (HOST defaults to 127.0.0.1)

What urgent data is
-------------------
sock.send(b"!", socket.MSG_OOB) puts "!" into the ordinary TCP byte stream
and also sets the URG flag and the "urgent pointer" on the segment carrying
it.  The pointer marks a position in the stream (Linux, like BSD, points
one past the urgent byte).  The sockets API calls the byte in front of that
position the out-of-band (OOB) byte and the position the "mark".  TCP has no
second channel: "out of band" is something the receiving kernel simulates.

What Linux does with it
-----------------------
* Without SO_OOBINLINE (the default) the kernel removes that single byte
  from the stream: sock.recv() stops at the mark and then skips the byte,
  so "abc" + urgent "!" + "def" is read as "abc" and "def".  The byte can be
  read once with sock.recv(1, socket.MSG_OOB).  If the program reads in-band
  past the mark first, the byte is lost (recv(MSG_OOB) -> EINVAL).
* select() puts the socket into its third list, the "exceptional
  conditions", while an unread urgent byte is waiting (poll: POLLPRI).
* ioctl(SIOCATMARK) tells whether the next in-band byte is the one right
  after the mark.
* With SO_OOBINLINE the byte would simply stay in the stream instead.

What this server does
---------------------
Non-blocking sockets, one select() loop, one output buffer per connection.
Every connection that may read is in the exceptional list.  When select
reports it there, the server reads the urgent byte with recv(1, MSG_OOB)
*before* any further in-band recv (and it does only one in-band recv per
wakeup), so in-band reads never step over the mark.  The byte is held until
SIOCATMARK says everything in front of the mark has been read, then queued
behind those bytes; the writer sends it with send(b, MSG_OOB) when the bytes
in front of it have gone out.  The client gets the in-band echo "abcdef",
its recv(1, MSG_OOB) returns "!", and the echo segment carries URG.
Otherwise it is an ordinary echo server: any chunking, partial sends kept
in the buffer, half-close (after the client's EOF the rest goes back, then
close() sends FIN), resets survived, SIGTERM -> exit status 0.

select() cannot watch descriptors >= FD_SETSIZE (1024); connections that get
such a descriptor are refused (closed at once) rather than crashing the loop.
"""

import errno
import fcntl
import select
import socket
import struct
import sys

from serverargs import StopSignals, accept_all, parse_args, tcp_listener

OUT_CAP = 256 * 1024   # per-connection output buffer
URG_MAX = 8            # urgent bytes queued but not yet sent
SIOCATMARK = 0x8905    # from <linux/sockios.h> (asm-generic value)
FD_LIMIT = 1024        # select()'s FD_SETSIZE

# errno values that only mean "try again later"
RETRY = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)


def at_mark(sock):
    """True if the next in-band byte is the one right after the mark."""
    try:
        res = fcntl.ioctl(sock.fileno(), SIOCATMARK, struct.pack("i", 0))
    except OSError:
        return False
    return struct.unpack("i", res)[0] != 0


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.eof = False          # client sent FIN: read no more
        self.out = bytearray()    # unsent in-band echo
        self.queued = 0           # in-band bytes ever put into out
        self.sent = 0             # in-band bytes ever sent
        self.held = None          # urgent byte read, mark not yet reached
        self.urgent = []          # [(in-band bytes before it, byte)], FIFO

    def wants_read(self):
        return (not self.eof and len(self.out) < OUT_CAP
                and len(self.urgent) < URG_MAX)

    def pending(self):
        return bool(self.out) or bool(self.urgent)

    def finished(self):
        return self.eof and not self.pending() and self.held is None

    def place_held(self, force=False):
        """Queue the held urgent byte behind the in-band bytes before it."""
        if self.held is not None and (force or at_mark(self.sock)):
            self.urgent.append((self.queued, self.held))
            self.held = None

    def read_urgent(self):
        try:
            b = self.sock.recv(1, socket.MSG_OOB)
        except OSError as e:
            # EINVAL: no urgent byte pending; EAGAIN: pointer seen, byte not
            # here yet.  Both are harmless.
            if e.errno in RETRY or e.errno == errno.EINVAL:
                return
            raise
        if b:
            # A byte still held means the peer moved the mark before we got
            # there; the kernel now delivers that old byte in-band, so our
            # copy is dropped in favour of the new one.
            self.held = b
            self.place_held()

    def read_inband(self):
        try:
            data = self.sock.recv(min(65536, OUT_CAP - len(self.out)))
        except OSError as e:
            if e.errno in RETRY:
                return
            raise
        if not data:
            self.eof = True
            self.place_held(force=True)
            return
        self.out += data
        self.queued += len(data)
        self.place_held()

    def flush(self):
        while True:
            limit = len(self.out)
            if self.urgent:
                pos, b = self.urgent[0]
                if pos == self.sent:
                    try:
                        self.sock.send(b, socket.MSG_OOB)   # URG flag set
                    except OSError as e:
                        if e.errno in RETRY:
                            return
                        raise
                    self.urgent.pop(0)
                    continue
                limit = min(limit, pos - self.sent)
            if limit == 0:
                return
            try:
                n = self.sock.send(memoryview(self.out)[:limit])
            except OSError as e:
                if e.errno in RETRY:
                    return
                raise
            del self.out[:n]
            self.sent += n


def main():
    host, port, family = parse_args()
    # SIGTERM: the handler only sets a flag; the wakeup pipe makes select()
    # return, whatever moment the signal arrives at.
    stop = StopSignals()
    lsock = tcp_listener(host, port, family, v6only=True)
    lsock.setblocking(False)
    sys.stderr.write("select_urgent: listening on %s port %d (tcp)\n"
                     % (host, port))
    conns = {}            # fd -> Conn
    paused_accept = False

    while not stop:
        rlist = [stop.fd] + ([] if paused_accept else [lsock])
        wlist, xlist = [], []
        for c in conns.values():
            if c.wants_read():
                rlist.append(c.sock)
                xlist.append(c.sock)
            if c.pending():
                wlist.append(c.sock)
        r, w, x = select.select(rlist, wlist, xlist,
                                0.1 if paused_accept else None)
        paused_accept = False
        if stop.fd in r:
            stop.drain()
            continue   # the loop condition looks at the flag
        r, w, x = set(r), set(w), set(x)

        for fd, c in list(conns.items()):
            s = c.sock
            if s not in r and s not in w and s not in x:
                continue
            try:
                if s in x:                      # urgent byte first
                    c.read_urgent()
                if s in r and not c.eof:
                    c.read_inband()
                if c.pending():
                    c.flush()
                dead = False
            except OSError:                     # ECONNRESET, EPIPE, ...
                dead = True
            if dead or c.finished():
                del conns[fd]
                s.close()                       # after EOF: FIN

        if lsock in r:
            # Every waiting connection; those with an fd select() cannot
            # watch are closed at once.
            socks, err = accept_all(lsock, FD_LIMIT)
            for s in socks:
                conns[s.fileno()] = Conn(s)
            if err:
                # EMFILE and friends: stop accepting for a moment
                # instead of spinning on a listener that stays readable.
                sys.stderr.write("select_urgent: accept: %s\n" % err)
                paused_accept = True

    for c in conns.values():
        c.sock.close()
    lsock.close()
    sys.stderr.write("select_urgent: stopping\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
