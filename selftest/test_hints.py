"""Fix hints: every finding about the server ends with the usual cause and the usual fix.

The catalogue declares each check's hints beside its rule; a judgment names
the cause where the evidence tells it apart (sockcheck/judgments/causes.py);
the phase carries the resolved hint, and every report renders it under a
FAIL or a below.  These tests prove the three agree: no check without a
hint, no cause a check can name without a hint for that check, and the hint
in the terminal, Markdown, JUnit, Allure and a merge of shards.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import signal
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sockcheck.judgments import causes
from sockcheck.judgments.close import describe_death, judge_peer_reset, reset_stage
from sockcheck.judgments.process import judge_fd_growth, judge_zombies
from sockcheck.net.stream import COMPLETE, EOF_, RESET, TIMEOUT
from sockcheck.verdicts.catalogue import CATALOGUE, HINT_LIMIT, MUST, SHARED_FIXES, CheckSpec, rfc
from sockcheck.verdicts.junit import render_junit
from sockcheck.verdicts.markdown import render_markdown
from sockcheck.verdicts.matrix import problem_lines, render_problems
from sockcheck.verdicts.merge import merge
from sockcheck.verdicts.record import Judge, Outcome, Phase, Verdict, failure_text, verdict_of
from sockcheck.verdicts.table import Verdicts
from sockcheck.fixtures.allure_report import CATEGORIES, allure_status
from selftest.cases import record
from selftest.running import ROOT, target_toml

PEER_RESET, ZOMBIES, ROUNDTRIP, BINARY = ("tcp.close.peer-reset", "tcp.process.zombies", "tcp.echo.roundtrip",
                                          "tcp.echo.binary")
SIGPIPE_HINT = CATALOGUE[PEER_RESET].hint(causes.SIGPIPE)
SUITES = ROOT / "suites"
JUDGMENTS = ROOT / "sockcheck" / "judgments"
FAULTY_BIN = ROOT / "targets" / "faulty" / "bin"
# The cause constants causes.py defines (not what it imports), by name.
CAUSE_NAMES = {node.targets[0].id: node.value.value for node in ast.parse(Path(causes.__file__).read_text()).body
               if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
               and isinstance(node.value.value, str)}

CAUSES_MODULE = "sockcheck.judgments.causes"


def cause_imports(tree: ast.Module) -> dict[str, str]:
    """The cause constants a module imports from causes.py: local name -> cause.  By the import, not by the
    value: net.stream.STALLED and model.ONE_AT_A_TIME are other things under a cause's name."""
    return {alias.asname or alias.name: CAUSE_NAMES[alias.name] for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.module == CAUSES_MODULE
            for alias in node.names if alias.name in CAUSE_NAMES}


# -- the catalogue ---------------------------------------------------------------------------

@pytest.mark.parametrize("check", list(CATALOGUE))
def test_every_check_has_a_default_hint_of_one_line(check):
    """Every check can fail (or fall below its threshold), so every check says how such a failure is fixed."""
    spec = CATALOGUE[check]
    for text in (spec.fix, *spec.hints().values()):
        assert text and "\n" not in text and len(text) <= HINT_LIMIT, (check, text)
    assert spec.hint() == spec.hint(None) == spec.fix
    assert spec.hint("no-such-cause") == spec.fix  # a cause the check does not know: the default, not nothing


def test_a_check_without_a_fix_is_refused():
    rule = rfc(862, "TCP Based Echo Service", "Once a connection is established any data received is sent back.")
    with pytest.raises(ValueError, match="usual fix"):
        CheckSpec(id="tcp.x.y", title="x", transport="tcp", level=MUST, rule=rule)
    with pytest.raises(ValueError, match="one line"):
        CheckSpec(id="tcp.x.y", title="x", transport="tcp", level=MUST, rule=rule, fix="x" * (HINT_LIMIT + 1))


def test_every_hint_is_keyed_by_a_cause_the_judgments_know():
    """A hint keyed by a misspelt cause would never be shown."""
    known = set(CAUSE_NAMES.values())
    keyed = {cause for spec in CATALOGUE.values() for cause, _ in spec.fixes}
    keyed |= {cause for shared in SHARED_FIXES.values() for cause in shared}
    assert keyed - known == set()
    assert known - keyed == set()  # and every cause a judgment can name has a hint somewhere


# -- no dangling cause names: what each check's code can name, read from the source ------------

