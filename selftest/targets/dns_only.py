"""A correct echo server that resolves names through DNS only, as djbdns-style servers (ucspi-tcp's
tcpserver) do: it asks the nameserver of /etc/resolv.conf itself, never /etc/hosts or getaddrinfo.

At start it looks up the machine's host name; for every connection it looks
up the host name and the reverse name of the client's address.  When a
lookup fails (no answer, an error, a name that does not exist) it refuses
to serve: it closes that connection without echoing a byte.  In a network
namespace with nothing answering DNS on its loopback it turns every client
away.

Needs dnslib (the suite's pinned copy: the self-tests put it on PYTHONPATH,
since a sandboxed target may run the system's interpreter).
"""

import ipaddress
import socket
import threading

from dnslib import QTYPE, RCODE, DNSRecord

from _serve import args, listen, log

RESOLV_CONF = "/etc/resolv.conf"
LOOKUP_TIMEOUT = 1.0  # seconds, per query


def nameserver():
    """The first nameserver of /etc/resolv.conf; 127.0.0.1 without one, as resolvers default to."""
    try:
        with open(RESOLV_CONF) as fh:
            for line in fh:
                fields = line.split()
                if len(fields) >= 2 and fields[0] == "nameserver":
                    return fields[1]
    except OSError:
        pass
    return "127.0.0.1"


def lookup(name, qtype):
    """The answers (as text) to one DNS question; raises LookupError when it fails."""
    server = nameserver()
    try:
        raw = DNSRecord.question(name, qtype).send(server, 53, timeout=LOOKUP_TIMEOUT, ipv6=":" in server)
        reply = DNSRecord.parse(raw)
    except Exception as exc:  # socket errors, timeouts, a reply that does not parse
        raise LookupError(f"{qtype} {name} from {server}: {type(exc).__name__}: {exc}") from exc
    if reply.header.rcode != RCODE.NOERROR:
        raise LookupError(f"{qtype} {name} from {server}: {RCODE.get(reply.header.rcode)}")
    answers = [str(rr.rdata) for rr in reply.rr if rr.rtype == getattr(QTYPE, qtype)]
    if not answers:
        raise LookupError(f"{qtype} {name} from {server}: no {qtype} record")
    return answers


def names_resolve(peer):
    """Look up the host name and the client's reverse name; None, or why not."""
    try:
        lookup(socket.gethostname(), "A")
        lookup(ipaddress.ip_address(peer.split("%")[0]).reverse_pointer, "PTR")
    except LookupError as exc:
        return str(exc)
    return None


def serve(conn, peer):
    with conn:
        why = names_resolve(peer)
        if why is not None:
            log(f"unable to look up names for {peer}: {why}; closing")
            return
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except OSError:
            pass


host, port = args()
name = socket.gethostname()
try:
    log(f"{name} is {lookup(name, 'A')}")
except LookupError as exc:
    log(f"unable to look up local hostname: {exc}; every connection will be closed")
sock = listen(host, port)
log(f"listening on {host} port {port}")
while True:
    conn, address = sock.accept()
    threading.Thread(target=serve, args=(conn, address[0]), daemon=True).start()
