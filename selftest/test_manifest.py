"""Manifest validation: every malformed manifest is a one-line usage error (exit 4)
naming the file, the target and the key; valid manifests load as documented."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from sockcheck.launch.manifest import (
    DEFAULT_READY_TIMEOUT,
    ManifestError,
    check_unique,
    load_manifest,
    parse_address,
    parse_target_option,
)
from selftest.running import SELFTEST_TARGETS, script_command, target_toml, write_manifest

GOOD = 'name = "a"\ncommand = ["srv", "{port}"]\ntransport = "tcp"\n'


def entry(extra: str = "", base: str = GOOD) -> str:
    return "[[target]]\n" + base + extra


def without(line: str) -> str:
    return GOOD.replace(line + "\n", "")


# (id, manifest text, target label or None, key or None, fragment of the problem)
MALFORMED = [
    ("unknown-target-key", entry("bogus = 1\n"), "target 'a'", "bogus", "unknown key (allowed: address, build"),
    ("unknown-top-level-key", "targets = []\n" + entry(), None, "targets", "unknown top-level key"),
    ("unknown-check-in-violates", entry('[target.violates]\n"tcp.echo.nope" = "r"\n'),
     "target 'a'", "violates.tcp.echo.nope", "unknown check id"),
    ("unknown-capability", entry('capabilities = ["teleport"]\n'), "target 'a'", "capabilities",
     "unknown capability 'teleport'"),
    ("duplicate-name", entry() + entry(), "target 'a'", "name", "duplicate name (first defined in {path})"),
    ("command-without-port", entry(base='name = "a"\ncommand = ["srv", "8080"]\ntransport = "tcp"\n'),
     "target 'a'", "command", "a managed command must pass the port"),
    ("command-empty", entry(base='name = "a"\ncommand = []\ntransport = "tcp"\n'),
     "target 'a'", "command", "must not be empty"),
    ("command-is-a-string", entry(base='name = "a"\ncommand = "srv {port}"\ntransport = "tcp"\n'),
     "target 'a'", "command", "expected an array, got str 'srv {port}'"),
    ("command-not-strings", entry(base='name = "a"\ncommand = ["srv", 8080, "{port}"]\ntransport = "tcp"\n'),
     "target 'a'", "command", "expected an array of strings"),
    ("ready-timeout-string", entry('ready_timeout = "5"\n'), "target 'a'", "ready_timeout",
     "expected an integer or a number, got str '5'"),
    ("ready-timeout-bool", entry("ready_timeout = true\n"), "target 'a'", "ready_timeout",
     "expected an integer or a number, got bool True"),
    ("ready-timeout-zero", entry("ready_timeout = 0\n"), "target 'a'", "ready_timeout", "is not within (0, 120]"),
    ("ready-timeout-nan", entry("ready_timeout = nan\n"), "target 'a'", "ready_timeout", "is not within (0, 120]"),
    ("capabilities-not-array", entry('capabilities = "ipv6"\n'), "target 'a'", "capabilities",
     "expected an array, got str 'ipv6'"),
    ("missing-name", entry(base=without('name = "a"')), "target #1", "name", "required key is missing"),
    ("missing-name-second", entry() + entry(base=without('name = "a"')), "target #2", "name",
     "required key is missing"),
    ("name-with-space", entry(base=GOOD.replace('"a"', '"a b"')), "target 'a b'", "name", "must be non-empty"),
    ("missing-transport", entry(base=without('transport = "tcp"')), "target 'a'", "transport",
     "required key is missing"),
    ("command-and-address", entry('address = "127.0.0.1:7"\n'), "target 'a'", "command", "exactly one of"),
    ("neither-command-nor-address", entry(base=without('command = ["srv", "{port}"]')), "target 'a'", "command",
     "exactly one of"),
    ("bad-transport", entry(base=GOOD.replace('"tcp"', '"sctp"')), "target 'a'", "transport",
     "'sctp' is not one of tcp, udp"),
    ("bad-model", entry('model = "fibers"\n'), "target 'a'", "model", "'fibers' is not one of iterative"),
    ("bad-oob", entry('oob = "ignore"\n'), "target 'a'", "oob", "'ignore' is not one of discard, inline, urgent"),
    ("gate-unknown", entry('gate = "strict"\n'), "target 'a'", "gate", "'strict' is not one of must, should, capacity"),
    ("gate-regressions", entry('gate = "regressions"\n'), "target 'a'", "gate",
     "regressions is chosen for a whole run, with --gate regressions"),
    ("gate-not-a-string", entry("gate = 1\n"), "target 'a'", "gate", "expected a string, got int 1"),
    ("gate-an-array", entry('gate = ["must"]\n'), "target 'a'", "gate", "expected a string, got list"),
    ("empty-violates-reason", entry('[target.violates]\n"tcp.echo.roundtrip" = "  "\n'), "target 'a'",
     "violates.tcp.echo.roundtrip", "a declared violation needs a reason"),
    ("violates-not-applicable", entry('[target.violates]\n"udp.echo.roundtrip" = "no udp"\n'), "target 'a'",
     "violates.udp.echo.roundtrip", "the check does not apply to this target: udp check; a is a tcp target"),
    ("violates-missing-capability", entry('[target.violates]\n"tcp.limits.c10k" = "slow"\n'), "target 'a'",
     "violates.tcp.limits.c10k", "needs capability 'c10k'"),
    ("env-not-string", entry("env = { DEBUG = 1 }\n"), "target 'a'", "env.DEBUG", "expected a string, got int 1"),
    ("malformed-address", entry(base='name = "a"\naddress = "localhost"\ntransport = "tcp"\n'), "target 'a'",
     "address", "expected HOST:PORT or [HOST]:PORT, got 'localhost'"),
    ("address-port-zero", entry(base='name = "a"\naddress = "127.0.0.1:0"\ntransport = "tcp"\n'), "target 'a'",
     "address", "expected HOST:PORT"),
    ("cwd-on-unmanaged", entry('cwd = "x"\n', base='name = "a"\naddress = "127.0.0.1:7"\ntransport = "tcp"\n'),
     "target 'a'", "cwd", "only a managed target"),
    ("target-is-a-table", "[target]\n" + GOOD, None, "target", "expected an array of tables"),
    ("schema-2", "schema = 2\n" + entry(), None, "schema", "unsupported schema 2"),
    ("invalid-toml", entry('model = "epoll\n'), None, None, "not valid TOML: "),
]


# Usage errors stop in pytest_configure before the plugin changes anything in the process, so
# they run in-process (runpytest_inprocess: same plugin code, a fraction of the cost); these
# cases also go through a real `python -m pytest` subprocess, for the process's exit status.
SUBPROCESS_SAMPLE = {"unknown-target-key", "unknown-top-level-key", "ready-timeout-bool",
                     "violates-not-applicable", "invalid-toml", "gate-unknown"}


def expected_prefix(path: Path, label: str | None, key: str | None) -> str:
    parts = [str(path)] + ([label] if label else []) + ([f"key '{key}'"] if key else [])
    return ": ".join(parts) + ": "


def assert_one_line_usage_error(run, prefix: str, fragment: str) -> None:
    assert run.ret == 4, str(run)
    assert "Traceback" not in run.text and "INTERNALERROR" not in run.text, str(run)
    assert run.error_lines() == [run.error_lines()[0]], str(run)
    line = run.error_lines()[0]
    assert line.startswith("ERROR: " + prefix), str(run)
    assert fragment in line, str(run)
    assert not run.json_path.exists()


@pytest.mark.parametrize(("text", "label", "key", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in MALFORMED])
def test_malformed_manifest_is_usage_error(sockcheck, text, label, key, fragment, request):
    """A malformed manifest used to be able to slip through (or crash) instead of a one-line exit-4 error naming file, target and key."""
    path = sockcheck.tmp_path / "bad.toml"
    path.write_text(text)
    if request.node.callspec.id in SUBPROCESS_SAMPLE:
        run = sockcheck.run("--targets-file", str(path))
    else:
        run = sockcheck.run_inprocess("--targets-file", str(path))
    assert_one_line_usage_error(run, expected_prefix(path, label, key), fragment.replace("{path}", str(path)))


@pytest.mark.parametrize(("text", "label", "key", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in MALFORMED])
def test_load_manifest_rejects(tmp_path, text, label, key, fragment):
    """load_manifest could raise the wrong exception or a multi-line message for a malformed manifest."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ManifestError) as caught:
        targets = load_manifest(path)
        check_unique(targets)  # what the plugin does after loading every file
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(expected_prefix(path, label, key))
    assert fragment.replace("{path}", str(path)) in message