def namers(module) -> dict[str, frozenset[str]]:
    """The functions of a module that can name causes (marked with causes.names_causes), by name."""
    return {name: obj.causes for name, obj in vars(module).items() if callable(obj) and hasattr(obj, "causes")}


def referenced(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def causes_a_check_can_name(path: Path) -> dict[str, set[str]]:
    """check id -> the causes the code of its test function can give a finding: the cause constants it
    names and the causes of the judgments it calls, following the module's own helpers.  Read from the
    source: the self-tests import no suite module."""
    tree = ast.parse(path.read_text())
    # A name the module imports from sockcheck.judgments -> the causes it stands for.
    offered = {name: frozenset([cause]) for name, cause in cause_imports(tree).items()}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sockcheck.judgments"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(getattr(module, alias.name), "causes"):
                    offered[alias.asname or alias.name] = getattr(module, alias.name).causes
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}

    def reached(name: str, seen: set[str]) -> set[str]:
        seen.add(name)
        names = referenced(functions[name])
        for helper in names & functions.keys() - seen:
            names |= reached(helper, seen)
        return names

    found = {}
    for name, node in functions.items():
        for mark in node.decorator_list:
            if isinstance(mark, ast.Call) and getattr(mark.func, "id", "") == "check":
                found[mark.args[0].value] = {c for n in reached(name, set()) for c in offered.get(n, ())}
    return found


def test_each_cause_a_check_can_name_has_a_hint_for_that_check():
    """A cause named where its check has no hint for it would fall back to the default without anyone
    noticing: every cause a check's code can name (its judgments, its own constants) has that check's hint."""
    named: dict[str, set[str]] = {}
    for path in sorted(SUITES.rglob("test_*.py")):
        named.update(causes_a_check_can_name(path))
    assert set(named) == set(CATALOGUE)
    dangling = {check: sorted(found - CATALOGUE[check].hints().keys()) for check, found in named.items()}
    assert {check: missing for check, missing in dangling.items() if missing} == {}
    # The reading is not vacuous: these come from judgments two calls away from the test function.
    assert {causes.SIGPIPE, causes.EXIT_ON_ERROR, causes.CRASH} <= named[PEER_RESET]
    assert {causes.ONE_PER_SIGNAL, causes.NEVER_REAPED} <= named[ZOMBIES]
    assert ({causes.RST_LINGER, causes.RST_UNREAD, causes.NO_EOF, causes.STALLED}
            <= named["tcp.half-close.eof-after-echo"])
    assert {causes.RST_NO_SOCKET, causes.RST_UNTOLD} <= named[PEER_RESET]
    assert {causes.LIMIT, causes.FD_SETSIZE} <= named["tcp.limits.select-fd"]


@pytest.mark.parametrize("path", sorted(p for p in JUDGMENTS.glob("*.py") if p.name != "__init__.py"),
                         ids=lambda p: p.name)
def test_a_judgment_that_names_a_cause_says_which(path):
    """The reading above trusts each judgment's names_causes mark: a judgment that names a cause, or calls
    one that does, is marked with every cause it can give."""
    module = importlib.import_module(f"sockcheck.judgments.{path.stem}")
    marked = namers(module)
    tree = ast.parse(path.read_text())
    constants = CAUSE_NAMES if module.__name__ == CAUSES_MODULE else cause_imports(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef) or node.name == "names_causes":
            continue
        body = ast.Module(body=node.body, type_ignores=[])  # not the decorator: that is the declaration
        names = referenced(body)
        gives = {constants[n] for n in names if n in constants}
        gives |= {cause for n in names if n in marked and n != node.name for cause in marked[n]}
        if gives:
            assert node.name in marked, f"{path.name}: {node.name} names {sorted(gives)} without names_causes"
            assert gives <= marked[node.name], (node.name, sorted(gives - marked[node.name]))


# -- judgments name the cause from their inputs ---------------------------------------------------

STAGE = reset_stage(1048576, COMPLETE)


def test_a_death_by_sigpipe_gets_the_sigpipe_hint():
    """The example of the issue: a server killed by SIGPIPE while writing to a client that reset."""
    status = -signal.SIGPIPE
    finding = judge_peer_reset(STAGE, b"n" * 32, b"", RESET, refused=True, exited=False,
                               death=describe_death(status, 2.0), within=2.0, status=status)
    assert finding.cause == causes.SIGPIPE
    assert CATALOGUE[PEER_RESET].hint(finding.cause) == SIGPIPE_HINT
    assert SIGPIPE_HINT.startswith("died of SIGPIPE: ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) or send with "
                                   "MSG_NOSIGNAL")


