"""Every volume of a disk image and what is on it, through dfvfs.

dfvfs's source scanner recognises the container (QCOW, VMDK, VHD/VHDX, EWF, raw), the volume
systems inside (MBR, GPT, LVM, APFS containers) and each volume's file system or encryption.
It is driven here one scan node at a time, so a partition that cannot be read (a damaged
file system, a table pointing past the end of the image) costs that partition, never the
others. Encrypted volumes (BitLocker, LUKS) are unlocked with the credentials given, else
reported as locked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dfvfs.credentials import manager as credentials_manager  # type: ignore[import-untyped]
from dfvfs.helpers import source_scanner  # type: ignore[import-untyped]
from dfvfs.lib import definitions  # type: ignore[import-untyped]
from dfvfs.path import factory as path_factory  # type: ignore[import-untyped]
from dfvfs.resolver import context as dfvfs_context  # type: ignore[import-untyped]
from dfvfs.resolver import resolver  # type: ignore[import-untyped]
from dfvfs.volume import factory as volume_factory  # type: ignore[import-untyped]

from banscan.images.detect import SECTOR, file_system_kind
from banscan.images.keys import Credential
from banscan.images.mbr import Partition, parse_mbr
from banscan.images.problems import reason

MAX_SCAN_STEPS = 10_000  # scan nodes one image may yield (a hostile table could list thousands)

ENCRYPTION_NAMES = {
    definitions.TYPE_INDICATOR_BDE: "BitLocker",
    definitions.TYPE_INDICATOR_LUKSDE: "LUKS",
    definitions.TYPE_INDICATOR_APFS_CONTAINER: "APFS",
    definitions.TYPE_INDICATOR_CS: "Core Storage",
}


_MEDIA = definitions.STORAGE_MEDIA_IMAGE_TYPE_INDICATORS


class ImageError(Exception):
    """The file cannot be opened as a disk image at all."""


@dataclass
class Volume:
    """One volume (a partition, a logical volume, or the whole image) and what it holds."""

    label: str  # "p2", "lvm:vg/lv", "p1/apfs1"; "" when one file system fills the image
    offset: int | None  # where the volume starts in the image (bytes), when that means something
    file_system: str | None = None  # dfvfs type: EXT, NTFS, FAT, HFS, APFS, XFS …
    spec: Any = None  # dfvfs path specification of the file system
    encryption: str | None = None  # "BitLocker", "LUKS" … when the volume is encrypted
    locked: bool = False  # encrypted and not unlocked
    problem: str | None = None  # why it could not be read (damaged), else None

    def what(self) -> str:
        """`volume at offset 1048576`, or `image` when the volume is the whole image: how error
        lines name it after the image and volume label."""
        if not self.label:
            return "image"
        return "volume" if self.offset is None else f"volume at offset {self.offset}"


@dataclass
class OpenedImage:
    """The volumes of one image, and the dfvfs resolver context that reads them."""

    volumes: list[Volume]
    context: Any
    # (path spec, credential type) put on dfvfs's key chain while unlocking
    credentials: list[tuple[Any, str]] = field(default_factory=list)
    # the unlocked volumes, opened: dfvfs's context caches only what someone holds
    unlocked: list[Any] = field(default_factory=list)

    def close(self) -> None:
        self.unlocked.clear()
        self.context.Empty()
        _forget(self.credentials)


def _forget(credentials: Sequence[tuple[Any, str]]) -> None:
    """Take the credentials tried off dfvfs's key chain: it is shared by the whole process and
    outlives the image, so a later scan of the same image would open it with no key given."""
    for spec, kind in credentials:
        resolver.Resolver.key_chain.SetCredential(spec, kind, None)


def open_image(path: Path, credentials: Sequence[Credential] = ()) -> OpenedImage:
    """Find every volume of the image at `path`; ImageError when it is no image dfvfs reads."""
    context = dfvfs_context.Context()
    scanner = source_scanner.SourceScanner(resolver_context=context)
    scan = source_scanner.SourceScannerContext()
    scan.OpenSourcePath(str(path))
    failures: dict[int, str] = {}
    try:
        _drive(scanner, scan, context, failures)
    except ImageError:
        context.Empty()
        raise
    tried: set[tuple[Any, Credential]] = set()
    unlocked: list[Any] = []
    for _ in range(8):  # an unlocked volume may hold another locked one (LUKS in LVM in LUKS…)
        if not _unlock(scanner, scan, context, credentials, tried, unlocked):
            break
        _drive(scanner, scan, context, failures)
    put = [(spec, kind) for spec, (kind, _) in tried]
    root = scan.GetRootScanNode()
    volumes = list(_volumes(root, scan, context, failures, (), None)) if root is not None else []
    if not volumes and root is not None:
        volumes = _mbr_volumes(scanner, _media_node(root), context)
    if not volumes:
        unlocked.clear()
        context.Empty()
        _forget(put)
        if id(root) in failures:
            raise ImageError(failures[id(root)])
        raise ImageError("no partition table, volume or file system recognised")
    return OpenedImage(volumes, context, put, unlocked)


def _drive(scanner: Any, scan: Any, context: Any, failures: dict[int, str]) -> None:
    """Scan node by node (dfvfs without auto-recursion scans one node per call), so the failure
    of one node is recorded against it and the scan goes on with the next."""
    for _ in range(MAX_SCAN_STEPS):
        node = scan.GetUnscannedScanNode()
        if node is None:
            return
        if _skipped(node):
            node.scanned = True
            continue
        try:
            if _bare_file_system(scanner, scan, node, context):
                continue
            scanner.Scan(scan, auto_recurse=False)
        except Exception as exc:  # noqa: BLE001 - any back-end failure on a hostile image is this node's
            if _list_logical_volumes(scan, node, context):
                continue
            failures[id(node)] = _node_reason(node, exc, context)
            node.scanned = True
            if node.parent_node is None:
                raise ImageError(failures[id(node)]) from None
            continue
        if not node.scanned and scan.GetUnscannedScanNode() is node:
            node.scanned = True  # nothing more to learn from it
    raise ImageError(f"more than {MAX_SCAN_STEPS} volumes and partitions; giving up")


def _list_logical_volumes(scan: Any, node: Any, context: Any) -> bool:
    """dfvfs lists a volume group's logical volumes in one go, so one it cannot open loses
    them all (libvslvm opens no volume of several segments, as an lvextend leaves): list them
    by index instead, each to be read, or to fail, on its own. False when `node` holds no
    unlisted volume group."""
    groups = [
        n
        for n in (node, *node.sub_nodes)
        if n.type_indicator == definitions.TYPE_INDICATOR_LVM and n.IsVolumeSystemRoot() and not n.sub_nodes
    ]
    if not groups:
        return False
    group = groups[0]
    try:
        file_system = resolver.Resolver.OpenFileSystem(group.path_spec, resolver_context=context)
        count = int(file_system.GetLVMVolumeGroup().number_of_logical_volumes)
    except Exception:  # noqa: BLE001 - then the volume group itself is what cannot be read
        return False
    node.scanned = group.scanned = True
    for index in range(min(count, MAX_SCAN_STEPS)):
        spec = path_factory.Factory.NewPathSpec(
            definitions.TYPE_INDICATOR_LVM,
            location=f"/lvm{index + 1}",
            volume_index=index,
            parent=group.path_spec.parent,
        )
        scan.AddScanNode(spec, group)
    return True


def _node_reason(node: Any, exc: Exception, context: Any) -> str:
    """Why a node could not be read, said plainly where the back end's complaint hides it:
    libvslvm's about a logical volume of several segments (it looks up the physical volume
    of each segment into one slot), libluksde's about a LUKS2 header (it reads LUKS1 only)."""
    text = reason(exc)
    kind = node.type_indicator
    if kind == definitions.TYPE_INDICATOR_LVM and text == "invalid physical volume value already set":
        return "a logical volume of several segments, which libvslvm does not read"
    if kind == definitions.TYPE_INDICATOR_LUKSDE and _luks_version(node, context) == 2:
        return "LUKS2 encryption, which libluksde does not read (LUKS1 only)"
    return text


