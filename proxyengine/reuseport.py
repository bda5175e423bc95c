"""New connections dealt to the workers in turn, not by the kernel's hash of their addresses.

With several workers each listener is one SO_REUSEPORT socket per worker, and by default the kernel picks the socket
for a new connection from a hash of its addresses: a client that opens 50 connections gets, say, 27 on one worker and
23 on the other, and the busier worker sets its latency. ``deal_in_turn`` attaches to the group a small eBPF program
that keeps one counter and returns ``counter++ % workers``, the index of the socket (the order they were bound in):
50 connections become 25 and 25, whatever their addresses.

Loading it needs CAP_BPF (the engine's master runs as root to bind its ports) and Linux 5.12 or later (an atomic
fetch-and-add); where either is missing the group keeps the kernel's hash, and the caller is told why.
"""

from __future__ import annotations

import ctypes
import os
import platform
import socket
import struct

# <linux/bpf.h>
_BPF_MAP_CREATE, _BPF_PROG_LOAD = 0, 5
_BPF_MAP_TYPE_ARRAY = 2
_BPF_PROG_TYPE_SOCKET_FILTER = 1
_SO_ATTACH_REUSEPORT_EBPF = 52
_SYSCALL_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "ppc64le": 361, "s390x": 351}

# instruction classes and operations
_LD, _ST, _STX, _ALU64, _JMP = 0x00, 0x02, 0x03, 0x07, 0x05
_W, _DW, _IMM, _MEM, _ATOMIC = 0x00, 0x18, 0x00, 0x60, 0xC0
_K, _X = 0x00, 0x08
_ADD, _MOD, _MOV = 0x00, 0x90, 0xB0
_JEQ, _CALL, _EXIT = 0x10, 0x80, 0x90
_FETCH = 0x01
_PSEUDO_MAP_FD = 1
_MAP_LOOKUP_ELEM = 1
_R0, _R1, _R2, _R10 = 0, 1, 2, 10
_NO_SOCKET = -1  # (0xffffffff as the u32 returned) an index past the group: the kernel falls back to its hash


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, dst | (src << 4), off, imm)


def program(workers: int, map_fd: int) -> bytes:
    """The eBPF instructions: look up the map's one counter, fetch-and-add 1 to it, return the old value % workers."""
    return b"".join([
        _insn(_LD | _DW | _IMM, _R1, _PSEUDO_MAP_FD, imm=map_fd), _insn(0),  # r1 = the map
        _insn(_ST | _MEM | _W, _R10, off=-4, imm=0),  # key (u32 on the stack) = 0
        _insn(_ALU64 | _MOV | _X, _R2, _R10),
        _insn(_ALU64 | _ADD | _K, _R2, imm=-4),  # r2 = &key
        _insn(_JMP | _CALL, imm=_MAP_LOOKUP_ELEM),  # r0 = &counter, or NULL
        _insn(_JMP | _JEQ | _K, _R0, off=5, imm=0),
        _insn(_ALU64 | _MOV | _K, _R1, imm=1),
        _insn(_STX | _ATOMIC | _DW, _R0, _R1, imm=_ADD | _FETCH),  # r1 = counter; counter += 1 (atomically)
        _insn(_ALU64 | _MOD | _K, _R1, imm=workers),
        _insn(_ALU64 | _MOV | _X, _R0, _R1),
        _insn(_JMP | _EXIT),
        _insn(_ALU64 | _MOV | _K, _R0, imm=_NO_SOCKET),
        _insn(_JMP | _EXIT),
    ])  # fmt: skip


def _bpf(cmd: int, attr: bytes) -> int:
    number = _SYSCALL_BPF.get(platform.machine())
    if number is None:
        raise OSError(0, f"no bpf system call known for {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(attr, 128)
    fd = libc.syscall(number, cmd, buf, 128)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return fd


def deal_in_turn(sock: socket.socket, workers: int) -> str | None:
    """Make ``sock``'s SO_REUSEPORT group deal new connections to its sockets in turn; None, or why it could not."""
    if workers < 2:
        return None
    map_fd = prog_fd = -1
    try:
        try:
            map_fd = _bpf(_BPF_MAP_CREATE, struct.pack("<5I", _BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0))
        except OSError as e:
            return f"cannot create the eBPF map: {e.strerror}"
        code = program(workers, map_fd)
        insns = ctypes.create_string_buffer(code, len(code))
        license_ = ctypes.create_string_buffer(b"GPL")
        log = ctypes.create_string_buffer(4096)
        attr = struct.pack("<IIQQIIQ", _BPF_PROG_TYPE_SOCKET_FILTER, len(code) // 8, ctypes.addressof(insns),
                           ctypes.addressof(license_), 1, len(log), ctypes.addressof(log))
        try:
            prog_fd = _bpf(_BPF_PROG_LOAD, attr)
        except OSError as e:
            said = log.value.decode(errors="replace").strip().splitlines()
            return f"cannot load the eBPF program: {e.strerror}" + (f" ({said[-1]})" if said else "")
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_REUSEPORT_EBPF, prog_fd)
        except OSError as e:
            return f"cannot attach the eBPF program: {e.strerror}"
        return None
    finally:
        for fd in (prog_fd, map_fd):
            if fd >= 0:
                os.close(fd)
