"""The build step of manifest targets: each distinct ``build`` command runs once per run, before
the first launch, in the sandbox the target itself runs in."""

from __future__ import annotations

import os
import subprocess

from sockcheck import __version__
from sockcheck import layout
from sockcheck.launch import sandbox as sandbox_mod
from sockcheck.launch.launcher import RUN_ID, describe_exit
from sockcheck.launch.readiness import wrapper_exec_failure
from sockcheck.launch.manifest import TargetSpec

# A compiler needs more than a server: more processes, memory and CPU, and files as large as its output.
BUILD_LIMITS = sandbox_mod.Limits(processes=1024, memory=8 << 30, cpu=900, file_size=1 << 30, open_files=4096)


def run_builds(targets: list[TargetSpec], scale: float = 1.0,
               sandbox: sandbox_mod.Sandbox | None = None) -> dict[str, str]:
    """Run each distinct build command once; returns {target name: one-line failure}.

    A build step is the target's own code (a student's Makefile), so it runs
    in the sandbox as the target does, with the same minimal environment
    (sandbox.minimal_env); its folder must be writable by the sandbox user
    when there is something to build.
    """
    outcome: dict[tuple[tuple[str, ...], str], str | None] = {}
    failures: dict[str, str] = {}
    for spec in targets:
        if not spec.managed or not spec.build:
            continue
        key = (spec.build, str(spec.cwd))
        if key not in outcome:
            # The bundled targets are the suite's own code: their build runs as the caller, as `make build`
            # does, so a checkout's edited source is rebuilt in place; any other build is the target's code.
            trusted = layout.is_bundled(spec.source, __version__)
            chosen = sandbox_mod.for_target(sandbox or sandbox_mod.Sandbox(sandbox_mod.OFF, "not asked"),
                                            spec.sandbox and not trusted)
            # Only the suite's own builds see the runner's environment (a compiler setting, say).
            env = {**os.environ, **spec.env} if trusted else dict(spec.env)
            outcome[key] = _build(spec, layout.BUILD_TIMEOUT * scale, chosen, env)
        if outcome[key]:
            failures[spec.name] = outcome[key]
    return failures


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
            hint = (f" (the build runs as the sandbox user, uid {sandbox.uid}: build beforehand, make {spec.cwd} "
                    "writable by it, or set sandbox = false for this target)")
        # A compiler killed by a signal (the memory limit's SIGKILL, a SIGSEGV) says which.
        ended = f"failed with status {result.returncode}" if result.returncode > 0 else describe_exit(result.returncode)
        return f"build {command!r} in {spec.cwd} {ended}: {' | '.join(lines[-3:])}{hint}"
    return None
