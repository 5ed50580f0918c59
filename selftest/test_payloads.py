"""Seeded payloads: the same bytes for the same seed and name, no NUL, no repeats within a stream."""

from __future__ import annotations

import pytest

from sockcheck.net.payloads import BLOCK, WINDOWED, Payloads


@pytest.mark.parametrize("size", [1, 4096, WINDOWED - 1, WINDOWED, BLOCK, BLOCK + 1])
def test_deterministic_and_without_nul(size):
    first = Payloads(7, "tcp.echo.large", "c-epoll").data(size)
    assert len(first) == size
    assert first == Payloads(7, "tcp.echo.large", "c-epoll").data(size)
    assert 0 not in first


@pytest.mark.parametrize("size", [4096, WINDOWED, BLOCK])
def test_streams_differ_by_seed_target_and_label(size):
    base = Payloads(7, "tcp.echo.large", "c-epoll").data(size)
    assert base != Payloads(8, "tcp.echo.large", "c-epoll").data(size)
    assert base != Payloads(7, "tcp.echo.large", "c-poll").data(size)
    assert base != Payloads(7, "tcp.echo.large", "c-epoll").data(size, "other")


def test_a_window_never_repeats_itself():
    """A server that drops or repeats a stretch of a large stream must not give back the expected bytes."""
    stream = Payloads(7, "tcp.backpressure.slow-reader", "c-epoll").data(BLOCK)
    for at in (0, WINDOWED, BLOCK // 2, BLOCK - 64):
        assert stream.find(stream[at:at + 32], at + 1) == -1
