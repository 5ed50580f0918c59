"""What fails the run: verdict levels, --gate, a target's manifest gate, --baseline and --write-violations.

The end-to-end runs use the C iterative server claiming `concurrent`: it fails
tcp.concurrency.idle-peer (a should-level rule) and tcp.concurrency.parallel
(a capacity figure) every time, in about two seconds each, so each gating mode
shows on real reports: pytest's exit status and summary, the JSON and the
terminal lines.
"""

from __future__ import annotations

import json
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sockcheck.verdicts.catalogue import CAPACITY, CATALOGUE, MUST, SHOULD
from sockcheck.verdicts.matrix import render_matrix
from sockcheck.verdicts.table import Verdicts
from sockcheck.verdicts.violations import render_violations
from selftest.cases import record
from sockcheck.verdicts.gating import Baseline, Gate, GateError, compare, load_baseline, parse_gate
from selftest.running import ROOT, TCP_SUITE, c_command, target_toml, write_manifest

CONCURRENCY_SUITE = ROOT / "suites" / "tcp" / "test_concurrency.py"
IDLE, PARALLEL, ROUNDTRIP = "tcp.concurrency.idle-peer", "tcp.concurrency.parallel", "tcp.echo.roundtrip"


# -- the gate, as a pure function ------------------------------------------------------

@pytest.mark.parametrize(("gate", "outcome", "level", "fails"), [
    (Gate(), "failed", MUST, True),
    (Gate(), "failed", SHOULD, True),
    (Gate(), "below", CAPACITY, False),
    (Gate("must"), "failed", SHOULD, False),
    (Gate("must"), "failed", MUST, True),
    (Gate("capacity"), "below", CAPACITY, True),
    (Gate("must"), "xpassed", SHOULD, True),  # a declared violation not detected fails every gate
    (Gate("must"), "error", CAPACITY, True),  # so does a harness error
    (Gate("capacity"), "inconclusive", MUST, False),  # never
    (Gate("capacity"), "xfailed", MUST, False),
    (Gate("capacity"), "passed", MUST, False),
])
def test_gate_decides_by_outcome_and_level(gate, outcome, level, fails):
    assert gate.gates(outcome, level) is fails


def test_target_gate_is_the_default_and_the_option_overrides_it():
    """A target's manifest gate applies when --gate names no level; a level on the command line wins."""
    assert Gate().gates("failed", SHOULD, target_gate="must") is False
    assert Gate().gates("below", CAPACITY, target_gate="capacity") is True
    assert Gate("should").gates("failed", SHOULD, target_gate="must") is True
    assert Gate("must").gates("below", CAPACITY, target_gate="capacity") is False


@pytest.mark.parametrize(("before", "fails"), [
    ("passed", True), ("xfailed", True),  # was matching: a regression
    ("failed", False), ("below", False), ("error", False),  # already a problem
    (None, False), ("skipped", False), ("inconclusive", False),  # no verdict then: new, not a regression
])
def test_regressions_gate_only_what_matched_in_the_baseline(before, fails):
    assert Gate(regressions=True).gates("failed", MUST, baseline_outcome=before) is fails
    assert Gate(regressions=True).gates("error", MUST, baseline_outcome=before) is True


@pytest.mark.parametrize(("values", "message"), [
    (["strict"], "--gate 'strict': not one of must, should, capacity, regressions"),
    (["must", "capacity"], "--gate must capacity: give one level at most"),
    (["must,capacity"], "--gate must capacity: give one level at most"),
    (["regressions"], "--gate regressions: needs --baseline PATH"),
])
def test_parse_gate_rejects(values, message):
    with pytest.raises(GateError) as caught:
        parse_gate(values, have_baseline=False)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_parse_gate_accepts():
    assert parse_gate([], have_baseline=False) == Gate()
    assert parse_gate(["capacity", "regressions"], have_baseline=True) == Gate("capacity", True)
    assert parse_gate(["must,regressions"], have_baseline=True) == Gate("must", True)


