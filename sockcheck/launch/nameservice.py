"""The name service of a worker's network namespace: a DNS responder on its loopback.

A worker's namespace has only a loopback interface, so the machine's
nameserver is unreachable there.  The private /etc/hosts (isolation.py)
serves the programs that ask glibc, which reads it first; programs that
ask DNS themselves (djbdns' library in ucspi-tcp, Node's dns.resolve and
dns.reverse, dnspython) would get "network unreachable" for the host name
and for the reverse name of 127.0.0.1, where an ordinary machine answers
them.  This responder gives the same answers through DNS: A and AAAA for the host name
(and its short form) and for ``localhost``, PTR for the loopback addresses,
and NXDOMAIN at once for every other name, so nothing waits for a timeout.
The worker's private /etc/resolv.conf points at it.

It runs as a daemon thread of the worker, started right after the worker
enters its namespace (a thread started later inherits the namespace of the
thread that starts it):

* it lives and dies with the worker: there is no process to stop, reap or
  find among a run's leftovers, and nothing survives a worker killed by a
  signal;
* its sockets are bound before enter_network_namespace returns, so no
  lookup ever precedes the service (a query sent early waits in the
  socket's buffer, not for a retry);
* its sockets are the worker's, never a target's: readiness, which finds a
  target's own server sockets by inode among its processes' descriptors
  (readiness.own_server_sockets), cannot mistake them for the target's;
* the price is the interpreter lock: while the worker's main thread
  computes, an answer waits for the lock, at most the interpreter's switch
  interval (5 ms by default).  A subprocess would avoid that, at the cost of
  a second interpreter per worker and a process to manage.

Wire format comes from dnslib (parsing and packing); the serving loop is
this module's own, on non-blocking sockets under one selector, so that
every wait has a deadline and close() stops it at once.
"""

from __future__ import annotations

import ipaddress
import os
import selectors
import socket
import threading
import time
from dataclasses import dataclass

from dnslib import AAAA, EDNS0, PTR, QTYPE, RCODE, RR, A, DNSError, DNSHeader, DNSRecord

PORT = 53
LOOPBACK = ("127.0.0.1", "::1")
TTL = 300  # seconds; the names of a namespace never change while it lives
OPCODE_QUERY = 0
HEADER_BYTES = 12
UDP_PAYLOAD = 1232  # what the responder advertises over EDNS (the DNS flag day's size)
# TCP (RFC 7766): clients that fall back to TCP, or prefer it.  A peer idle this long is closed; beyond
# MAX_TCP_PEERS connections at once a new one is closed at once (a target cannot starve the service).
TCP_IDLE = 10.0
MAX_TCP_PEERS = 64
MAX_MESSAGE = 65535
# Bytes of each UDP socket's receive queue.  Forking servers look names up in every child: 200 clients
# accepted at once by tcpserver send 400 questions within a millisecond, and the default queue (about
# 200 KiB, some 250 questions) dropped the rest, which djbdns asks again only after 1 s and 3 s.  So the
# queue holds about 10,000 questions; it takes memory only while they wait.
UDP_RECEIVE_BUFFER = 8 << 20
SO_RCVBUFFORCE = 33  # linux/socket.h: SO_RCVBUF beyond net.core.rmem_max, with CAP_NET_ADMIN
CLOSE_TIMEOUT = 2.0  # seconds close() waits for the serving thread


@dataclass(frozen=True)
class Zone:
    """What the responder knows: lower-case names (no trailing dot) to their records."""

    addresses: dict[str, dict[str, tuple[str, ...]]]  # name -> {"A": (...), "AAAA": (...)}
    pointers: dict[str, tuple[str, ...]]  # reverse name -> names, the canonical one first

    def knows(self, name: str) -> bool:
        return name in self.addresses or name in self.pointers


def loopback_zone(hostname: str) -> Zone:
    """The host name, its short form and localhost on both loopback addresses; each loopback address's
    reverse name to localhost first (as /etc/hosts lists it, and as gethostbyaddr reports it), then the
    host name."""
    full = hostname.rstrip(".").lower()
    names = list(dict.fromkeys(["localhost", full, full.split(".")[0]]))
    addresses = {name: {"A": ("127.0.0.1",), "AAAA": ("::1",)} for name in names}
    canonical = tuple(dict.fromkeys(["localhost", full]))
    pointers = {ipaddress.ip_address(a).reverse_pointer: canonical for a in LOOPBACK}
    return Zone(addresses, pointers)