@pytest.mark.parametrize(("status", "cause"), [
    (1, causes.EXIT_ON_ERROR), (0, causes.EXIT_ON_ERROR), (-signal.SIGSEGV, causes.CRASH), (None, None),
])
def test_other_ends_of_a_server_name_their_own_cause(status, cause):
    finding = judge_peer_reset(STAGE, b"n" * 32, b"n" * 32, COMPLETE, refused=False, exited=True,
                               death=describe_death(status, 2.0), within=2.0, status=status)
    assert finding.cause == cause


def test_a_server_alive_but_silent_after_the_reset_stopped_serving():
    finding = judge_peer_reset(STAGE, b"n" * 32, b"", TIMEOUT, refused=False, exited=False, death="", within=2.0)
    assert finding.cause == causes.STOPPED_SERVING


@pytest.mark.parametrize(("zombies", "live", "cause"), [
    (31, 0, causes.ONE_PER_SIGNAL),  # one reaped per merged SIGCHLD
    (33, 0, causes.NEVER_REAPED),  # every child of the round, and the first client's
    (0, 3, causes.CHILDREN_LINGER),
])
def test_zombies_against_the_clients_tell_one_waitpid_per_signal_from_none(zombies, live, cause):
    finding = judge_zombies(live, zombies, 0, clients=32, round_number=1, within=2.0)
    assert finding.cause == cause


def test_a_leak_is_placed_by_whether_half_closed_clients_got_eof():
    assert judge_fd_growth(6, 106, 206, cycles=300, eof_missing=1).cause == causes.NOT_CLOSED_ON_EOF
    assert judge_fd_growth(6, 106, 206, cycles=300, eof_missing=0).cause == causes.NOT_CLOSED_ON_RESET


@pytest.mark.parametrize(("expected", "received", "end", "cause"), [
    (b"abc", b"abc\n", COMPLETE, causes.EXTRA_BYTES),
    (b"abc", b"abd", COMPLETE, causes.ALTERED),
    (b"ab\0cd", b"ab", TIMEOUT, causes.STOPS_AT_NUL),
    (b"abcdef", b"abef", COMPLETE, causes.DROPPED),
    (b"abcdef", b"a", TIMEOUT, causes.STALLED),
    (b"abcdef", b"", TIMEOUT, causes.NO_REPLY),
    (b"abcdef", b"abc", EOF_, causes.CLOSED_EARLY),
    (b"abcdef", b"", RESET, causes.RESET_EARLY),
    (b"abcdef", b"abcdef", EOF_, None),
])
def test_what_came_back_on_a_stream_names_its_cause(expected, received, end, cause):
    assert causes.stream_cause(expected, received, end) == cause


# -- every report renders the hint of a FAIL or a below, and only of those ------------------------

def verdicts_with(*cases: tuple[str, str, str, str, str], gating: bool = True) -> Verdicts:
    """(target, check, outcome, message, hint) per case, one case each."""
    v = Verdicts(targets={}, check_order=list(CATALOGUE))
    for target, check, outcome, message, hint in cases:
        v.targets.setdefault(target, {"transport": "tcp", "model": "other"})
        record(v, f"t.py::{check}[{target}]", target, check, (outcome, message), hint=hint,
               **({} if gating else {"gating": False}))
    return v


def test_the_problem_line_is_followed_by_its_fix():
    v = verdicts_with(("me", PEER_RESET, "failed", "peer reset: expected x; got the server died of SIGPIPE",
                       SIGPIPE_HINT),
                      ("me", "tcp.concurrency.parallel", "below", "parallel clients: expected 64; got 40",
                       "serves a fixed number at once: …"),
                      ("caught", ZOMBIES, "xfailed", "zombies: expected none; got 31", "zombies left: …"),
                      ("claims", ROUNDTRIP, "xpassed", "declared violation not detected (broken)", ""))
    lines = render_problems(v)
    assert lines == [
        "me · tcp.close.peer-reset [should · send(2) EPIPE] → FAIL: peer reset: expected x; got the server died "
        "of SIGPIPE",
        f"  fix: {SIGPIPE_HINT}",
        "me · tcp.concurrency.parallel [capacity · RFC 9293 §2.2] → below: parallel clients: expected 64; got 40",
        "  fix: serves a fixed number at once: …",
        "claims · tcp.echo.roundtrip [must · RFC 862] → XPASS: declared violation not detected (broken)",
    ]  # a caught declared violation is no problem line; an XPASS has no fix
    # A fix line is coloured as its problem: red when it fails the run, yellow when not (a below, by default).
    assert [gating for _, gating in problem_lines(v)] == [True, True, False, False, True]
    # A caught declared violation shows no fix, but the JSON keeps it for whoever reads it.
    assert v.document({})["targets"]["caught"]["checks"][ZOMBIES]["hint"] == "zombies left: …"
    assert "hint" not in v.document({})["targets"]["claims"]["checks"][ROUNDTRIP]


