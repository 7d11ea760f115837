"""Builds a small but realistic Linux root (Ubuntu 22.04 layout) for collector and end-to-end
tests: dpkg database, systemd units, init scripts, /opt trees, snaps, a flatpak and kernel
module folders, with several Kaspersky products installed (or none)."""

from __future__ import annotations

import os
from pathlib import Path

HOSTNAME = "srv-app-01"

_ORDINARY = """\
Package: bash
Essential: yes
Status: install ok installed
Priority: required
Section: shells
Installed-Size: 1864
Maintainer: Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>
Architecture: amd64
Multi-Arch: foreign
Version: 5.1-6ubuntu1.1
Replaces: bash-completion (<< 20060301-0), bash-doc (<= 2.05-1)
Depends: base-files (>= 2.1.12), debianutils (>= 2.15)
Pre-Depends: libc6 (>= 2.34), libtinfo6 (>= 6)
Recommends: bash-completion (>= 20060301-0)
Suggests: bash-doc
Conffiles:
 /etc/bash.bashrc 89269e1298235f1b12b4c16e4065ad0d
 /etc/skel/.bash_logout 22bfb8c1dd94b5f3813a2b25da67463f
 /etc/skel/.bashrc 1f98b8f3f3c8f8927eca945d59dcc1c6
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter that executes
 commands read from the standard input or from a file.  Bash also
 incorporates useful features from the Korn and C shells (ksh and csh).
 .
 Bash is ultimately intended to be a conformant implementation of the
 IEEE POSIX Shell and Tools specification (IEEE Working Group 1003.2).
Homepage: http://tiswww.case.edu/php/chet/bash/bashtop.html
Original-Maintainer: Matthias Klose <doko@debian.org>

Package: openssh-server
Status: install ok installed
Priority: optional
Section: net
Installed-Size: 1478
Maintainer: Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>
Architecture: amd64
Multi-Arch: foreign
Source: openssh
Version: 1:8.9p1-3ubuntu0.6
Replaces: openssh-client (<< 1:7.9p1-8), ssh (<< 1:6.5p1-2), ssh-krb5 (<< 1:6.5p1-2)
Provides: ssh-server
Depends: adduser (>= 3.9), dpkg (>= 1.9.0), libpam-modules (>= 0.72-9), libpam-runtime (>= 0.76-14), lsb-base (>= 4.1+Debian3), openssh-client (= 1:8.9p1-3ubuntu0.6), openssh-sftp-server, procps, ucf (>= 0.28), debconf (>= 0.5) | debconf-2.0, libaudit1 (>= 1:2.2.1), libc6 (>= 2.34), libcom-err2 (>= 1.43.9), libcrypt1 (>= 1:4.1.0), libgssapi-krb5-2 (>= 1.17), libkrb5-3 (>= 1.13~alpha1+dfsg), libpam0g (>= 0.99.7.1), libselinux1 (>= 3.1~), libssl3 (>= 3.0.2), libsystemd0, libwrap0 (>= 7.6-4~), zlib1g (>= 1:1.1.4)
Recommends: default-logind | logind | libpam-systemd, ncurses-term, xauth
Suggests: molly-guard, monkeysphere, ssh-askpass, ufw
Conffiles:
 /etc/default/ssh 500e3cf069fe9a7b9936108eb9d9c035
 /etc/init.d/ssh 3649a6fe8c18ad1d5245fd91737de507
 /etc/pam.d/sshd 8b4c7a12b031424b2a9946881da59812
Description: secure shell (SSH) server, for secure access from remote machines
 This is the portable version of OpenSSH, a free implementation of
 the Secure Shell protocol as specified by the IETF secsh working
 group.
Homepage: https://www.openssh.com/
Original-Maintainer: Debian OpenSSH Maintainers <debian-ssh@lists.debian.org>

Package: cron
Status: install ok installed
Priority: important
Section: admin
Installed-Size: 246
Maintainer: Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>
Architecture: amd64
Version: 3.0pl1-137ubuntu3
Depends: libc6 (>= 2.34), libpam0g (>= 0.99.7.1), libselinux1 (>= 3.1~), sensible-utils, debianutils (>= 1.7), adduser, lsb-base (>= 3.0-10), libpam-runtime (>= 1.0.1-11)
Description: process scheduling daemon
 The cron daemon is a background process that runs particular programs at
 particular times (for example, every minute, day, week, or month), as
 specified in a crontab.
Homepage: https://ftp.isc.org/isc/cron/

Package: apache2
Status: deinstall ok config-files
Priority: optional
Section: httpd
Installed-Size: 546
Maintainer: Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>
Architecture: amd64
Version: 2.4.52-1ubuntu4.7
Conffiles:
 /etc/apache2/apache2.conf 354c9e6d2b88a0a3e0548f853840674c
Description: Apache HTTP Server
 The Apache HTTP Server Project's goal is to build a secure, efficient and
 extensible HTTP server as standards-compliant open source software.
Homepage: https://httpd.apache.org/

Package: telnet
Status: purge ok not-installed
Priority: standard
Section: net
Architecture: amd64

"""

