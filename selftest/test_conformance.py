"""Unit tests of the verdict record and its fold, the verdicts table (JSON document), the matrix and the findings."""

from __future__ import annotations

import json
import random

import pytest

from sockcheck.verdicts.catalogue import CATALOGUE
from sockcheck.verdicts.matrix import LEGEND, render_matrix, render_problems
from sockcheck.verdicts.record import SEVERITY, Judge, Outcome, Phase, verdict_of
from sockcheck.verdicts.table import Verdicts, write_json
from selftest.cases import case, record
from sockcheck.verdicts.findings import Violation, describe_stream, first_difference, violation

RT, BIN, UDP = "tcp.echo.roundtrip", "tcp.echo.binary", "udp.echo.roundtrip"


def verdicts(*targets: str) -> Verdicts:
    return Verdicts(targets={t: {"transport": "tcp", "model": "other"} for t in targets}, check_order=list(CATALOGUE))


def test_phases_fold_to_the_worst():
    """A failing teardown after a passing call used to be reported as a pass."""
    phases = [Phase("setup", None, "", duration=0.1),  # a passing setup adds nothing
              Phase("call", Outcome.PASSED, "", duration=0.2),
              Phase("teardown", Outcome.ERROR, "teardown: survived SIGKILL", duration=0.3),
              Phase("teardown", Outcome.PASSED, "later but milder", duration=0.0)]
    verdict = verdict_of(phases, nodeid="n", check=RT, target="t", judge=Judge())
    assert (verdict.outcome, verdict.message, verdict.gating) == ("error", "teardown: survived SIGKILL", True)
    assert verdict.duration == pytest.approx(0.6)


@pytest.mark.parametrize(("first", "second", "worst"), [
    ("passed", "failed", "failed"),
    ("failed", "passed", "failed"),
    ("skipped", "passed", "passed"),
    ("xfailed", "passed", "xfailed"),
    ("xfailed", "xpassed", "xpassed"),
    ("failed", "error", "error"),
    ("error", "xpassed", "error"),
])
def test_several_cases_of_one_check_take_the_worst(first, second, worst):
    """A check with several test cases must report its worst case, whatever order they finish in."""
    v = verdicts("t")
    v.record(case("a.py::x[t]", "t", RT, (first, f"msg {first}")))
    v.record(case("b.py::y[t]", "t", RT, (second, f"msg {second}")))
    cell = v.by_target()["t"][RT]
    assert cell["outcome"] == worst and cell["message"] == f"msg {worst}"
    assert cell["nodeids"] == ["a.py::x[t]", "b.py::y[t]"] and cell["duration"] == 0.5


def test_severity_order_is_documented():
    """The fold order is: skipped < passed < inconclusive < xfailed < below < xpassed < failed < error."""
    assert sorted(SEVERITY, key=SEVERITY.get) == ["skipped", "passed", "inconclusive", "xfailed", "below", "xpassed",
                                                  "failed", "error"]


def test_case_without_a_call_result_is_an_error():
    """An interrupted case (setup passed, call never reported) must not vanish or count as a pass."""
    v = verdicts("t")
    v.record(case("a.py::x[t]", "t", RT, (None, "")))
    cell = v.by_target()["t"][RT]
    assert cell["outcome"] == "error" and "interrupted" in cell["message"]


def test_document_shape_and_order(tmp_path):
    """The JSON must list every declared target (even one without cases) and checks in catalogue order."""
    v = verdicts("a", "b", "idle")
    record(v, "u.py::r[a]", "a", UDP, ("skipped", "not applicable"))
    record(v, "t.py::b[a]", "a", BIN, ("passed", ""))
    record(v, "t.py::r[a]", "a", RT, ("passed", ""))
    record(v, "t.py::r[b]", "b", RT, ("failed", "echo: expected x; got y"))
    doc = v.document({"seed": 1})
    assert doc["schema"] == 2 and doc["run"] == {"seed": 1}
    assert list(doc["targets"]) == ["a", "b", "idle"]
    assert doc["targets"]["idle"] == {"transport": "tcp", "model": "other", "gate": None, "observed": {}, "checks": {}}
    assert list(doc["checks"]) == [RT, BIN, UDP] and doc["checks"][RT]["level"] == "must"
    assert list(doc["targets"]["a"]["checks"]) == [RT, BIN, UDP]
    assert v.isolation == {"netns"}
    assert v.problems() == [("b", RT, doc["targets"]["b"]["checks"][RT])]
    assert render_problems(v) == ["b · tcp.echo.roundtrip [must · RFC 862] → FAIL: echo: expected x; got y"]
    path = tmp_path / "deep" / "c.json"
    write_json(path, doc)
    assert json.loads(path.read_text()) == doc and not path.with_suffix(".json.tmp").exists()


