"""Reports and gating: Allure results, JUnit XML, the Markdown summary, the terminal matrix at the
bundled size, the replay command, and the exit status rules the README's "Gating" section states."""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sockcheck.fixtures.allure_report import CATEGORIES, environment_properties
from sockcheck.verdicts.applicability import not_applicable_reason
from sockcheck.verdicts.catalogue import CATALOGUE
from sockcheck.verdicts.markdown import render_markdown
from sockcheck.verdicts.matrix import render_matrix
from sockcheck.verdicts.replay import replay_command
from sockcheck.verdicts.table import Verdicts
from selftest.cases import record
from sockcheck.launch.manifest import load_manifest
from selftest.running import BUNDLED_MANIFEST, ROOT, TCP_SUITE, c_command, run_env, target_toml

CLOSE_SUITE = ROOT / "suites" / "tcp" / "test_close.py"
ROUNDTRIP, FIN = "tcp.echo.roundtrip", "tcp.close.fin-not-rst"
SEED = 4711


# -- helpers ------------------------------------------------------------------------

def markdown_tables(text: str) -> list[list[list[str]]]:
    """GFM tables in ``text`` as rows of cells; AssertionError when a table is malformed
    (no delimiter row, or a row whose cell count differs from the header's)."""
    lines = text.splitlines()
    tables, i = [], 0
    while i < len(lines):
        if not lines[i].startswith("|"):
            i += 1
            continue
        block = []
        while i < len(lines) and lines[i].startswith("|"):
            block.append([c.strip() for c in re.split(r"(?<!\\)\|", lines[i].strip())[1:-1]])
            i += 1
        assert len(block) >= 2 and all(re.fullmatch(r":?-+:?", c) for c in block[1]), f"no delimiter row: {block[:2]}"
        widths = {len(row) for row in block}
        assert widths == {len(block[0])}, f"rows of {sorted(widths)} cells in a table of {len(block[0])} columns"
        tables.append([block[0], *block[2:]])
    return tables


def category_of(message: str, status: str, *, whole: bool) -> str | None:
    """The first category matching, as Allure 2 (``whole``: the regex matches the whole message)
    or Allure 3 (the regex is searched) would pick it."""
    for category in CATEGORIES:
        if status not in category["matchedStatuses"]:
            continue
        pattern = category.get("messageRegex")
        if pattern is None:
            return category["name"]
        found = re.fullmatch(pattern, message) if whole else re.search(pattern, message)
        if found:
            return category["name"]
    return None


def bundled_verdicts(*, with_failure: bool = True) -> Verdicts:
    """Every bundled target × every check, outcomes as a green default run has them, plus one failure."""
    targets = load_manifest(BUNDLED_MANIFEST)
    v = Verdicts(targets={t.name: {"transport": t.transport, "model": t.model} for t in targets},
                 check_order=list(CATALOGUE))
    for target in targets:
        for spec in CATALOGUE.values():
            if not_applicable_reason(spec, target):
                outcome = "skipped"
            elif spec.id in target.violates:
                outcome = "xfailed"
            else:
                outcome = "passed"
            if with_failure and (target.name, spec.id) == ("c-epoll", FIN):
                outcome = "failed"
            record(v, f"{spec.id}[{target.name}]", target.name, spec.id, (outcome, "m"))
    return v


def check_docstring(module: str, function: str) -> str:
    """A check's docstring, read from its suite's source (the suites are pytest's to import)."""
    tree = ast.parse((ROOT / "suites" / module).read_text())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function)
    return ast.get_docstring(node)


def allure_results(folder: Path) -> dict[tuple[str, str], dict]:
    """(target, check id) -> the Allure result of that case."""
    out = {}
    for path in folder.glob("*-result.json"):
        result = json.loads(path.read_text())
        labels = {label["name"]: label["value"] for label in result["labels"]}
        out[(labels["suite"], labels["story"])] = result
    return out


# -- the terminal matrix ----------------------------------------------------------------

