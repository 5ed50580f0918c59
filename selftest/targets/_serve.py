"""Plumbing shared by the self-test targets: arguments and a correct echo loop.

Every self-test target is started as ``python SCRIPT PORT [HOST [TAG...]]``;
extra arguments (a per-test tag the self-tests use to find leftover
processes by command line) are ignored.
"""

import socket
import sys
import threading


def args():
    """(host, port) from argv; exits with status 2 on bad input."""
    if len(sys.argv) < 2 or not sys.argv[1].isdigit():
        print(f"usage: {sys.argv[0]} PORT [HOST [TAG...]]", file=sys.stderr)
        sys.exit(2)
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    return host, int(sys.argv[1])


def listen(host, port):
    """A listening TCP socket with SO_REUSEADDR."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _echo(conn, transform):
    with conn:
        try:
            while data := conn.recv(65536):
                conn.sendall(transform(data))
        except OSError:
            pass


def serve_echo(sock, transform=lambda data: data):
    """Accept forever; one daemon thread per connection echoes transform(data)."""
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=_echo, args=(conn, transform), daemon=True).start()


def log(message):
    print(f"{sys.argv[0].rsplit('/', 1)[-1]}: {message}", file=sys.stderr, flush=True)