_KASPERSKY = """\
Package: kesl
Status: install ok installed
Priority: optional
Section: misc
Installed-Size: 1076422
Maintainer: AO Kaspersky Lab <support@kaspersky.com>
Architecture: amd64
Version: 12.1.0.1297
Depends: libc6 (>= 2.17), perl, gawk, lsb-base
Conffiles:
 /etc/init.d/kesl-supervisor 7e1cd2a1e2a3b47bcc1c2f33e49e1ea5 obsolete
Description: Kaspersky Endpoint Security 12.1 for Linux
 Kaspersky Endpoint Security for Linux protects Linux servers and
 workstations against malware, network attacks and unwanted changes.
 .
 This package contains the application core and command line tools.

Package: kesl-gui
Status: install ok installed
Priority: optional
Section: misc
Installed-Size: 152388
Maintainer: AO Kaspersky Lab <support@kaspersky.com>
Architecture: amd64
Version: 12.1.0.1297
Depends: kesl (= 12.1.0.1297), libgl1, libxkbcommon0
Description: Kaspersky Endpoint Security 12.1 for Linux (graphical user interface)
 Graphical user interface for Kaspersky Endpoint Security for Linux.

Package: klnagent64
Status: install ok installed
Priority: optional
Section: misc
Installed-Size: 301260
Maintainer: AO Kaspersky Lab <support@kaspersky.com>
Architecture: amd64
Version: 15.0.0.12912
Depends: libc6 (>= 2.17), libstdc++6
Description: Kaspersky Security Center Network Agent
 Network Agent provides interaction between Kaspersky Security Center
 Administration Server and Kaspersky applications on this device.

Package: ksc64
Status: install ok installed
Priority: optional
Section: misc
Installed-Size: 1582344
Maintainer: AO Kaspersky Lab <support@kaspersky.com>
Architecture: amd64
Version: 15.0.0.12912
Depends: libc6 (>= 2.17), klnagent64 | klnagent
Description: Kaspersky Security Center 15 Linux Administration Server
 Kaspersky Security Center Administration Server for Linux.

Package: klnagent
Status: deinstall ok config-files
Priority: optional
Section: misc
Installed-Size: 210544
Maintainer: AO Kaspersky Lab <support@kaspersky.com>
Architecture: i386
Version: 14.2.0.26967
Description: Kaspersky Security Center Network Agent (32-bit)
 Network Agent 14.2 for 32-bit Linux.

"""

_UNIT = """\
[Unit]
Description={description}
After=network.target

[Service]
Type={type}
ExecStart={exec_start}
Restart=on-failure

[Install]
WantedBy=multi-user.target
"""

_ORDINARY_UNITS = {
    "ssh.service": ("OpenBSD Secure Shell server", "notify", "/usr/sbin/sshd -D $SSHD_OPTS"),
    "cron.service": (
        "Regular background program processing daemon",
        "simple",
        "/usr/sbin/cron -f -P $EXTRA_OPTS",
    ),
}

KASPERSKY_UNITS = {
    "kesl.service": ("Kaspersky Endpoint Security for Linux", "forking", "/opt/kaspersky/kesl/libexec/kesl"),
    "kesl-supervisor.service": (
        "Kaspersky Endpoint Security for Linux supervisor",
        "simple",
        "/opt/kaspersky/kesl/libexec/kesl-supervisor -- --daemon",
    ),
    "klnagent64.service": (
        "Kaspersky Security Center Network Agent",
        "forking",
        "/opt/kaspersky/klnagent64/sbin/klnagent -d $KLNAGENT_OPTS",
    ),
    "kladminserver_srv.service": (
        "Kaspersky Security Center Administration Server",
        "forking",
        "-/opt/kaspersky/ksc64/sbin/kladminserver -d",
    ),
}

KASPERSKY_FOLDERS = (
    "opt/kaspersky/kesl/bin",
    "opt/kaspersky/kesl/libexec",
    "opt/kaspersky/kesl/lib64",
    "opt/kaspersky/kesl/shared",
    "opt/kaspersky/klnagent64/bin",
    "opt/kaspersky/klnagent64/sbin",
    "opt/kaspersky/klnagent64/lib",
    "opt/kaspersky/ksc64/sbin",
    "opt/kaspersky/ksc64/lib",
    "var/opt/kaspersky/kesl/common",
    "var/opt/kaspersky/klnagent64",
    "etc/opt/kaspersky/kesl",
    "var/log/kaspersky/kesl",
)


def _write(root: Path, rel: str, text: str | bytes, mode: int = 0o644) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    p.chmod(mode)
    return p


