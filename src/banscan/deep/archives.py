"""Opening containers without trusting them: zip (jar, apk, ipa), tar (plain, gzip, bzip2,
xz, zstd), ar (.deb) and single compressed files.

Every member is bounded before it is expanded:
- nesting depth (an archive in an archive in an archive … stops at `max_depth`);
- the total expanded size per file on disk (`max_total`) and per member (`max_member`);
- the compression ratio: a member expanding more than `max_ratio`:1 (and past
  `ratio_floor` bytes) is reported as a likely decompression bomb and not expanded;
- member names that are absolute or climb out with `..` are refused with an error line
  (nothing is ever written under a member's name, but such names mark a hostile archive);
- encrypted zip members are reported once per archive and skipped.
Members whose first bytes show a document or unknown data are skipped unread; only
executable-like members and further containers are expanded. Large members are spooled to
an anonymous temporary file and memory-mapped, so memory stays bounded.
"""

from __future__ import annotations

import bz2
import contextlib
import io
import lzma
import mmap
import posixpath
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol

from banscan.deep import inflate
from banscan.deep.filetype import HEAD_BYTES, INTERESTING, Buffer, FileType, sniff

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_depth: int = 3
    max_total: int = 1024 * MiB
    max_member: int = 512 * MiB
    max_ratio: float = 100.0
    ratio_floor: int = 1 * MiB
    max_members: int = 200_000
    spool: int = 16 * MiB
    max_file: int = 2048 * MiB
    max_name_errors: int = 5


class Budget:
    """Expanded bytes left for one file on disk (shared by everything nested in it)."""

    __slots__ = ("left",)

    def __init__(self, total: int) -> None:
        self.left = total

    def take(self, n: int) -> bool:
        if n > self.left:
            return False
        self.left -= n
        return True


Report = Callable[[str, str], None]  # (member path, message)


class Member:
    """An expanded member; call close() when done (unmaps and deletes any spool file).
    `examined`: already examined on the way (streamed through the prefilter, nothing found);
    its data is empty."""

    __slots__ = ("_closers", "data", "examined", "name")

    def __init__(
        self,
        name: str,
        data: Buffer,
        closers: list[Callable[[], object]] | None = None,
        *,
        examined: bool = False,
    ) -> None:
        self.name = name
        self.data = data
        self._closers = closers or []
        self.examined = examined

    def close(self) -> None:
        for c in reversed(self._closers):
            with contextlib.suppress(OSError, ValueError, BufferError):
                c()
        self._closers = []


def unsafe_name(name: str) -> bool:
    n = name.replace("\\", "/")
    if n.startswith("/") or (len(n) > 1 and n[1] == ":"):
        return True
    return ".." in n.split("/")


def _slurp(src: IO[bytes], name: str, declared: int | None, limits: Limits, budget: Budget) -> Member | str:
    """Read a member stream fully within limits; an error message string if it cannot."""
    cap = limits.max_member
    if declared is not None and declared > cap:
        return f"member of {declared} bytes is over the {cap}-byte limit; not expanded"
    first = src.read(limits.spool + 1)
    if len(first) <= limits.spool:
        if not budget.take(len(first)):
            return "archive expands past the total-size limit; rest not expanded"
        return Member(name, first)
    spool = tempfile.TemporaryFile(prefix="banscan-")  # noqa: SIM115 - closed by Member.close
    total = len(first)
    try:
        spool.write(first)
        del first
        while True:
            chunk = src.read(4 * MiB)
            if not chunk:
                break
            total += len(chunk)
            if total > cap:
                spool.close()
                return f"member expands past the {cap}-byte limit; not expanded"
            spool.write(chunk)
        if not budget.take(total):
            spool.close()
            return "archive expands past the total-size limit; rest not expanded"
        spool.flush()
        mm = mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        spool.close()
        return f"cannot spool member: {exc.strerror or exc}"
    return Member(name, mm, [spool.close, mm.close])


