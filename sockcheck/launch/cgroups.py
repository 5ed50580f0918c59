"""A control group per target launch: everything the target makes stays in it, and teardown kills it all.

A process cannot leave its cgroup on its own (the cgroup files are
root's), so a double fork, ``setsid()``, an emptied environment or a
reparenting to init changes nothing: ``kill()`` finds every process of the
launch.  The group also caps the launch as a whole, where rlimits only cap
each process: ``pids.max`` (processes and threads) and the memory
controller's limit (bytes of memory in use, all processes together); when
the kernel's OOM killer or the pids limit struck, ``limit_reached()`` says so.

Both cgroup versions: v1 (a hierarchy per controller, as on this suite's
CI machine: pids, memory and freezer are used) and v2 (one unified
hierarchy, where ``cgroup.kill`` ends a group at once).  Groups live under
``sockcheck/RUN_ID/`` of each hierarchy; ``sweep_run()`` removes what a
killed worker left.  Without root, or without the controllers, there is no
group: the launcher's process tracking (proctree.py) is all there is, and
the run's header says so.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from sockcheck.polling import poll_until

ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("pids", "memory", "freezer")
V2_CONTROLLERS = ("pids", "memory")
KILL_TIMEOUT = 5.0  # seconds for the killed processes of a group to be gone


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write(path: Path, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


def _v2_root() -> Path | None:
    """The unified hierarchy when it is the only one and delegates pids and memory to its children."""
    if not (ROOT / "cgroup.controllers").exists():
        return None
    return ROOT if set(V2_CONTROLLERS) <= set(_read(ROOT / "cgroup.subtree_control").split()) else None


def unavailable() -> str | None:
    """Why launches cannot get a cgroup here, or None when they can."""
    if os.geteuid() != 0:
        return "not root"
    if _v2_root() is not None:
        return None
    missing = [name for name in V1_CONTROLLERS if not (ROOT / name / "cgroup.procs").exists()]
    return f"no cgroup controller {', '.join(missing)}" if missing else None


@dataclass
class LaunchGroup:
    """One launch's cgroup: a folder in each v1 hierarchy used, or one in the unified one."""

    folders: list[Path]
    version: int
    memory: int  # the memory limit set, in bytes
    processes: int  # the pids limit set

    @property
    def join(self) -> list[Path]:
        """The folders a process must enter (sockcheck-enter --cgroup)."""
        return self.folders

    def pids(self) -> set[int]:
        """Live processes of the group (a zombie has left it already)."""
        return {int(pid) for pid in _read(self.folders[0] / "cgroup.procs").split()}

    def kill(self, timeout: float = KILL_TIMEOUT) -> bool:
        """SIGKILL every process of the group, frozen first so that none can fork meanwhile; True once
        the group is empty."""
        if self.version == 2:
            try:
                _write(self.folders[0] / "cgroup.kill", "1")
            except OSError:  # before Linux 5.14: freeze, kill, thaw as below
                self._kill_frozen(self.folders[0] / "cgroup.freeze", "1", "0")
        else:
            freezer = next((folder for folder in self.folders if _controller(folder) == "freezer"), None)
            self._kill_frozen(freezer / "freezer.state" if freezer else None, "FROZEN", "THAWED")
        return poll_until(self.pids, lambda pids: not pids, timeout)[0]

    def _kill_frozen(self, state: Path | None, frozen: str, thawed: str) -> None:
        try:
            if state is not None:
                _write(state, frozen)
        except OSError:
            state = None
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        finally:
            try:
                if state is not None:
                    _write(state, thawed)  # a frozen process does not die until thawed
            except OSError:
                pass

    def limit_reached(self) -> str | None:
        """Which of the group's limits the kernel enforced, in the target's terms; None if neither."""
        memory = next((folder for folder in self.folders if _controller(folder) in ("memory", "unified")), None)
        events = _read(memory / ("memory.events" if self.version == 2 else "memory.oom_control")) if memory else ""
        if _counter(events, "oom_kill"):
            return (f"the target exceeded its memory limit of {self.memory} bytes in all (the kernel's OOM "
                    "killer ended a process of it)")
        pids = next((folder for folder in self.folders if _controller(folder) in ("pids", "unified")), None)
        if pids is not None and _counter(_read(pids / "pids.events"), "max"):
            return f"the target exceeded its {self.processes} processes and threads in all (fork() said EAGAIN)"
        return None

    def remove(self) -> None:
        """Remove the group's folders (once empty; a folder still busy is left to sweep_run), and the
        run's folder and sockcheck/ above them once no other group is left in them."""
        for folder in self.folders:
            for empty in (folder, folder.parent, folder.parent.parent):
                try:
                    empty.rmdir()
                except OSError:
                    break


def _controller(folder: Path) -> str:
    """``pids``, ``memory`` or ``freezer`` for a folder of a v1 hierarchy; ``unified`` for v2."""
    name = folder.relative_to(ROOT).parts[0]
    return name if name in V1_CONTROLLERS else "unified"


def _counter(text: str, name: str) -> int:
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == name and value.strip().isdigit():
            return int(value)
    return 0


def _run_folders(run_id: str) -> list[Path]:
    v2 = _v2_root()
    if v2 is not None:
        return [v2 / "sockcheck" / run_id]
    return [ROOT / name / "sockcheck" / run_id for name in V1_CONTROLLERS]


def create(run_id: str, name: str, memory: int, processes: int) -> LaunchGroup:
    """A fresh group for one launch, with its limits; OSError when the kernel refuses."""
    v2 = _v2_root()
    folders = []
    try:
        for run_folder in _run_folders(run_id):
            if v2 is not None:
                _enable_v2(run_folder)
            folder = run_folder / name
            for attempt in range(3):  # another launch may remove the emptied run folder meanwhile
                try:
                    folder.mkdir(parents=True)
                    break
                except FileNotFoundError:
                    if attempt == 2:
                        raise
            folders.append(folder)
            controller = _controller(folder)
            if controller in ("pids", "unified"):
                _write(folder / "pids.max", str(processes))
            if controller == "memory":
                _write(folder / "memory.limit_in_bytes", str(memory))
            if controller == "unified":
                _write(folder / "memory.max", str(memory))
    except OSError:
        for folder in folders:
            try:
                folder.rmdir()
            except OSError:
                pass
        raise
    return LaunchGroup(folders, 2 if v2 is not None else 1, memory, processes)


def _enable_v2(run_folder: Path) -> None:
    """Let the groups under ``run_folder`` use pids and memory (v2 delegates controllers level by level)."""
    for folder in (run_folder.parent, run_folder):
        folder.mkdir(exist_ok=True)
        present = set(_read(folder / "cgroup.subtree_control").split())
        for controller in V2_CONTROLLERS:
            if controller not in present:
                _write(folder / "cgroup.subtree_control", f"+{controller}")


def sweep_run(run_id: str) -> int:
    """Kill and remove every group of the run that is left (a killed worker's); how many there were."""
    if unavailable():
        return 0
    run_folders = [folder for folder in _run_folders(run_id) if folder.is_dir()]
    names = sorted({group.name for folder in run_folders for group in folder.iterdir() if group.is_dir()})
    version = 2 if _v2_root() is not None else 1
    for name in names:
        group = LaunchGroup([folder / name for folder in run_folders if (folder / name).is_dir()], version, 0, 0)
        group.kill()
        group.remove()
    for folder in run_folders:
        for empty in (folder, folder.parent):  # sockcheck/ itself goes once no run uses it
            try:
                empty.rmdir()
            except OSError:
                pass
    return len(names)
