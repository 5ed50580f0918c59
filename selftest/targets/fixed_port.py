"""A correct echo server on a hard-coded port, whatever {port} says (as Stevens' servers bind SERV_PORT).

Started as ``python fixed_port.py PORT --listen-port FIXED [--host HOST] [--no-reuseaddr] [TAG...]``:
PORT (the {port} a manifest must pass) is ignored, and so is any other argument; it listens on
HOST (default 127.0.0.1) port FIXED.  The launcher must find it there through the socket table
and check it there, with a note naming FIXED.  With ``--no-reuseaddr`` it binds without
SO_REUSEADDR, as many students' servers do: tcp.time-wait.rebind is then its one finding, and no
other check may fail because an earlier case's TIME_WAIT holds FIXED.
"""

import socket
import sys

from _serve import log, serve_echo


def option(name, default=None):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


given = sys.argv[1]
fixed = int(option("--listen-port"))
host = option("--host", "127.0.0.1")
reuseaddr = "--no-reuseaddr" not in sys.argv
sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
if reuseaddr:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind((host, fixed))  # not the given port: the point of this target
sock.listen(128)
log(f"listening on {host} port {fixed}, not on the port {given} it was given"
    f"{'' if reuseaddr else ' (without SO_REUSEADDR)'}")
serve_echo(sock)