def test_missing_manifest_file(sockcheck):
    """A missing --targets-file could crash with a traceback instead of naming the file."""
    path = sockcheck.tmp_path / "nowhere.toml"
    run = sockcheck.run_inprocess("--targets-file", str(path))
    assert_one_line_usage_error(run, f"{path}: ", "no such manifest file")


def test_duplicate_name_across_two_files(sockcheck):
    """Two manifests defining the same target name used to be merged silently, one shadowing the other."""
    first = sockcheck.manifest(target_toml("same", ["srv", "{port}"]), name="one.toml")
    second = sockcheck.manifest(target_toml("other", ["srv", "{port}"]), target_toml("same", ["srv2", "{port}"]),
                                name="two.toml")
    run = sockcheck.run_inprocess("--targets-file", str(first), "--targets-file", str(second))
    assert_one_line_usage_error(run, f"{second}: target 'same': key 'name': ", f"duplicate name (first defined in {first})")


def test_target_one_liner_without_port(sockcheck):
    """A --target one-liner without {port} would start a server on a port the suite never probes."""
    run = sockcheck.run_inprocess("--target", "me=./server 8080")
    assert_one_line_usage_error(run, "--target: target 'me': key 'command': ", "must pass the port")


def test_target_one_liner_without_equals(sockcheck):
    """A --target without NAME= could be taken as a command with an empty name."""
    run = sockcheck.run_inprocess("--target", "./server {port}")
    assert_one_line_usage_error(run, "--target './server {port}': ", "expected NAME=COMMAND")


