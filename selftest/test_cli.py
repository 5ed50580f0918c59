"""The installed ``sockcheck`` command: its own help, version and listing (quick, quiet on a closed pipe,
building nothing), argument forms, exit codes, a user's folder that holds its own pytest configuration,
and shards that merge into the verdicts of one run."""

from __future__ import annotations

import argparse
import json
import os
import re
import time
import xml.etree.ElementTree as ET
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from sockcheck import __version__, cli, layout
from sockcheck.fixtures import plugin
from sockcheck.fixtures.plugin import in_shard
from sockcheck.verdicts.merge import junit, merge
from selftest.running import BUNDLED_MANIFEST, PYTEST_INI, c_command, new_run_id, run_env, target_toml, write_manifest

SOCKCHECK = Path(sys.executable).parent / "sockcheck"
ROUNDTRIP = "tcp.echo.roundtrip"
HOSTILE_INI = "[pytest]\naddopts = -x --no-such-option\ntestpaths = nowhere\n"
HOSTILE_CONFTEST = 'raise SystemExit("the user\'s conftest.py was loaded")\n'

ANSWERED_BY_THE_COMMAND = (["--help"], ["-h"], ["--version"], ["-V"], ["--list-checks"], ["-n", "auto", "--help"])
HELP_LINES = 61  # the help fits a screen: more belongs in the README

needs_command = pytest.mark.skipif(not SOCKCHECK.exists(), reason="the sockcheck command is not installed in this venv")


@pytest.fixture
def user_folder(tmp_path):
    """An empty folder holding a server's own pytest.ini and conftest.py, as a user's project might."""
    (tmp_path / "pytest.ini").write_text(HOSTILE_INI)
    (tmp_path / "conftest.py").write_text(HOSTILE_CONFTEST)
    return tmp_path


def sockcheck(folder: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(SOCKCHECK), *args], cwd=folder, env=run_env(new_run_id()), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def cells(path: Path) -> dict:
    doc = json.loads(path.read_text())
    return {(t, c): (cell["outcome"], cell["gating"]) for t, e in doc["targets"].items() for c, cell in e["checks"].items()}


def test_suite_ini_is_the_checkouts_pytest_ini():
    """The command carries the suite's configuration: the package's pytest.ini is the checkout's."""
    assert cli.SUITE_INI.resolve() == PYTEST_INI.resolve()


class RecordingGroup:
    def __init__(self) -> None:
        self.options: dict[str, dict] = {}

    def addoption(self, *names: str, **attrs) -> None:
        self.options[names[0]] = attrs


class RecordingParser:
    """Stands in for pytest's parser: records what a plugin's pytest_addoption registers, group by group."""

    def __init__(self) -> None:
        self.groups: dict[str, RecordingGroup] = defaultdict(RecordingGroup)

    def getgroup(self, name: str, description: str = "", after: str | None = None) -> RecordingGroup:
        return self.groups[name]

    def addoption(self, *names: str, **attrs) -> None:
        self.groups["general"].addoption(*names, **attrs)

    def addini(self, *args, **kwargs) -> None:
        pass


def shown_metavar(flag: str, attrs: dict) -> str:
    """An option's value as ``--help`` names it: nothing for a switch, the choices joined with ``|``."""
    if attrs.get("action") in ("store_true", argparse.BooleanOptionalAction):
        return ""
    if "metavar" in attrs:
        return attrs["metavar"]
    if "choices" in attrs:
        return "|".join(attrs["choices"])
    return flag.lstrip("-").replace("-", "_").upper()


def test_help_shows_every_option_of_the_plugin():
    """The core cannot import the plugin, so cli.OPTIONS repeats its sockcheck group: every option, with
    the plugin's metavar and help text, and none that the plugin does not have."""
    parser = RecordingParser()
    plugin.pytest_addoption(parser)
    registered = {flag: (shown_metavar(flag, attrs), attrs.get("help", ""))
                  for flag, attrs in parser.groups["sockcheck"].options.items()}
    assert registered, "the plugin registered no sockcheck group"
    assert {option.flag: (option.metavar, option.help) for option in cli.OPTIONS} == registered
    help_lines = cli.usage().splitlines()
    for option in cli.OPTIONS:
        assert any(line.startswith(f"  {option.flag} {option.metavar}".rstrip()) for line in help_lines), option.flag


