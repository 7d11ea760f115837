"""MAC addresses and the IEEE registry of who was assigned each block of them.

The IEEE Registration Authority assigns blocks of MAC addresses in three sizes: MA-L (the first
24 bits, the classic OUI), MA-M (28 bits) and MA-S (36 bits, and the older IAB). Small blocks are
carved out of large ones the IEEE itself holds, so an address belongs to the longest assignment
that is a prefix of it. The registry is read from the IEEE's own CSV files ("Registry,Assignment,
Organization Name,Organization Address"), as Debian's `ieee-data` package installs them under
/usr/share/ieee-data, or from files or folders named in `BANSCAN_OUI_REGISTRY` (or
`--oui-registry`). It is never downloaded: without it, an address is still compared with the
catalog's assignments by its 24-, 28- and 36-bit prefixes, only without the organisation's name.

An assignment names the organisation that registered the block: evidence of who made the network
interface, not proof of what the device is. Locally administered addresses (the second bit of the
first octet set: randomised Wi-Fi addresses, virtual machines) and group addresses belong to no
assignment and are never resolved.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ENV = "BANSCAN_OUI_REGISTRY"
SYSTEM_FOLDER = Path("/usr/share/ieee-data")
# The IEEE's CSV files, longest assignments first (Debian's names, which are the IEEE's own).
REGISTRY_FILES = ("oui36.csv", "iab.csv", "mam.csv", "oui.csv")
HEADER = ("Registry", "Assignment", "Organization Name", "Organization Address")
# Hex digits of each assignment size.
SIZES = {"MA-S": 9, "IAB": 9, "MA-M": 7, "MA-L": 6}
PREFIX_LENGTHS = (9, 7, 6)

_SEPARATED = re.compile(r"[0-9A-Fa-f]{1,2}([:-])(?:[0-9A-Fa-f]{1,2}\1){4}[0-9A-Fa-f]{1,2}")
_DOTTED = re.compile(r"[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}")
_BARE = re.compile(r"[0-9A-Fa-f]{12}")
_SPACED = re.compile(r"[0-9A-Fa-f]{2}(?: [0-9A-Fa-f]{2}){5}")


def parse_mac(text: str | None) -> str | None:
    """A MAC address as 12 lower-case hex digits, from any usual spelling (`28:57:BE:01:02:03`,
    `28-57-be-1-2-3`, `2857.be01.0203`, `2857BE010203`, `28 57 BE 01 02 03`); None otherwise."""
    if not text:
        return None
    t = text.strip().strip('"')
    if _SEPARATED.fullmatch(t):
        return "".join(p.rjust(2, "0") for p in re.split(r"[:-]", t)).lower()
    if _DOTTED.fullmatch(t):
        return t.replace(".", "").lower()
    if _BARE.fullmatch(t):
        return t.lower()
    if _SPACED.fullmatch(t):
        return t.replace(" ", "").lower()
    return None


def is_assignable(mac: str) -> bool:
    """Whether a (parsed) address can belong to an IEEE assignment: universally administered
    and individual. Locally administered (randomised, virtual) and group addresses cannot."""
    first = int(mac[:2], 16)
    return not first & 0x03 and mac != "000000000000"


def colon_form(mac: str) -> str:
    """`28:57:be:01:02:03`: how records keep an address."""
    return ":".join(mac[i : i + 2] for i in range(0, 12, 2))


def assignment_form(hexdigits: str) -> str:
    """An assignment as the catalog writes it: upper case, colons between octets (`28:57:BE`,
    MA-M `70:B3:D5:F`, MA-S `70:B3:D5:F2:F`)."""
    h = hexdigits.upper()
    return ":".join(h[i : i + 2] for i in range(0, len(h), 2))


def candidate_assignments(mac: str) -> list[str]:
    """The assignments an address could belong to, longest first, when no registry says which."""
    return [assignment_form(mac[:n]) for n in PREFIX_LENGTHS]


@dataclass(frozen=True, slots=True)
class Assignment:
    """One registry row: a block of addresses and the organisation it was assigned to."""

    registry: str  # MA-L, MA-M, MA-S or IAB
    prefix: str  # lower-case hex digits (6, 7 or 9)
    organisation: str

    @property
    def value(self) -> str:
        return assignment_form(self.prefix)


class RegistryError(Exception):
    """A registry file that cannot be read; the message names the file and the line."""


class OuiRegistry:
    """The IEEE assignments by prefix; `lookup` finds the longest one an address falls in."""

    def __init__(self, assignments: Iterable[Assignment] = (), sources: tuple[str, ...] = ()) -> None:
        self._by_prefix: dict[str, Assignment] = {}
        for a in assignments:
            self._by_prefix.setdefault(a.prefix, a)
        self.sources = sources

    def __len__(self) -> int:
        return len(self._by_prefix)

    def lookup(self, mac: str) -> Assignment | None:
        """The longest assignment holding `mac` (12 hex digits), or None."""
        for n in PREFIX_LENGTHS:
            hit = self._by_prefix.get(mac[:n])
            if hit is not None:
                return hit
        return None

    def organisation(self, value: str) -> str | None:
        """The organisation of an assignment written as the catalog writes it (`28:57:BE`)."""
        hit = self._by_prefix.get(value.replace(":", "").replace("-", "").lower())
        return hit.organisation if hit else None

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> OuiRegistry:
        found: list[Assignment] = []
        names: list[str] = []
        for path in paths:
            names.append(str(path))
            try:
                text = path.read_bytes().decode("utf-8", errors="replace")
            except OSError as exc:
                raise RegistryError(f"{path}: {exc.strerror or exc}") from None
            found.extend(read_registry_csv(text, str(path)))
        return cls(found, tuple(names))


def read_registry_csv(text: str, where: str) -> Iterator[Assignment]:
    """Rows of one IEEE registry CSV file; a file without the IEEE's header is refused."""
    rows = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = next(rows, None)
    if header is None or tuple(h.strip() for h in header[:4]) != HEADER:
        raise RegistryError(
            f"{where}:1: not an IEEE registry CSV file (expected the header {','.join(HEADER)})"
        )
    for line, row in enumerate(rows, start=2):
        if len(row) < 3 or not row[0].strip():
            continue
        registry, prefix, org = row[0].strip(), row[1].strip().lower(), row[2].strip()
        size = SIZES.get(registry)
        if size is None or len(prefix) != size or not re.fullmatch(r"[0-9a-f]+", prefix):
            raise RegistryError(f"{where}:{line}: not a registry row ({registry!r}, {row[1]!r})")
        yield Assignment(registry, prefix, org)