def matrix_fixture() -> Verdicts:
    v = verdicts("c-epoll", "dies", "skipper")
    record(v, "t.py::r[c-epoll]", "c-epoll", RT, ("passed", ""))
    record(v, "t.py::b[c-epoll]", "c-epoll", BIN, ("xfailed", "caught"))
    record(v, "t.py::r[dies]", "dies", RT, ("error", "exited"))
    record(v, "t.py::b[dies]", "dies", BIN, ("xpassed", "not detected"))
    return v


def test_render_matrix_wide():
    """Wide terminals get words in aligned columns headed by the short check names; the corner names the transport."""
    lines = render_matrix(matrix_fixture(), 120)
    assert lines[0].split() == ["tcp", "echo.roundtrip", "echo.binary"]
    assert lines[1].split() == ["c-epoll", "pass", "xfail"]
    assert lines[2].split() == ["dies", "error", "XPASS"]
    assert len(lines) == 3  # "skipper" has no cases: no row
    starts = {line.index(word) for line, word in zip(lines, ["echo.roundtrip", "pass", "error"])}
    assert len(starts) == 1  # the first column is aligned


def test_render_matrix_splits_by_transport():
    """A TCP check on a UDP target is never applicable: the matrix shows one block per transport
    instead of a quadrant of skips (and tcp./udp.echo.roundtrip no longer collide as headers)."""
    v = Verdicts(targets={"t": {"transport": "tcp", "model": "other"}, "u": {"transport": "udp", "model": "other"}},
                 check_order=list(CATALOGUE))
    record(v, "t.py::r[t]", "t", RT, ("passed", ""))
    record(v, "u.py::r[t]", "t", UDP, ("skipped", "n/a"))
    record(v, "t.py::r[u]", "u", RT, ("skipped", "n/a"))
    record(v, "u.py::r[u]", "u", UDP, ("failed", "udp echo: expected x; got y"))
    assert render_matrix(v, 200) == ["tcp echo.roundtrip", "t   pass", "", "udp echo.roundtrip", "u   FAIL"]


def test_render_matrix_transposed():
    """Few targets and many checks: checks become the rows, still in words, when that fits and the wide form does not."""
    v = verdicts("me")
    checks = [c for c in CATALOGUE if c.startswith("tcp.")][:8]
    for i, check in enumerate(checks):
        record(v, f"t.py::c{i}[me]", "me", check, ("failed" if i == 3 else "passed", ""))
    lines = render_matrix(v, 60)
    assert lines[0].split() == ["tcp", "me"]
    assert [line.split()[0] for line in lines[1:]] == [c.split(".", 1)[1] for c in checks]
    assert lines[4].split() == [checks[3].split(".", 1)[1], "FAIL"]
    assert all(len(line) <= 60 for line in lines)


def test_render_matrix_compact():
    """Narrow terminals get one symbol per check, numbered columns and a legend, never wrapped rows."""
    lines = render_matrix(matrix_fixture(), 20)
    assert lines[:3] == ["tcp     12", "c-epoll .x", "dies    EX"]
    assert lines[3] == ""
    legend = lines[4:]
    assert " ".join(" ".join(legend[:-2]).split()) == " ".join(LEGEND.split())  # wrapped, not cut
    assert legend[-2:] == ["tcp.echo 1 roundtrip", "         2 binary"]
    assert all(len(line) <= 20 for line in lines[:3])


def test_render_matrix_compact_many_columns():
    """With ten or more checks the header rows spell the column numbers vertically, and a space separates families."""
    v = verdicts("t")
    checks = list(CATALOGUE)[:12]  # echo x4, stream x2, half-close x2, close x2, concurrency x2
    for i, check in enumerate(checks):
        record(v, f"t.py::c{i}[t]", "t", check, ("passed", ""))
    lines = render_matrix(v, 22)  # too narrow for words either way round
    assert lines[0] == "    " + "    " + " " + "  " + " " + "  " + " " + " 1" + " " + "11"
    assert lines[1] == "tcp " + "1234 56 78 90 12"
    assert lines[2] == "t   " + ".... .. .. .. .."
    assert "tcp.concurrency 11 parallel" in lines


def test_render_matrix_empty():
    """A run without cases prints no matrix at all."""
    assert render_matrix(verdicts("t"), 120) == []


# -- sockcheck.verdicts.findings ------------------------------------------------------------------

def naive_first_difference(a: bytes, b: bytes) -> int | None:
    if a == b:
        return None
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


@pytest.mark.parametrize(("expected", "actual", "offset"), [
    (b"abc", b"abc", None),
    (b"", b"", None),
    (b"abc", b"xbc", 0),
    (b"abc", b"abx", 2),
    (b"abc", b"ab", 2),
    (b"ab", b"abc", 2),
    (b"", b"a", 0),
    (b"a", b"", 0),
])
def test_first_difference_cases(expected, actual, offset):
    """The binary search could be off by one at the ends or on prefixes."""
    assert first_difference(expected, actual) == offset


