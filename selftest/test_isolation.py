"""The worker's network namespace: a TCP connection table of its own, and a name service that
answers the machine's names through /etc/hosts and DNS."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import dnslib
import pytest
from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

from sockcheck.launch import isolation, nameservice
from selftest.running import ROOT, describe, target_toml, wait_no_leftovers

CHILD_EHASH = "/proc/sys/net/ipv4/tcp_child_ehash_entries"
TW_BUCKETS = "/proc/sys/net/ipv4/tcp_max_tw_buckets"
SYN_BACKLOG = "/proc/sys/net/ipv4/tcp_max_syn_backlog"
ANSWER_WITHIN = 0.05  # seconds: an answer at once, as opposed to a resolver's timeout (1 s and more)


def test_a_worker_namespace_gets_a_connection_table_of_its_own(monkeypatch):
    """The kernel sizes a namespace's TIME_WAIT limit (half) and max_syn_backlog (1/128) by its
    connection table: with a table of its own they follow CONNECTION_TABLE_ENTRIES, not the machine's
    memory.  A smaller table than any machine's default shows that the table is the namespace's own."""
    if not os.path.exists(CHILD_EHASH):
        pytest.skip("the kernel has no per-namespace TCP connection table (before Linux 6.1)")
    if not isolation.can_create_network_namespace():
        pytest.skip("no permission to create a network namespace")
    monkeypatch.setattr(isolation, "CONNECTION_TABLE_ENTRIES", 1 << 16)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which leaves its namespaces as it exits
        try:
            own = isolation._libc.unshare(isolation.CLONE_NEWNET) == 0 and isolation._own_connection_table()
            with open(TW_BUCKETS) as tw, open(SYN_BACKLOG) as syn:
                os.write(write_end, f"{own} {tw.read().strip()} {syn.read().strip()}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as answer:
        reply = answer.read()
    os.waitpid(pid, 0)
    assert reply == "True 32768 512", reply


# -- the name service of a worker namespace ------------------------------------------------------

ZONE = nameservice.loopback_zone("box.example.org")
# Questions, and what each answer must hold: (name, type) -> (rcode, answers).
EXPECTED = {
    ("box.example.org", "A"): (RCODE.NOERROR, ["127.0.0.1"]),
    ("box", "A"): (RCODE.NOERROR, ["127.0.0.1"]),
    ("box.example.org", "AAAA"): (RCODE.NOERROR, ["::1"]),
    ("localhost", "A"): (RCODE.NOERROR, ["127.0.0.1"]),
    ("localhost", "AAAA"): (RCODE.NOERROR, ["::1"]),
    ("1.0.0.127.in-addr.arpa", "PTR"): (RCODE.NOERROR, ["localhost.", "box.example.org."]),
    (ipaddress.ip_address("::1").reverse_pointer, "PTR"): (RCODE.NOERROR, ["localhost.", "box.example.org."]),
    ("box.example.org", "MX"): (RCODE.NOERROR, []),  # a name that exists, without that type: NODATA
    ("2.0.0.127.in-addr.arpa", "PTR"): (RCODE.NXDOMAIN, []),
    ("example.com", "A"): (RCODE.NXDOMAIN, []),
    ("example.com", "AAAA"): (RCODE.NXDOMAIN, []),
}


def ask(zone: nameservice.Zone, name: str, qtype: str) -> DNSRecord:
    query = DNSRecord.question(name, qtype)
    reply = DNSRecord.parse(nameservice.answer(zone, query.pack()))
    assert reply.header.id == query.header.id and reply.header.qr == 1
    return reply


@pytest.mark.parametrize("name, qtype", list(EXPECTED), ids=[f"{qt}-{name}" for name, qt in EXPECTED])
def test_the_responder_answers_the_machines_names_and_nxdomain_for_the_rest(name, qtype):
    reply = ask(ZONE, name, qtype)
    assert (reply.header.rcode, [str(rr.rdata) for rr in reply.rr]) == EXPECTED[name, qtype]
    assert reply.header.aa == 1


def test_the_responder_keeps_the_clients_spelling_and_edns():
    """Resolvers that randomise the case of the name (DNS 0x20) drop an answer that spells it otherwise."""
    query = DNSRecord.question("BoX.Example.ORG", "A")
    query.add_ar(EDNS0(udp_len=4096))
    reply = DNSRecord.parse(nameservice.answer(ZONE, query.pack()))
    assert [str(rr.rname) for rr in reply.rr] == ["BoX.Example.ORG."]
    assert any(rr.rtype == QTYPE.OPT for rr in reply.ar)


def test_the_responder_refuses_what_it_does_not_serve():
    assert nameservice.answer(ZONE, b"\x12\x34") is None  # no room for a header: nothing to answer
    assert DNSRecord.parse(nameservice.answer(ZONE, b"\x12\x34" + bytes(10) + b"\xff")).header.rcode == RCODE.FORMERR
    response = ask(ZONE, "localhost", "A")
    assert nameservice.answer(ZONE, response.pack()) is None  # a response is never answered
    update = DNSRecord.question("localhost", "A")
    update.header.opcode = 5
    assert DNSRecord.parse(nameservice.answer(ZONE, update.pack())).header.rcode == RCODE.NOTIMP


def test_the_responder_serves_pipelined_tcp_and_stops_on_close():
    """Two questions in one TCP segment (RFC 7766 pipelining) get two answers; close() ends the thread
    and frees the port."""
    with socket.socket() as probe:  # a port nothing uses, for TCP and UDP alike
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = nameservice.NameService(ZONE, ("127.0.0.1",), port)
    try:
        questions = [DNSRecord.question("box", "A"), DNSRecord.question("example.com", "A")]
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as conn:
            conn.sendall(b"".join(len(q.pack()).to_bytes(2, "big") + q.pack() for q in questions))
            replies = []
            with conn.makefile("rb") as stream:
                for _ in questions:
                    size = int.from_bytes(stream.read(2), "big")
                    replies.append(DNSRecord.parse(stream.read(size)))
        assert [r.header.id for r in replies] == [q.header.id for q in questions]
        assert [r.header.rcode for r in replies] == [RCODE.NOERROR, RCODE.NXDOMAIN]
    finally:
        service.close()
    assert not service._thread.is_alive()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(("127.0.0.1", port))


def test_resolv_conf_names_the_responder_first():
    lines = isolation.resolv_conf(("127.0.0.1", "::1")).splitlines()
    assert [line for line in lines if line.startswith("nameserver")] == ["nameserver 127.0.0.1", "nameserver ::1"]


# Run by a fresh interpreter, which enters a worker namespace of its own (and leaves it when it exits):
# the resolver configuration, the responder over UDP and TCP on both loopback addresses, glibc's lookups,
# and the readiness code's view of the responder's sockets next to a target that ignores {port}.
IN_A_WORKER_NAMESPACE = r"""
import json, os, selectors, socket, subprocess, sys, time
from dnslib import DNSRecord
from sockcheck.launch import isolation, readiness
from sockcheck.net import socket_table

