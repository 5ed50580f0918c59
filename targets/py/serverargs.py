"""Plumbing shared by the bundled Python servers, the counterpart of
targets/c/net.h.  Every server is started as

    python SCRIPT PORT [HOST]

where HOST defaults to 127.0.0.1 and may be an IPv6 literal such as ::1."""

import os
import socket
import sys

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