def test_a_fail_the_gate_lets_pass_still_shows_its_fix():
    v = verdicts_with(("me", PEER_RESET, "failed", "peer reset: expected x; got y", SIGPIPE_HINT), gating=False)
    assert render_problems(v)[1:] == [f"  fix: {SIGPIPE_HINT}"]
    assert problem_lines(v)[1] == (f"  fix: {SIGPIPE_HINT}", False)


def test_a_target_that_cannot_start_is_one_line_naming_how_many_checks():
    """A target that cannot start used to print the same launch error once per check, 23 lines of it."""
    def error(check: str, port: int) -> tuple:
        return ("me", check, "error", f"me: exited with status 127 before serving on 127.0.0.1:{port}; "
                f"log: setpriv: failed to execute ./x: No such file or directory", "")
    checks = [c for c in CATALOGUE if c.startswith("tcp.")][:5]
    v = verdicts_with(*(error(check, 10000 + i) for i, check in enumerate(checks)),
                      ("other", ROUNDTRIP, "error", "other: exited with status 1 before serving on 127.0.0.1:9", ""),
                      ("me", "tcp.close.fin-not-rst", "error", "me: teardown: survived SIGKILL", ""))
    lines = render_problems(v)
    assert lines == [
        "me · tcp.echo.roundtrip [must · RFC 862] → error: me: exited with status 127 before serving on "
        "127.0.0.1:{port}; log: setpriv: failed to execute ./x: No such file or directory (the same error in 5 "
        "checks)",
        "me · tcp.close.fin-not-rst [must · RFC 9293 §3.6] → error: me: teardown: survived SIGKILL",
        "other · tcp.echo.roundtrip [must · RFC 862] → error: other: exited with status 1 before serving on "
        "127.0.0.1:9",
    ]  # another message, another target: their own lines, each as it was


def test_the_junit_failure_text_ends_the_finding_with_the_fix():
    v = verdicts_with(("me", PEER_RESET, "failed", "peer reset: expected x; got y", SIGPIPE_HINT))
    v.record(Verdict("t.py::z[me]", ZOMBIES, "me", Outcome.FAILED, "should", "zombies: expected none; got 31", False,
                     evidence=(("process tree", "pid 1 Z"),), hint="zombies left: loop waitpid()"))
    cases = {c.get("name"): c for c in ET.fromstring(render_junit(v, {"seed": 1})).iter("testcase")}
    text = cases[f"{PEER_RESET}[me]"].find("failure").text
    assert text.splitlines()[2] == f"  fix: {SIGPIPE_HINT}"
    assert text == failure_text(PEER_RESET, "should", "peer reset: expected x; got y", [], SIGPIPE_HINT)
    skipped = cases[f"{ZOMBIES}[me]"].find("skipped")  # a FAIL the gate lets pass: a skip, fix included
    assert "  fix: zombies left: loop waitpid()\n\n--- process tree ---" in skipped.text


def test_the_markdown_summary_shows_the_fix_under_the_problem():
    v = verdicts_with(("me", PEER_RESET, "failed", "peer reset: expected x; got y", SIGPIPE_HINT))
    text = render_markdown(v, {"seed": 1, "exitstatus": 1})
    line = next(i for i, entry in enumerate(text.splitlines()) if entry.startswith("- **me**"))
    following = text.splitlines()[line + 1]
    assert text.splitlines()[line].endswith("got y\\")  # a hard line break: the fix shows on its own line
    assert following == "  fix: died of SIGPIPE: ignore SIGPIPE (signal(SIGPIPE, SIG\\_IGN)) or send with MSG\\_NOSIGNAL"