def _records(zone: Zone, name: str, asked: str, qtype: int) -> list[RR]:
    """The answer records for one question; ``asked`` is the name as the client spelt it (echoed)."""
    found = []
    wanted = {"A", "AAAA", "PTR"} if qtype == QTYPE.ANY else {QTYPE.get(qtype, "")}
    if "A" in wanted:
        found += [RR(asked, QTYPE.A, rdata=A(a), ttl=TTL) for a in zone.addresses.get(name, {}).get("A", ())]
    if "AAAA" in wanted:
        found += [RR(asked, QTYPE.AAAA, rdata=AAAA(a), ttl=TTL) for a in zone.addresses.get(name, {}).get("AAAA", ())]
    if "PTR" in wanted:
        found += [RR(asked, QTYPE.PTR, rdata=PTR(target + "."), ttl=TTL) for target in zone.pointers.get(name, ())]
    return found


def answer(zone: Zone, query: bytes) -> bytes | None:
    """The response to one DNS message, or None when nothing should be sent (a response, or too
    short to carry an id).  Known names get their records (none, for another type: NODATA); any
    other name NXDOMAIN; a message that does not parse FORMERR; another opcode NOTIMP."""
    if len(query) < HEADER_BYTES:
        return None
    try:
        request = DNSRecord.parse(query)
    except (DNSError, ValueError, IndexError, UnicodeError):
        if query[2] & 0x80:  # QR set: a response, never answered
            return None
        failed = DNSRecord(DNSHeader(id=int.from_bytes(query[:2], "big"), qr=1, rcode=RCODE.FORMERR))
        return failed.pack()
    header = request.header
    if header.qr:
        return None
    reply = request.reply(ra=1, aa=1)
    if header.opcode != OPCODE_QUERY:
        reply.header.rcode = RCODE.NOTIMP
    elif len(request.questions) != 1:
        reply.header.rcode = RCODE.FORMERR
    else:
        question = request.q
        name = str(question.qname).rstrip(".").lower()
        if zone.knows(name):
            for record in _records(zone, name, str(question.qname), question.qtype):
                reply.add_answer(record)
        else:
            reply.header.rcode = RCODE.NXDOMAIN
    if any(record.rtype == QTYPE.OPT for record in request.ar):
        reply.add_ar(EDNS0(udp_len=UDP_PAYLOAD))
    return reply.pack()


def _enlarge_receive_queue(sock: socket.socket) -> None:
    """UDP_RECEIVE_BUFFER as root (or root of the namespace's user namespace), else as much as
    net.core.rmem_max allows."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, UDP_RECEIVE_BUFFER)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)


class _TcpPeer:
    """One TCP client: length-prefixed messages in, length-prefixed answers out."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.incoming = bytearray()
        self.outgoing = bytearray()
        self.last_active = time.monotonic()


