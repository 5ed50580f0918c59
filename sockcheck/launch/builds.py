"""The build step of manifest targets: each distinct ``build`` command runs once per run, before
the first launch, in the sandbox the target itself runs in.

As root, a build runs as the sandbox's build uid, which may not write the
user's checkout (a CI runner's clone, a student's home).  Then the build
and its target work in a private copy of the project: the folder the
manifest's paths reach (``make -C ..``, ``../build/srv``), copied into
the run's build folder and given to the build uid; the checkout is never
written, and the copy goes with the run.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import replace
from pathlib import Path

from sockcheck import __version__
from sockcheck import layout
from sockcheck.launch import sandbox as sandbox_mod
from sockcheck.launch.launcher import RUN_ID, describe_exit
from sockcheck.launch.readiness import wrapper_exec_failure
from sockcheck.launch.manifest import TargetSpec

# A compiler needs more than a server: more processes, memory and CPU, and files as large as its output.
BUILD_LIMITS = sandbox_mod.Limits(processes=1024, memory=8 << 30, cpu=900, file_size=1 << 30, open_files=4096)


def run_builds(targets: list[TargetSpec], scale: float = 1.0,
               sandbox: sandbox_mod.Sandbox | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Run each distinct build command once; returns ({target name: one-line failure}, {target name:
    the folder it runs in instead of its own: a private copy its build wrote into}).

    A build step is the target's own code (a student's Makefile), so it runs
    in the sandbox as the target does, with the same minimal environment
    (sandbox.minimal_env).
    """
    outcome: dict[tuple[tuple[str, ...], str], str | None] = {}
    failures: dict[str, str] = {}
    moved: dict[str, str] = {}
    copies: dict[tuple[tuple[str, ...], str], Path | None] = {}
    for spec in targets:
        if not spec.managed or not spec.build:
            continue
        key = (spec.build, str(spec.cwd))
        # The bundled targets are the suite's own code: their build runs as the caller, as `make build`
        # does, so a checkout's edited source is rebuilt in place; any other build is the target's code.
        trusted = layout.is_bundled(spec.source, __version__)
        chosen = sandbox_mod.for_target(sandbox or sandbox_mod.Sandbox(sandbox_mod.OFF, "not asked"),
                                        spec.sandbox and not trusted)
        if key not in copies:
            copies[key] = _private_copy(spec, chosen, len(copies))
        if copies[key] is not None:
            moved[spec.name] = str(copies[key])
            spec = replace(spec, cwd=copies[key])
        if key not in outcome:
            # Only the suite's own builds see the runner's environment (a compiler setting, say).
            env = {**os.environ, **spec.env} if trusted else dict(spec.env)
            outcome[key] = _build(spec, layout.BUILD_TIMEOUT * scale, chosen, env)
        if outcome[key]:
            failures[spec.name] = outcome[key]
    return failures, moved


# A project larger than this is built in place (and needs its folder writable by the build uid).
COPY_LIMIT = 1 << 30


def project_root(spec: TargetSpec) -> Path:
    """The folder a target's build and command work in: its own, or the one above it that they name
    with relative paths (``make -C ..``, ``../build/myserver``)."""
    root = spec.cwd
    for arg in (*spec.build, *spec.command):
        if arg.startswith(("/", "{", "-")) or ("/" not in arg and arg != ".."):
            continue
        root = Path(os.path.commonpath([root, os.path.normpath(spec.cwd / arg)]))
    return root


def builds_folder(run_id: str) -> Path:
    """The run's private copies of projects (root only: the per-version cache folder, outside every
    private tmpfs of a launch), removed at the end of the run."""
    return layout.cache_folder(__version__).parent / "builds" / run_id


def _private_copy(spec: TargetSpec, sandbox: sandbox_mod.Sandbox, number: int) -> Path | None:
    """Copy the project of ``spec`` for its build when the build uid cannot write it; the target's
    folder in the copy, or None to build in place."""
    if sandbox.mode != sandbox_mod.USER:
        return None
    root = project_root(spec)
    if root == Path("/") or _writable_by(root, sandbox.uid):
        return None
    total = 0
    for folder, _, files in os.walk(root):
        total += sum(os.lstat(os.path.join(folder, name)).st_size for name in files)
        if total > COPY_LIMIT:
            return None
    copy = builds_folder(RUN_ID) / f"{number}-{root.name or 'root'}"
    copy.parent.mkdir(parents=True, exist_ok=True)
    for folder in (copy.parent.parent, copy.parent):
        os.chmod(folder, 0o755)  # the sandbox's uids enter it
    shutil.copytree(root, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    for folder, dirs, files in os.walk(copy):
        for name in [folder, *(os.path.join(folder, entry) for entry in dirs + files)]:
            os.lchown(name, sandbox.uid, sandbox.gid)
    return copy / spec.cwd.relative_to(root)


def _writable_by(folder: Path, uid: int | None) -> bool:
    info = os.stat(folder)
    return bool(info.st_mode & (stat.S_IWUSR if info.st_uid == uid else stat.S_IWOTH))


def remove_copies(run_id: str) -> None:
    shutil.rmtree(builds_folder(run_id), ignore_errors=True)


def _build(spec: TargetSpec, timeout: float, sandbox: sandbox_mod.Sandbox, env: dict[str, str]) -> str | None:
    command = " ".join(spec.build)
    try:
        result = sandbox_mod.run_as(sandbox, list(spec.build), BUILD_LIMITS, sandbox_mod.run_folder(RUN_ID),
                                    env, RUN_ID,
                                    cwd=spec.cwd, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                                    start_new_session=True)
    except OSError as exc:
        return f"build {command!r} in {spec.cwd} could not run: {exc.strerror}"
    except subprocess.TimeoutExpired:
        return f"build {command!r} in {spec.cwd} did not finish within {timeout:.0f}s"
    if result.returncode != 0:
        output = result.stdout.decode(errors="replace")
        failed_exec = wrapper_exec_failure(result.returncode, output)
        if failed_exec and sandbox.mode != sandbox_mod.OFF:
            program, reason = failed_exec
            return f"build {command!r} in {spec.cwd} could not run: cannot execute {program}: {reason}"
        lines = [l for l in output.splitlines() if l.strip()]
        hint = ""
        if sandbox.mode == sandbox_mod.USER and "Permission denied" in output:
            hint = (f" (the build runs as the sandbox user, uid {sandbox.uid}: build beforehand, make "
                    f"{project_root(spec)} writable by it, or set sandbox = false for this target)")
        # A compiler killed by a signal (the memory limit's SIGKILL, a SIGSEGV) says which.
        ended = f"failed with status {result.returncode}" if result.returncode > 0 else describe_exit(result.returncode)
        return f"build {command!r} in {spec.cwd} {ended}: {' | '.join(lines[-3:])}{hint}"
    return None
