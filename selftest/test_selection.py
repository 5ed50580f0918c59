"""Which targets and checks a run selects, the verdicts it reports (JSON, matrix, exit code),
and that xdist does not change them."""

from __future__ import annotations

import fnmatch
import re

from sockcheck.launch.manifest import load_manifest

from selftest.running import BUNDLED_MANIFEST, C_BIN, UDP_SUITE, TCP_SUITE, c_command, target_toml

ROUNDTRIP = "tcp.echo.roundtrip"


def c_targets(*names: str) -> list[str]:
    binaries = {"c-epoll": "epoll_echo", "c-epoll-et": "epoll_et_echo", "c-poll": "poll_echo",
                "c-select": "select_echo", "c-iterative": "iterative_echo"}
    return [target_toml(name, c_command(binaries[name])) for name in names]


def test_correct_target_passes_with_a_complete_json(sockcheck):
    """A correct server must pass, and the JSON must have the documented shape, seed and node ids."""
    manifest = sockcheck.manifest(target_toml("c-epoll", c_command("epoll_echo"), model="epoll"))
    run = sockcheck.run("--targets-file", str(manifest), "-k", ROUNDTRIP, "--seed", "4242")
    assert run.ret == 0, str(run)
    doc = run.doc
    assert doc["schema"] == 2 and set(doc) == {"schema", "run", "checks", "targets"}
    assert doc["run"]["seed"] == 4242 and doc["run"]["exitstatus"] == 0 and doc["run"]["workers"] == 0
    assert doc["run"]["manifests"] == [str(manifest)]
    entry = doc["targets"]["c-epoll"]
    assert (entry["transport"], entry["model"]) == ("tcp", "epoll")
    cell = entry["checks"][ROUNDTRIP]
    assert set(cell) == {"outcome", "gating", "level", "rule", "duration", "message", "nodeids"}
    assert (cell["level"], cell["rule"], cell["gating"]) == ("must", "RFC 862", False)
    assert doc["checks"][ROUNDTRIP]["rule"]["url"] == "https://www.rfc-editor.org/rfc/rfc862"
    assert cell["outcome"] == "passed" and cell["message"] == "" and cell["duration"] >= 0
    assert cell["nodeids"] == ["suites/tcp/test_echo.py::test_roundtrip[c-epoll]"]
    assert "replay with --seed 4242" in run.stdout


def test_one_liner_replaces_the_bundled_default(sockcheck):
    """--target used to be added to the bundled manifest instead of replacing it."""
    run = sockcheck.run("--target", f"me={C_BIN / 'epoll_echo'} {{port}}", "-k", ROUNDTRIP)
    assert run.ret == 0, str(run)
    assert list(run.doc["targets"]) == ["me"]
    assert run.outcome("me", ROUNDTRIP) == "passed"
    assert run.doc["run"]["manifests"] == []
    assert "1 targets from --target" in run.stdout


def test_one_liner_with_udp_transport(sockcheck):
    """--transport udp must make the one-liner a UDP target (probed by echo, UDP checks applied, TCP checks
    not collected: they used to fill the reports with 506 skips of checks that never could apply)."""
    run = sockcheck.run("--target", f"u={C_BIN / 'udp_echo'} {{port}} {{host}}", "--transport", "udp",
                        "-k", "echo.roundtrip", suites=(TCP_SUITE, UDP_SUITE))
    assert run.ret == 0, str(run)
    assert run.doc["targets"]["u"]["transport"] == "udp"
    assert run.outcome("u", "udp.echo.roundtrip") == "passed"
    # A TCP check never could apply to a UDP target: it is not collected at all (no skip in any report).
    assert ROUNDTRIP not in run.doc["targets"]["u"]["checks"]
    assert "1 passed" in run.stdout.splitlines()[-1] and "skipped" not in run.stdout.splitlines()[-1]


def test_bundled_manifest_and_only_target_globs(sockcheck):
    """Without --targets-file the bundled manifest must be used, and repeated --only-target globs must select exactly their matches."""
    globs = ("c-e*", "c-poll")
    expected = sorted(t.name for t in load_manifest(BUNDLED_MANIFEST)
                      if any(fnmatch.fnmatchcase(t.name, g) for g in globs))
    assert len(expected) >= 2, "the bundled manifest changed: pick other globs"
    run = sockcheck.run("--only-target", globs[0], "--only-target", globs[1], "-k", ROUNDTRIP)
    assert run.ret == 0, str(run)
    assert run.doc["run"]["manifests"] == [str(BUNDLED_MANIFEST)]
    assert sorted(run.doc["targets"]) == expected
    assert all(run.outcome(name, ROUNDTRIP) in ("passed", "xfailed") for name in expected), str(run)


def test_only_target_without_match_is_usage_error(sockcheck):
    """A typo in --only-target used to run nothing and exit green."""
    manifest = sockcheck.manifest(*c_targets("c-epoll", "c-poll"))
    run = sockcheck.run_inprocess("--targets-file", str(manifest), "--only-target", "nomatch")
    assert run.ret == 4, str(run)
    assert run.error_lines() == ["ERROR: --only-target 'nomatch': matches no target (known: c-epoll, c-poll)"], str(run)


