"""A failing case is replayed once under strace, and the server's system calls show its bug
(fixtures/trace.py, sockcheck/capture/syscalls.py); a passing run starts no strace at all."""

from __future__ import annotations

import datetime
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sockcheck.capture.ladder import joined, ladder_svg, ladder_text
from sockcheck.capture.pcap import RawSegment
from sockcheck.capture.syscalls import (MAX_TRACE_BYTES, Tracer, TraceUnavailable, shorten_call, strace_command,
                                       timed_calls, trace_excerpt, tracer_of)
from selftest.running import C_BIN, ROOT, ensure_c_targets
from selftest.test_lab import build_lab, one_liner

FAULTY_BIN = ROOT / "targets" / "faulty" / "bin"
RUN_TIMEOUT = 150.0
REPLAYED = "system calls (replayed under strace with the same seed:"

needs_strace = pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")


# -- the excerpt, on synthetic traces -------------------------------------------

def test_strace_follows_forks_with_times_and_a_capped_file(tmp_path):
    argv = strace_command([12, 34], tmp_path / "t.txt")
    assert argv[:3] == ["prlimit", f"--fsize={MAX_TRACE_BYTES}", "--"]
    assert {"-f", "-tt", "-A"} <= set(argv)
    assert argv[argv.index("-e") + 1] == "trace=%network,%desc,%process,%signal"
    assert argv[-4:] == ["-p", "12", "-p", "34"]


def test_a_payload_is_cut_its_length_and_result_kept():
    line = r'7 06:00:00.000001 write(5, "\350\231\305L\215\305\27=w$\341\222-\207>\1\354"..., 633656) = -1 EPIPE'
    assert shorten_call(line) == r'7 06:00:00.000001 write(5, "\350\231\305L\21"..., 633656) = -1 EPIPE'
    assert shorten_call('7 06:00:00.000001 read(4, "", 4096) = 0') == '7 06:00:00.000001 read(4, "", 4096) = 0'


def test_the_excerpt_is_the_end_until_the_check_ended_folded():
    rounds = [f'9 06:00:00.{i:06d} read(4, "", 4096) = 0' for i in range(50)]
    teardown = ["9 06:00:02.000000 --- SIGTERM {si_signo=SIGTERM} ---", "9 06:00:02.000100 +++ killed by SIGTERM +++"]
    text = "\n".join(["strace: Process 9 attached", '9 06:00:00.000000 write(4, "abc", 3) = 3', *rounds,
                      "9 06:00:01.000000 ppoll([{fd=4}], 1, NULL, [], 8) = 1", *teardown, ""])
    excerpt = trace_excerpt(text, whole="/x/t.strace.txt", until="06:00:01.500000").splitlines()
    assert excerpt[0] == "[52 calls and signals, the last 5 lines shown; the whole trace: /x/t.strace.txt]"
    assert excerpt[1:] == ['9 06:00:00.000000 write(4, "abc", 3) = 3', rounds[0],
                           "  [... 48 more of lines like it: 50 in all ...]", rounds[-1],
                           "9 06:00:01.000000 ppoll([{fd=4}], 1, NULL, [], 8) = 1"]
    assert trace_excerpt(text, until="06:00:01.500000", last=2).splitlines()[1:] == [
        rounds[-1], "9 06:00:01.000000 ppoll([{fd=4}], 1, NULL, [], 8) = 1"]
    assert trace_excerpt(text, last=1, head=False) == "9 06:00:02.000100 +++ killed by SIGTERM +++"
    assert trace_excerpt("strace: Process 9 attached\n") == "(no system calls recorded)"


def test_the_servers_calls_sit_beside_the_packets_on_one_time_axis():
    raw = [RawSegment(100.0, 5000, 80, 0x02, 1000, 0, 0, b""), RawSegment(100.002, 80, 5000, 0x12, 9000, 1001, 0, b"")]
    calls = [(100.001, "[7] accept(3, NULL, NULL) = 4"), (99.999, "[7] ppoll([{fd=3}], 1) = 1")]
    segments, server_calls = joined(raw, 80, calls)
    rows = ladder_text(segments, "t", server_calls).splitlines()[2:]
    assert [row.split()[0] for row in rows] == ["0.000", "1.000", "2.000", "3.000"]
    assert rows[0].endswith("server │ [7] ppoll([{fd=3}], 1) = 1") and "[S]" in rows[1]
    assert rows[2].endswith("server │ [7] accept(3, NULL, NULL) = 4") and "[SA]" in rows[3]
    svg = ladder_svg(segments, "t", server_calls)
    assert "accept(3, NULL, NULL) = 4" in svg and 'width="1400"' in svg
    assert 'width="760"' in ladder_svg(segments, "t")  # without calls, the ladder as it was