def test_help_is_sockchecks_own(capsys):
    """--help used to be pytest's 565 lines, sockcheck's options from line 242 and no word of
    --list-checks, merge or report."""
    assert cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].startswith("Runs conformance checks on TCP and UDP servers")
    assert "usage: sockcheck [OPTIONS]" in text
    assert len(lines) < HELP_LINES and max(len(line) for line in lines) < 80
    for word in ("merge JSON", "report RESULTS_DIR", "--list-checks", "-V, --version", "--pytest-help",
                 'sockcheck -n auto --target "me=./my_server {port}"', "--targets-file me.toml"):
        assert word in text
    assert "pytest" not in lines[0] and "positional arguments" not in text


@pytest.mark.parametrize("args", ANSWERED_BY_THE_COMMAND, ids=" ".join)
def test_answered_quickly_without_building_or_pytest(args, monkeypatch, capsys):
    """The first --help used to take 9 s: it built the bundled C targets for a pytest session."""
    def no_build(version):
        raise AssertionError("built the bundled targets")

    def no_exec(path, argv, env):
        raise AssertionError(f"became {argv}")

    monkeypatch.setattr(layout, "built_targets", no_build)
    monkeypatch.setattr(os, "execve", no_exec)
    start = time.monotonic()
    assert cli.main(list(args)) == 0
    assert time.monotonic() - start < 2.0
    assert capsys.readouterr().out


def test_pytest_help_is_pytests_with_the_plugin(monkeypatch):
    """--pytest-help becomes `pytest --help` with the suite's ini and plugin, building nothing."""
    became = []

    def no_build(version):
        raise AssertionError("built the bundled targets")

    def record_exec(path, argv, env):
        became.append(argv)
        assert env[cli.COMMAND_VARIABLE] == "sockcheck" and cli.COMMAND_VARIABLE not in os.environ
        raise SystemExit(0)  # stands for the exec, which does not return

    monkeypatch.setattr(layout, "built_targets", no_build)
    monkeypatch.setattr(os, "execve", record_exec)
    with pytest.raises(SystemExit):
        cli.main(["--pytest-help"])
    argv = became[0]
    assert argv[-1] == "--help" and ["-p", cli.PLUGIN] == argv[argv.index("-p"):argv.index("-p") + 2]
    assert "-c" in argv and not any(arg.startswith("--targets-file") for arg in argv)


@needs_command
@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_without_pytest(user_folder, flag):
    """-V used to start a pytest session and print 15 KeyError tracebacks of the plugin's stash keys."""
    run = sockcheck(user_folder, flag, timeout=10)
    assert (run.returncode, run.stdout, run.stderr) == (0, f"sockcheck {__version__}\n", "")


@needs_command
def test_list_checks(user_folder):
    listing = sockcheck(user_folder, "--list-checks", timeout=10)
    assert listing.returncode == 0 and ROUNDTRIP in listing.stdout and "tcp.limits.c10k" in listing.stdout


