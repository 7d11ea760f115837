"""Debian packages that the scanned system's own archive index vouches for.

A whole-system deep scan of a Debian or Ubuntu machine meets its package cache
(`/var/cache/apt/archives`): thousands of `.deb` files, gigabytes of xz-compressed tar that
take longer to expand than everything else on the machine together. When a cached package
file is byte for byte one that a distribution archive published — its SHA-256 is listed in
the `Packages` index apt fetched for one of the system's sources, that index is the one the
source's signed `InRelease` file names (by SHA-256), and the source is an archive area that
holds only free software (`DISTRIBUTION_AREAS`) — its contents are known: the distribution
built them from source, and proprietary software such as a banned vendor's cannot be in those
areas. Such a package is identified by its control file like any other .deb, and its data
archive is not expanded. Any doubt — another origin or area, an index that does not match its
Release file, a file not listed — and the package is expanded as before.

apt checked the Release file's OpenPGP signature when it fetched it; banscan trusts the
system's apt lists as far as it trusts its dpkg status, which every scan reads.
"""

from __future__ import annotations

import functools
import hashlib
import io
import lzma
import os
import re
from dataclasses import dataclass
from pathlib import Path

# (Release `Origin`, archive area) → where the distribution states that the area holds only
# free software.
DISTRIBUTION_AREAS: dict[tuple[str, str], str] = {
    ("Debian", "main"): "https://www.debian.org/doc/debian-policy/ch-archive.html#the-main-archive-area",
    ("Ubuntu", "main"): "https://help.ubuntu.com/community/Repositories/Ubuntu",
    ("Ubuntu", "universe"): "https://help.ubuntu.com/community/Repositories/Ubuntu",
}

LISTS = "var/lib/apt/lists"
_MAX_INDEX = 1024 * 1024 * 1024  # an uncompressed Packages file larger than this is not read
_SHA256_LINE = re.compile(rb"^SHA256: ([0-9a-f]{64})[ \t]*$", re.MULTILINE)
_FIELD = re.compile(r"^([A-Za-z0-9-]+):[ \t]*(.*)$")


@dataclass(frozen=True, slots=True)
class Vouch:
    """Which index lists a package file: shown in the package's record and the scan summary."""

    origin: str
    suite: str
    area: str

    @property
    def label(self) -> str:
        return f"{self.origin} {self.suite} {self.area}"


class AptIndex:
    """SHA-256 of every package file listed by the trusted indexes under one root."""

    def __init__(self, known: dict[str, Vouch], problems: list[tuple[str, str]]) -> None:
        self.known = known
        self.problems = problems  # (index file, why it was not used)

    def vouch(self, sha256: str) -> Vouch | None:
        return self.known.get(sha256)

    @classmethod
    def load(cls, root: Path) -> AptIndex:
        known: dict[str, Vouch] = {}
        problems: list[tuple[str, str]] = []
        lists = root / LISTS
        try:
            names = sorted(os.listdir(lists))
        except OSError:
            return cls(known, problems)
        releases: dict[str, dict[str, str] | None] = {}
        for name in names:
            parsed = _index_name(name)
            if parsed is None:
                continue
            prefix, suite, area, arch, suffix = parsed
            release = releases.get(prefix + suite)
            if prefix + suite not in releases:
                release = releases[prefix + suite] = _release(lists, f"{prefix}_dists_{suite}")
            if release is None:
                continue
            origin = release.get("Origin", "")
            if (origin, area) not in DISTRIBUTION_AREAS:
                continue
            path = lists / name
            try:
                text = _read_index(path, suffix)
            except (OSError, ValueError, lzma.LZMAError) as exc:
                problems.append((str(path), f"package index unreadable: {exc}"))
                continue
            listed = release.get(f"sha256:{area}/binary-{arch}/Packages")
            if listed is None or hashlib.sha256(text).hexdigest() != listed:
                problems.append((str(path), "package index does not match its Release file; not used"))
                continue
            vouch = Vouch(origin, release.get("Codename") or suite, area)
            for m in _SHA256_LINE.finditer(text):
                known.setdefault(m.group(1).decode("ascii"), vouch)
        return cls(known, problems)


@functools.lru_cache(maxsize=4)
def index_for(root: str) -> AptIndex:
    """The index of one root, loaded once per process."""
    return AptIndex.load(Path(root))


def _index_name(name: str) -> tuple[str, str, str, str, str] | None:
    """`host_path_dists_SUITE_AREA_binary-ARCH_Packages[.ext]` → (prefix, suite, area, arch, ext)."""
    prefix, sep, rest = name.partition("_dists_")
    if not sep:
        return None
    parts = rest.split("_")
    if len(parts) != 4 or not parts[2].startswith("binary-"):
        return None
    suite, area, binary, packages = parts
    base, _, suffix = packages.partition(".")
    if base != "Packages" or suffix not in ("", "gz", "xz", "lz4", "zst"):
        return None
    return prefix, suite, area, binary[len("binary-") :], suffix


def _release(lists: Path, stem: str) -> dict[str, str] | None:
    """The fields of a suite's (In)Release file, with `sha256:PATH` for each listed file."""
    for name in (stem + "_InRelease", stem + "_Release"):
        try:
            raw = (lists / name).read_bytes()[: 64 * 1024 * 1024]
        except OSError:
            continue
        fields: dict[str, str] = {}
        section = ""
        for line in raw.decode("utf-8", "replace").splitlines():
            if line.startswith("-----BEGIN PGP SIGNATURE"):
                break
            if line.startswith((" ", "\t")):
                if section == "SHA256":
                    bits = line.split()
                    if len(bits) == 3:
                        fields[f"sha256:{bits[2]}"] = bits[0]
                continue
            m = _FIELD.match(line)
            if m:
                section = m.group(1)
                fields.setdefault(section, m.group(2).strip())
        return fields
    return None


def _read_index(path: Path, suffix: str) -> bytes:
    with open(path, "rb") as fh:
        raw = fh.read(_MAX_INDEX + 1)
    if suffix == "gz":
        import gzip

        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as g:
            raw = g.read(_MAX_INDEX + 1)
    elif suffix == "xz":
        raw = lzma.LZMADecompressor().decompress(raw, _MAX_INDEX + 1)
    elif suffix == "lz4":
        import lz4.frame

        raw = lz4.frame.LZ4FrameDecompressor().decompress(raw, _MAX_INDEX + 1)
    elif suffix == "zst":
        import zstandard

        with zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as z:
            raw = z.read(_MAX_INDEX + 1)
    if len(raw) > _MAX_INDEX:
        raise ValueError(f"over {_MAX_INDEX} bytes")
    return raw