def test_traced_lines_get_their_time_since_the_epoch():
    text = ("7  06:00:00.500000 accept(3, NULL, NULL) = 4\nstrace: Process 7 detached\n"
            "7  06:00:01.000000 +++ exited with 0 +++\n")
    day = datetime.date(2026, 1, 1)
    assert timed_calls(text, day, until="06:00:00.900000") == [
        (datetime.datetime(2026, 1, 1, 6, 0, 0, 500000).timestamp(), "[7] accept(3, NULL, NULL) = 4")]
    assert len(timed_calls(text, day)) == 2


# -- faulty servers, end to end --------------------------------------------------

def _trace_section(run) -> str:
    """The failure's system-call evidence as the terminal shows it."""
    text = run.text
    start = text.index(REPLAYED)
    end = min([i for i in (text.find("\n===", start), text.find("\n___", start)) if i > 0] or [len(text)])
    return text[start:end]


def _fails(sockcheck, server: str, checks: str, module: str, *options: str):
    """A one-liner of a bundled faulty server (``server``: its command line), run on the ``checks`` (-k) of
    suites/tcp/``module``; the run, which must have failed."""
    ensure_c_targets()
    run = sockcheck.run(*options, "--target", f"me={server}", "-k", checks,
                        suites=[ROOT / "suites" / "tcp" / module], timeout=RUN_TIMEOUT)
    assert run.ret == 1, run.text
    return run


def _joined_ladder(section: str) -> str:
    """The replay's packets and the server's calls on one time axis, as saved beside the trace."""
    return Path(re.search(r"beside its packets: ([^;)\s]+)", section).group(1)).read_text()


def _whole_trace(section: str) -> str:
    path = re.search(r"the whole trace: ([^;)\s]+)", section).group(1)
    return Path(path).read_text()


@needs_strace
@pytest.mark.timeout(200)
def test_sigpipe_shows_the_write_and_the_signal_that_killed_the_server(sockcheck):
    run = _fails(sockcheck, f"{FAULTY_BIN / 'sigpipe_kills'} {{port}} {{host}}", "peer-reset", "test_close.py")
    section = _trace_section(run)
    assert "the replay failed the same way" in section.splitlines()[0]
    assert re.search(r"write\(\d+, .*EPIPE", section), section
    assert "--- SIGPIPE" in section and "+++ killed by SIGPIPE +++" in section, section
    # No capture in this check: the replay runs one of its own, so the calls sit beside the packets.
    ladder = _joined_ladder(section)
    assert re.search(r"server │ \[\d+\] write\(\d+, .*EPIPE", ladder) and "+++ killed by SIGPIPE +++" in ladder, ladder
    assert "──▶ server" in ladder, ladder[:2000]


@needs_strace
@pytest.mark.timeout(200)
def test_fork_noreap_shows_sigchld_and_no_wait(sockcheck):
    run = _fails(sockcheck, f"{FAULTY_BIN / 'fork_noreap'} {{port}} {{host}}", "zombies", "test_process.py")
    # The original attempt's evidence is kept as it was, each section once: the check's own process
    # tree is not shown again beside the launch's.
    assert run.stdout.count("--- process tree ---") == 1, run.stdout
    section = _trace_section(run)
    assert "--- SIGCHLD" in section, section
    whole = _whole_trace(section)
    # Until the harness's SIGTERM at teardown, the parent reaps none of the children whose SIGCHLD it got.
    until_stopped = whole.split("--- SIGTERM")[0]
    assert until_stopped.count("--- SIGCHLD") >= 2, whole[:2000]
    assert "wait4(" not in until_stopped and "waitid(" not in until_stopped, until_stopped[-2000:]
    ladder = _joined_ladder(section)
    assert "--- SIGCHLD" in ladder and "──▶ server" in ladder, ladder[:3000]


