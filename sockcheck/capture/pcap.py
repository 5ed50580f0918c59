"""Reading what the capture recorded: pcap records of raw IP packets, the TCP segment in each.

The capture process writes nanosecond pcap records (LINKTYPE_RAW: each starts
at the IP header).  The worker reads them with struct (``tcp_span``,
``tcp_header``); scapy dissects evidence pcaps and is the reference the
self-tests compare with.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from sockcheck.capture.process import RECORD

IPPROTO_TCP = 6
TCP_HEADER_BYTES = 20
SNAPLEN = 262144  # whole packets: a GSO segment on lo is up to 64 KiB
LINKTYPE_RAW = 101  # records start at the IP header (the socket is SOCK_DGRAM)
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, SNAPLEN, LINKTYPE_RAW)  # nanosecond pcap


@dataclass(frozen=True)
class RawSegment:
    """The fields of one captured TCP packet the ladder needs, extracted once."""

    time: float
    sport: int
    dport: int
    flags: int
    seq: int
    ack: int
    urgptr: int
    payload: bytes


def extract(packet) -> RawSegment:
    from scapy.layers.inet import TCP

    tcp = packet[TCP]
    payload = bytes(tcp.payload)
    return RawSegment(float(packet.time), tcp.sport, tcp.dport, int(tcp.flags), tcp.seq, tcp.ack, tcp.urgptr,
                      payload[:max(0, _tcp_payload_length(packet, tcp))])


def tcp_span(data: bytes) -> tuple[int, int] | None:
    """Where the TCP segment lies in a LINKTYPE_RAW record (an IPv4 or IPv6 packet): (start, end), or
    None for anything else.

    Only the IP header's version, header length, protocol and length are read
    here, and tcp_header reads the fixed TCP header: a wire check captures
    hundreds of packets per target.
    The end is the one the IP length gives: a frame may carry padding after
    the segment.
    """
    if len(data) < 20:
        return None
    version = data[0] >> 4
    if version == 4:
        start, protocol, total = (data[0] & 0x0F) * 4, data[9], int.from_bytes(data[2:4], "big")
    elif version == 6 and len(data) >= 40:
        start, protocol, total = 40, data[6], 40 + int.from_bytes(data[4:6], "big")
    else:
        return None
    if protocol != IPPROTO_TCP or len(data) < start + TCP_HEADER_BYTES:
        return None
    end = min(total, len(data)) if total else len(data)  # 0: a GSO packet larger than the field
    return start, end


# The fixed TCP header (RFC 9293, section 3.1): source and destination port, sequence and
# acknowledgment number, data offset (its high 4 bits) with the reserved bits, the flags, window,
# checksum and urgent pointer.
TCP_FIXED_HEADER = struct.Struct("!HHIIBBHHH")


def tcp_header(header: bytes) -> dict[str, int]:
    """The fixed TCP header's fields, named as scapy's TCP layer names them (sport, dport, seq, ack,
    dataofs, reserved, flags, window, chksum, urgptr).

    ``flags`` has scapy's nine bits: the low bit of the data-offset byte (the
    former NS flag) above the eight flag bits.  The worker reads this header
    with one struct (and, in tcp_span, four fields of the IP header), in the
    hot path of every wire check, so that it never imports scapy's TCP
    layer, whose routes, interfaces and protocol tables cost every worker
    more CPU than all its dissections.  scapy stays the reference:
    selftest/test_wire.py compares these fields with its full dissection of
    IPv4 and IPv6 packets, with options and padding, and scapy reads the
    evidence pcaps.
    """
    sport, dport, seq, ack, offset, flags, window, chksum, urgptr = TCP_FIXED_HEADER.unpack_from(header)
    return {"sport": sport, "dport": dport, "seq": seq, "ack": ack, "dataofs": offset >> 4,
            "reserved": (offset >> 1) & 0x7, "flags": (offset & 0x1) << 8 | flags, "window": window,
            "chksum": chksum, "urgptr": urgptr}


def pcap_records(records: bytes):
    """(seconds, packet) of each record the capture process wrote (nanosecond timestamps)."""
    offset = 0
    while offset + RECORD.size <= len(records):
        seconds, nanoseconds, caplen, _length = RECORD.unpack_from(records, offset)
        offset += RECORD.size
        yield seconds + nanoseconds * 1e-9, records[offset:offset + caplen]
        offset += caplen


def _tcp_payload_length(packet, tcp) -> int:
    """Payload length from the IP header: a frame may carry padding after the segment."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    if IP in packet:
        return packet[IP].len - packet[IP].ihl * 4 - tcp.dataofs * 4
    if IPv6 in packet:
        return packet[IPv6].plen - tcp.dataofs * 4
    return len(tcp.payload)