def test_no_test_selected_is_an_error(sockcheck):
    """A -k that selects nothing used to exit 5 (or 0 in CI wrappers) as if the run was fine."""
    manifest = sockcheck.manifest(*c_targets("c-epoll"))
    run = sockcheck.run("--targets-file", str(manifest), "-k", "no_such_check")
    assert run.ret == 4, str(run)
    assert "sockcheck: no test case selected" in run.stdout, str(run)
    assert not run.json_path.exists()


def test_undetected_declared_violation_fails_the_run(sockcheck):
    """A declared violation the check does not detect must fail the run (XPASS strict), not pass quietly."""
    manifest = sockcheck.manifest(target_toml("c-epoll", c_command("epoll_echo"),
                                              violates={ROUNDTRIP: "claims to be broken"}))
    run = sockcheck.run("--targets-file", str(manifest), "-k", ROUNDTRIP)
    assert run.ret == 1, str(run)
    assert "XPASS(strict)" in run.stdout
    cell = run.cell("c-epoll", ROUNDTRIP)
    assert cell["outcome"] == "xpassed"
    assert cell["message"] == "declared violation not detected (declared violation: claims to be broken)"
    assert re.search(r"^c-epoll\s+XPASS$", run.stdout, re.M), str(run)


def test_xdist_gives_the_same_verdicts(sockcheck, monkeypatch):
    """Verdicts travel from xdist workers in report.sockcheck; -n 2 must report (and print) what -n 0 does:
    a broken echo fails with a one-line reason, and counts as caught (xfailed) where declared."""
    manifest = sockcheck.manifest(
        *c_targets("c-epoll", "c-iterative"),
        target_toml("c-udp", c_command("udp_echo"), transport="udp"),
        target_toml("wrong", sockcheck.script("corrupts_echo.py"), violates={"tcp.echo.binary": "flips bit 0"}),
        target_toml("dies", sockcheck.script("exits_at_once.py")),
    )
    args = ("--targets-file", str(manifest), "-k", "roundtrip or binary", "--seed", "7")
    monkeypatch.setenv("COLUMNS", "200")
    serial = sockcheck.run(*args, "-n", "0", suites=(TCP_SUITE, UDP_SUITE))
    monkeypatch.setenv("COLUMNS", "30")
    parallel = sockcheck.run(*args, "-n", "2", suites=(TCP_SUITE, UDP_SUITE))
    assert serial.ret == parallel.ret == 1, f"{serial}\n{parallel}"
    assert parallel.doc["run"]["workers"] == 2 and serial.doc["run"]["workers"] == 0
    assert serial.outcomes() == parallel.outcomes()
    assert serial.cell("wrong", "tcp.echo.binary")["outcome"] == "xfailed"
    assert serial.cell("wrong", "tcp.echo.binary")["message"].startswith("binary echo: expected the same 512 bytes")
    assert serial.outcome("wrong", ROUNDTRIP) == "failed"
    message = serial.cell("wrong", ROUNDTRIP)["message"]  # one line: "rule: expected X; got Y"
    assert message.startswith("echo: expected the same 32 bytes back") and "first difference at offset 0" in message
    assert serial.outcome("dies", ROUNDTRIP) == "error"
    assert serial.outcome("c-udp", "udp.echo.roundtrip") == "passed"

    def messages(run):
        return {(t, c): re.sub(r"127\.0\.0\.1:\d+", "ADDR", cell["message"])
                for t, e in run.doc["targets"].items() for c, cell in e["checks"].items()}

    assert messages(serial) == messages(parallel)
    assert_matrix(serial, wide=True)
    assert_matrix(parallel, wide=False)


def assert_matrix(run, wide: bool) -> None:
    """The conformance matrix at the end of the run shows every target's cells, in words or symbols."""
    lines = run.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "sockcheck conformance" in line)
    matrix = "\n".join(lines[start:])
    if wide:  # one block per transport, words
        assert re.search(r"^tcp\s+echo\.roundtrip\s+echo\.binary$", matrix, re.M), matrix
        assert re.search(r"^c-epoll\s+pass\s+pass$", matrix, re.M), matrix
        assert re.search(r"^wrong\s+FAIL\s+xfail$", matrix, re.M), matrix
        assert re.search(r"^dies\s+error\s+error$", matrix, re.M), matrix
        assert re.search(r"^udp\s+echo\.roundtrip$", matrix, re.M), matrix
        assert re.search(r"^c-udp\s+pass$", matrix, re.M), matrix
    else:
        assert re.search(r"^c-epoll     \.\.$", matrix, re.M), matrix
        assert re.search(r"^wrong       Fx$", matrix, re.M), matrix
        assert re.search(r"^c-udp \.$", matrix, re.M), matrix
        assert "pass=." in matrix and "tcp.echo 1 roundtrip" in matrix and "udp.echo 3 roundtrip" in matrix
    assert "dies · tcp.echo.roundtrip [must · RFC 862] → error: dies: exited with status 3" in matrix
    assert "wrong · tcp.echo.roundtrip [must · RFC 862] → FAIL: echo: expected the same 32 bytes" in matrix
    # From another folder than the checkout, the replay names the test file by its absolute path.
    assert re.search(r"replay: pytest '(\S*/)?suites/(tcp|udp)/test_echo.py::test_\w+\[\S+\]' --seed 7 -p no:xdist", matrix)
