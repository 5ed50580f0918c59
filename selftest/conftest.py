"""Fixtures of the self-tests; how runs are started is documented in selftest/running.py."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from selftest.running import Sockcheck, ensure_c_targets

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def c_targets() -> None:
    """The bundled C servers are built (once per worker, serialised by a lock)."""
    ensure_c_targets()


@pytest.fixture
def sockcheck(pytester, monkeypatch, tmp_path, c_targets) -> Sockcheck:
    """Runs sockcheck as a subprocess from a temporary folder; see selftest/running.py."""
    return Sockcheck(pytester, monkeypatch, tmp_path)


@pytest.fixture
def drop_box():
    """A folder any user may write to, for files sandboxed targets leave for a self-test to find
    (pytest's own temporary folders are root-only, and targets run as the sandbox's uid)."""
    folder = Path(tempfile.mkdtemp(prefix="sockcheck-selftest-drop-"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
