"""The wire evidence: pcaps that open in scapy, and ladders that show what a check asserted."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import psutil
import pytest

from sockcheck.capture.filter import filter_program
from sockcheck.capture.ladder import Segment, ladder_svg, ladder_text, relative_segments, to_segments
from sockcheck.capture.pcap import RawSegment, extract, tcp_header, tcp_span
from sockcheck.capture.wire import Capture, CaptureUnavailable
from selftest.running import BUNDLED_MANIFEST, ROOT

CLOSE_SUITE = ROOT / "suites" / "tcp" / "test_close.py"


def read_pcap(path: Path) -> list[Segment]:
    import scapy.layers.inet  # noqa: F401 - dissectors for rdpcap
    import scapy.layers.l2  # noqa: F401
    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap

    packets = rdpcap(str(path))
    server_port = next(p[TCP].dport for p in packets if TCP in p and int(p[TCP].flags) == 0x02)
    return to_segments(list(packets), server_port)


def test_fin_and_rst_pcaps_show_the_asserted_flags(sockcheck, tmp_path):
    """A wire check's pcap must hold exactly the test's traffic: FIN for a good close, RST for SO_LINGER 0."""
    evidence = tmp_path / "evidence"
    run = sockcheck.run("--targets-file", str(BUNDLED_MANIFEST), "--only-target", "c-epoll",
                        "--only-target", "f-linger-zero", "-k", "fin_not_rst", "--evidence-dir", str(evidence),
                        suites=(CLOSE_SUITE,))
    assert run.ret == 0, str(run)
    assert run.outcome("c-epoll", "tcp.close.fin-not-rst") == "passed"
    assert run.outcome("f-linger-zero", "tcp.close.fin-not-rst") == "xfailed"
    good = read_pcap(next(evidence.glob("*c-epoll*.pcap")))
    bad = read_pcap(next(evidence.glob("*f-linger-zero*.pcap")))
    assert [s.flags for s in good[:3]] == ["S", "SA", "A"], "the capture starts with the handshake"
    assert any(not s.from_client and "F" in s.flags for s in good)
    assert not any("R" in s.flags for s in good)
    assert any(not s.from_client and "R" in s.flags for s in bad)
    ladder = next(evidence.glob("*f-linger-zero*.ladder.txt")).read_text()
    assert "[AR]" in ladder or "[R]" in ladder
    assert next(evidence.glob("*f-linger-zero*.ladder.svg")).read_text().startswith("<svg")


def _raw(time, sport, dport, flags, seq, ack, payload=b"", urgptr=0):
    return RawSegment(time, sport, dport, flags, seq, ack, urgptr, payload)


def test_relative_sequence_numbers_and_urgent_pointer():
    """Ladders count sequence numbers from each side's SYN, and show the urgent pointer only with URG."""
    raw = [
        _raw(0.0, 40000, 7, 0x02, 1000, 0),
        _raw(0.001, 7, 40000, 0x12, 5000, 1001),
        _raw(0.002, 40000, 7, 0x10, 1001, 5001),
        _raw(0.003, 40000, 7, 0x18 | 0x20, 1001, 5001, b"!", urgptr=1),
    ]
    segments = relative_segments(raw, 7)
    assert [(s.seq, s.ack) for s in segments] == [(0, 0), (0, 1), (1, 1), (1, 1)]
    assert segments[3].urgent == 1 and segments[2].urgent is None
    text = ladder_text(segments, "title")
    assert "urg=1" in text and text.splitlines()[0] == "title"
    assert text.count("▶") == 3 and text.count("◀") == 1
    assert ladder_svg(segments, "t").count("<polygon") == 4



def _packets():
    """IPv4 and IPv6 segments with options, payload, urgent data, and padding after the IP length."""
    from scapy.layers.inet import IP, TCP, IPOption
    from scapy.layers.inet6 import IPv6

    options = [("MSS", 65495), ("SAckOK", b""), ("Timestamp", (1, 2)), ("NOP", None), ("WScale", 7)]
    return [
        bytes(IP(dst="127.0.0.1") / TCP(sport=40000, dport=7, flags="S", seq=1000, options=options)),
        bytes(IP(dst="127.0.0.1", options=[IPOption(b"\x01" * 4)]) / TCP(sport=7, dport=40000, flags="SA", seq=5, ack=1001)),
        bytes(IP(dst="127.0.0.1") / TCP(sport=40000, dport=7, flags="PAU", seq=1001, ack=6, urgptr=3) / b"abc!")
        + b"\0" * 6,
        bytes(IPv6(dst="::1") / TCP(sport=40001, dport=7, flags="PA", seq=9, ack=2, options=options[2:3]) / (b"x" * 70)),
        bytes(IP(dst="127.0.0.1") / TCP(sport=65535, dport=7, flags="NCEFR", seq=2**32 - 1, ack=2**31, reserved=5,
                                        window=1234, chksum=0xBEEF, urgptr=65535)),
        bytes(IPv6(dst="::1") / b"not tcp"),
    ]