@pytest.mark.parametrize("width", [80, 120])
def test_matrix_of_the_bundled_run_fits(width):
    """36 targets × 31 checks used to print a 31-column symbol grid with half of it skips, its legend
    in 40-column cells: each transport now gets a block, checks grouped by family, every line fits."""
    v = bundled_verdicts()
    lines = render_matrix(v, width)
    assert all(len(line) <= width for line in lines), "\n".join(line for line in lines if len(line) > width)
    transports = {name: meta["transport"] for name, meta in v.targets.items()}
    for name, transport in transports.items():
        rows = [line for line in lines if line.split(" ", 1)[0] == name]
        assert len(rows) == 1, name
        symbols = rows[0][len(name):].replace(" ", "")
        assert len(symbols) == sum(1 for spec in CATALOGUE.values() if spec.transport == transport), rows[0]
    c_epoll = next(line for line in lines if line.startswith("c-epoll "))
    assert "F" in c_epoll
    legend = lines[next(i for i, line in enumerate(lines) if line.startswith("pass=.")):]
    numbered = {int(n) for line in legend for n in re.findall(r"(?<![\w.-])(\d+)(?![\w.])", line)}
    assert numbered == set(range(1, len(CATALOGUE) + 1))


# -- Markdown -------------------------------------------------------------------------------

def test_markdown_summary_is_valid_and_complete():
    """The job summary must be well-formed Markdown: tables with a constant column count even when a
    message holds a pipe, every problem listed with its message, and the replay command."""
    v = bundled_verdicts()
    record(v, "x[c-poll]", "c-poll", ROUNDTRIP, ("error", "harness error: a | b <c> *d*"))
    replay = replay_command("suites/tcp/test_close.py::test_fin_not_rst[c-epoll]", SEED)
    text = render_markdown(v, {"seed": SEED, "exitstatus": 1, "isolation": "netns", "duration": 81.2}, replay)
    tables = markdown_tables(text)
    assert [t[0][0] for t in tables] == ["pass", "target", "target"]  # counts, tcp block, udp block
    assert len(tables[1]) == 1 + sum(1 for t in v.targets.values() if t["transport"] == "tcp")
    assert tables[1][0][1:] == [c.split(".", 1)[1] for c in CATALOGUE if c.startswith("tcp.")]
    assert "Result: **failed**: 2 check(s) did not match their expectation (exit status 1)." in text
    assert "- **c-epoll** · `tcp.close.fin-not-rst` \\[must · RFC 9293 §3.6\\] → **FAIL**: m" in text
    assert r"harness error: a \| b \<c\> \*d\*" in text
    assert f"```sh\n{replay}\n```" in text
    green = render_markdown(bundled_verdicts(with_failure=False), {"seed": SEED, "exitstatus": 0}, None)
    assert "Result: **passed**" in green and "None: every check matched its expectation." in green


# -- Allure pieces --------------------------------------------------------------------------

@pytest.mark.parametrize(("message", "status", "category"), [
    ("echo: expected the same 32 bytes back within 2.0s; got 33 bytes (expected 32), first difference at offset 32",
     "failed", "Data mismatch"),
    ("half-close: expected 65536 bytes then EOF within 2.0s; got 65536 identical bytes then RST",
     "failed", "Resets (RST where FIN or data was due)"),
    ("close: expected FIN from the server and no RST; got RST from the server ([AR] seq=33 ack=34 len=0)",
     "failed", "Resets (RST where FIN or data was due)"),
    ("connection: expected the server to keep serving; got ConnectionResetError: [Errno 104] Connection reset by peer",
     "failed", "Resets (RST where FIN or data was due)"),
    ("idle peer: expected the second client's 32 bytes back within 2.0s while another client is idle; "
     "got 1 bytes then nothing (timed out)", "failed", "Timeouts: no answer in time"),
    ("udp echo: expected a 32-byte reply within 2.0s; got no reply", "failed", "Timeouts: no answer in time"),
    ("fd leak: expected at most 7 open fds (baseline 5 + 2) after 300 cycles; got 105 (100 more)",
     "failed", "Leaks: file descriptors, zombies, orphaned children"),
    ("zombies: expected no zombie children 2.0s after 32 clients disconnected together; got 32 zombie(s)",
     "failed", "Leaks: file descriptors, zombies, orphaned children"),
    ("FD_SETSIZE: expected the server alive through 1100 connections; got the server died of signal 6",
     "failed", "Server crashed or exited"),
    ("backpressure: expected under 0.2 s of server CPU during a 1.0 s read stall; got 0.97 s (busy loop)",
     "failed", "Other rule violations"),
    ("declared violation not detected (declared violation: claims to be broken)",
     "failed", "Declared violations no longer detected (XPASS, strict)"),
    ("dies: exited with status 3 before serving on 127.0.0.1:4000; log: fatal: config missing",
     "broken", "Launch errors: the target did not serve"),
    ("never: not serving on 127.0.0.1:4000 after 1.0s; log: sleeping", "broken", "Launch errors: the target did not serve"),
    ("harness error: Timeout >32.0s", "broken", "Test timeouts (pytest-timeout)"),
    ("harness error: KeyError: 'x'", "broken", "Harness errors (never blamed on the server)"),
    ("declared violation caught: echo: expected x; got y", "skipped", "Declared violations, caught"),
    ("not applicable: udp check; c-epoll is a tcp target", "skipped", None),
    ("below threshold: parallel clients: expected each of 64 clients to get exactly its own bytes within 2.0s; "
     "got 24 did not: client #41 got 0 of 1024 bytes then nothing (timed out)", "failed", "Capacity below threshold"),
    ("below threshold (not gating): C10K: expected 10000 connections within 30s; got 1024", "skipped",
     "Capacity below threshold"),
    ("not gating: backpressure: expected under 0.2 s of server CPU during a 1.0 s read stall; got 0.97 s (busy loop)",
     "skipped", "Failures the gate does not fail the run on"),
    ("cannot judge fd leak: the warm-up connection was not echoed (see tcp.echo.roundtrip)", "skipped",
     "Inconclusive: another check's behaviour kept it from judging"),
])
def test_categories_group_real_messages(message, status, category):
    """categories.json is read by Allure 2 (whole-message regex match) and by our Allure 3 config (regex
    search): both must file each kind of sockcheck message under the same category."""
    assert category_of(message, status, whole=True) == category
    assert category_of(message, status, whole=False) == category