@needs_strace
@pytest.mark.timeout(200)
def test_select_server_reads_eof_and_never_closes(sockcheck, tmp_path):
    build_lab()
    run = sockcheck.run("--target", one_liner("sk", "select_keeps_closed"), "-k", "fin-not-rst",
                        f"--alluredir={tmp_path / 'allure'}",
                        suites=[ROOT / "suites" / "tcp" / "test_close.py"], timeout=RUN_TIMEOUT)
    assert run.ret == 1, run.text
    section = _trace_section(run)
    eof = re.search(r'read\((\d+), "", \d+\) = 0', section)
    assert eof, section
    assert f"close({eof.group(1)})" not in _whole_trace(section)
    # A wire check: the replay's packets and the server's calls on one time axis.
    ladder = _joined_ladder(section)
    assert "[AF]" in ladder and re.search(r'server │ \[\d+\] read\(\d+, "", \d+\) = 0', ladder), ladder[:3000]
    # ... and the trace and both ladders are the Allure result's attachments.
    [result] = [json.loads(path.read_text()) for path in (tmp_path / "allure").glob("*-result.json")]
    attached = {a["name"]: a for a in result["attachments"]}
    assert {"system calls (strace, the replay)", "calls and packets (text)", "calls and packets (SVG)"} <= attached.keys()
    assert attached["calls and packets (SVG)"]["type"] == "image/svg+xml"
    svg = (tmp_path / "allure" / attached["calls and packets (SVG)"]["source"]).read_text()
    assert svg.lstrip().startswith("<svg") and "read(" in svg, svg[:500]


def test_a_passing_run_has_no_trace_and_no_replay(sockcheck):
    ensure_c_targets()
    run = sockcheck.run("--target", f"ok={C_BIN / 'poll_echo'} {{port}}", "-k", "peer-reset or roundtrip",
                        suites=[ROOT / "suites" / "tcp"], timeout=RUN_TIMEOUT)
    assert run.ret == 0, run.text
    assert "strace" not in run.text
    assert not list(Path.cwd().glob("reports/evidence/*.strace.txt"))


@pytest.mark.timeout(200)
def test_no_trace_failures_turns_the_replay_off(sockcheck):
    run = _fails(sockcheck, f"{FAULTY_BIN / 'sigpipe_kills'} {{port}} {{host}}", "peer-reset", "test_close.py",
                 "--no-trace-failures")
    assert REPLAYED not in run.text
    assert not list(Path.cwd().glob("reports/evidence/*.strace.txt"))


@needs_strace
def test_strace_detaches_when_its_time_is_up_and_the_process_runs_on(tmp_path):
    """A spinning server is many times slower traced: past its time strace lets go, the server lives."""
    spinner = subprocess.Popen([sys.executable, "-c", "import os, time\nwhile True: os.getpid(); time.sleep(0.001)"])
    try:
        tracer = Tracer(tmp_path / "spin.strace.txt")
        try:
            tracer.attach([spinner.pid])
        except TraceUnavailable as exc:
            pytest.skip(f"cannot trace here: {exc}")
        tracer.detach_after(0.3)
        assert tracer.process.wait(5) is not None
        assert tracer.detached and spinner.poll() is None and tracer_of(spinner.pid) == 0
        tracer.stop()
        assert "+++" not in (tmp_path / "spin.strace.txt").read_text()  # let go, not killed
    finally:
        spinner.kill()
        spinner.wait()


@needs_strace
def test_a_process_that_cannot_be_traced_is_said_so(tmp_path):
    """ptrace refused (here: the process has a tracer already, as under a debugger or with Yama's
    ptrace_scope): attach() raises with strace's own reason, and nothing is left running."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(0.05)"])
    first = Tracer(tmp_path / "first.strace.txt")
    try:
        try:
            first.attach([sleeper.pid])
        except TraceUnavailable as exc:
            pytest.skip(f"cannot trace here: {exc}")
        second = Tracer(tmp_path / "second.strace.txt")
        with pytest.raises(TraceUnavailable) as refused:
            second.attach([sleeper.pid])
        assert f"strace could not attach to {sleeper.pid}: " in str(refused.value)
        assert "Operation not permitted" in str(refused.value), refused.value
        assert second.process.poll() is not None  # the refused strace is gone
        assert tracer_of(sleeper.pid) == first.process.pid  # and the first one untouched
    finally:
        sleeper.kill()
        sleeper.wait()
        first.stop()


@needs_strace
@pytest.mark.timeout(200)
def test_a_server_under_its_own_tracer_gets_its_failure_and_says_why_no_trace(sockcheck):
    """The whole way: a server run under a debugger of its own (strace here) cannot be traced again; the
    verdict is the same, and the evidence names the process strace was refused and strace's reason."""
    run = _fails(sockcheck, f"strace -f -qq -o /dev/null {FAULTY_BIN / 'sigpipe_kills'} {{port}} {{host}}",
                 "peer-reset", "test_close.py")
    assert "the process died of SIGPIPE" in run.text
    section = _trace_section(run)
    assert re.search(r"strace could not attach to \d+: .*Operation not permitted", section), section
