"""tcp.limits.*: how far tcp.limits.select-fd got, and how a server that passed FD_SETSIZE died."""

from __future__ import annotations

from dataclasses import dataclass

FORTIFY_MARK = "bit out of range"  # in glibc's "*** bit out of range 0 - FD_SETSIZE on fd_set ***"


@dataclass
class Tally:
    """How far tcp.limits.select-fd got: how many connections were echoed or closed by the server."""

    total: int
    echoed: int = 0
    closed: int = 0

    def count(self, kind: str) -> None:
        """One more connection of ``kind``: "echoed" or "closed"."""
        setattr(self, kind, getattr(self, kind) + 1)

    def counts(self) -> str:
        """``961 echoed and held, 0 closed by the server``."""
        return f"{self.echoed} echoed and held, {self.closed} closed by the server"

    def progress(self, done: int) -> str:
        """``connection #962 of 1100, after 961 echoed and held, 0 closed by the server``."""
        if done >= self.total:
            return f"all {self.total} connections: {self.counts()}"
        return f"connection #{done + 1} of {self.total}, after {self.counts()}"


def select_death(status: int | None, log: str) -> str:
    """How the server died, from its exit status and its log.

    glibc's _FORTIFY_SOURCE aborts FD_SET on a descriptor >= FD_SETSIZE
    with a message in the log; without it, the write past the fd_set is
    memory corruption, and a death by a signal is its likely end.
    """
    how = f"the server died (status {status})"
    if status is not None and status < 0:
        how = f"the server died of signal {-status}"
    if FORTIFY_MARK in log:
        how += (": glibc's FORTIFY check aborted it ('*** bit out of range 0 - FD_SETSIZE on fd_set ***': "
                "FD_SET on an fd >= 1024)")
    elif status is not None and status < 0:
        how += " (memory corruption: FD_SET on an fd >= 1024 writes past the fd_set)"
    return how