def test_environment_properties_escapes_separators():
    """A value with '=' or ':' (a timestamp, a path on Windows) must not split into another key."""
    text = environment_properties({"seed": 7, "started": "2026-11-23T16:00:00+00:00", "manifests": ["a=b.toml"],
                                   "isolation": "netns", "sockcheck": "0.1.0"})
    assert "seed=7\n" in text and "isolation=netns\n" in text
    assert r"started=2026-11-23T16\:00\:00+00\:00" in text and r"manifests=a\=b.toml" in text


def test_replay_command_quotes_what_the_shell_would_split():
    """Node ids hold [ ] and one-liners hold spaces and braces: the printed command must survive a shell."""
    assert replay_command("suites/tcp/test_echo.py::test_roundtrip[me]", 7, ["--target=me=./server {port}"]) == \
        "pytest 'suites/tcp/test_echo.py::test_roundtrip[me]' --seed 7 -p no:xdist '--target=me=./server {port}'"


# -- one xdist run, every report --------------------------------------------------------------

def test_allure_junit_and_markdown_under_xdist(sockcheck, tmp_path):
    """Under -n 2 the Allure results come from the workers (labels, evidence, a status that follows
    sockcheck's verdict) and environment/categories from the controller; JUnit carries check and target
    on every test case; the Markdown summary lists the problems. A harness error is 'broken'/<error>, never
    a failure of the server."""
    manifest = sockcheck.manifest(
        target_toml("c-epoll", c_command("epoll_echo"), model="epoll"),
        target_toml("wrong", sockcheck.script("corrupts_echo.py")),
        target_toml("declared", sockcheck.script("corrupts_echo.py"), violates={ROUNDTRIP: "flips bit 0"}),
        target_toml("claims", c_command("epoll_echo"), violates={ROUNDTRIP: "claims to be broken"}),
        target_toml("dies", sockcheck.script("exits_at_once.py")),
    )
    allure_dir, junit, markdown = tmp_path / "allure", tmp_path / "junit.xml", tmp_path / "summary.md"
    run = sockcheck.run("--targets-file", str(manifest), "-k", "roundtrip or fin_not_rst", "-n", "2",
                        "--seed", str(SEED), f"--alluredir={allure_dir}", f"--junitxml={junit}",
                        f"--conformance-md={markdown}", suites=(TCP_SUITE, CLOSE_SUITE))
    assert run.ret == 1, str(run)
    cases = {(t, c): cell for t, entry in run.doc["targets"].items() for c, cell in entry["checks"].items()}
    assert len(cases) == 10

    results = allure_results(allure_dir)
    assert set(results) == set(cases)
    ok = results[("c-epoll", ROUNDTRIP)]
    labels = {label["name"]: label["value"] for label in ok["labels"]}
    assert ok["name"] == "echo: 32 bytes round trip [c-epoll]" and ok["status"] == "passed"
    assert {k: labels[k] for k in ("epic", "feature", "story", "parentSuite", "suite", "subSuite")} == {
        "epic": "tcp", "feature": "tcp.echo", "story": ROUNDTRIP, "parentSuite": "tcp targets", "suite": "c-epoll",
        "subSuite": "tcp.echo"}
    params = {p["name"]: p for p in ok["parameters"]}
    assert {k: params[k]["value"] for k in ("target", "model", "transport", "seed")} == {
        "target": "c-epoll", "model": "epoll", "transport": "tcp", "seed": str(SEED)}
    assert params["seed"].get("excluded") is True  # another seed is the same case in Allure's history
    assert ok["description"].startswith(check_docstring("tcp/test_echo.py", "test_roundtrip"))
    rule = CATALOGUE[ROUNDTRIP].rule
    assert ok["description"].endswith(f"Level: must. Rule: {rule.where}: \u201c{rule.quote}\u201d")
    assert labels["severity"] == "critical"  # from the level: must
    assert {(link["url"], link["name"]) for link in ok["links"]} == {(rule.url, rule.where)}

    def attachments(result: dict) -> dict[str, Path]:
        """Attachment name -> its file in the results folder."""
        return {a["name"]: allure_dir / a["source"] for a in result.get("attachments", [])}

    wire = attachments(results[("c-epoll", FIN)])
    assert results[("c-epoll", FIN)]["description"].startswith(check_docstring("tcp/test_close.py", "test_fin_not_rst")[:40])
    kinds = {name.split(":")[0].split(" (")[0] for name in wire}
    assert kinds >= {"manifest entry", "target log", "pcap", "packet ladder"}, sorted(wire)
    assert all(path.stat().st_size > 0 for path in wire.values())
    assert any(path.read_text().startswith("<svg") for name, path in wire.items() if "SVG" in name)

    wrong = results[("wrong", ROUNDTRIP)]
    assert wrong["status"] == "failed"
    assert wrong["statusDetails"]["message"].startswith("echo: expected the same 32 bytes back")
    evidence = attachments(wrong)
    assert "flipping bit 0" in evidence["target log: wrong"].read_text()
    assert 'name = "wrong"' in evidence["manifest entry: wrong"].read_text()
    caught = results[("declared", ROUNDTRIP)]
    assert caught["status"] == "skipped" and caught["statusDetails"]["message"].startswith("declared violation caught: echo:")
    assert "Declared violation for declared: flips bit 0" in caught["description"]
    xpass = results[("claims", ROUNDTRIP)]
    assert xpass["status"] == "failed"
    assert xpass["statusDetails"]["message"] == "declared violation not detected (declared violation: claims to be broken)"
    harness = results[("dies", ROUNDTRIP)]
    assert harness["status"] == "broken" and "exited with status 3" in harness["statusDetails"]["message"]
    assert category_of(harness["statusDetails"]["message"], "broken", whole=False) == \
        "Launch errors: the target did not serve"

    environment = (allure_dir / "environment.properties").read_text()
    assert f"seed={SEED}\n" in environment and "isolation=" in environment and "pytest=" in environment
    assert json.loads((allure_dir / "categories.json").read_text()) == CATEGORIES

    testcases = list(ET.parse(junit).getroot().iter("testcase"))
    assert len(testcases) == len(cases)
    for case in testcases:
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert set(props) >= {"check", "target", "level", "rule", "outcome", "gating"}, ET.tostring(case)[:300]
        assert case.get("name").endswith(f"[{props['target']}]")
        spec = CATALOGUE[props["check"]]
        assert (props["level"], props["rule"], props["rule_url"]) == (spec.level, spec.rule.label, spec.rule.url)
        assert props["outcome"] == cases[(props["target"], props["check"])]["outcome"]
    by_case = {(p["target"], p["check"]): case for case in testcases
               for p in [{q.get("name"): q.get("value") for q in case.iter("property")}]}
    assert by_case[("dies", ROUNDTRIP)].find("error") is not None  # a harness error, not a failure
    assert by_case[("dies", ROUNDTRIP)].find("failure") is None
    assert by_case[("wrong", ROUNDTRIP)].find("failure") is not None
    assert by_case[("claims", ROUNDTRIP)].find("failure") is not None  # XPASS(strict)

    text = markdown.read_text()
    markdown_tables(text)
    assert "Result: **failed**: 4 check(s) did not match their expectation (exit status 1)." in text
    assert "| wrong | **FAIL** |" in text and "| dies | **error** |" in text and "| claims | **XPASS** |" in text
    assert re.search(r"^- \*\*dies\*\* · `tcp.echo.roundtrip` \\\[must · RFC 862\\\] → \*\*error\*\*: dies: exited with status 3",
                     text, re.M)
    assert "Replay the first problem:" in text