def registry_paths(spec: str | None = None) -> list[Path]:
    """The registry files to read: those `spec` (or $BANSCAN_OUI_REGISTRY) names, files or folders
    separated by the path separator, else Debian's ieee-data files where they are installed."""
    spec = spec if spec is not None else os.environ.get(ENV)
    if spec:
        out: list[Path] = []
        for part in filter(None, spec.split(os.pathsep)):
            p = Path(part)
            out += [p / n for n in REGISTRY_FILES if (p / n).is_file()] if p.is_dir() else [p]
        return out
    return [SYSTEM_FOLDER / n for n in REGISTRY_FILES if (SYSTEM_FOLDER / n).is_file()]


_override: list[str | None] = [None]


def use_registry(spec: str | None) -> None:
    """Read the registry from `spec` (files or folders) from now on (`--oui-registry`)."""
    _override[0] = spec
    default_registry.cache_clear()


@functools.cache
def default_registry() -> OuiRegistry | None:
    """The registry this process uses, read once; None where none is installed or named.
    A named registry that cannot be read raises RegistryError (the reader reports it)."""
    paths = registry_paths(_override[0])
    if not paths:
        return None
    return OuiRegistry.from_files(paths)


def mac_extras(text: str | None, registry: OuiRegistry | None) -> list[tuple[str, str]]:
    """Record extras for an observed MAC address: `mac`, and where the registry resolves it,
    `mac_oui` (the assignment), `mac_registry` and `mac_org`. A locally administered address is
    kept as `mac` with `mac_local` so that it is never taken for a vendor's."""
    mac = parse_mac(text)
    if mac is None:
        return []
    out = [("mac", colon_form(mac))]
    if not is_assignable(mac):
        return [*out, ("mac_local", "yes")]
    hit = registry.lookup(mac) if registry is not None else None
    if hit is not None:
        out += [("mac_oui", hit.value), ("mac_registry", hit.registry), ("mac_org", hit.organisation)]
    return out