class _BufferFile(io.RawIOBase):
    """A seekable read-only file over a buffer (mmap, memoryview) without copying it."""

    def __init__(self, data: Buffer) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, b: Any) -> int:
        chunk = self._view[self._pos : self._pos + len(b)]
        n = len(chunk)
        b[:n] = chunk
        self._pos += n
        return n

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        out = bytes(self._view[self._pos : end])
        self._pos = max(self._pos, end)
        return out

    def close(self) -> None:
        self._view.release()
        super().close()


def as_file(data: Buffer) -> IO[bytes]:
    if isinstance(data, bytes):
        return io.BytesIO(data)
    return _BufferFile(data)  # type: ignore[return-value]


# -- zip ---------------------------------------------------------------------------------------


class ZipView:
    """A zip opened for listing and bounded member reads."""

    def __init__(self, data: Buffer) -> None:
        self._fh = as_file(data)
        try:
            self.zf = zipfile.ZipFile(self._fh)
        except BaseException:
            self._fh.close()
            raise
        self.infos = self.zf.infolist()
        self.names = [i.filename for i in self.infos]
        self._by_name = {i.filename: i for i in self.infos}
        self.view = memoryview(data)

    def read(self, name: str, limit: int) -> bytes | None:
        info = self._by_name.get(name)
        if info is None or info.flag_bits & 0x1 or info.file_size > limit:
            return None
        try:
            with self.zf.open(info) as fh:
                return fh.read(limit)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, zlib_error()):
            return None

    def close(self) -> None:
        self.zf.close()
        self._fh.close()
        self.view.release()


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


def zip_kind(names: list[str]) -> str:
    """ "apk", "ipa", "jar", "office" (a document) or "zip"."""
    s = set(names)
    if "AndroidManifest.xml" in s:
        return "apk"
    if ("[Content_Types].xml" in s or "mimetype" in s) and not any(
        n.endswith((".exe", ".dll", ".so", ".dex", ".class")) for n in names[:2000]
    ):
        return "office"
    if any(n.startswith("Payload/") and n.endswith(".app/Info.plist") for n in names[:5000]):
        return "ipa"
    if "META-INF/MANIFEST.MF" in s:
        return "jar"
    return "zip"


def zip_members(
    zv: ZipView, limits: Limits, budget: Budget, report: Report, checker: Checker | None = None
) -> Iterator[Member]:
    """Members worth examining. With `checker`, a large ELF member is streamed through its
    prefilter instead of being held: when none of the strings it looks for is there, the member
    is yielded `examined` and empty (nothing can come of it), else it is read whole as usual."""
    encrypted: list[str] = []
    bad_names = 0
    for n, info in enumerate(zv.infos):
        if n >= limits.max_members:
            report("", f"more than {limits.max_members} members; the rest not examined")
            break
        name = info.filename
        if not name or name.endswith("/"):  # a folder (ZipInfo.is_dir fails on an empty name)
            continue
        if unsafe_name(name):
            bad_names += 1
            if bad_names <= limits.max_name_errors:
                report(name, "member name is absolute or climbs out of the archive ('..'); refused")
            continue
        if info.flag_bits & 0x1:
            encrypted.append(name)
            continue
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size // max(info.compress_size, 1)
            report(
                name,
                f"compression ratio {ratio}:1 ({info.file_size} bytes from {info.compress_size}) is over "
                f"the {limits.max_ratio:g}:1 limit; likely decompression bomb, not expanded",
            )
            continue
        got = _quick_member(zv, info, limits, budget, checker)
        if got is _SKIP:
            continue
        if got is _CLEAR:
            yield Member(name, b"", examined=True)
            continue
        if got is _SLOW:
            try:
                with zv.zf.open(info) as fh:
                    head = fh.read(HEAD_BYTES)
                    if sniff(head) not in INTERESTING:
                        continue
                    # Go on from the head: the member is inflated once, not twice.
                    got = _slurp(_Prefixed(head, fh), name, info.file_size, limits, budget)  # type: ignore[arg-type]
            except (
                zipfile.BadZipFile,
                OSError,
                EOFError,
                ValueError,
                NotImplementedError,
                zlib_error(),
            ) as exc:
                report(name, f"member unreadable: {exc}")
                continue
        assert isinstance(got, (Member, str))
        if isinstance(got, str):
            report(name, got)
            if "total-size" in got:
                break
            continue
        yield got
    if encrypted:
        more = f" and {len(encrypted) - 1} more" if len(encrypted) > 1 else ""
        report(encrypted[0], f"encrypted member{more} not examined")