# -- gating ------------------------------------------------------------------------------------

GATING = {
    # scenario: (targets, expected exit status, expected outcome of tcp.echo.roundtrip per target)
    "every check matched": (("c-epoll", "declared"), 0, {"c-epoll": "passed", "declared": "xfailed"}),
    "a server breaks a rule": (("c-epoll", "wrong"), 1, {"c-epoll": "passed", "wrong": "failed"}),
    "declared violation not detected": (("claims",), 1, {"claims": "xpassed"}),
    "harness error": (("dies", "c-epoll"), 1, {"dies": "error", "c-epoll": "passed"}),
}


def gating_manifest(sockcheck, names: tuple[str, ...]) -> Path:
    """A manifest with the named targets of the gating scenarios."""
    tables = {
        "c-epoll": target_toml("c-epoll", c_command("epoll_echo")),
        "declared": target_toml("declared", sockcheck.script("corrupts_echo.py"), violates={ROUNDTRIP: "flips bit 0"}),
        "wrong": target_toml("wrong", sockcheck.script("corrupts_echo.py")),
        "claims": target_toml("claims", c_command("epoll_echo"), violates={ROUNDTRIP: "claims to be broken"}),
        "dies": target_toml("dies", sockcheck.script("exits_at_once.py")),
    }
    return sockcheck.manifest(*(tables[name] for name in names))