class NameService:
    """The responder for ``zone`` on port ``port`` of ``addresses``, UDP and TCP, in a daemon thread.

    Raises OSError when it can bind no address; an address that cannot be
    bound (no IPv6 on loopback) is left out of ``addresses``.
    """

    def __init__(self, zone: Zone, addresses: tuple[str, ...] = LOOPBACK, port: int = PORT):
        self.zone = zone
        self._selector = selectors.DefaultSelector()
        self._peers: dict[int, _TcpPeer] = {}
        self._stop = threading.Event()
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wake_read, selectors.EVENT_READ, "wake")
        bound, errors = [], []
        for address in addresses:
            try:
                self._bind(address, port)
                bound.append(address)
            except OSError as exc:
                errors.append(f"{address}: {exc.strerror or exc}")
        self.addresses = tuple(bound)
        self.port = port
        if not bound:
            self._close_sockets()
            raise OSError(f"cannot bind port {port}: {'; '.join(errors)}")
        self._thread = threading.Thread(target=self._serve, name="sockcheck-name-service", daemon=True)
        self._thread.start()

    def _bind(self, address: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        made = []
        try:
            for kind, role in ((socket.SOCK_DGRAM, "udp"), (socket.SOCK_STREAM, "listen")):
                sock = socket.socket(family, kind)
                made.append(sock)
                sock.setblocking(False)
                if kind == socket.SOCK_STREAM:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                else:
                    _enlarge_receive_queue(sock)
                sock.bind((address, port))
                if kind == socket.SOCK_STREAM:
                    sock.listen(MAX_TCP_PEERS)
                self._selector.register(sock, selectors.EVENT_READ, role)
        except OSError:
            for sock in made:
                if sock.fileno() >= 0 and sock.fileno() in self._selector.get_map():
                    self._selector.unregister(sock)
                sock.close()
            raise

    def describe(self) -> str:
        return ", ".join(f"[{a}]:{self.port}" if ":" in a else f"{a}:{self.port}" for a in self.addresses)

    # -- the serving thread ------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            for key, mask in self._selector.select(timeout=TCP_IDLE / 2):
                try:
                    self._handle(key, mask)
                except Exception:
                    # One socket's trouble (a peer gone, a name dnslib cannot pack) is that socket's
                    # alone: the service goes on for every other client.
                    if key.data == "peer":
                        self._drop(key.fd)
            self._expire_idle_peers()

    def _handle(self, key: selectors.SelectorKey, mask: int) -> None:
        if key.data == "wake":
            os.read(self._wake_read, 64)
        elif key.data == "udp":
            self._answer_datagrams(key.fileobj)
        elif key.data == "listen":
            self._accept(key.fileobj)
        elif (peer := self._peers.get(key.fd)) is None:
            return  # dropped earlier in the same round of events
        elif mask & selectors.EVENT_READ:
            self._read_peer(peer)
        else:
            self._flush_peer(peer)

    def _answer_datagrams(self, sock: socket.socket) -> None:
        for _ in range(64):  # then let the other sockets have a turn
            try:
                query, client = sock.recvfrom(MAX_MESSAGE)
            except (BlockingIOError, InterruptedError):
                return
            response = answer(self.zone, query)
            if response is not None:
                try:
                    sock.sendto(response, client)
                except (BlockingIOError, InterruptedError):
                    pass  # the socket's buffer is full: the client asks again, as it would of a busy server

    def _accept(self, listener: socket.socket) -> None:
        try:
            sock, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        if len(self._peers) >= MAX_TCP_PEERS:
            sock.close()
            return
        sock.setblocking(False)
        self._peers[sock.fileno()] = _TcpPeer(sock)
        self._selector.register(sock, selectors.EVENT_READ, "peer")

    def _read_peer(self, peer: _TcpPeer) -> None:
        try:
            data = peer.sock.recv(MAX_MESSAGE)
        except (BlockingIOError, InterruptedError):
            return
        if not data:
            self._drop(peer.sock.fileno())
            return
        peer.last_active = time.monotonic()
        peer.incoming += data
        while len(peer.incoming) >= 2 and len(peer.incoming) >= 2 + int.from_bytes(peer.incoming[:2], "big"):
            size = int.from_bytes(peer.incoming[:2], "big")
            response = answer(self.zone, bytes(peer.incoming[2:2 + size]))
            del peer.incoming[:2 + size]
            if response is not None:
                peer.outgoing += len(response).to_bytes(2, "big") + response
        self._flush_peer(peer)

    def _flush_peer(self, peer: _TcpPeer) -> None:
        if peer.outgoing:
            try:
                del peer.outgoing[:peer.sock.send(peer.outgoing)]
            except (BlockingIOError, InterruptedError):
                pass
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if peer.outgoing else 0)
        if self._selector.get_key(peer.sock).events != events:
            self._selector.modify(peer.sock, events, "peer")

    def _drop(self, fd: int) -> None:
        peer = self._peers.pop(fd, None)
        if peer is not None:
            self._selector.unregister(peer.sock)
            peer.sock.close()

    def _expire_idle_peers(self) -> None:
        now = time.monotonic()
        for fd in [fd for fd, peer in self._peers.items() if now - peer.last_active > TCP_IDLE]:
            self._drop(fd)

    # -- stopping ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the thread and close every socket (a worker does at its end, so that nothing of it outlives
        the run's cases)."""
        self._stop.set()
        try:
            os.write(self._wake_write, b"x")
        except BlockingIOError:
            pass  # a wake-up is already pending
        self._thread.join(CLOSE_TIMEOUT)
        self._close_sockets()

    def _close_sockets(self) -> None:
        for key in list(self._selector.get_map().values()):
            if isinstance(key.fileobj, socket.socket):
                key.fileobj.close()
        self._peers.clear()
        self._selector.close()
        for fd in (self._wake_read, self._wake_write):
            os.close(fd)

    def __enter__(self) -> NameService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start(hostname: str | None = None) -> tuple[NameService | None, str]:
    """The responder for this machine's names in the current network namespace, and "" or why there
    is none (the run goes on: only servers that look up names through DNS are affected)."""
    try:
        return NameService(loopback_zone(hostname or socket.gethostname())), ""
    except OSError as exc:
        return None, f"no DNS responder ({exc})"
