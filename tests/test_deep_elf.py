"""ELF section reading: the shared-object name and needed libraries, from generated binaries of
both classes and byte orders (the fast little-endian path and the portable one), and from a real
library of this system."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

from banscan.deep.elf import DT_NEEDED, DT_NULL, DT_SONAME, SHT_DYNAMIC, analyse
from banscan.deep.filetype import BadInput

SHT_STRTAB = 3


def build_elf(
    *, is64: bool, little: bool, soname: str, needed: list[str], padding_sections: int = 0
) -> bytes:
    """A minimal ELF: header, a string table, a dynamic section linking to it, and section
    headers [null, (padding PROGBITS)…, strtab, dynamic]."""
    e = "<" if little else ">"
    header_size = 64 if is64 else 52
    strtab = b"\x00"
    offsets: dict[str, int] = {}
    for name in [soname, *needed]:
        offsets[name] = len(strtab)
        strtab += name.encode() + b"\x00"
    dyn_fmt = e + ("qQ" if is64 else "iI")
    dynamic = struct.pack(dyn_fmt, DT_SONAME, offsets[soname])
    for name in needed:
        dynamic += struct.pack(dyn_fmt, DT_NEEDED, offsets[name])
    dynamic += struct.pack(dyn_fmt, DT_NULL, 0)
    str_off = header_size
    dyn_off = str_off + len(strtab)
    shoff = dyn_off + len(dynamic)
    shentsize = 64 if is64 else 40
    sh_fmt = e + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII")
    strtab_index = 1 + padding_sections
    sections = [struct.pack(sh_fmt, *([0] * 10))]
    sections += [struct.pack(sh_fmt, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0)] * padding_sections
    sections.append(struct.pack(sh_fmt, 0, SHT_STRTAB, 0, 0, str_off, len(strtab), 0, 0, 1, 0))
    sections.append(struct.pack(sh_fmt, 0, SHT_DYNAMIC, 0, 0, dyn_off, len(dynamic), strtab_index, 0, 8, 16))
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1 if little else 2, 1]) + b"\x00" * 9
    if is64:
        head = ident + struct.pack(
            e + "HHIQQQIHHHHHH", 3, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, len(sections), 0
        )
    else:
        head = ident + struct.pack(
            e + "HHIIIIIHHHHHH", 3, 40, 1, 0, 0, shoff, 0, 52, 0, 0, 40, len(sections), 0
        )
    assert len(head) == header_size and len(sections[0]) == shentsize
    return head + strtab + dynamic + b"".join(sections)


@pytest.mark.parametrize("is64", [True, False], ids=["64-bit", "32-bit"])
@pytest.mark.parametrize("little", [True, False], ids=["little-endian", "big-endian"])
@pytest.mark.parametrize("padding", [0, 300])
def test_soname_and_needed_in_every_class_and_byte_order(is64: bool, little: bool, padding: int) -> None:
    data = build_elf(
        is64=is64,
        little=little,
        soname="libkavbase.so.8",
        needed=["libc.so.6", "libm.so.6"],
        padding_sections=padding,
    )
    facts = analyse(data)
    assert facts.extra["soname"] == "libkavbase.so.8"
    assert facts.extra["needed"] == "libc.so.6,libm.so.6"
    assert facts.extra["elf_type"] == "shared-object"


def test_truncated_section_headers_are_one_error() -> None:
    data = build_elf(is64=True, little=True, soname="liba.so", needed=[])
    with pytest.raises(BadInput, match="past the end"):
        analyse(data[:-10])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads a library of a Linux system")
def test_a_real_library_of_this_system() -> None:
    """libc names itself in its dynamic section on every glibc system."""
    candidates = sorted(Path("/").glob("usr/lib*/**/libc.so.6")) + sorted(Path("/").glob("lib*/**/libc.so.6"))
    real = next((p.resolve() for p in candidates if p.exists()), None)
    if real is None:
        pytest.skip("no glibc libc.so.6 on this system")
    facts = analyse(real.read_bytes())
    assert facts.extra["soname"] == "libc.so.6"
    assert facts.extra["elf_type"] == "shared-object"
