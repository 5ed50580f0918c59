"""The server's model as observed, and whether the manifest's ``model`` claim agrees with it.

tcp.concurrency.parallel holds 64 clients connected and reads the server's
process tree while they are served: how many clients got their bytes back,
how many processes and threads the tree grew by, and whether an epoll
instance is among its descriptors.  From that, one of a few models, in the
words of the socket textbooks.  A manifest's ``model`` is a claim: the
reports say when it disagrees with what was seen.
"""

from __future__ import annotations

from dataclasses import dataclass

ONE_AT_A_TIME = "one client at a time"
PROCESS_PER_CONNECTION = "a process per connection"
THREAD_PER_CONNECTION = "a thread per connection"
EVENT_LOOP_EPOLL = "an event loop (epoll)"
EVENT_LOOP_SELECT = "an event loop (select or poll)"
POOL = "a fixed pool of processes or threads"

# What each declared model may be seen as.  "other" claims nothing.
AGREES = {
    "iterative": {ONE_AT_A_TIME},
    "process": {PROCESS_PER_CONNECTION, POOL},
    "thread": {THREAD_PER_CONNECTION, POOL},
    "select": {EVENT_LOOP_SELECT},
    "poll": {EVENT_LOOP_SELECT},
    "epoll": {EVENT_LOOP_EPOLL},
    "epoll-et": {EVENT_LOOP_EPOLL},
    "asyncio": {EVENT_LOOP_EPOLL},
}


@dataclass(frozen=True)
class Observation:
    """The server's process tree with ``served`` clients served at once, against the tree before they came."""

    served: int
    processes: int  # processes the tree grew by
    threads: int  # threads the tree grew by (its new processes' own threads included)
    epoll: bool  # an epoll instance among the tree's descriptors
    base_processes: int = 1  # the tree before the clients came
    base_threads: int = 1


def observed_model(seen: Observation) -> str:
    """The model in words: per connection when the growth matches the clients served (at least half of
    them: a client may end while another starts); else an event loop (epoll) whatever threads a runtime
    keeps; else a pool when there are several processes or threads; else one thread with select or poll."""
    if seen.served <= 1:
        return ONE_AT_A_TIME
    if seen.processes * 2 >= seen.served:
        return PROCESS_PER_CONNECTION
    if seen.threads * 2 >= seen.served:
        return THREAD_PER_CONNECTION
    if seen.epoll:
        return EVENT_LOOP_EPOLL  # runtimes keep threads of their own (a JVM, Go): the loop is what serves
    if seen.processes or seen.threads or seen.base_threads > seen.base_processes:
        return POOL  # threads started before the clients came, or fewer new ones than clients
    return EVENT_LOOP_SELECT  # (a pool of processes forked before the clients came looks the same)


def claim_disagrees(declared: str, observed: str) -> bool:
    """Whether a manifest's ``model`` says otherwise than what was seen (``other`` claims nothing)."""
    return declared in AGREES and observed not in AGREES[declared]
