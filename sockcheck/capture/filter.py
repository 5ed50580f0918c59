"""The kernel filter of a capture: classic BPF that keeps one port's TCP segments (and the start marker).

Attached to the AF_PACKET socket before anything is queued on it, so the
capture process copies only the target's traffic, once per segment (the
outgoing copy on loopback is dropped).
"""

from __future__ import annotations

import ctypes
import socket

from sockcheck.capture.pcap import SNAPLEN

MARKER_PORT = 9  # discard: nothing listens, the datagram only has to cross lo
SO_ATTACH_FILTER = 26


class _SockFilter(ctypes.Structure):
    """struct sock_filter (linux/filter.h): one classic BPF instruction."""

    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    """struct sock_fprog: what SO_ATTACH_FILTER takes."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


# Opcodes (linux/bpf_common.h) of the instructions the program uses.
_LD_W_ABS, _LD_H_ABS, _LD_B_ABS, _LD_H_IND = 0x20, 0x28, 0x30, 0x48
_LDX_B_MSH, _AND_K, _JEQ_K, _JSET_K, _RET_K = 0xB1, 0x54, 0x15, 0x45, 0x06
_SKF_AD_PKTTYPE = 0xFFFFF000 + 4  # SKF_AD_OFF + SKF_AD_PKTTYPE: the packet's direction
_PACKET_OUTGOING = 4


def filter_program(port: int, marker: bool = True) -> list[tuple[int, int, int, int]]:
    """Classic BPF keeping the incoming copy of TCP segments to or from ``port`` (and, with ``marker``,
    UDP datagrams to MARKER_PORT, for the start marker).

    Offsets count from the network header (the socket is SOCK_DGRAM).  IPv4
    fragments after the first carry no ports and are dropped; on lo, whose
    MTU is 64 KiB, TCP is never fragmented.  Jumps name labels; the
    assembler below turns them into the relative offsets BPF wants.
    """
    program = [
        (_LD_W_ABS, None, None, _SKF_AD_PKTTYPE),
        (_JEQ_K, "drop", None, _PACKET_OUTGOING),
        (_LD_B_ABS, None, None, 0),
        (_AND_K, None, None, 0xF0),
        (_JEQ_K, "ipv4", None, 0x40),
        (_JEQ_K, "ipv6", "drop", 0x60),
        "ipv4",
        (_LD_H_ABS, None, None, 6),
        (_JSET_K, "drop", None, 0x1FFF),
        (_LD_B_ABS, None, None, 9),
        (_LDX_B_MSH, None, None, 0),
        (_JEQ_K, "tcp4", None, socket.IPPROTO_TCP),
        *([(_JEQ_K, None, "drop", socket.IPPROTO_UDP),
           (_LD_H_IND, None, None, 2),
           (_JEQ_K, "keep", "drop", MARKER_PORT)] if marker else [(_RET_K, None, None, 0)]),
        "tcp4",
        (_LD_H_IND, None, None, 0),
        (_JEQ_K, "keep", None, port),
        (_LD_H_IND, None, None, 2),
        (_JEQ_K, "keep", "drop", port),
        "ipv6",
        (_LD_B_ABS, None, None, 6),
        (_JEQ_K, None, "drop", socket.IPPROTO_TCP),
        (_LD_H_ABS, None, None, 40),
        (_JEQ_K, "keep", None, port),
        (_LD_H_ABS, None, None, 42),
        (_JEQ_K, "keep", "drop", port),
        "keep",
        (_RET_K, None, None, SNAPLEN),
        "drop",
        (_RET_K, None, None, 0),
    ]
    labels, index = {}, 0
    for entry in program:
        if isinstance(entry, str):
            labels[entry] = index
        else:
            index += 1
    out = []
    for entry in program:
        if isinstance(entry, str):
            continue
        code, jt, jf, k = entry
        here = len(out) + 1  # jumps count from the next instruction
        out.append((code, labels[jt] - here if jt else 0, labels[jf] - here if jf else 0, k))
    return out


def attach_filter(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> None:
    instructions = (_SockFilter * len(program))(*(_SockFilter(*insn) for insn in program))
    fprog = _SockFprog(len(program), instructions)
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(fprog))  # the kernel copies the program
