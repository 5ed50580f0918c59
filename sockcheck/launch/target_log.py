"""A target's combined stdout and stderr, kept bounded and drained by a thread of its own, read
with its control characters escaped (sockcheck/printable.py)."""

from __future__ import annotations

import os
import select
import threading
from collections import deque

from sockcheck.printable import printable

LOG_HEAD_BYTES = 16 * 1024
LOG_TAIL_BYTES = 48 * 1024
LOG_READ_CHUNK = 1 << 20


class BoundedLog:
    """A target's combined stdout/stderr: the first and last kilobytes, whatever it prints.

    A reader thread drains the pipe continuously, so a target that floods its
    output never blocks on a full pipe and never fills the disk.
    """

    def __init__(self) -> None:
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.total = 0
        self._lock = threading.Lock()
        self._reading = threading.Lock()  # one reader of the pipe at a time: chunks stay in order
        self._fd: int | None = None
        self._thread: threading.Thread | None = None

    def feed(self, chunk: bytes) -> None:
        with self._lock:
            self.total += len(chunk)
            room = LOG_HEAD_BYTES - len(self._head)
            if room > 0:
                self._head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self._tail.append(chunk[-LOG_TAIL_BYTES:])
                self._tail_size += len(self._tail[-1])
                while self._tail_size - len(self._tail[0]) >= LOG_TAIL_BYTES:
                    self._tail_size -= len(self._tail.popleft())

    def drain(self, fd: int) -> None:
        """Start the reader thread on ``fd`` (closed by the thread at EOF)."""
        os.set_blocking(fd, False)
        self._fd = fd

        def read_until_eof() -> None:
            ready = select.poll()  # not select(): the worker may hold more than FD_SETSIZE descriptors
            ready.register(fd, select.POLLIN)
            try:
                while True:
                    ready.poll()
                    if not self._read_available():
                        return
            finally:
                with self._reading:
                    self._fd = None
                    os.close(fd)

        self._thread = threading.Thread(target=read_until_eof, name="sockcheck-log", daemon=True)
        self._thread.start()

    def _read_available(self) -> bool:
        """Feed what the pipe holds now; False at EOF."""
        with self._reading:
            while self._fd is not None:
                try:
                    chunk = os.read(self._fd, LOG_READ_CHUNK)
                except BlockingIOError:
                    return True
                if not chunk:
                    return False
                self.feed(chunk)
            return False

    def settle(self) -> None:
        """Take into the log all the target has written so far, without waiting for more.

        A target that dies of a limit prints why (a traceback) before its
        sockets close, so once a check has seen the close, the reason is in
        the pipe, if not yet in the log.
        """
        self._read_available()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def text(self) -> str:
        with self._lock:
            head = bytes(self._head)
            tail = b"".join(self._tail)[-LOG_TAIL_BYTES:]
            omitted = self.total - len(head) - len(tail)
        body = head.decode(errors="replace")
        if omitted > 0:
            body += f"\n[... {omitted} bytes omitted ...]\n"
        return printable(body + tail.decode(errors="replace"))

    def last_lines(self, count: int = 5) -> str:
        lines = [line for line in self.text().splitlines() if line.strip()]
        return " | ".join(lines[-count:]) if lines else "(no output)"