# -- regressions: inputs that used to crash pytest with an INTERNALERROR ---------------

def test_manifest_path_is_a_directory(sockcheck):
    """A --targets-file that is a folder crashed pytest with an INTERNALERROR traceback (exit 3)."""
    run = sockcheck.run_inprocess("--targets-file", str(sockcheck.tmp_path))
    assert_one_line_usage_error(run, f"{sockcheck.tmp_path}: ", "")


def test_manifest_not_utf8(sockcheck):
    """A manifest saved in Latin-1 crashed pytest with an INTERNALERROR traceback (exit 3)."""
    path = sockcheck.tmp_path / "latin1.toml"
    path.write_bytes(entry('# caf\xe9\n').encode("latin-1"))
    run = sockcheck.run_inprocess("--targets-file", str(path))
    assert_one_line_usage_error(run, f"{path}: ", "UTF-8")


def test_target_one_liner_unbalanced_quote(sockcheck):
    """A --target with an unbalanced quote crashed pytest with an INTERNALERROR traceback (exit 3)."""
    run = sockcheck.run_inprocess("--target", "me=./server '{port}")
    assert_one_line_usage_error(run, "--target ", "quotation")


def test_schema_must_be_the_integer_1(tmp_path):
    """`schema = true` passed as schema 1 because True == 1 in Python."""
    path = tmp_path / "m.toml"
    path.write_text("schema = true\n" + entry())
    with pytest.raises(ManifestError, match=r"key 'schema'"):
        load_manifest(path)


# -- valid manifests -----------------------------------------------------------------

def test_valid_manifest_fields_and_defaults(tmp_path):
    """Defaults (cwd = the manifest's folder, model, oob, ready_timeout) could drift from SPEC.md."""
    folder = tmp_path / "deep" / "folder"
    folder.mkdir(parents=True)
    path = folder / "m.toml"
    path.write_text(
        "schema = 1\n"
        + target_toml("plain", ["bin/srv", "{port}"])
        + target_toml("full", ["{python}", "srv.py", "{port}", "{host}"], transport="udp", model="asyncio",
                      capabilities=["ipv6", "graceful-shutdown"], build=["make"], cwd="sub", env={"A": "1"},
                      ready_timeout=2, oob="inline", gate="capacity", violates={"udp.burst": "drops a few"})
        + target_toml("remote", None, address="[::1]:7007")
    )
    plain, full, remote = load_manifest(path)
    assert plain.cwd == folder.resolve() and plain.managed
    assert (plain.model, plain.oob, plain.ready_timeout) == ("other", "discard", DEFAULT_READY_TIMEOUT)
    assert plain.command == ("bin/srv", "{port}") and plain.source == str(path)
    assert full.cwd == (folder / "sub").resolve()
    assert full.transport == "udp" and full.model == "asyncio" and full.oob == "inline"
    assert full.capabilities == frozenset({"ipv6", "graceful-shutdown"})
    assert full.build == ("make",) and full.env == {"A": "1"}
    assert full.ready_timeout == 2.0 and isinstance(full.ready_timeout, float)
    assert full.violates == {"udp.burst": "drops a few"}
    assert plain.gate is None and full.gate == "capacity"
    assert not remote.managed and remote.address == ("::1", 7007)


def test_as_toml_round_trips(tmp_path):
    """TargetSpec.as_toml (used in reports) could write TOML that does not load back to the same target."""
    path = tmp_path / "m.toml"
    path.write_text("schema = 1\n" + target_toml(
        "q", ["srv", "{port}", 'quote"back\\slash'], model="poll", capabilities=["concurrent"], gate="must",
        violates={"tcp.echo.large": 'says "no"'}) + target_toml("r", None, address="[::1]:9"))
    originals = load_manifest(path)
    again = tmp_path / "again.toml"
    again.write_text("\n".join(t.as_toml() for t in originals))
    for before, after in zip(originals, load_manifest(again), strict=True):
        for attr in ("name", "transport", "command", "address", "model", "capabilities", "oob", "violates", "gate"):
            assert getattr(before, attr) == getattr(after, attr), attr