_SKIP = object()  # the member's head shows nothing worth examining
_CLEAR = object()  # streamed through the prefilter: none of its strings is there
_SLOW = object()  # not for the quick path: let zipfile read it (and word any error)


class _MemberStream(io.RawIOBase):
    """A zip member read straight from the archive's bytes — a stored member as it lies, a
    deflated one inflated in bounded steps — counting its size and CRC-32 as it goes."""

    _FIRST_IN = 64 * 1024  # enough compressed input for a member's head
    _IN = 1 * MiB

    def __init__(self, raw: memoryview, deflated: bool) -> None:
        self.raw = raw
        self.inflate = inflate.decompressobj(-15) if deflated else None
        self.pos = 0
        self.pending: Buffer = b""
        self.out = memoryview(b"")
        self.size = 0
        self.crc = 0

    def readable(self) -> bool:
        return True

    def complete(self, size: int, crc: int) -> bool:
        """Whether the whole member was read and is what the archive's directory says."""
        done = self.inflate.eof if self.inflate is not None else self.pos >= len(self.raw)
        return done and not self.out and self.size == size and self.crc == crc

    def readinto(self, b: Any) -> int:
        if not self.out:
            self.out = memoryview(self._more(len(b)))
            if not self.out:
                return 0
        n = min(len(b), len(self.out))
        b[:n] = self.out[:n]
        self.out = self.out[n:]
        return n

    def _more(self, want: int) -> bytes:
        if self.inflate is None:
            data = bytes(self.raw[self.pos : self.pos + max(want, self._IN)])
            self.pos += len(data)
        else:
            data = b""
            while not data and not self.inflate.eof:
                if not self.pending:
                    if self.pos >= len(self.raw):
                        break
                    step = self._FIRST_IN if self.pos == 0 else self._IN
                    self.pending = self.raw[self.pos : self.pos + step]
                    self.pos += len(self.pending)
                data = self.inflate.decompress(self.pending, max(want, HEAD_BYTES))
                self.pending = self.inflate.unconsumed_tail
        if data:
            self.size += len(data)
            self.crc = inflate.crc32(data, self.crc)
        return data


