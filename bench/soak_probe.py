"""pytest plugin loaded by bench/soak (``-p soak_probe``): the suite's own descriptors, before and after.

Every pytest process of a run (controller, xdist workers, or the single
process) lists /proc/self/fd at its earliest pytest_configure and again at
its latest pytest_unconfigure, after the harness closed its targets, and
writes what was opened and never closed to $SOCKCHECK_SOAK_FD_DIR.  A
client socket a check forgot, a log pipe never closed, a capture socket
left open: each shows up there with what it points to.  It is kept out of
the harness: the soak measures the suite, the suite does not measure itself.
"""

from __future__ import annotations

import json
import os

import pytest

FD_DIR_VARIABLE = "SOCKCHECK_SOAK_FD_DIR"
_before: dict[int, str] = {}


def socket_kinds() -> dict[str, str]:
    """{socket inode: protocol} from this process's network namespace, so a leak says what it is."""
    # Column of the inode in each table's data lines (the tcp/udp headers have more words than columns).
    columns = {"tcp": 9, "tcp6": 9, "udp": 9, "udp6": 9, "raw": 9, "raw6": 9, "packet": 8, "unix": 6, "netlink": 9}
    kinds = {}
    for proto, column in columns.items():
        try:
            with open(f"/proc/self/net/{proto}") as fh:
                next(fh, None)
                for line in fh:
                    fields = line.split()
                    if len(fields) > column:
                        kinds[fields[column]] = proto
        except OSError:
            continue
    return kinds


def open_descriptors() -> dict[int, str]:
    """{fd: what it points to} for this process (the listing's own directory fd excluded)."""
    out = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            out[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the fd of the listing itself, closed by now
            continue
    return out


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Descriptors open before the suite's own configure runs (tryfirst)."""
    _before.clear()
    _before.update(open_descriptors())


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Descriptors open after the harness closed everything (trylast); new ones go to the report folder."""
    folder = os.environ.get(FD_DIR_VARIABLE)
    if not folder:
        return
    after = open_descriptors()
    # An fd number reused for something else counts as new too.
    new = {fd: what for fd, what in after.items() if _before.get(fd) != what}
    kinds = socket_kinds() if any(w.startswith("socket:[") for w in new.values()) else {}
    new = {fd: f"{what} ({kinds[what[8:-1]]})" if what[8:-1] in kinds else what for fd, what in new.items()}
    role = os.environ.get("PYTEST_XDIST_WORKER") or ("controller" if getattr(config.option, "numprocesses", None)
                                                     else "single")
    record = {"role": role, "pid": os.getpid(), "before": len(_before), "after": len(after),
              "new": {str(fd): what for fd, what in sorted(new.items())}}
    path = os.path.join(folder, f"{role}-{os.getpid()}.json")
    with open(path, "w") as fh:
        json.dump(record, fh)