state = isolation.enter_network_namespace()
out = {"detail": state.detail, "resolv_conf": open("/etc/resolv.conf").read(), "answers": {}}
host = socket.gethostname()
for server in ("127.0.0.1", "::1"):
    for tcp in (False, True):
        for name, qtype in ((host, "A"), (host, "AAAA"), ("localhost", "A"), ("localhost", "AAAA"),
                            ("1.0.0.127.in-addr.arpa", "PTR"), ("example.com", "A")):
            times = []
            for _ in range(3):
                began = time.perf_counter()
                raw = DNSRecord.question(name, qtype).send(server, 53, tcp=tcp, timeout=2.0, ipv6=":" in server)
                times.append(time.perf_counter() - began)
            reply = DNSRecord.parse(raw)
            out["answers"][f"{server} {'tcp' if tcp else 'udp'} {qtype} {name}"] = (
                reply.header.rcode, [str(rr.rdata) for rr in reply.rr], min(times))
began = time.perf_counter()
try:
    socket.getaddrinfo("example.com", 80)
    out["glibc_nxdomain"] = None
except socket.gaierror as exc:
    out["glibc_nxdomain"] = (exc.errno, time.perf_counter() - began)
out["glibc_reverse"] = socket.gethostbyaddr("127.0.0.1")[0]
# The children of a forking server accepting 200 clients at once each ask two questions within a ms.
burst = selectors.DefaultSelector()
question = DNSRecord.question("1.0.0.127.in-addr.arpa", "PTR").pack()
for _ in range(200):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.connect(("127.0.0.1", 53))
    sock.send(question)
    sock.send(question)
    burst.register(sock, selectors.EVENT_READ)
out["burst"], deadline = 0, time.monotonic() + 2.0
while out["burst"] < 400 and (left := deadline - time.monotonic()) > 0:
    for key, _ in burst.select(left):
        key.fileobj.recv(512)
        out["burst"] += 1
for key in list(burst.get_map().values()):
    key.fileobj.close()