def test_compare_sorts_regressions_fixes_and_new():
    baseline = Baseline("b.json", {"t": {ROUNDTRIP: "passed", IDLE: "failed", PARALLEL: "skipped"}})
    table = {"t": {ROUNDTRIP: {"outcome": "failed", "message": "m"}, IDLE: {"outcome": "passed"},
                   PARALLEL: {"outcome": "below", "message": "p"}, "tcp.echo.binary": {"outcome": "passed"}}}
    diff = compare(baseline, table)
    assert [(c.check, c.before, c.after) for c in diff.regressed] == [(ROUNDTRIP, "passed", "failed")]
    assert [(c.check, c.before, c.after) for c in diff.fixed] == [(IDLE, "failed", "passed")]
    assert [(c.check, c.before, c.after) for c in diff.new] == [(PARALLEL, "skipped", "below")]
    assert diff.new_cases == 2


@pytest.mark.parametrize(("text", "fragment"), [
    ("{", "not a conformance JSON"),
    ('{"schema": 7, "targets": {}}', "key 'schema': 7 is not a conformance JSON schema"),
    ('{"schema": 2, "targets": []}', "key 'targets': expected an object"),
    ('{"schema": 2, "targets": {"t": {"checks": {"x": {"outcome": 3}}}}}', "target 't': check 'x': key 'outcome'"),
])
def test_load_baseline_rejects(tmp_path, text, fragment):
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(GateError) as caught:
        load_baseline(path)
    assert str(caught.value).startswith(f"--baseline {path}: ") and fragment in str(caught.value)


def test_violations_fragment_loads_as_toml():
    """The fragment must be TOML a manifest can take: quotes, backslashes and pipes in messages escaped."""
    v = Verdicts(targets={"me": {"transport": "tcp", "model": "other"}}, check_order=list(CATALOGUE))
    record(v, "a[me]", "me", ROUNDTRIP, ("failed", 'got "x" \\ y\n'))
    record(v, "b[me]", "me", PARALLEL, ("below", "24 of 64"))
    record(v, "c[me]", "me", IDLE, ("xfailed", "caught"))
    text = render_violations(v, {"me": {IDLE: "iterative"}}, {"seed": 1})
    (entry,) = tomllib.loads(text)["target"]
    assert entry["name"] == "me" and entry["violates"][IDLE] == "iterative"
    assert entry["violates"][ROUNDTRIP].startswith("TODO: ") and 'got "x" \\ y' in entry["violates"][ROUNDTRIP]
    assert "24 of 64" in entry["violates"][PARALLEL]
    assert "# FAIL [must · RFC 862]" in text and "# below [capacity · RFC 9293 §2.2]" in text


# -- usage errors -------------------------------------------------------------------------

def one_line_usage_error(run, fragment: str) -> None:
    assert run.ret == 4, str(run)
    assert "Traceback" not in run.text and "INTERNALERROR" not in run.text, str(run)
    assert run.error_lines() == [run.error_lines()[0]] and run.error_lines()[0].startswith("ERROR: "), str(run)
    assert fragment in run.error_lines()[0], str(run)


@pytest.mark.parametrize(("args", "fragment"), [
    (["--gate", "strict"], "--gate 'strict': not one of must, should, capacity, regressions"),
    (["--gate", "must", "--gate", "capacity"], "--gate must capacity: give one level at most"),
    (["--gate", "regressions"], "--gate regressions: needs --baseline PATH"),
    (["--baseline", "{tmp}/nowhere.json"], "--baseline {tmp}/nowhere.json: no such file"),
    (["--baseline", "{tmp}/targets.toml"], "--baseline {tmp}/targets.toml: not a conformance JSON"),
    (["--write-violations", "{tmp}"], "--write-violations {tmp}: is a folder"),
])
def test_bad_gate_options_are_one_line_usage_errors(sockcheck, args, fragment):
    """A typo in --gate must not run the suite under a gate nobody asked for."""
    manifest = sockcheck.manifest(target_toml("c-epoll", c_command("epoll_echo")))
    tmp = str(sockcheck.tmp_path)
    run = sockcheck.run_inprocess("--targets-file", str(manifest), *(a.replace("{tmp}", tmp) for a in args))
    one_line_usage_error(run, fragment.replace("{tmp}", tmp))


