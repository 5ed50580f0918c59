"""A correct echo server that opens four descriptors when its first client arrives, as runtimes open
their poller's descriptors on first use (Go: an epoll fd and an eventfd pipe).  tcp.process.fd-leak
used to count them as a leak: its baseline was read before any connection."""

import os
import socket
import threading

from _serve import args, listen, log

host, port = args()
sock = listen(host, port)
log("listening; descriptors opened on first use")
lazy = []


def echo(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


while True:
    conn, _ = sock.accept()
    if not lazy:
        lazy += [*os.pipe(), *os.pipe()]
    threading.Thread(target=echo, args=(conn,), daemon=True).start()