def _quick_member(
    zv: ZipView, info: zipfile.ZipInfo, limits: Limits, budget: Budget, checker: Checker | None = None
) -> object:
    """A stored or deflated member read straight from the archive's bytes: its head, and all
    of it only when the head is worth it. Jars and wheels hold tens of thousands of members;
    going through zipfile costs more than inflating most of them, and its inflate is zlib's,
    not the faster one of `inflate`. Anything unusual (a local header that disagrees with the
    directory, a bad CRC, a short stream) goes the ordinary way, which reports it as before."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return _SLOW
    view = zv.view
    at = info.header_offset
    local = bytes(view[at : at + 30])
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        return _SLOW
    n_name = int.from_bytes(local[26:28], "little")
    n_extra = int.from_bytes(local[28:30], "little")
    try:
        expected = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
    except UnicodeEncodeError:
        return _SLOW
    if bytes(view[at + 30 : at + 30 + n_name]) != expected:
        return _SLOW
    start = at + 30 + n_name + n_extra
    end = start + info.compress_size
    if end > len(view):
        return _SLOW
    deflated = info.compress_type == zipfile.ZIP_DEFLATED
    stream = _MemberStream(view[start:end], deflated)
    reader = io.BufferedReader(stream, 64 * 1024)
    try:
        head = reader.read(HEAD_BYTES)
        kind = sniff(head)
        if kind not in INTERESTING:
            return _SKIP
        if (
            kind == FileType.ELF
            and checker is not None
            and limits.spool < info.file_size <= limits.max_member
            and (check := checker()) is not None
        ):
            # An ELF file says nothing about itself that a record needs unless a signature is
            # in it: stream it through the prefilter rather than hold (and spool) it.
            if not budget.take(info.file_size):
                return "archive expands past the total-size limit; rest not expanded"
            seen = _stream_check(head, reader, check)
            if seen is None and stream.complete(info.file_size, info.CRC):
                return _CLEAR
            budget.left += info.file_size
            if seen is None:
                return _SLOW  # cut short or not what the directory says: zipfile words it
            stream = _MemberStream(view[start:end], deflated)  # a string is there: read it whole
            reader = io.BufferedReader(stream, 64 * 1024)
            head = reader.read(HEAD_BYTES)
        left = budget.left
        got = _slurp(_Prefixed(head, reader), info.filename, info.file_size, limits, budget)  # type: ignore[arg-type]
    except inflate.ERRORS:
        return _SLOW
    if isinstance(got, Member) and not stream.complete(info.file_size, info.CRC):
        got.close()
        budget.left = left  # the ordinary reader takes it again
        return _SLOW
    return got


class Check(Protocol):
    """A prefilter fed piece by piece (yarascan.StreamCheck)."""

    maybe: bool

    def feed(self, data: Buffer) -> bool: ...

    def close(self) -> None: ...


Checker = Callable[[], "Check | None"]


def _stream_check(head: bytes, reader: io.BufferedReader[Any], check: Check) -> bool | None:
    """Feed a member through `check` to its end: True at the first possible match, None when
    it was read to the end with none."""
    buf = bytearray(4 * MiB)
    view = memoryview(buf)
    try:
        if check.feed(head):
            return True
        while True:
            n = reader.readinto(buf)
            if not n:
                break
            if check.feed(view[:n]):
                return True
        check.close()
        return True if check.maybe else None
    finally:
        check.close()
        view.release()


# -- tar and compressed streams ---------------------------------------------------------------


class _Counting(io.RawIOBase):
    """Counts compressed bytes consumed, to measure a stream's expansion ratio."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.count += n
        return n


def decompressor(kind: FileType, src: IO[bytes]) -> IO[bytes]:
    if kind == FileType.GZIP:
        return inflate.gzip_reader(src)
    if kind == FileType.BZIP2:
        return bz2.BZ2File(src, mode="rb")
    if kind == FileType.XZ:
        return lzma.LZMAFile(src, mode="rb")
    if kind == FileType.ZSTD:
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(src, read_across_frames=True)  # type: ignore[return-value]
    raise ValueError(f"not a compressed stream: {kind.value}")


_STREAM_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ValueError,
    lzma.LZMAError,
    tarfile.TarError,
    *inflate.ERRORS,  # gzip and zip members with a corrupt deflate stream
)


def stream_errors() -> tuple[type[BaseException], ...]:
    try:
        import zstandard

        return (*_STREAM_ERRORS, zstandard.ZstdError)
    except ImportError:
        return _STREAM_ERRORS


def compressed_members(
    kind: FileType, data: Buffer, inner_name: str, limits: Limits, budget: Budget, report: Report
) -> Iterator[Member]:
    """A compressed file: its tar members, or the one decompressed file."""
    errors = stream_errors()
    size = len(memoryview(data))
    if kind == FileType.GZIP and _gzip_head_is_nothing(data):
        return  # most .gz files are manual pages and changelogs: text, left at their head
    try:
        with as_file(data) as f, decompressor(kind, f) as s:
            head = s.read(HEAD_BYTES)
    except errors as exc:
        report("", f"{kind.value} stream unreadable: {exc}")
        return
    inner = sniff(head)
    if inner == FileType.TAR:
        with as_file(data) as f:
            counting = _Counting(f)
            try:
                stream = decompressor(kind, io.BufferedReader(counting))  # type: ignore[arg-type]
            except errors as exc:
                report("", f"{kind.value} stream unreadable: {exc}")
                return
            with stream:
                yield from tar_members(stream, limits, budget, report, counting=counting, packed_total=size)
        return
    if inner not in INTERESTING:
        return
    try:
        with as_file(data) as f, decompressor(kind, f) as s:
            got = _bounded_ratio_read(s, inner_name, size, limits, budget)
    except errors as exc:
        report("", f"{kind.value} stream unreadable: {exc}")
        return
    if isinstance(got, str):
        report("", got)
        return
    yield got


