"""A correct echo server that looks up the machine's host name when it starts, as inetd-style servers
do, and exits when the name does not resolve to a loopback address.  In an empty network namespace
without a hosts entry the lookup falls to DNS, which is unreachable there."""

import ipaddress
import socket
import sys

from _serve import args, listen, log, serve_echo

host, port = args()
name = socket.gethostname()
try:
    addresses = {info[4][0] for info in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)}
except socket.gaierror as exc:
    log(f"unable to look up local hostname {name}: {exc}")
    sys.exit(1)
if not all(ipaddress.ip_address(a).is_loopback for a in addresses):
    log(f"{name} resolves to {sorted(addresses)}, not to loopback")
    sys.exit(1)
sock = listen(host, port)
log(f"{name} is {sorted(addresses)}; listening")
serve_echo(sock)