def _luks_version(node: Any, context: Any) -> int | None:
    try:
        stream = resolver.Resolver.OpenFileObject(node.path_spec.parent, resolver_context=context)
        stream.seek(0)  # the context hands out the file object the scanner left wherever it read
        head = stream.read(8)
    except Exception:  # noqa: BLE001 - then the back end's own words stand
        return None
    return int.from_bytes(head[6:8], "big") if head.startswith(b"LUKS\xba\xbe") else None


def _bare_file_system(scanner: Any, scan: Any, node: Any, context: Any) -> bool:
    """Take a disk that is one FAT or NTFS file system as that: their boot sectors end in the
    0x55AA mark of an MBR, and the sleuthkit would read their boot code as a partition table."""
    if node.parent_node is not None and node.type_indicator not in _MEDIA:
        return False
    try:
        head = resolver.Resolver.OpenFileObject(node.path_spec, resolver_context=context).read(8192)
    except Exception:  # noqa: BLE001 - the ordinary scan will say what is wrong
        return False
    if file_system_kind(head) not in ("fat", "ntfs"):
        return False
    spec = scanner.ScanForFileSystem(node.path_spec)
    if spec is None:
        return False
    node.scanned = True
    scan.AddScanNode(spec, node)
    scan.SetSourceType(definitions.SOURCE_TYPE_STORAGE_MEDIA_IMAGE)
    return True