def _gzip_head_is_nothing(data: Buffer) -> bool:
    """Whether a gzip stream plainly starts with something neither a tar nor worth examining,
    found by one zlib call instead of a GzipFile. Any doubt (a corrupt or very short stream)
    answers False, and the ordinary reader decides and words any error."""
    view = memoryview(data)
    try:
        gz = inflate.decompressobj(16 + zlib.MAX_WBITS)
        head = gz.decompress(view[: 64 * 1024], HEAD_BYTES)
    except inflate.ERRORS:
        return False
    finally:
        view.release()
    if len(head) < HEAD_BYTES and not (gz.eof and not gz.unused_data):
        return False  # a cut stream, or more members after a short one: the ordinary reader decides
    inner = sniff(head)
    return inner != FileType.TAR and inner not in INTERESTING


def _bounded_ratio_read(s: IO[bytes], name: str, packed: int, limits: Limits, budget: Budget) -> Member | str:
    class _Guard(io.RawIOBase):
        def __init__(self) -> None:
            self.total = 0

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            chunk = s.read(len(b))
            self.total += len(chunk)
            if self.total > limits.ratio_floor and self.total > limits.max_ratio * max(packed, 1):
                raise _Bomb(self.total)
            b[: len(chunk)] = chunk
            return len(chunk)

    try:
        return _slurp(io.BufferedReader(_Guard()), name, None, limits, budget)
    except _Bomb as bomb:
        return (
            f"expands to more than {bomb.args[0]} bytes from {packed} (over {limits.max_ratio:g}:1); "
            "likely decompression bomb, not expanded"
        )


class _Bomb(Exception):
    pass


def tar_members(
    src: IO[bytes],
    limits: Limits,
    budget: Budget,
    report: Report,
    *,
    counting: _Counting | None = None,
    packed_total: int = 0,
) -> Iterator[Member]:
    errors = stream_errors()
    expanded = 0
    bad_names = 0
    try:
        # Large reads: the stream is decompressed in 1 MiB steps, not 10 KiB ones.
        tf = tarfile.open(fileobj=src, mode="r|", bufsize=1024 * 1024)  # noqa: SIM115 - closed below
    except errors as exc:
        report("", f"tar archive unreadable: {exc}")
        return
    try:
        for n, m in enumerate(tf):
            if n >= limits.max_members:
                report("", f"more than {limits.max_members} members; the rest not examined")
                return
            if counting is not None:
                expanded += m.size + 512
                # A member's declared size is counted before its bytes are read, so measure it
                # against the whole compressed input, not the few blocks read so far (a .deb
                # whose first file is a 20 MB binary is no bomb).
                packed = max(counting.count, packed_total, 1)
                if expanded > limits.ratio_floor * 16 and expanded > limits.max_ratio * packed:
                    report(
                        m.name,
                        f"archive expands over {limits.max_ratio:g}:1 ({expanded} bytes from {packed}); "
                        "likely decompression bomb, rest not expanded",
                    )
                    return
            if not m.isfile():
                continue
            if unsafe_name(m.name):
                bad_names += 1
                if bad_names <= limits.max_name_errors:
                    report(m.name, "member name is absolute or climbs out of the archive ('..'); refused")
                continue
            fh = tf.extractfile(m)
            if fh is None:
                continue
            head = fh.read(HEAD_BYTES)
            if sniff(head) not in INTERESTING:
                continue
            if m.size > limits.max_member:
                report(
                    m.name,
                    f"member of {m.size} bytes is over the {limits.max_member}-byte limit; not expanded",
                )
                continue
            got = _slurp(_Prefixed(head, fh), m.name, m.size, limits, budget)  # type: ignore[arg-type]
            if isinstance(got, str):
                report(m.name, got)
                if "total-size" in got:
                    return
                continue
            yield got
    except errors as exc:
        report("", f"tar archive unreadable: {' '.join(str(exc).split())}")
    finally:
        tf.close()


