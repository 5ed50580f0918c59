"""The worker's network namespace: a TCP connection table of its own."""

from __future__ import annotations

import os

import pytest

from sockcheck.launch import isolation

CHILD_EHASH = "/proc/sys/net/ipv4/tcp_child_ehash_entries"
TW_BUCKETS = "/proc/sys/net/ipv4/tcp_max_tw_buckets"
SYN_BACKLOG = "/proc/sys/net/ipv4/tcp_max_syn_backlog"


def test_a_worker_namespace_gets_a_connection_table_of_its_own(monkeypatch):
    """The kernel sizes a namespace's TIME_WAIT limit (half) and max_syn_backlog (1/128) by its
    connection table: with a table of its own they follow CONNECTION_TABLE_ENTRIES, not the machine's
    memory.  A smaller table than any machine's default shows that the table is the namespace's own."""
    if not os.path.exists(CHILD_EHASH):
        pytest.skip("the kernel has no per-namespace TCP connection table (before Linux 6.1)")
    if not isolation.can_create_network_namespace():
        pytest.skip("no permission to create a network namespace")
    monkeypatch.setattr(isolation, "CONNECTION_TABLE_ENTRIES", 1 << 16)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which leaves its namespaces as it exits
        try:
            own = isolation._libc.unshare(isolation.CLONE_NEWNET) == 0 and isolation._own_connection_table()
            with open(TW_BUCKETS) as tw, open(SYN_BACKLOG) as syn:
                os.write(write_end, f"{own} {tw.read().strip()} {syn.read().strip()}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as answer:
        reply = answer.read()
    os.waitpid(pid, 0)
    assert reply == "True 32768 512", reply