def category_of(message: str, *, whole: bool) -> str | None:
    """The category of a failed result, as Allure 2 (``whole``: the regex matches the whole message) or
    Allure 3 (the regex is searched) picks it: the first that matches."""
    for category in CATEGORIES:
        pattern = category.get("messageRegex")
        if "failed" in category["matchedStatuses"] and (
                pattern is None or (re.fullmatch if whole else re.search)(pattern, message)):
            return category["name"]
    return None


def test_allure_ends_the_message_with_the_fix_and_keeps_the_category():
    message = "close: expected FIN from the server and no RST; got RST from the server ([AR] seq=33 ack=34 len=0)"
    hint = CATALOGUE["tcp.close.fin-not-rst"].hint(causes.RST_LINGER)
    status, shown = allure_status("failed", message, True, hint)
    assert (status, shown) == ("failed", f"{message}\nfix: {hint}")
    assert allure_status("xfailed", message, False, hint)[1] == f"declared violation caught: {message}"
    assert allure_status("below", "x: expected 1; got 0", False, "h")[1].endswith("\nfix: h")
    # The fix's words ("reset", "nothing") must not move a finding to another category.
    mismatch = "echo: expected the same 32 bytes back within 2.0s; got 33 bytes (expected 32), first difference at 32"
    with_fix = allure_status("failed", mismatch, True, CATALOGUE[ROUNDTRIP].hint(causes.RESET_EARLY))[1]
    for whole in (True, False):
        assert category_of(with_fix, whole=whole) == category_of(mismatch, whole=whole) == "Data mismatch"


def test_the_hint_travels_to_the_controller_and_through_a_merge():
    """The worker resolves the hint; the controller and ``sockcheck merge`` render the record they were given."""
    phases = [Phase("setup", None), Phase("call", Outcome.FAILED, "peer reset: expected x; got y", "should",
                                          hint=SIGPIPE_HINT)]
    verdict = verdict_of(phases, nodeid="t.py::p[me]", check=PEER_RESET, target="me", judge=Judge())
    assert verdict.hint == SIGPIPE_HINT
    assert Verdict.from_json(json.loads(json.dumps(verdict.as_json()))) == verdict
    v = Verdicts(targets={"me": {"transport": "tcp", "model": "other"}}, check_order=list(CATALOGUE))
    v.record(verdict)
    document = v.document({"seed": 1})
    assert document["targets"]["me"]["checks"][PEER_RESET]["hint"] == SIGPIPE_HINT
    merged = merge([json.loads(json.dumps(document))])
    assert render_junit(merged, {"seed": 1}) == render_junit(v, {"seed": 1})
    assert f"  fix: {SIGPIPE_HINT}" in render_problems(merged)


# -- end to end: the bundled server that dies of SIGPIPE -----------------------------------------

def test_a_server_killed_by_sigpipe_is_told_to_ignore_sigpipe(sockcheck, tmp_path):
    """The whole way: the check reads the exit status, the judgment names SIGPIPE, the worker resolves the
    hint, and the terminal, the JSON and JUnit show it."""
    manifest = sockcheck.manifest(target_toml("me", [str(FAULTY_BIN / "sigpipe_kills"), "{port}", "{host}"]))
    junit = tmp_path / "junit.xml"
    run = sockcheck.run("--targets-file", str(manifest), "-k", "peer_reset", f"--junitxml={junit}",
                        suites=(SUITES / "tcp" / "test_close.py",))
    assert run.ret == 1, str(run)
    assert run.cell("me", PEER_RESET)["outcome"] == "failed", str(run)
    assert run.cell("me", PEER_RESET)["hint"] == SIGPIPE_HINT
    lines = run.stdout.splitlines()
    summary = lines[next(i for i, line in enumerate(lines) if "sockcheck conformance" in line):]
    problem = next(i for i, line in enumerate(summary) if line.startswith(f"me · {PEER_RESET}"))
    assert "died of SIGPIPE" in summary[problem] and summary[problem + 1] == f"  fix: {SIGPIPE_HINT}", str(run)
    assert sum(line.startswith("  fix: ") for line in summary) == 1, str(run)
    assert f"  fix: {SIGPIPE_HINT}" in lines[:lines.index(summary[0])]  # pytest's failure text has it too
    assert f"  fix: {SIGPIPE_HINT}" in junit.read_text()