@pytest.fixture
def open_folder():
    """A folder the sandbox user can reach (pytest's own temporary folders are root-only)."""
    folder = Path(tempfile.mkdtemp(prefix="sockcheck-selftest-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_relative_command_runs_from_another_folder(sockcheck, open_folder):
    """A relative command used to resolve against the current folder, so a manifest only worked from its own."""
    folder = open_folder / "elsewhere"
    (folder / "srv").mkdir(parents=True)
    for name in ("echo.py", "_serve.py"):
        shutil.copy(SELFTEST_TARGETS / name, folder / "srv" / name)
    manifest = write_manifest(folder / "m.toml",
                              target_toml("rel", ["{python}", "srv/echo.py", "{port}", "{host}", sockcheck.tag]))
    assert Path.cwd() != folder  # pytester runs from its own temporary folder
    run = sockcheck.run("--targets-file", str(manifest), "-k", "tcp.echo.roundtrip")
    assert run.ret == 0, str(run)
    assert run.outcome("rel", "tcp.echo.roundtrip") == "passed"


# -- parse_address and parse_target_option ----------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:7", ("127.0.0.1", 7)),
    ("localhost:65535", ("localhost", 65535)),
    ("[::1]:7007", ("::1", 7007)),
    ("[fe80::1%lo]:1", ("fe80::1%lo", 1)),
])
def test_parse_address_accepts(text, expected):
    """A valid HOST:PORT or [V6]:PORT could be mis-split at the wrong colon."""
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "127.0.0.1", ":7", "host:", "host:0", "host:65536", "host:x7", "host:-1",
                                  "[::1]7", "[::1]:", "[]:7", "host: 7"])
def test_parse_address_rejects(text):
    """A malformed address could be accepted and fail later as a confusing connect error."""
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        parse_address(text)


def test_parse_target_option_managed(tmp_path, monkeypatch):
    """A one-liner's command must be split like a shell would, and run from the current folder."""
    monkeypatch.chdir(tmp_path)
    spec = parse_target_option("me = ./server  --flag 'two words' {port}", "udp")
    assert spec.name == "me" and spec.transport == "udp" and spec.source == "--target"
    assert spec.command == ("./server", "--flag", "two words", "{port}")
    assert spec.cwd == tmp_path.resolve() and spec.managed


def test_parse_target_option_unmanaged():
    """NAME=address:HOST:PORT must describe an already running server, not a command named 'address:...'."""
    spec = parse_target_option("remote=address:[::1]:7", "tcp")
    assert not spec.managed and spec.address == ("::1", 7) and spec.command == ()


@pytest.mark.parametrize(("text", "fragment"), [
    ("noequals", "expected NAME=COMMAND"),
    ("me=", "expected NAME=COMMAND"),
    ("me=   ", "expected NAME=COMMAND"),
    ("=./server {port}", "key 'name'"),
    ("me=./server", "key 'command': a managed command must pass the port"),
    ("me=address:nowhere", "key 'address': expected HOST:PORT"),
])
def test_parse_target_option_rejects(text, fragment):
    """A malformed one-liner could produce a nameless or portless target instead of an error."""
    with pytest.raises(ManifestError) as caught:
        parse_target_option(text, "tcp")
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_script_command_uses_placeholders():
    """The self-tests' own target commands must keep {python}/{port}/{host} for the launcher to fill."""
    argv = script_command("echo.py", "tag")
    assert argv[0] == "{python}" and "{port}" in argv and argv[-1] == "tag"
    assert Path(argv[1]).is_file() and Path(sys.executable).exists()


def test_intermittent_violation_is_caught_or_passes(sockcheck):
    """A finding that depends on timing (ncat's relay deadlock shows in most runs, not all) could only be
    declared strict, which flakes as XPASS; declared intermittent, a run that does not show it passes."""
    manifest = sockcheck.manifest(target_toml("calm", script_command("echo.py", sockcheck.tag), violates={
        "tcp.echo.roundtrip": {"reason": "only under load", "intermittent": True}}))
    run = sockcheck.run("--targets-file", str(manifest), "-k", "tcp.echo.roundtrip")
    assert run.ret == 0, str(run)
    cell = run.cell("calm", "tcp.echo.roundtrip")
    assert cell["outcome"] == "passed" and "declared intermittent violation not seen" in cell["message"]
    assert "xpassed" not in run.stdout.splitlines()[-1]
