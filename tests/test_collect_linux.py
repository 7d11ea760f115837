"""Linux collectors against realistic fake roots, including damaged and hostile ones."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from banscan.collect.base import CollectContext
from banscan.collect.detect import make_context
from banscan.collect.linux import COLLECTORS
from banscan.collect.linux.dpkg import DpkgCollector
from banscan.collect.linux.flatpak import FlatpakCollector
from banscan.collect.linux.initd import InitdCollector
from banscan.collect.linux.kmod import KmodCollector
from banscan.collect.linux.paths import PathsCollector
from banscan.collect.linux.process import ProcessCollector
from banscan.collect.linux.rpm import MISSING_TOOL, RpmCollector, parse_query
from banscan.collect.linux.snap import SnapCollector
from banscan.collect.linux.systemd import SystemdCollector, exec_binary, parse_unit
from banscan.collect.registry import collectors_for
from banscan.errors import ErrorSink
from banscan.models import InventoryRecord, RecordKind
from linux_root import HOSTNAME, build_linux_root, dpkg_status_text

KASPERSKY_WORDS = ("kesl", "klnagent", "ksc64", "kaspersky", "kladminserver")


def offline(root: Path) -> CollectContext:
    ctx = make_context(root, ErrorSink(echo=False))
    assert ctx is not None
    return ctx


def run(collector: object, ctx: CollectContext) -> list[InventoryRecord]:
    return list(collector.collect(ctx))  # type: ignore[attr-defined]


def by_name(records: list[InventoryRecord]) -> dict[str, InventoryRecord]:
    return {r.name: r for r in records}


def line_of(text: str, needle: str) -> int:
    return text.splitlines().index(needle) + 1


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return build_linux_root(tmp_path / "root")


# --- the collector set ------------------------------------------------------------------


def test_collector_set() -> None:
    names = {c.name for c in COLLECTORS}
    assert names == {"dpkg", "rpm", "snap", "flatpak", "systemd", "init.d", "kmod", "process", "paths"}
    assert all(c.os == ("linux",) for c in COLLECTORS)
    assert {c.name for c in COLLECTORS if c.live_only} == {"process"}


def test_offline_root_skips_live_only(root: Path) -> None:
    ctx = offline(root)
    chosen = {c.name for c in collectors_for(ctx) if c.os == ("linux",)}
    assert "process" not in chosen
    assert "dpkg" in chosen


# --- dpkg ---------------------------------------------------------------------------------


def test_dpkg_reads_installed_packages(root: Path) -> None:
    ctx = offline(root)
    records = by_name(run(DpkgCollector(), ctx))
    text = dpkg_status_text()

    kesl = records["kesl"]
    assert kesl.kind is RecordKind.PACKAGE
    assert kesl.version == "12.1.0.1297"
    assert kesl.publisher == "AO Kaspersky Lab <support@kaspersky.com>"
    assert kesl.source.collector == "dpkg"
    assert kesl.source.location == f"/var/lib/dpkg/status:{line_of(text, 'Package: kesl')}"
    assert kesl.get("status") == "installed"
    assert kesl.get("architecture") == "amd64"
    assert kesl.get("summary") == "Kaspersky Endpoint Security 12.1 for Linux"

    assert records["klnagent64"].version == "15.0.0.12912"
    assert records["ksc64"].version == "15.0.0.12912"
    assert records["kesl-gui"].version == "12.1.0.1297"
    assert records["openssh-server"].version == "1:8.9p1-3ubuntu0.6"
    assert records["bash"].source.location == "/var/lib/dpkg/status:1"
    assert records["bash"].publisher == "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"
    # removed but configuration left behind: reported, marked as such
    assert records["klnagent"].get("status") == "config-files"
    assert records["klnagent"].get("selection") == "deinstall"
    assert records["apache2"].get("status") == "config-files"
    # purged: gone
    assert "telnet" not in records
    assert ctx.errors.lines == []


def test_records_carry_host_from_etc_hostname(root: Path) -> None:
    ctx = offline(root)
    assert ctx.host == HOSTNAME
    records = [r for c in COLLECTORS if not c.live_only for r in c.collect(ctx)]
    assert len(records) > 30
    assert {r.host for r in records} == {HOSTNAME}
    assert ctx.errors.lines == []


def test_clean_root_has_no_kaspersky_records(tmp_path: Path) -> None:
    ctx = offline(build_linux_root(tmp_path / "clean", kaspersky=False))
    records = [r for c in COLLECTORS if not c.live_only for r in c.collect(ctx)]
    assert {"bash", "openssh-server", "ssh"} <= {r.name for r in records}
    hits = [
        r for r in records if any(w in f"{r.name} {r.path} {r.publisher}".lower() for w in KASPERSKY_WORDS)
    ]
    assert hits == []
    assert ctx.errors.lines == []


DAMAGED = (
    b"Package: bash\nStatus: install ok installed\nMaintainer: Ubuntu Developers <x@ubuntu.com>\n"
    b"Architecture: amd64\nVersion: 5.1-6ubuntu1.1\nDescription: GNU Bourne Again SHell\n\n"
    # line 8: invalid UTF-8 inside a Maintainer (old Latin-1 database)
    b"Package: kesl\nStatus: install ok installed\nMaintainer: AO Kaspersky Lab \xe9\xff\n"
    b"Architecture: amd64\nVersion: 12.1.0.1297\nDescription: Kaspersky Endpoint Security\n"
    b" continuation line\n\n"
    # line 16: a stanza with a garbage line
    b"Package: cron\nStatus: install ok installed\n%%% garbage %%%\nVersion: 3.0pl1-137ubuntu3\n\n"
    # line 21: a stanza without a Package field
    b"Status: install ok installed\nVersion: 1.0\n\n"
    # line 24: truncated in the middle of the Version line, no final newline
    b"Package: klnagent64\nStatus: install ok installed\nArchitecture: amd64\nVersion: 15.0.0.12"
)


def test_dpkg_damaged_database(tmp_path: Path) -> None:
    root = build_linux_root(tmp_path / "root", kaspersky=False)
    (root / "var/lib/dpkg/status").write_bytes(DAMAGED)
    ctx = offline(root)
    records = by_name(run(DpkgCollector(), ctx))
    status = str(root / "var/lib/dpkg/status")

    assert set(records) == {"bash", "kesl", "cron", "klnagent64"}
    assert records["bash"].version == "5.1-6ubuntu1.1"
    assert records["kesl"].version == "12.1.0.1297"
    assert records["kesl"].source.location == "/var/lib/dpkg/status:8"
    assert records["cron"].version == "3.0pl1-137ubuntu3"
    assert records["klnagent64"].version is None  # the cut value is not trusted

    errors = ctx.errors.lines
    assert len(errors) == 4, errors
    assert errors[0].startswith(f"{status}:10: ") and "UTF-8" in errors[0]
    assert errors[1].startswith(f"{status}:18: ") and "Field: value" in errors[1]
    assert errors[2].startswith(f"{status}:21: ") and "no Package field" in errors[2]
    assert errors[3].startswith(f"{status}:27: ") and "truncated" in errors[3]
    assert all("\n" not in e for e in errors)


def test_dpkg_truncated_inside_status_skips_stanza(tmp_path: Path) -> None:
    root = build_linux_root(tmp_path / "root", kaspersky=False)
    (root / "var/lib/dpkg/status").write_bytes(
        DAMAGED.split(b"Package: klnagent64")[0] + b"Package: kesl\nStat"
    )
    ctx = offline(root)
    records = by_name(run(DpkgCollector(), ctx))
    assert "kesl" in records  # the earlier, complete stanza
    assert records["kesl"].source.location == "/var/lib/dpkg/status:8"
    last = ctx.errors.lines[-1]
    assert ":25: " in last and "Status" in last and "truncated" in last


def test_dpkg_status_is_a_fifo(tmp_path: Path) -> None:
    root = build_linux_root(tmp_path / "root")
    status = root / "var/lib/dpkg/status"
    status.unlink()
    os.mkfifo(status)
    ctx = offline(root)
    records = collect_with_deadline(DpkgCollector(), ctx)
    assert records == []
    assert len(ctx.errors.lines) == 1
    assert ctx.errors.lines[0].startswith(str(status)) and "not a regular file" in ctx.errors.lines[0]


def test_dpkg_absolute_link_stays_inside_root(tmp_path: Path) -> None:
    root = build_linux_root(tmp_path / "root")
    status = root / "var/lib/dpkg/status"
    status.unlink()
    status.symlink_to("/etc/shadow")
    (root / "etc/shadow").write_text("Package: inside-root\nStatus: install ok installed\nVersion: 1\n\n")
    ctx = offline(root)
    assert [r.name for r in run(DpkgCollector(), ctx)] == ["inside-root"]
    assert ctx.errors.lines == []


def test_dpkg_relative_escape_is_clamped_to_root(tmp_path: Path) -> None:
    root = build_linux_root(tmp_path / "root")
    status = root / "var/lib/dpkg/status"
    status.unlink()
    status.symlink_to("../../../../../../../../../../etc/shadow")
    ctx = offline(root)
    assert run(DpkgCollector(), ctx) == []  # root/etc/shadow does not exist; the host's is never read
    assert ctx.errors.lines == []


def collect_with_deadline(
    collector: object, ctx: CollectContext, seconds: float = 10
) -> list[InventoryRecord]:
    out: list[InventoryRecord] = []
    worker = threading.Thread(target=lambda: out.extend(run(collector, ctx)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "collector blocked"
    return out


# --- rpm ----------------------------------------------------------------------------------


def test_rpm_without_database_is_silent(root: Path) -> None:
    ctx = offline(root)
    assert run(RpmCollector(), ctx) == []
    assert ctx.errors.lines == []


def test_rpm_database_without_tool(root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (root / "var/lib/rpm").mkdir(parents=True)
    (root / "var/lib/rpm/rpmdb.sqlite").write_bytes(b"SQLite format 3\x00")
    empty = tmp_path / "emptybin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    ctx = offline(root)
    assert run(RpmCollector(), ctx) == []
    assert ctx.errors.lines == [f"{root / 'var/lib/rpm'}: {MISSING_TOOL}"]


FAKE_RPM = """#!/bin/sh
printf '%s\\n' "$@" > "{log}"
ls "$2" >> "{log}"
printf 'kesl\\t12.1.0-1297\\tAO Kaspersky Lab\\tx86_64\\tKaspersky Endpoint Security for Linux\\n'
printf 'bash\\t5.1.8-6.el9\\tRed Hat, Inc.\\tx86_64\\tThe GNU Bourne Again shell\\n'
printf 'gpg-pubkey\\tfd431d51-4ae0493b\\t(none)\\t(none)\\tgpg(Red Hat, Inc. <security@redhat.com>)\\n'
exit {rc}
"""


def fake_rpm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rc: int = 0) -> Path:
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    log = tmp_path / "rpm-args.txt"
    tool = bindir / "rpm"
    tool.write_text(FAKE_RPM.format(log=log, rc=rc))
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    return log


def test_rpm_queries_a_copy_of_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = build_linux_root(tmp_path / "root", kaspersky=False)
    db = root / "usr/lib/sysimage/rpm"
    db.mkdir(parents=True)
    (db / "rpmdb.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x00" * 64)
    (root / "var/lib/rpm").parent.mkdir(parents=True, exist_ok=True)
    (root / "var/lib/rpm").symlink_to("../../usr/lib/sysimage/rpm")
    before = sorted(p.name for p in db.iterdir())
    log = fake_rpm(tmp_path, monkeypatch)
    ctx = offline(root)

    records = by_name(run(RpmCollector(), ctx))

    assert records["kesl"].version == "12.1.0-1297"
    assert records["kesl"].publisher == "AO Kaspersky Lab"
    assert records["kesl"].get("architecture") == "x86_64"
    assert records["kesl"].source.collector == "rpm"
    assert records["kesl"].source.location.startswith("/usr/lib/sysimage/rpm")
    assert records["gpg-pubkey"].publisher is None
    assert records["bash"].host == HOSTNAME
    args = log.read_text().splitlines()
    assert args[0] == "--dbpath" and not args[1].startswith(str(root))
    assert "-qa" in args and "rpmdb.sqlite" in args
    assert sorted(p.name for p in db.iterdir()) == before
    assert ctx.errors.lines == []


def test_rpm_failure_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = build_linux_root(tmp_path / "root", kaspersky=False)
    (root / "var/lib/rpm").mkdir(parents=True)
    (root / "var/lib/rpm/Packages").write_bytes(b"\x00" * 64)
    fake_rpm(tmp_path, monkeypatch, rc=1)
    ctx = offline(root)
    run(RpmCollector(), ctx)
    assert len(ctx.errors.lines) == 1 and "rpm exited with 1" in ctx.errors.lines[0]


def test_rpm_query_parsing() -> None:
    rows = list(parse_query("kesl\t12.1.0-1297\t(none)\tx86_64\tKESL\n\n\tbroken\nshort\t1-1\n"))
    assert rows == [("kesl", "12.1.0-1297", None, "x86_64", "KESL"), ("short", "1-1", None, None, None)]


# --- snap and flatpak ---------------------------------------------------------------------


def test_snaps(root: Path) -> None:
    ctx = offline(root)
    records = by_name(run(SnapCollector(), ctx))
    assert set(records) == {"core20", "lxd", "snapd"}
    assert records["lxd"].get("revision") == "24322"
    assert records["lxd"].get("manager") == "snap"
    assert records["lxd"].source.location == "/snap/lxd"


def test_snap_file_only_and_version_from_mounted_meta(root: Path) -> None:
    (root / "var/lib/snapd/snaps/kesl-snap_x2.snap").write_bytes(b"hsqs")
    meta = root / "snap/lxd/24322/meta"
    meta.mkdir(parents=True)
    (meta / "snap.yaml").write_text("name: lxd\nversion: '5.0.3-d921d2e'\nsummary: LXD\n")
    records = by_name(run(SnapCollector(), offline(root)))
    assert records["kesl-snap"].get("revision") == "x2"
    assert records["kesl-snap"].source.location == "/var/lib/snapd/snaps/kesl-snap_x2.snap"
    assert records["lxd"].version == "5.0.3-d921d2e"


def test_flatpaks(root: Path) -> None:
    records = by_name(run(FlatpakCollector(), offline(root)))
    ff = records["org.mozilla.firefox"]
    assert ff.bundle_id == "org.mozilla.firefox"
    assert ff.get("manager") == "flatpak"
    assert (ff.get("scope"), ff.get("user"), ff.get("branch")) == ("user", "alice", "stable")
    assert records["org.gnome.Calculator"].get("scope") == "system"


# --- services -----------------------------------------------------------------------------


def test_systemd_units(root: Path) -> None:
    ctx = offline(root)
    records = run(SystemdCollector(), ctx)
    units = by_name(records)
    kesl = units["kesl"]
    assert kesl.kind is RecordKind.SERVICE
    assert kesl.path == "/opt/kaspersky/kesl/libexec/kesl"
    assert kesl.get("unit") == "kesl.service"
    assert kesl.get("description") == "Kaspersky Endpoint Security for Linux"
    assert kesl.source.location == "/usr/lib/systemd/system/kesl.service"
    assert units["klnagent64"].path == "/opt/kaspersky/klnagent64/sbin/klnagent"
    assert units["kladminserver_srv"].path == "/opt/kaspersky/ksc64/sbin/kladminserver"  # "-" prefix dropped
    assert units["kesl-supervisor"].path == "/opt/kaspersky/kesl/libexec/kesl-supervisor"
    # an alias whose absolute target is read inside the root
    assert units["sshd"].path == "/usr/sbin/sshd"
    assert units["apache-htcacheclean"].get("masked") == "true"
    # /lib → /usr/lib: each unit once
    assert [r.name for r in records].count("kesl") == 1
    assert ctx.errors.lines == []


def test_systemd_unit_fifo_and_outside_link(root: Path) -> None:
    os.mkfifo(root / "etc/systemd/system/evil.service")
    (root / "etc/systemd/system/passwd.service").symlink_to("/etc/passwd")
    ctx = offline(root)
    units = by_name(collect_with_deadline(SystemdCollector(), ctx))
    assert units["evil"].path is None
    assert units["passwd"].path is None  # root/etc/passwd does not exist, the host's is not read
    assert len(ctx.errors.lines) == 1 and "not a regular file" in ctx.errors.lines[0]


def test_unit_parsing() -> None:
    text = (
        "# comment\n[Unit]\nDescription=Kaspersky Endpoint Security\n[Service]\n"
        'ExecStartPre=/bin/true\nExecStart=@"/opt/kaspersky/kesl/libexec/kesl" kesl \\\n  --daemon\n'
        "ExecStart=/second\n[Install]\nDescription=not this\n"
    )
    fields = parse_unit(text)
    assert fields["description"] == "Kaspersky Endpoint Security"
    assert exec_binary(fields["exec"]) == "/opt/kaspersky/kesl/libexec/kesl"
    assert exec_binary("!!-/usr/bin/thing 'unterminated") == "/usr/bin/thing"
    assert exec_binary("-") is None


def test_initd_scripts(root: Path) -> None:
    records = by_name(run(InitdCollector(), offline(root)))
    assert set(records) == {"cron", "ssh", "klnagent64"}
    assert records["klnagent64"].path == "/etc/init.d/klnagent64"
    assert records["klnagent64"].source.collector == "init.d"


# --- kernel modules -----------------------------------------------------------------------


def test_kernel_modules_offline(root: Path) -> None:
    extra = root / "usr/lib/modules/5.15.0-101-generic/extra/kaspersky"
    extra.mkdir(parents=True)
    (extra / "kav4fs_oas.ko.zst").write_bytes(b"\x28\xb5\x2f\xfd")
    records = run(KmodCollector(), offline(root))
    files = {r.name: r for r in records if r.path}
    assert set(files) == {"vboxdrv", "kav4fs_oas"}  # the distribution's own kernel/ tree is skipped
    assert files["kav4fs_oas"].path == "/lib/modules/5.15.0-101-generic/extra/kaspersky/kav4fs_oas.ko.zst"
    assert files["kav4fs_oas"].get("kernel") == "5.15.0-101-generic"
    assert all(r.kind is RecordKind.DRIVER for r in records)
    autoload = [r for r in records if r.get("autoload")]
    assert [(r.name, r.source.location) for r in autoload] == [
        ("vboxdrv", "/etc/modules-load.d/vbox.conf:2"),
        ("vboxnetflt", "/etc/modules-load.d/vbox.conf:3"),
    ]


def test_loaded_modules_when_live(tmp_path: Path) -> None:
    root = build_linux_root(tmp_path / "root", kaspersky=False)
    (root / "proc").mkdir()
    (root / "proc/modules").write_text(
        "kesl_fs 16384 2 - Live 0x0000000000000000 (OE)\next4 987136 1 mbcache,jbd2, Live 0x0000000000000000\n"
    )
    ctx = CollectContext(root=root, os="linux", host="live-host", live=True, errors=ErrorSink(echo=False))
    loaded = [r for r in run(KmodCollector(), ctx) if r.get("loaded")]
    assert [(r.name, r.get("taint"), r.source.location) for r in loaded] == [
        ("kesl_fs", "OE", "/proc/modules:1"),
        ("ext4", None, "/proc/modules:2"),
    ]


# --- processes ----------------------------------------------------------------------------


def live_ctx() -> CollectContext:
    return CollectContext(
        root=Path("/"), os="linux", host="live-host", live=True, errors=ErrorSink(echo=False)
    )


def test_processes_include_this_one() -> None:
    records = run(ProcessCollector(), live_ctx())
    me = psutil.Process()
    assert any(r.name == me.name() and r.path == me.exe() for r in records)
    assert all(r.kind is RecordKind.PROCESS and r.host == "live-host" for r in records)


class _FakeProc:
    def __init__(self, pid: int, name: str | None, exe: str | None) -> None:
        self.info = {"pid": pid, "name": name, "exe": exe}


def test_processes_without_access_keep_their_name(monkeypatch: pytest.MonkeyPatch) -> None:
    fakes = [
        _FakeProc(700, "kesl", None),  # exe denied (ad_value=None)
        _FakeProc(701, "kesl", None),
        _FakeProc(702, "klnagent", "/opt/kaspersky/klnagent64/sbin/klnagent"),
        _FakeProc(703, None, None),
    ]

    def fake_iter(attrs: list[str], ad_value: object = None) -> Iterator[_FakeProc]:
        assert ad_value is None
        return iter(fakes)

    monkeypatch.setattr(psutil, "process_iter", fake_iter)
    records = by_name(run(ProcessCollector(), live_ctx()))
    assert set(records) == {"kesl", "klnagent"}
    assert records["kesl"].path is None and records["kesl"].get("count") == "2"
    assert records["kesl"].source.location == "pid:700"
    assert records["klnagent"].path == "/opt/kaspersky/klnagent64/sbin/klnagent"


# --- install folders ----------------------------------------------------------------------


def test_product_paths(root: Path) -> None:
    (root / "opt/README.txt").write_text("not a folder\n")
    ctx = offline(root)
    records = run(PathsCollector(), ctx)
    paths = {r.path for r in records}
    assert {
        "/opt/kaspersky",
        "/opt/kaspersky/kesl",
        "/opt/kaspersky/klnagent64",
        "/opt/kaspersky/ksc64",
    } <= paths
    assert {"/var/opt/kaspersky/kesl", "/etc/opt/kaspersky/kesl", "/etc/ssh"} <= paths
    assert "/opt/README.txt" not in paths
    assert "/opt/kaspersky/kesl/bin" not in paths  # no deep walk
    assert all(r.kind is RecordKind.PATH and r.source.location == r.path for r in records)
    assert by_name(records)["ksc64"].path == "/opt/kaspersky/ksc64"
    assert len(paths) == len(records)
    assert ctx.errors.lines == []


def test_symlink_loop_under_opt(root: Path) -> None:
    os.symlink("b", root / "opt/a")
    os.symlink("a", root / "opt/b")
    ctx = offline(root)
    paths = {r.path for r in collect_with_deadline(PathsCollector(), ctx)}
    assert "/opt/kaspersky/kesl" in paths
    assert not {"/opt/a", "/opt/b"} & paths
    assert ctx.errors.lines
    assert all("symbolic link loop" in e and "/opt/" in e for e in ctx.errors.lines)


def test_opt_link_to_absolute_path_stays_in_root(root: Path) -> None:
    os.symlink("/etc", root / "opt/etc-link")
    records = run(PathsCollector(), offline(root))
    below = {r.path for r in records if r.path and r.path.startswith("/opt/etc-link/")}
    assert below == {f"/opt/etc-link/{p.name}" for p in (root / "etc").iterdir() if p.is_dir()}


@pytest.mark.skipif(os.geteuid() == 0, reason="root is not denied by file modes")
def test_permission_denied_folder(root: Path) -> None:
    locked = root / "opt/kaspersky"
    mode = locked.stat().st_mode
    locked.chmod(0)
    try:
        ctx = offline(root)
        paths = {r.path for r in run(PathsCollector(), ctx)}
    finally:
        locked.chmod(stat.S_IMODE(mode))
    assert "/opt/kaspersky" in paths and "/opt/google/chrome" in paths
    assert any(str(locked) in e and "denied" in e.lower() for e in ctx.errors.lines)


def test_permission_denied_folder_simulated(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same case as above, for runs as root: the OS error is injected."""
    locked = (root / "opt/kaspersky").resolve()
    real_listdir = os.listdir

    def listdir(path: str | os.PathLike[str]) -> list[str]:
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", listdir)
    ctx = offline(root)
    paths = {r.path for r in run(PathsCollector(), ctx)}
    assert "/opt/kaspersky" in paths and "/opt/google/chrome" in paths
    assert "/opt/kaspersky/kesl" not in paths
    assert ctx.errors.lines == [f"{root / 'opt/kaspersky'}: Permission denied"]