def _media_node(root: Any) -> Any:
    """The node whose content is the disk itself: below the file, through its container."""
    node = root
    while len(node.sub_nodes) == 1 and node.sub_nodes[0].type_indicator in _MEDIA:
        node = node.sub_nodes[0]
    return node


def _mbr_volumes(scanner: Any, media: Any, context: Any) -> list[Volume]:
    """The primary MBR partitions, one by one, when the sleuthkit refused the whole table: each
    that lies in the image is read (to its end); the others are reported."""
    try:
        stream = resolver.Resolver.OpenFileObject(media.path_spec, resolver_context=context)
        head = stream.read(SECTOR)
        size = int(stream.get_size())
    except Exception:  # noqa: BLE001 - then there is nothing to read at all
        return []
    partitions = parse_mbr(head) or []
    return [_mbr_volume(scanner, media, context, part, size) for part in partitions]


def _mbr_volume(scanner: Any, media: Any, context: Any, part: Partition, size: int) -> Volume:
    label, offset = f"p{part.number}", part.start
    if part.extended:
        return Volume(label, offset, problem="extended partition not read (the partition table is damaged)")
    if offset >= size:
        return Volume(label, offset, problem=f"the partition starts past the end of the image ({size} bytes)")
    note = None
    length = part.size
    if offset + length > size:
        note = f"the partition ends past the end of the image ({size} bytes); read to its end"
        length = size - offset
    spec = path_factory.Factory.NewPathSpec(
        definitions.TYPE_INDICATOR_DATA_RANGE, range_offset=offset, range_size=length, parent=media.path_spec
    )
    try:
        file_system = scanner.ScanForFileSystem(spec)
    except Exception as exc:  # noqa: BLE001
        return Volume(label, offset, problem=f"cannot be read: {reason(exc)}")
    if file_system is None:
        problem = _empty_volume_problem(spec, context)
        return Volume(label, offset, problem="; ".join(p for p in (note, problem) if p) or None)
    return Volume(label, offset, file_system=file_system.type_indicator, spec=file_system, problem=note)


def _skipped(node: Any) -> bool:
    """Nodes not worth scanning: the unallocated and table slots of a partition table (they
    have no location), and volume shadow snapshots (older states of a volume already read)."""
    parent = node.parent_node
    if parent is None:
        return False
    if node.type_indicator == definitions.TYPE_INDICATOR_VSHADOW and not node.IsVolumeSystemRoot():
        return True
    return bool(parent.IsVolumeSystemRoot() and getattr(node.path_spec, "location", None) is None)


def _unlock(
    scanner: Any,
    scan: Any,
    context: Any,
    credentials: Sequence[Credential],
    tried: set[tuple[Any, Credential]],
    unlocked: list[Any],
) -> bool:
    """Try each credential the format of each locked volume accepts; True if one opened.
    Each volume opened is kept open (in `unlocked`): dfvfs would otherwise open it afresh for
    every look, and each opening derives its key again (a million SHA-256 rounds for
    BitLocker, as many PBKDF2 rounds as cryptsetup measured for LUKS)."""
    opened = False
    for node in scan.locked_scan_nodes:
        accepted = credentials_manager.CredentialsManager.GetCredentials(node.path_spec)
        kinds = accepted.CREDENTIALS if accepted is not None else frozenset()
        for credential in credentials:
            kind, value = credential
            if kind not in kinds or (node.path_spec, credential) in tried:
                continue
            tried.add((node.path_spec, credential))
            try:
                if scanner.Unlock(scan, node.path_spec, kind, value):
                    opened = True
                    unlocked.extend(_held(node.path_spec, context))
                    break
            except Exception:  # noqa: BLE001 - a wrong key is only a key that did not open it
                pass
            _forget([(node.path_spec, kind)])  # or every later attempt derives it again
    return opened


def _held(spec: Any, context: Any) -> list[Any]:
    """The unlocked volume's file object and file system, opened through the context that
    caches them while they are held."""
    held = []
    for open_ in (resolver.Resolver.OpenFileObject, resolver.Resolver.OpenFileSystem):
        try:
            held.append(open_(spec, resolver_context=context))
        except Exception:  # noqa: BLE001 - then it is opened when read, as before
            continue
    return held


