"""ELF binaries (Linux, Android native libraries): the shared-object name and machine.

Read straight from the section headers (the SHT_DYNAMIC section and the string table it
links to) — a few structs, no dependency. Product strings inside ELF files are found by the
YARA pass, not here.
"""

from __future__ import annotations

import struct
import sys

from banscan.deep.filetype import BadInput, Buffer, Facts

SHT_DYNAMIC = 6
DT_NULL = 0
DT_NEEDED = 1
DT_SONAME = 14
_MACHINES = {3: "x86", 40: "arm", 62: "x86-64", 183: "aarch64", 8: "mips", 243: "riscv"}
_ETYPES = {1: "relocatable", 2: "executable", 3: "shared-object", 4: "core"}


def analyse(data: Buffer) -> Facts:
    view = memoryview(data)
    facts = Facts()
    if len(view) < 52:
        raise BadInput("ELF header is cut short")
    cls, enc = view[4], view[5]
    if cls not in (1, 2) or enc not in (1, 2):
        raise BadInput("ELF header has an unknown class or byte order")
    e = "<" if enc == 1 else ">"
    is64 = cls == 2
    if is64:
        if len(view) < 64:
            raise BadInput("ELF header is cut short")
        etype, machine = struct.unpack_from(e + "HH", view, 16)
        (shoff,) = struct.unpack_from(e + "Q", view, 40)
        shentsize, shnum = struct.unpack_from(e + "HH", view, 58)
    else:
        etype, machine = struct.unpack_from(e + "HH", view, 16)
        (shoff,) = struct.unpack_from(e + "I", view, 32)
        shentsize, shnum = struct.unpack_from(e + "HH", view, 46)
    facts.extra["machine"] = _MACHINES.get(machine, str(machine))
    facts.extra["elf_type"] = _ETYPES.get(etype, str(etype))
    if not shoff or not shnum:
        return facts
    if shoff + shnum * shentsize > len(view) or shentsize < (64 if is64 else 40):
        raise BadInput("ELF section headers lie past the end of the file (truncated?)")
    count = min(shnum, 65535)
    layout = e + ("IIQQQQI" if is64 else "IIIIIII")

    def section(i: int) -> tuple[int, int, int, int]:
        _n, stype, _f, _a, off, size, link = struct.unpack_from(layout, view, shoff + i * shentsize)
        return stype, off, size, link

    types = _section_types(view, shoff, count, shentsize, e)
    needed: list[str] = []
    for at in (i for i, stype in enumerate(types) if stype == SHT_DYNAMIC):
        _st, off, size, link = section(at)
        if link >= count:
            continue
        _st, str_off, str_size, _l = section(link)
        if off + size > len(view) or str_off + str_size > len(view):
            facts.notes.append("ELF dynamic section lies past the end of the file")
            break
        strtab = bytes(view[str_off : str_off + str_size])
        step = 16 if is64 else 8
        fmt = e + ("qQ" if is64 else "iI")
        for p in range(off, off + size - step + 1, step):
            tag, val = struct.unpack_from(fmt, view, p)
            if tag == DT_NULL:
                break
            if tag in (DT_SONAME, DT_NEEDED) and val < len(strtab):
                s = strtab[val:].split(b"\x00", 1)[0].decode("utf-8", "replace")
                if tag == DT_SONAME:
                    facts.extra["soname"] = s
                elif len(needed) < 64:
                    needed.append(s)
        break
    if needed:
        facts.extra["needed"] = ",".join(needed)
    return facts


def _section_types(view: memoryview, shoff: int, count: int, shentsize: int, e: str) -> list[int]:
    """Every section's sh_type, read at once: object files in static libraries have hundreds
    of sections and a deep scan meets tens of thousands of them; only the dynamic one is used."""
    if shentsize % 4 == 0 and (e == "<") == (sys.byteorder == "little"):
        words = memoryview(bytes(view[shoff : shoff + count * shentsize])).cast("I")
        return words[1 :: shentsize // 4].tolist()
    return [struct.unpack_from(e + "I", view, shoff + i * shentsize + 4)[0] for i in range(count)]