class _Prefixed(io.RawIOBase):
    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head = head
        self.rest = rest

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                out = self.head + self.rest.read()
                self.head = b""
                return out
            out, self.head = self.head[:n], self.head[n:]
            if len(out) < n:
                out += self.rest.read(n - len(out))
            return out
        return self.rest.read(n)


def tar_plain_members(data: Buffer, limits: Limits, budget: Budget, report: Report) -> Iterator[Member]:
    with as_file(data) as f:
        yield from tar_members(f, limits, budget, report)


# -- ar (.deb) ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArEntry:
    """One member of an ar archive: its name and where its bytes lie in the archive."""

    name: str
    start: int
    size: int


def ar_entries(data: Buffer, limits: Limits, report: Report) -> list[ArEntry]:
    """The members of an ar archive (.deb, .a), in order and inside the file.

    A corrupt header or a member running past the end stops the listing with one report;
    the members before it are still returned. Long member names are resolved: GNU ar (static
    libraries, Rust .rlib) writes `/123` for the name at offset 123 of its `//` table, BSD ar
    writes `#1/20` with the name as the member's first 20 bytes.
    """
    view = memoryview(data)
    out: list[ArEntry] = []
    longnames = b""
    pos = 8
    while pos + 60 <= len(view):
        if len(out) >= limits.max_members:
            report("", f"more than {limits.max_members} members; the rest not examined")
            break
        hdr = bytes(view[pos : pos + 60])
        if hdr[58:60] != b"`\n":
            report("", f"ar member header at {pos} is corrupt")
            break
        raw = hdr[:16].decode("ascii", "replace").strip()
        name = raw.rstrip("/")
        try:
            size = int(hdr[48:58].decode("ascii").strip())
        except ValueError:
            report(name, "ar member size unreadable")
            break
        start = pos + 60
        if size < 0 or start + size > len(view):
            report(name, "ar member is cut short")
            break
        pos = start + size + (size & 1)
        if raw == "//":  # GNU long-name table: names ending in "/\n"
            longnames = bytes(view[start : start + size])
            continue
        if raw[:1] == "/" and raw[1:].isdigit() and longnames:
            off = int(raw[1:])
            end = longnames.find(b"/\n", off)
            if off < len(longnames):
                name = longnames[off : end if end >= 0 else len(longnames)].decode("utf-8", "replace")
        elif raw.startswith("#1/") and raw[3:].isdigit():
            n = min(int(raw[3:]), size)
            name = bytes(view[start : start + n]).split(b"\x00", 1)[0].decode("utf-8", "replace")
            start, size = start + n, size - n
        out.append(ArEntry(name, start, size))
    return out


def ar_members(data: Buffer, entries: list[ArEntry], report: Report) -> Iterator[Member]:
    """The executable-like and container members of an ar archive, as views (no copy)."""
    view = memoryview(data)
    for e in entries:
        if unsafe_name(e.name):
            report(e.name, "member name is absolute or climbs out of the archive ('..'); refused")
        elif sniff(bytes(view[e.start : e.start + min(e.size, HEAD_BYTES)])) in INTERESTING:
            yield Member(e.name, view[e.start : e.start + e.size])


def strip_suffix(name: str) -> str:
    base = posixpath.basename(name)
    for suf in (".gz", ".tgz", ".bz2", ".xz", ".zst", ".zstd"):
        if base.lower().endswith(suf):
            stem = base[: -len(suf)]
            return stem + ".tar" if suf == ".tgz" else stem
    return base + ".out"