@needs_command
@pytest.mark.parametrize("flag", ["--help", "--version", "--list-checks"])
def test_a_closed_pipe_ends_quietly(tmp_path, flag):
    """`sockcheck --help | head` used to print a BrokenPipeError traceback.  Here the reader is gone
    before the first write, which is what `head` closing early comes to, every time."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        run = subprocess.run([str(SOCKCHECK), flag], cwd=tmp_path, stdout=write_end, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, text=True, timeout=10)
    finally:
        os.close(write_end)
    assert (run.returncode, run.stderr) == (0, "")


@needs_command
@pytest.mark.parametrize("form", ["space", "equals", "one-liner"])
def test_argument_forms_from_a_users_folder(user_folder, form):
    """--targets-file PATH used to stop with 'write --targets-file=...'; and the user's own pytest.ini
    and conftest.py must not change the verdicts (here they would break the run outright)."""
    manifest = write_manifest(user_folder / "me" / "me.toml",
                              target_toml("me", c_command("epoll_echo"), model="epoll"))
    target = {"space": ["--targets-file", str(manifest)], "equals": [f"--targets-file={manifest}"],
              "one-liner": ["--target", f"me={c_command('epoll_echo')[0]} {{port}} {{host}}"]}[form]
    run = sockcheck(user_folder, *target, "-k", "echo", "--conformance-json=out.json")
    assert run.returncode == 0, run.stdout + run.stderr
    outcomes = cells(user_folder / "out.json")
    assert outcomes[("me", ROUNDTRIP)] == ("passed", False) and len(outcomes) >= 3


@needs_command
def test_exit_codes(user_folder):
    """0 green, 1 a failed check, 4 a bad manifest or an empty selection."""
    broken = write_manifest(user_folder / "bad.toml", '[[target]]\nname = "x"\ncommand = ["srv"]\ntransport = "tcp"\n')
    assert sockcheck(user_folder, "--targets-file", str(broken)).returncode == 4
    corrupts = Path(__file__).parent / "targets" / "corrupts_echo.py"
    failing = sockcheck(user_folder, "--target", f"wrong={{python}} {corrupts} {{port}}", "-k", "roundtrip")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "replay: sockcheck 'suites/tcp/test_echo.py::test_roundtrip[wrong]'" in failing.stdout
    empty = sockcheck(user_folder, "--target", f"wrong={{python}} {corrupts} {{port}}", "-k", "no_such_check")
    assert empty.returncode == 4 and "no test case selected" in empty.stdout


@needs_command
def test_three_shards_merge_into_one_run(user_folder):
    """--shard K/N slices the cases by a hash of their node ids; merged, the slices give the verdicts,
    the exit status and the JUnit of one unsharded run."""
    selection = ["--targets-file", str(BUNDLED_MANIFEST), "--only-target", "c-epoll", "--only-target", "c-udp",
                 "--only-target", "f-linger-zero", "-k", "echo or close or half-close", "--seed", "7"]
    whole = sockcheck(user_folder, *selection, "--conformance-json=all.json", "--junitxml=all.xml")
    shards = [sockcheck(user_folder, *selection, f"--shard={k}/3", f"--conformance-json=s{k}.json") for k in (1, 2, 3)]
    assert whole.returncode == 0 and all(s.returncode == 0 for s in shards), [s.stdout for s in shards]
    assert all(cells(user_folder / f"s{k}.json") for k in (1, 2, 3))  # each shard ran something
    merged = sockcheck(user_folder, "merge", "s1.json", "s2.json", "s3.json", "--conformance-json=merged.json",
                       "--junitxml=merged.xml")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert cells(user_folder / "merged.json") == cells(user_folder / "all.json")
    assert "tcp.close.fin-not-rst[f-linger-zero]" in (user_folder / "merged.xml").read_text()
    # The same cases split into shards and merged: the same JSON and, byte for byte apart from times,
    # the same JUnit as the run that judged them (separate runs differ in measured figures and pids).
    whole_doc = json.loads((user_folder / "all.json").read_text())
    for k in (1, 2, 3):
        (user_folder / f"cut{k}.json").write_text(json.dumps(shard_of(whole_doc, (k, 3))))
    again = sockcheck(user_folder, "merge", "cut1.json", "cut2.json", "cut3.json", "--conformance-json=again.json",
                      "--junitxml=again.xml")
    assert again.returncode == 0, again.stdout + again.stderr
    assert untimed_targets(user_folder / "again.json") == untimed_targets(user_folder / "all.json")
    merged_xml, whole_xml = (untimed_junit(user_folder / name) for name in ("again.xml", "all.xml"))
    assert merged_xml == whole_xml
    assert 'name="rule_url"' in whole_xml and 'name="check"' in whole_xml and "<failure" not in whole_xml
    assert 'type="xfail"' in whole_xml  # f-linger-zero's declared violations, caught


def shard_of(document: dict, shard: tuple[int, int]) -> dict:
    """The part of a run's JSON that ``--shard K/N`` would have run."""
    part = json.loads(json.dumps(document))
    for entry in part["targets"].values():
        entry["checks"] = {check: cell for check, cell in entry["checks"].items()
                           if all(in_shard(nodeid, shard) for nodeid in cell["nodeids"])}
    return part


def untimed_targets(path: Path) -> dict:
    """The JSON's targets with every duration left out."""
    targets = json.loads(path.read_text())["targets"]
    for entry in targets.values():
        for cell in entry["checks"].values():
            cell.pop("duration")
    return targets


def untimed_junit(path: Path) -> str:
    return re.sub(r' (time|timestamp)="[^"]*"', "", path.read_text())


def test_merge_fails_the_run_when_a_shard_did():
    document = {"schema": 2, "run": {"seed": 1}, "targets": {"x": {"transport": "tcp", "model": "other", "checks": {
        ROUNDTRIP: {"outcome": "failed", "gating": True, "message": "echo: expected a; got b", "duration": 0.1,
                    "nodeids": ["suites/tcp/test_echo.py::test_roundtrip[x]"]}}}}}
    verdicts = merge([document])
    assert verdicts.gating_problems()
    suite = ET.fromstring(junit(verdicts)).find("testsuite")
    assert suite.get("failures") == "1" and suite.find("testcase/failure").text.startswith("echo: expected a; got b")