def test_records_are_read_as_scapy_dissects_the_whole_packet():
    """The capture reads only the fixed TCP header, found by the IP header's lengths; the fields must
    be those of scapy's full dissection of the same packets, padding cut at the IP length."""
    from scapy.layers.inet import TCP
    from scapy.layers.inet6 import IPv46

    packets = _packets()
    capture = Capture(7)
    records = b"".join(struct.pack("<IIII", 1, 500, len(data), len(data)) + data for data in packets)
    capture._add_records(records)
    whole = [IPv46(data) for data in packets]
    assert capture._raw == [extract_at(packet, 1 + 500 * 1e-9) for packet in whole if TCP in packet]
    names = [field.name for field in TCP.fields_desc if field.name != "options"]
    for data, packet in zip(packets, whole):
        if TCP in packet:
            start, _ = tcp_span(data)
            assert tcp_header(data[start:]) == {name: int(packet[TCP].getfieldval(name)) for name in names}
    assert capture._raw[2].payload == b"abc!" and capture._raw[2].urgptr == 3
    assert tcp_span(b"\x45" + b"\0" * 10) is None  # shorter than an IP header


def extract_at(packet, time: float) -> RawSegment:
    packet.time = time
    return extract(packet)

def test_filter_program_jumps_stay_inside_the_program():
    """Every jump of the kernel filter lands on an instruction, and the program ends in returns."""
    for program in (filter_program(10000), filter_program(10000, marker=False)):
        for index, (code, jt, jf, _k) in enumerate(program):
            if code & 0x07 == 0x05:  # BPF_JMP
                assert index + 1 + jt < len(program) and index + 1 + jf < len(program), (index, jt, jf)
        assert [code for code, *_ in program[-2:]] == [0x06, 0x06]


@pytest.fixture
def capture_here():
    """A capture of a listener on this worker's loopback, and a connected pair through it."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    capture = Capture(port)
    try:
        capture.start()
    except CaptureUnavailable as exc:
        listener.close()
        pytest.skip(str(exc))
    client = socket.create_connection(("127.0.0.1", port), timeout=2)
    listener.settimeout(2)
    server, _ = listener.accept()
    server.settimeout(2)
    yield capture, client, server
    for sock in (client, server, listener):
        sock.close()
    capture.stop()


def test_capture_keeps_the_ports_segments_once_and_nothing_else(capture_here, tmp_path):
    """The kernel filter keeps one copy of each segment of the target's port; other traffic and the
    start marker stay out of the capture (and out of its pcap)."""
    capture, client, server = capture_here
    other = socket.create_server(("127.0.0.1", 0))
    with other, socket.create_connection(other.getsockname(), timeout=2) as stranger:
        stranger.sendall(b"not ours")
    client.sendall(b"ping")
    assert server.recv(16) == b"ping"
    server.sendall(b"pong")
    assert client.recv(16) == b"pong"
    assert capture.wait_for(lambda segs: sum(s.length for s in segs) >= 8, 2)
    segments = capture.segments()
    assert [s.flags for s in segments[:3]] == ["S", "SA", "A"]
    assert [s.payload for s in segments if s.length] == [b"ping", b"pong"]
    assert all(s.payload != b"not ours" for s in segments)
    assert b"sockcheck-marker" not in capture.write_pcap(Path(tmp_path) / "t.pcap").read_bytes()


def test_capture_stops_and_reaps_its_process(capture_here):
    """The capture process exits and is reaped at stop; the pcap holds what segments() showed."""
    capture, client, server = capture_here
    client.sendall(b"x")
    assert server.recv(1) == b"x"
    process = psutil.Process().children()
    assert any("capture/process.py" in " ".join(p.cmdline()) for p in process)
    capture.stop()
    assert not any("capture/process.py" in " ".join(p.cmdline()) for p in psutil.Process().children())
    assert capture.problem is None
    assert capture.cpu_seconds > 0


def test_filter_program_without_marker_has_no_udp_branch():
    """Once the capture runs, the start marker's UDP branch is gone from the kernel filter."""
    with_marker, without = filter_program(10000), filter_program(10000, marker=False)
    assert any(k == socket.IPPROTO_UDP for _c, _t, _f, k in with_marker)
    assert not any(k == socket.IPPROTO_UDP for _c, _t, _f, k in without)


def test_an_interrupted_answer_ends_the_capture_process(capture_here, monkeypatch):
    """A timeout or Ctrl-C half way through an answer left the rest of it in the pipe, to be read as the
    next answer; the capture process now goes at once, and stop() is clean."""
    import sockcheck.capture.wire as wire

    capture, client, server = capture_here
    client.sendall(b"x")
    assert server.recv(1) == b"x"

    class Interrupted:
        """wire's select module while the answer is on its way: the wait for it is interrupted."""

        @staticmethod
        def select(*args):
            raise KeyboardInterrupt

    monkeypatch.setattr(wire, "select", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        capture.segments()
    monkeypatch.undo()
    assert not any("capture/process.py" in " ".join(p.cmdline()) for p in psutil.Process().children())
    capture.stop()
    assert capture.problem == "harness: the capture was interrupted"


def test_evidence_files_keep_a_dotted_target_name():
    """with_suffix() used to cut a target named py-3.11 at its dot: two targets could share a file."""
    from sockcheck.capture.ladder import evidence_path

    folder = Path("/r")
    assert evidence_path(folder, "suites/tcp/test_close.py::test_fin_not_rst[py-3.11]", ".pcap") == \
        folder / "test_fin_not_rst_py-3.11_.pcap"
    assert evidence_path(folder, "x.py::t[py-3.12]", ".ladder.txt") != evidence_path(folder, "x.py::t[py-3.11]",
                                                                                      ".ladder.txt")