def test_first_difference_matches_a_naive_scan():
    """The binary search must agree with a byte-by-byte scan on many random pairs."""
    rng = random.Random(1234)
    for _ in range(2000):
        size = rng.randint(0, 40)
        a = bytes(rng.choice(b"ab") for _ in range(size))
        b = bytearray(a[:rng.randint(0, size)] if rng.random() < 0.3 else a)
        if b and rng.random() < 0.7:
            b[rng.randrange(len(b))] ^= 1
        if rng.random() < 0.2:
            b += b"x"
        assert first_difference(a, bytes(b)) == naive_first_difference(a, bytes(b)), (a, bytes(b))


def test_first_difference_large():
    """8 MiB streams differing in the middle must be located exactly (and fast)."""
    expected = random.Random(5).randbytes(8 << 20)
    actual = bytearray(expected)
    actual[4194304] ^= 0xFF
    assert first_difference(expected, bytes(actual)) == 4194304
    assert first_difference(expected, expected[:4194304]) == 4194304


@pytest.mark.parametrize(("expected", "actual", "text"), [
    (b"abcd", b"abcd", "4 identical bytes"),
    (b"abcd", b"ab", "2 of 4 bytes (a correct prefix, the rest missing)"),
    (b"abcd", b"abXd", "4 bytes (expected 4), first difference at offset 2"),
    (b"abcd", b"aXc", "3 bytes (expected 4), first difference at offset 1"),
    (b"ab", b"abcd", "4 bytes (expected 2), first difference at offset 2"),
    (b"abcd", b"", "0 of 4 bytes (a correct prefix, the rest missing)"),
])
def test_describe_stream(expected, actual, text):
    """Violation messages must say how much came back and where it first went wrong."""
    assert describe_stream(expected, actual) == text


def test_violation_format():
    """A Violation is an AssertionError with one 'rule: expected X; got Y' line."""
    exc = violation("half-close", "65536 bytes then EOF", "40960 bytes then RST")
    assert isinstance(exc, Violation) and isinstance(exc, AssertionError)
    assert str(exc) == "half-close: expected 65536 bytes then EOF; got 40960 bytes then RST"


def test_a_capacity_checks_must_level_finding_is_must_everywhere():
    """A capacity check that finds corrupted data raises Violation(level=MUST): the summary line, the JSON
    cell, JUnit and Markdown say must, and the default gate fails the run on it."""
    from sockcheck.verdicts.junit import render_junit
    from sockcheck.verdicts.markdown import render_markdown

    parallel = "tcp.concurrency.parallel"
    assert CATALOGUE[parallel].level == "capacity"
    phases = [Phase("setup", None), Phase("call", Outcome.FAILED, "parallel: expected own bytes; got another's",
                                          level="must", evidence=(("clients", "3 got bytes of 4"),))]
    verdict = verdict_of(phases, nodeid="t.py::p[me]", check=parallel, target="me", judge=Judge())
    assert (verdict.outcome, verdict.level, verdict.gating) == ("failed", "must", True)
    v = verdicts("me")
    v.record(verdict)
    cell = v.document({})["targets"]["me"]["checks"][parallel]
    assert cell["level"] == "must" and cell["evidence"] == [["clients", "3 got bytes of 4"]]
    assert "[must · " in render_problems(v)[0] and "[capacity" not in render_problems(v)[0]
    junit = render_junit(v, {"seed": 1}).decode()
    assert '<property name="level" value="must" />' in junit and "3 got bytes of 4" in junit
    assert "[must · " in render_markdown(v, {"seed": 1, "exitstatus": 1})


def test_a_verdict_travels_as_plain_values():
    """Between an xdist worker and the controller the record is JSON-able values, and comes back equal."""
    verdict = case("t.py::r[me]", "me", RT, (None, ""), ("failed", "echo: expected a; got b"),
                   evidence=(("target log: me", "\x1b[2J"),), owner=None, hint="write back exactly what came")
    assert verdict.__class__.from_json(json.loads(json.dumps(verdict.as_json()))) == verdict


def test_what_was_observed_is_said_once_per_target():
    """A port found elsewhere, and the model of a one-liner or one that contradicts its manifest."""
    from sockcheck.verdicts.matrix import model_lines

    v = Verdicts(targets={"me": {"transport": "tcp", "model": "other"}, "claims": {"transport": "tcp", "model": "thread"},
                          "honest": {"transport": "tcp", "model": "epoll"}}, check_order=list(CATALOGUE))
    par = "tcp.concurrency.parallel"
    v.record(case("p[me]", "me", par, (None, ""), ("passed", ""),
                  facts=(("port", "127.0.0.1:9000, whatever {port} says"), ("model", "a process per connection"))))
    v.record(case("p[claims]", "claims", par, (None, ""), ("passed", ""), facts=(("model", "an event loop (epoll)"),)))
    v.record(case("p[honest]", "honest", par, (None, ""), ("passed", ""), facts=(("model", "an event loop (epoll)"),)))
    assert model_lines(v) == ["me: listens on 127.0.0.1:9000, whatever {port} says; checked there",
                              "me: observed a process per connection",
                              "claims: declared model thread; observed an event loop (epoll)"]