@pytest.mark.parametrize("scenario", list(GATING))
def test_gating(sockcheck, scenario):
    """The README's gating rules: exit 0 only when every check matched its expectation (a caught declared
    violation is a match); a failure, an undetected declared violation or a harness error exits 1, and a
    harness error is counted as an error (pytest's 'errors'), never as a failed check."""
    names, status, outcomes = GATING[scenario]
    run = sockcheck.run("--targets-file", str(gating_manifest(sockcheck, names)), "-k", "test_roundtrip")
    assert run.ret == status, str(run)
    assert {t: run.outcome(t, ROUNDTRIP) for t in names} == outcomes
    summary = run.stdout.strip().splitlines()[-1]
    if scenario == "harness error":
        assert "1 error" in summary and "failed" not in summary, summary
    if scenario == "declared violation not detected":
        assert "1 failed" in summary and "XPASS(strict)" in run.stdout


@pytest.mark.parametrize("workers", ["0", "2"])
def test_gating_zero_selected_cases_fails(sockcheck, workers):
    """A selection that matches no test case must fail the run (exit 4), with or without xdist,
    and write no verdicts that could pass for a green run."""
    run = sockcheck.run("--targets-file", str(gating_manifest(sockcheck, ("c-epoll",))), "-k", "no_such_check",
                        "-n", workers)
    assert run.ret == 4, str(run)
    assert "no test case selected" in run.stdout, str(run)
    assert not run.json_path.exists()


# -- replay ----------------------------------------------------------------------------------

def test_replay_command_replays_the_case(sockcheck, tmp_path):
    """The printed replay command used to omit the run's --targets-file, so from anywhere but the bundled
    manifest it selected nothing; run as printed, from the folder of the run, it must replay the case."""
    manifest = gating_manifest(sockcheck, ("c-epoll", "wrong"))
    run = sockcheck.run("--targets-file", str(manifest), "-k", "test_roundtrip", "--seed", str(SEED))
    assert run.ret == 1, str(run)
    line = next(line for line in run.stdout.splitlines() if line.startswith("replay: "))
    argv = shlex.split(line.removeprefix("replay: "))
    assert argv[0] == "pytest" and argv[2:5] == ["--seed", str(SEED), "-p"], line
    replay_json = tmp_path / "replay.json"
    replayed = subprocess.run([sys.executable, "-m", "pytest", *argv[1:], f"--conformance-json={replay_json}"],
                              cwd=tmp_path, env=run_env(sockcheck.run_ids[-1]), capture_output=True, text=True,
                              timeout=60)
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    doc = json.loads(replay_json.read_text())
    assert doc["run"]["seed"] == SEED
    replayed_cells = {(t, c): cell for t, e in doc["targets"].items() for c, cell in e["checks"].items()}
    assert list(replayed_cells) == [("wrong", ROUNDTRIP)]
    assert replayed_cells[("wrong", ROUNDTRIP)]["outcome"] == "failed"
    assert replayed_cells[("wrong", ROUNDTRIP)]["message"] == run.cell("wrong", ROUNDTRIP)["message"]