def test_bad_gate_option_exits_4_in_a_real_process(sockcheck):
    manifest = sockcheck.manifest(target_toml("c-epoll", c_command("epoll_echo")))
    one_line_usage_error(sockcheck.run("--targets-file", str(manifest), "--gate", "capacity,must"), "one level at most")


# -- one mode per run ------------------------------------------------------------------------

def iterative(gate: str | None = None) -> str:
    keys = {"gate": gate} if gate else {}
    return target_toml("iter", c_command("iterative_echo"), model="iterative", capabilities=["concurrent"], **keys)


# mode: (manifest gate, options, exit status, pytest's summary, gating of idle-peer and of parallel)
MODES = {
    "default": (None, [], 1, "1 failed, 1 skipped", True, False),
    "--gate must": (None, ["--gate", "must"], 0, "2 skipped", False, False),
    "--gate capacity": (None, ["--gate", "capacity"], 1, "2 failed", True, True),
    "manifest gate must": ("must", [], 0, "2 skipped", False, False),
    "--gate capacity over manifest gate must": ("must", ["--gate", "capacity"], 1, "2 failed", True, True),
    "default under xdist": (None, ["-n", "2"], 1, "1 failed, 1 skipped", True, False),
}


@pytest.mark.parametrize("mode", list(MODES))
def test_gating_mode(sockcheck, mode):
    """A should-level failure fails the run by default and not with --gate must; a capacity figure below its
    threshold is its own outcome ("below") that fails the run only with --gate capacity. What does not gate
    is no pytest failure either (a skip that says why), so pytest's exit status, its summary and JUnit agree."""
    manifest_gate, options, status, summary, idle_gates, parallel_gates = MODES[mode]
    manifest = sockcheck.manifest(iterative(manifest_gate))
    run = sockcheck.run("--targets-file", str(manifest), "-k", "idle_peer or parallel", "-rs", *options,
                        suites=(CONCURRENCY_SUITE,))
    assert run.ret == status, str(run)
    assert run.stdout.strip().splitlines()[-1].strip("= ").startswith(summary), str(run)
    idle, parallel = run.cell("iter", IDLE), run.cell("iter", PARALLEL)
    assert (idle["outcome"], idle["level"], idle["gating"]) == ("failed", SHOULD, idle_gates)
    assert (parallel["outcome"], parallel["level"], parallel["gating"]) == ("below", CAPACITY, parallel_gates)
    assert parallel["message"].startswith("parallel clients: expected each of 64 clients"), parallel["message"]
    assert run.doc["targets"]["iter"]["gate"] == manifest_gate
    idle_line = f"iter · {IDLE} [should · POSIX recv()] → FAIL{'' if idle_gates else ' (not gating)'}: idle peer:"
    parallel_line = f"iter · {PARALLEL} [capacity · RFC 9293 §2.2] → below{' (gating)' if parallel_gates else ''}:"
    assert idle_line in run.stdout and parallel_line in run.stdout, str(run)
    # pytest's own skip summary (-rs) says what was found and why it does not fail the run.
    level_gate = "capacity" if parallel_gates else ("must" if not idle_gates else "should")
    skipped = [line for line in run.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == (not idle_gates) + (not parallel_gates), str(run)
    if not parallel_gates:
        assert any(f"not gating (a capacity-level verdict under the {level_gate} gate; --gate capacity fails on it): "
                   "parallel clients:" in line for line in skipped), skipped
    if not idle_gates:
        assert any("not gating (a should-level verdict under the must gate; --gate should fails on it): idle peer:"
                   in line for line in skipped), skipped


def test_allure_and_junit_follow_the_gate(sockcheck, tmp_path):
    """Allure: severity from the level, a link to the rule; a verdict that does not gate is *skipped* with a
    message that says what was found. JUnit: the level, the rule and the verdict as properties."""
    manifest = sockcheck.manifest(iterative())
    allure_dir, junit = tmp_path / "allure", tmp_path / "junit.xml"
    run = sockcheck.run("--targets-file", str(manifest), "-k", "idle_peer or parallel", f"--alluredir={allure_dir}",
                        f"--junitxml={junit}", suites=(CONCURRENCY_SUITE,))
    assert run.ret == 1, str(run)
    results = {}
    for path in allure_dir.glob("*-result.json"):
        result = json.loads(path.read_text())
        results[next(label["value"] for label in result["labels"] if label["name"] == "story")] = result
    idle, parallel = results[IDLE], results[PARALLEL]
    severity = {check: next(label["value"] for label in r["labels"] if label["name"] == "severity")
                for check, r in results.items()}
    assert severity == {IDLE: "normal", PARALLEL: "minor"}
    assert idle["status"] == "failed" and idle["statusDetails"]["message"].startswith("idle peer: expected")
    assert parallel["status"] == "skipped"
    assert parallel["statusDetails"]["message"].startswith("below threshold (not gating): parallel clients:")
    assert [link["url"] for link in parallel["links"]] == [CATALOGUE[PARALLEL].rule.url]
    props = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        values = {p.get("name"): p.get("value") for p in case.iter("property")}
        props[values["check"]] = (values["level"], values["outcome"], values["gating"],
                                  case.find("failure") is not None, case.find("skipped") is not None)
    assert props == {IDLE: ("should", "failed", "true", True, False),
                     PARALLEL: ("capacity", "below", "false", False, True)}


def test_matrix_shows_what_gates_in_upper_case():
    v = Verdicts(targets={"t": {"transport": "tcp", "model": "other"}}, check_order=list(CATALOGUE))
    record(v, "a[t]", "t", IDLE, ("failed", "m"), gating=False)
    record(v, "b[t]", "t", PARALLEL, ("below", "m"), gating=True)
    record(v, "c[t]", "t", ROUNDTRIP, ("failed", "m"))  # default gate
    wide = render_matrix(v, 200)
    assert wide[1].split() == ["t", "FAIL", "BELOW", "fail"], wide
    compact = render_matrix(v, 12)
    assert next(line for line in compact if line.startswith("t ")).replace(" ", "") == "tFBf", compact


def test_inconclusive_never_fails_the_run():
    """Inconclusive is listed as a problem, names the check that owns the behaviour, and never gates."""
    for gate in (Gate(), Gate("must"), Gate("capacity")):
        assert not gate.gates("inconclusive", MUST)
    v = Verdicts(targets={"t": {"transport": "tcp", "model": "other"}}, check_order=list(CATALOGUE))
    record(v, "a[t]", "t", "tcp.process.fd-leak",
           ("inconclusive", "cannot judge fd leak: the warm-up was not echoed (see tcp.echo.roundtrip)"),
           owner=ROUNDTRIP)
    cell = v.document({})["targets"]["t"]["checks"]["tcp.process.fd-leak"]
    assert (cell["outcome"], cell["gating"], cell["owner"]) == ("inconclusive", False, ROUNDTRIP)
    assert v.problems() and not v.gating_problems()


# -- the baseline --------------------------------------------------------------------------

def baseline_file(path: Path, outcomes: dict[str, str]) -> Path:
    """A conformance JSON as an earlier run wrote it: one roundtrip verdict per target."""
    path.write_text(json.dumps({"schema": 2, "run": {}, "targets": {
        name: {"transport": "tcp", "model": "other", "checks": {ROUNDTRIP: {"outcome": outcome, "message": ""}}}
        for name, outcome in outcomes.items()}}))
    return path


def test_baseline_reports_a_regression_and_a_fix(sockcheck, tmp_path):
    """--baseline says what regressed, what was fixed and what is new; with --gate regressions only the
    regression fails the run (under xdist, each worker decides from the baseline the controller read)."""
    manifest = sockcheck.manifest(
        target_toml("fixed", c_command("epoll_echo")),
        target_toml("regressed", sockcheck.script("corrupts_echo.py")),
        target_toml("new", sockcheck.script("corrupts_echo.py")),
    )
    baseline = baseline_file(tmp_path / "before.json", {"fixed": "failed", "regressed": "passed"})
    markdown = tmp_path / "summary.md"
    run = sockcheck.run("--targets-file", str(manifest), "-k", "test_roundtrip", "-n", "2", "--baseline",
                        str(baseline), "--gate", "regressions", f"--conformance-md={markdown}", suites=(TCP_SUITE,))
    assert run.ret == 1, str(run)
    assert [run.outcome(t, ROUNDTRIP) for t in ("fixed", "regressed", "new")] == ["passed", "failed", "failed"]
    assert run.cell("regressed", ROUNDTRIP)["gating"] and not run.cell("new", ROUNDTRIP)["gating"]
    assert "1 failed, 1 passed, 1 skipped" in run.stdout.strip().splitlines()[-1], str(run)
    diff = run.doc["baseline"]
    assert diff["path"] == str(baseline)
    assert [(c["target"], c["before"], c["after"]) for c in diff["regressed"]] == [("regressed", "passed", "failed")]
    assert [(c["target"], c["before"], c["after"]) for c in diff["fixed"]] == [("fixed", "failed", "passed")]
    assert [(c["target"], c["before"], c["after"]) for c in diff["new"]] == [("new", None, "failed")]
    assert f"against the baseline {baseline}: 1 regressed, 1 fixed, 1 new problem(s)" in run.stdout, str(run)
    assert f"  regressed: regressed · {ROUNDTRIP} pass → FAIL: echo: expected" in run.stdout, str(run)
    assert f"  fixed: fixed · {ROUNDTRIP} FAIL → pass" in run.stdout, str(run)
    text = markdown.read_text()
    assert "## Against the baseline" in text and f"- **regressed** · `{ROUNDTRIP}` pass → FAIL: echo:" in text

    # This run's own JSON as the next baseline: both failures are known now, nothing regressed.
    again = sockcheck.run("--targets-file", str(manifest), "-k", "test_roundtrip", "--baseline", str(run.json_path),
                          "--gate", "regressions", suites=(TCP_SUITE,))
    assert again.ret == 0, str(again)
    assert again.doc["baseline"]["regressed"] == [] and again.doc["baseline"]["fixed"] == []
    assert not again.cell("regressed", ROUNDTRIP)["gating"]


# -- --write-violations ----------------------------------------------------------------------

def test_write_violations_makes_the_next_run_green(sockcheck, tmp_path):
    """The fragment declares today's failures (placeholder reasons), keeps the caught declarations with their
    reasons and lists the ones no longer detected; put into the manifest, the same run exits 0."""
    tables = {
        "wrong": dict(command=sockcheck.script("corrupts_echo.py")),
        "declared": dict(command=sockcheck.script("corrupts_echo.py"), violates={ROUNDTRIP: "flips bit 0"}),
        "claims": dict(command=c_command("epoll_echo"), violates={ROUNDTRIP: "claims to be broken"}),
    }
    manifest = sockcheck.manifest(*(target_toml(name, **keys) for name, keys in tables.items()))
    fragment = tmp_path / "violations.toml"
    run = sockcheck.run("--targets-file", str(manifest), "-k", "test_roundtrip", f"--write-violations={fragment}",
                        suites=(TCP_SUITE,))
    assert run.ret == 1, str(run)
    assert f"manifest fragment of this run's failures: {fragment}" in run.stdout
    text = fragment.read_text()
    written = {t["name"]: t.get("violates", {}) for t in tomllib.loads(text)["target"]}
    assert set(written) == {"wrong", "declared", "claims"}
    assert written["wrong"][ROUNDTRIP].startswith("TODO: say why the server breaks this rule (found: echo:")
    assert written["declared"] == {ROUNDTRIP: "flips bit 0"}
    assert written["claims"] == {} and f'# no longer detected, remove: "{ROUNDTRIP}"' in text

    for name, violates in written.items():
        tables[name]["violates"] = violates
    merged = write_manifest(tmp_path / "merged.toml", *(target_toml(name, **keys) for name, keys in tables.items()))
    green = sockcheck.run("--targets-file", str(merged), "-k", "test_roundtrip", suites=(TCP_SUITE,))
    assert green.ret == 0, str(green)