def _volumes(
    node: Any,
    scan: Any,
    context: Any,
    failures: dict[int, str],
    label: tuple[str, ...],
    offset: int | None,
) -> Iterator[Volume]:
    """Walk the scan tree: a file-system node is a volume; so is a locked or unreadable leaf
    of a volume system. Volume-system entries add their name to the label."""
    spec = node.path_spec
    kind = node.type_indicator
    parent = node.parent_node
    if parent is not None and parent.IsVolumeSystemRoot() and not node.IsVolumeSystemRoot():
        label = _entry_label(node, scan, context, label)
        offset = _entry_offset(node, context, offset)
    if node.IsFileSystem():
        yield Volume(
            label="/".join(label),
            offset=offset,
            file_system=kind,
            spec=spec,
            encryption=_encryption_above(node),
        )
        return
    if scan.IsLockedScanNode(spec):
        yield Volume(
            label="/".join(label),
            offset=offset,
            encryption=ENCRYPTION_NAMES.get(kind, kind),
            locked=True,
        )
        return
    if kind == definitions.TYPE_INDICATOR_VSHADOW:
        return
    if id(node) in failures and parent is not None:
        yield Volume(label="/".join(label), offset=offset, problem=f"cannot be read: {failures[id(node)]}")
        return
    subs = [s for s in node.sub_nodes if not _skipped(s)]
    if subs:
        for sub in subs:
            yield from _volumes(sub, scan, context, failures, label, offset)
        return
    if parent is None or node.IsVolumeSystemRoot():
        return
    yield Volume(label="/".join(label), offset=offset, problem=_empty_volume_problem(spec, context))


def _entry_label(node: Any, scan: Any, context: Any, label: tuple[str, ...]) -> tuple[str, ...]:
    """The name of a volume-system entry: `p2` for a partition, `lvm:vg/lv` for a logical
    volume (unique in its group, so it stands alone), `apfs1` for an APFS volume."""
    location = str(getattr(node.path_spec, "location", "") or "").strip("/")
    if node.type_indicator == definitions.TYPE_INDICATOR_LVM:
        name = _lvm_name(node, context)
        if name is not None:
            return (name,)
    return (*label, location or "?")


def _lvm_name(node: Any, context: Any) -> str | None:
    """`lvm:vg/lv` from the LVM metadata; None if it cannot be read."""
    try:
        file_system = resolver.Resolver.OpenFileSystem(node.path_spec, resolver_context=context)
        group = file_system.GetLVMVolumeGroup()
        volume = file_system.GetLVMLogicalVolumeByPathSpec(node.path_spec)
        if group is not None and volume is not None and group.name and volume.name:
            return f"lvm:{group.name}/{volume.name}"
    except Exception:  # noqa: BLE001 - the index-based name still names it
        return None
    return None


def _entry_offset(node: Any, context: Any, inherited: int | None) -> int | None:
    """Where a partition starts in its parent (bytes); logical volumes keep their disk
    partition's offset, which is what a reader can look for in the image."""
    start = getattr(node.path_spec, "start_offset", None)
    if isinstance(start, int):
        return start if inherited is None else inherited + start
    if node.type_indicator not in (definitions.TYPE_INDICATOR_GPT, definitions.TYPE_INDICATOR_APM):
        return inherited
    try:
        system = volume_factory.Factory.NewVolumeSystem(node.type_indicator)
        system.Open(node.parent_node.path_spec)
        identifier = str(getattr(node.path_spec, "location", "")).strip("/")
        volume = system.GetVolumeByIdentifier(identifier)
        extents = volume.extents if volume is not None else []
        if extents:
            offset = int(extents[0].offset)
            return offset if inherited is None else inherited + offset
    except Exception:  # noqa: BLE001 - an offset is a courtesy in messages
        return inherited
    return inherited


def _encryption_above(node: Any) -> str | None:
    """The encryption layer between this file system and its volume, if any."""
    parent = node.parent_node
    while parent is not None and not parent.IsVolumeSystemRoot():
        name = ENCRYPTION_NAMES.get(parent.type_indicator)
        if name is not None and parent.type_indicator != definitions.TYPE_INDICATOR_APFS_CONTAINER:
            return name
        parent = parent.parent_node
    return None


def _empty_volume_problem(spec: Any, context: Any) -> str | None:
    """A volume dfvfs found no file system on: damaged when a file-system signature is there
    (one that does not open), otherwise simply empty or unsupported (swap, a boot partition)."""
    try:
        stream = resolver.Resolver.OpenFileObject(spec, resolver_context=context)
        head = stream.read(8192)
    except Exception as exc:  # noqa: BLE001 - unreadable is the answer
        return f"cannot be read: {reason(exc)}"
    kind = file_system_kind(head)
    if kind is None:
        return None
    return f"damaged {kind} file system: it does not open"