# A target that ignores {port}: it listens on TCP and UDP port 9053, in a process of its own.
child = subprocess.Popen([sys.executable, "-c", "import socket, sys\n"
                          "t = socket.create_server(('127.0.0.1', 9053)); u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                          "u.bind(('127.0.0.1', 9053)); print('up', flush=True); sys.stdin.read()"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
assert child.stdout.readline() == "up\n"
for transport in ("tcp", "udp"):
    out[transport] = {
        "table": sorted(r.row.local[1] for r in socket_table.server_sockets(transport)),
        "target": [row.local[1] for row in readiness.own_server_sockets(transport, lambda: [child.pid], set())],
        "worker": sorted({row.local[1] for row in readiness.own_server_sockets(transport, lambda: [os.getpid()], set())}),
    }
child.stdin.close()
child.wait(10)
print(json.dumps(out))
"""


def in_a_worker_namespace() -> dict:
    if not isolation.can_create_network_namespace():
        pytest.skip("no permission to create a network namespace")
    done = subprocess.run([sys.executable, "-c", IN_A_WORKER_NAMESPACE], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_worker_namespace_answers_its_names_through_dns_at_once():
    """A server that resolves names through DNS only (djbdns' library, Go's resolver) found no
    nameserver in the worker's namespace: every lookup failed with 'network unreachable'."""
    seen = in_a_worker_namespace()
    assert "DNS on loopback" in seen["detail"] and "may fail" not in seen["detail"], seen["detail"]
    assert "nameserver 127.0.0.1" in seen["resolv_conf"].splitlines()
    host = socket.gethostname()
    expected = {("A", host): ["127.0.0.1"], ("AAAA", host): ["::1"], ("A", "localhost"): ["127.0.0.1"],
                ("AAAA", "localhost"): ["::1"]}
    for key, (rcode, answers, fastest) in seen["answers"].items():
        server, transport, qtype, name = key.split(" ")
        if name == "example.com":
            assert rcode == RCODE.NXDOMAIN and answers == [], key
        elif qtype == "PTR":
            assert rcode == RCODE.NOERROR and answers[0] == "localhost." and f"{host}." in answers, key
        else:
            assert (rcode, answers) == (RCODE.NOERROR, expected[qtype, name]), key
        assert fastest < ANSWER_WITHIN, f"{key}: {fastest * 1000:.1f} ms"
    errno_, took = seen["glibc_nxdomain"]
    assert errno_ == socket.EAI_NONAME and took < ANSWER_WITHIN, seen["glibc_nxdomain"]
    assert seen["glibc_reverse"] == "localhost"


def test_a_burst_of_questions_is_answered_whole():
    """200 clients accepted at once by tcpserver -c 200 made 400 reverse lookups within a millisecond:
    the responder's receive queue, at the default size, dropped about 150 of them, and those clients
    waited for djbdns' retry (1 s, then 3 s) in tcp.concurrency.burst-accept."""
    assert in_a_worker_namespace()["burst"] == 400


def test_the_responders_sockets_are_never_a_targets():
    """Readiness finds a target that ignores {port} by the inodes its processes hold: the responder's
    sockets, on port 53 of the same namespace and lower than any target's port, are the worker's."""
    seen = in_a_worker_namespace()
    for transport in ("tcp", "udp"):
        assert 53 in seen[transport]["table"] and 9053 in seen[transport]["table"], seen[transport]
        assert seen[transport]["target"] == [9053], seen[transport]
        assert seen[transport]["worker"] == [53], seen[transport]


def host_mounts() -> str:
    """The mount table of the machine's mount namespace (pid 1's): this self-test runs in a private one."""
    try:
        return Path("/proc/1/mountinfo").read_text()
    except OSError:
        return ""


def test_a_server_resolving_through_dns_only_passes_as_on_the_host(sockcheck):
    """selftest/targets/dns_only.py closes every connection when a DNS lookup of the host name or of
    the client's reverse name fails, as tcpserver-style servers drop connections: it gets the same
    verdicts as the same server without lookups, and the run leaves no process and no mount: neither
    in this self-test's mount namespace, the one the run's workers copy, nor in the machine's."""
    if not isolation.can_create_network_namespace():
        pytest.skip("no permission to create a network namespace: the run resolves through the machine's DNS")
    files = {path: Path(path).read_bytes() for path in (isolation.HOSTS, isolation.RESOLV_CONF)
             if os.path.exists(path)}
    own_mounts = Path("/proc/self/mountinfo").read_text()
    dnslib_home = str(Path(dnslib.__file__).resolve().parent.parent)
    manifest = sockcheck.manifest(
        target_toml("dns-only", sockcheck.script("dns_only.py"), env={"PYTHONPATH": dnslib_home}),
        target_toml("control", sockcheck.script("echo.py")))
    run = sockcheck.run("--targets-file", str(manifest), "-n", "2",
                        suites=[ROOT / "suites" / "tcp" / f"test_{name}.py"
                                for name in ("echo", "stream", "half_close", "close", "concurrency")],
                        timeout=120)
    assert run.ret == 0, str(run)
    verdicts = run.doc["targets"]
    assert {check: cell["outcome"] for check, cell in verdicts["dns-only"]["checks"].items()} == \
        {check: cell["outcome"] for check, cell in verdicts["control"]["checks"].items()}, str(run)
    assert run.outcome("dns-only", "tcp.echo.roundtrip") == "passed", str(run)
    left = wait_no_leftovers(sockcheck.run_ids, [sockcheck.tag], timeout=3.0)
    assert not left, "processes of the run survived it:\n" + describe(left)
    assert Path("/proc/self/mountinfo").read_text() == own_mounts
    assert "sockcheck-" not in host_mounts()
    assert {path: Path(path).read_bytes() for path in files} == files