def _link(root: Path, rel: str, target: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if not p.is_symlink():
        os.symlink(target, p)


def dpkg_status_text(*, kaspersky: bool = True) -> str:
    """The dpkg status database written by build_linux_root."""
    return _ORDINARY + (_KASPERSKY if kaspersky else "")


def build_linux_root(path: Path, *, kaspersky: bool = True) -> Path:
    """Write a Linux root under `path` (created if missing) and return it."""
    root = path
    root.mkdir(parents=True, exist_ok=True)
    _write(root, "etc/hostname", HOSTNAME + "\n")
    _write(
        root,
        "etc/os-release",
        'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\n',
    )
    for d in ("etc/ssh", "etc/default", "etc/apt/sources.list.d", "usr/bin", "usr/sbin", "var/log", "home"):
        (root / d).mkdir(parents=True, exist_ok=True)
    _link(root, "bin", "usr/bin")
    _link(root, "lib", "usr/lib")
    _link(root, "sbin", "usr/sbin")
    _write(root, "var/lib/dpkg/status", dpkg_status_text(kaspersky=kaspersky))

    units = dict(_ORDINARY_UNITS)
    if kaspersky:
        units.update(KASPERSKY_UNITS)
    for unit, (description, kind, exec_start) in units.items():
        _write(
            root,
            f"usr/lib/systemd/system/{unit}",
            _UNIT.format(description=description, type=kind, exec_start=exec_start),
        )
        _link(root, f"etc/systemd/system/multi-user.target.wants/{unit}", f"/lib/systemd/system/{unit}")
    _link(root, "etc/systemd/system/sshd.service", "/lib/systemd/system/ssh.service")
    _link(root, "etc/systemd/system/apache-htcacheclean.service", "/dev/null")

    _write(
        root, "etc/init.d/ssh", "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: sshd\n### END INIT INFO\n", 0o755
    )
    _write(
        root,
        "etc/init.d/cron",
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: cron\n### END INIT INFO\n",
        0o755,
    )
    _write(root, "etc/init.d/README", "All scripts in this directory are sysv-style init scripts.\n")

    kver = "5.15.0-101-generic"
    _write(root, f"usr/lib/modules/{kver}/kernel/fs/ext4/ext4.ko", b"\x7fELF placeholder\n")
    _write(root, f"usr/lib/modules/{kver}/kernel/net/ipv4/tcp_bbr.ko", b"\x7fELF placeholder\n")
    _write(root, f"usr/lib/modules/{kver}/updates/dkms/vboxdrv.ko", b"\x7fELF placeholder\n")
    _write(root, f"usr/lib/modules/{kver}/modules.dep", "kernel/fs/ext4/ext4.ko:\n")
    _link(root, f"usr/lib/modules/{kver}/build", f"/usr/src/linux-headers-{kver}")
    _write(
        root, "etc/modules-load.d/modules.conf", "# /etc/modules: kernel modules to load at boot time.\n\n"
    )
    _write(root, "etc/modules-load.d/vbox.conf", "# VirtualBox host modules\nvboxdrv\nvboxnetflt\n")

    for snap, rev in (("core20", "2105"), ("lxd", "24322"), ("snapd", "21759")):
        (root / f"snap/{snap}/{rev}").mkdir(parents=True, exist_ok=True)
        _link(root, f"snap/{snap}/current", rev)
        _write(root, f"var/lib/snapd/snaps/{snap}_{rev}.snap", b"hsqs")
    (root / "snap/bin").mkdir(parents=True, exist_ok=True)
    _write(root, "snap/README", "This directory presents installed snap packages.\n")

    app = "home/alice/.local/share/flatpak/app/org.mozilla.firefox"
    (root / f"{app}/x86_64/stable/2b8d1a4f9c").mkdir(parents=True, exist_ok=True)
    _link(root, f"{app}/x86_64/stable/active", "2b8d1a4f9c")
    _link(root, f"{app}/current", "x86_64/stable")
    (root / "var/lib/flatpak/app/org.gnome.Calculator/x86_64/stable").mkdir(parents=True, exist_ok=True)

    (root / "opt/google/chrome").mkdir(parents=True, exist_ok=True)
    (root / "opt/containerd/bin").mkdir(parents=True, exist_ok=True)
    if kaspersky:
        for folder in KASPERSKY_FOLDERS:
            (root / folder).mkdir(parents=True, exist_ok=True)
        _write(root, "opt/kaspersky/kesl/libexec/kesl", b"\x7fELF placeholder\n", 0o755)
        _write(root, "opt/kaspersky/kesl/bin/kesl-control", b"\x7fELF placeholder\n", 0o755)
        _write(root, "etc/init.d/klnagent64", "#!/bin/sh\n# Provides: klnagent64\n", 0o755)
        _write(root, "etc/opt/kaspersky/kesl/kesl.ini", "[General]\nInstallDate=2024-03-11\n")
    return root
