"""cgroup v2 device rules as an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE).

cgroup v2 has no devices.allow/deny files: the kernel asks an eBPF program
attached to the cgroup, with ``struct bpf_cgroup_dev_ctx``
(``access_type`` = access << 16 | type, ``major``, ``minor``), and allows
the access when it returns 1.

The spec's rules are ordered and a later rule wins, so the program tests
them last to first and returns at the first match; when none matches it
allows, as a v1 device cgroup does before any deny. An allow rule matches
when every requested access bit is in the rule's ``access``; a deny rule
when any is. The program is assembled here (a few instructions per rule)
and loaded with the ``bpf(2)`` syscall through ctypes.

``update`` attaches the new program before detaching the old ones
(``BPF_F_ALLOW_MULTI``), so there is no moment without a filter; old
programs are found with ``BPF_PROG_QUERY``, so this works from a process
other than the one that attached them (``dockyard-runtime update``).
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

from .errors import CgroupWriteError

# Annotations only: importing oci.runtime loads msgspec, ~20-45 ms of every
# dockyard-runtime call that touches cgroups (delete, kill, pause, ps).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from dockyard.oci.runtime import LinuxDeviceCgroup

_NR_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351, "riscv64": 280}

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2

DEV_BLOCK, DEV_CHAR = 1, 2
ACC = {"m": 1, "r": 2, "w": 4}

# Opcodes (linux/bpf.h, linux/bpf_common.h).
LDX_W = 0x61  # dst = *(u32 *)(src + off)
MOV_K, MOV_X = 0xB7, 0xBF
AND_K = 0x57
RSH_K = 0x77
JNE_K, JEQ_K = 0x55, 0x15
EXIT = 0x95

_libc = ctypes.CDLL(None, use_errno=True)


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _rule_block(rule: LinuxDeviceCgroup) -> list[bytes]:
    """Instructions testing one rule; each failed test jumps past the block."""
    # Each test: instructions preparing r6 (maybe none) and a conditional jump
    # (code, register, immediate) taken when the rule does NOT match.
    tests: list[tuple[list[bytes], int, int, int]] = []
    t = rule.type or "a"
    if t != "a":
        tests.append(([], JNE_K, 2, DEV_BLOCK if t == "b" else DEV_CHAR))
    bits = sum(ACC[c] for c in set(rule.access or "rwm"))
    if bits != 7:
        if rule.allow:  # matches when the request has no bit outside the rule
            tests.append(([_insn(MOV_X, 6, 3), _insn(AND_K, 6, imm=~bits & 7)], JNE_K, 6, 0))
        else:  # matches when the request shares a bit with the rule
            tests.append(([_insn(MOV_X, 6, 3), _insn(AND_K, 6, imm=bits)], JEQ_K, 6, 0))
    if t != "a" and rule.major is not None and rule.major != -1:
        tests.append(([], JNE_K, 4, rule.major))
    if t != "a" and rule.minor is not None and rule.minor != -1:
        tests.append(([], JNE_K, 5, rule.minor))
    verdict = [_insn(MOV_K, 0, imm=1 if rule.allow else 0), _insn(EXIT)]
    total = sum(len(prep) + 1 for prep, *_ in tests) + len(verdict)
    out: list[bytes] = []
    for prep, code, reg, imm in tests:
        out += prep
        # The jump offset counts from the next instruction to the block's end.
        out.append(_insn(code, reg, off=total - len(out) - 1, imm=imm))
    return out + verdict


def assemble(rules: list[LinuxDeviceCgroup]) -> bytes:
    prog = [
        _insn(LDX_W, 2, 1, 0),  # r2 = access_type
        _insn(AND_K, 2, imm=0xFFFF),  # r2 = device type
        _insn(LDX_W, 3, 1, 0),
        _insn(RSH_K, 3, imm=16),  # r3 = requested access bits
        _insn(LDX_W, 4, 1, 4),  # r4 = major
        _insn(LDX_W, 5, 1, 8),  # r5 = minor
    ]
    for rule in reversed(rules):
        block = _rule_block(rule)
        prog += block
        if len(block) == 2:
            # A rule matching every access ends the program: anything after it
            # is unreachable, and the verifier rejects unreachable code.
            break
    else:
        prog += [_insn(MOV_K, 0, imm=1), _insn(EXIT)]
    return b"".join(prog)


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    nr = _NR_BPF.get(platform.machine())
    if nr is None:
        raise CgroupWriteError(f"cgroup: bpf(2) number unknown on {platform.machine()}")
    ret = int(_libc.syscall(nr, cmd, attr, len(attr)))
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return ret


def _load(code: bytes) -> int:
    insns = ctypes.create_string_buffer(code, len(code))
    license_ = ctypes.create_string_buffer(b"Apache-2.0")
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into(
        "<IIQQIIQII16s",
        attr,
        0,
        BPF_PROG_TYPE_CGROUP_DEVICE,
        len(code) // 8,
        ctypes.addressof(insns),
        ctypes.addressof(license_),
        1,
        len(log),
        ctypes.addressof(log),
        0,
        0,
        b"dockyard_dev",
    )
    try:
        return _bpf(BPF_PROG_LOAD, attr)
    except OSError as e:
        verifier = log.value.decode(errors="replace").strip()
        raise CgroupWriteError(
            f"cgroup: loading the device filter: {e.strerror}: {verifier[-500:]}", e.errno or 0
        ) from None


def _attached(cgroup_fd: int) -> list[int]:
    ids = (ctypes.c_uint32 * 64)()
    attr = ctypes.create_string_buffer(64)
    struct.pack_into("<IIIIQI", attr, 0, cgroup_fd, BPF_CGROUP_DEVICE, 0, 0, ctypes.addressof(ids), 64)
    _bpf(BPF_PROG_QUERY, attr)
    count = struct.unpack_from("<I", attr, 24)[0]
    return [ids[i] for i in range(min(count, 64))]


def attach_device_filter(cgroup_dir: str, rules: list[LinuxDeviceCgroup]) -> None:
    """Load the program for ``rules`` and make it the only device filter of the cgroup."""
    prog_fd = _load(assemble(rules))
    cg_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            old_ids = _attached(cg_fd)
        except OSError:
            old_ids = []
        attr = ctypes.create_string_buffer(32)
        struct.pack_into("<IIII", attr, 0, cg_fd, prog_fd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)
        try:
            _bpf(BPF_PROG_ATTACH, attr)
        except OSError as e:
            raise CgroupWriteError(
                f"cgroup: attaching the device filter to {cgroup_dir}: {e.strerror}", e.errno or 0
            ) from None
        for prog_id in old_ids:
            id_attr = ctypes.create_string_buffer(16)
            struct.pack_into("<I", id_attr, 0, prog_id)
            try:
                old_fd = _bpf(BPF_PROG_GET_FD_BY_ID, id_attr)
            except OSError:
                continue
            try:
                det = ctypes.create_string_buffer(32)
                struct.pack_into("<III", det, 0, cg_fd, old_fd, BPF_CGROUP_DEVICE)
                _bpf(BPF_PROG_DETACH, det)
            except OSError:
                pass
            finally:
                os.close(old_fd)
    finally:
        os.close(cg_fd)
        # The cgroup holds the program now; our fd is not needed to keep it.
        os.close(prog_fd)
