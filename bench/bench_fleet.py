"""Benchmark of the bulk path on a synthetic fleet: osquery result logs of N hosts × 100 rows.

    python bench/bench_fleet.py                 # 100 000 hosts, 10 M rows (about 5 GB in $TMPDIR)
    python bench/bench_fleet.py --hosts 10000   # a tenth of that
    python bench/bench_fleet.py --keep DIR      # write (or reuse) the file in DIR and keep it
    python bench/bench_fleet.py --plain         # also time the bulk path without hyperscan
    python bench/bench_fleet.py --hosts 20000 --spelling spaced   # 2 M rows as json.dumps writes them

The fleet is generated deterministically from a seed: Windows, macOS and Linux hosts with
programs, deb_packages, apps, chrome_extensions and processes rows in osqueryd's event format
(name, hostIdentifier, calendarTime, unixTime, epoch, counter, numerics, decorations, columns,
action), a known set of about 1 % of hosts with Kaspersky software (several tables, a Cyrillic
name), hosts where Kaspersky was added and then removed (net: absent), and decoys (a
"Kaspersky review.pdf" on a command line, other antivirus products). The script checks that
exactly the known hosts are found, and prints end-to-end rows/s and peak RSS of `bulk_scan`
next to `grep -c -F -f TOKENS` and DuckDB alone (when installed) reading and regex-filtering
the same file. Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROWS_PER_HOST = 100
SEED = 20250115
KASPERSKY_SHARE = 0.01  # of hosts
REMOVED_SHARE = 0.001  # hosts where Kaspersky was added, then removed
DECOY_SHARE = 0.002  # hosts with a "Kaspersky review.pdf" open

# ---- the fleet's software -------------------------------------------------------------------

WIN_PROGRAMS = [
    ("Google Chrome", "Google LLC", "C:\\Program Files\\Google\\Chrome\\Application"),
    ("Mozilla Firefox (x64 en-US)", "Mozilla", "C:\\Program Files\\Mozilla Firefox"),
    ("Microsoft Edge", "Microsoft Corporation", "C:\\Program Files (x86)\\Microsoft\\Edge\\Application"),
    (
        "Microsoft 365 Apps for enterprise - en-us",
        "Microsoft Corporation",
        "C:\\Program Files\\Microsoft Office",
    ),
    ("Microsoft Teams", "Microsoft Corporation", ""),
    ("Microsoft OneDrive", "Microsoft Corporation", ""),
    ("Microsoft Visual C++ 2015-2022 Redistributable (x64) - 14.38.33130", "Microsoft Corporation", ""),
    ("Microsoft Visual C++ 2013 Redistributable (x86) - 12.0.40664", "Microsoft Corporation", ""),
    ("Microsoft Update Health Tools", "Microsoft Corporation", ""),
    ("Adobe Acrobat (64-bit)", "Adobe", "C:\\Program Files\\Adobe\\Acrobat DC\\"),
    ("7-Zip 23.01 (x64)", "Igor Pavlov", "C:\\Program Files\\7-Zip\\"),
    ("Notepad++ (64-bit x64)", "Notepad++ Team", "C:\\Program Files\\Notepad++"),
    ("Zoom Workplace (64-bit)", "Zoom Video Communications, Inc.", ""),
    ("Slack (Machine - MSI)", "Slack Technologies Inc.", ""),
    ("Git", "The Git Development Community", "C:\\Program Files\\Git\\"),
    ("Python 3.12.1 (64-bit)", "Python Software Foundation", ""),
    ("VLC media player", "VideoLAN", "C:\\Program Files\\VideoLAN\\VLC"),
    ("Cisco Secure Client - AnyConnect VPN", "Cisco Systems, Inc.", ""),
    ("CrowdStrike Windows Sensor", "CrowdStrike, Inc.", ""),
    ("Intel(R) Graphics Driver", "Intel Corporation", ""),
    ("Realtek High Definition Audio Driver", "Realtek Semiconductor Corp.", ""),
    ("Dell SupportAssist", "Dell Inc.", "C:\\Program Files\\Dell\\SupportAssistAgent\\"),
    ("Java 8 Update 401 (64-bit)", "Oracle Corporation", "C:\\Program Files\\Java\\jre-1.8\\"),
    ("Microsoft Intune Management Extension", "Microsoft Corporation", ""),
    ("Configuration Manager Client", "Microsoft Corporation", ""),
    ("Paint.NET", "dotPDN LLC", ""),
    ("Citrix Workspace 2311", "Citrix Systems, Inc.", ""),
    ("Microsoft® Windows® Operating System Update", "Microsoft Corporation", ""),
    ("Aktualisierung für Microsoft Office", "Microsoft Corporation", ""),
]
# Other antivirus products: decoys that must not be reported.
OTHER_AV = [
    ("Norton 360", "Gen Digital Inc.", "C:\\Program Files\\Norton\\Suite"),
    ("McAfee LiveSafe", "McAfee, LLC", "C:\\Program Files\\McAfee\\MSC"),
    (
        "Bitdefender Endpoint Security Tools",
        "Bitdefender",
        "C:\\Program Files\\Bitdefender\\Endpoint Security",
    ),
    ("Sophos Endpoint Agent", "Sophos Limited", "C:\\Program Files\\Sophos"),
    ("ESET Endpoint Antivirus", "ESET, spol. s r.o.", "C:\\Program Files\\ESET\\ESET Security"),
    ("Trend Micro Apex One Security Agent", "Trend Micro Inc.", ""),
    ("Malwarebytes version 4.6.8.311", "Malwarebytes", "C:\\Program Files\\Malwarebytes\\Anti-Malware\\"),
    ("Avast Free Antivirus", "Avast Software", "C:\\Program Files\\Avast Software\\Avast"),
]
WIN_PROCESSES = [
    ("svchost.exe", "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p"),
    ("explorer.exe", "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE"),
    (
        "chrome.exe",
        "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
        '"chrome.exe" --type=renderer',
    ),
    ("msedge.exe", "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe", "msedge.exe"),
    ("OUTLOOK.EXE", "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", "OUTLOOK.EXE"),
    ("Teams.exe", "C:\\Users\\jdoe\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe", "Teams.exe"),
    ("lsass.exe", "C:\\Windows\\System32\\lsass.exe", "C:\\Windows\\system32\\lsass.exe"),
    (
        "MsMpEng.exe",
        "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MsMpEng.exe",
        "",
    ),
    ("CSFalconService.exe", "C:\\Program Files\\CrowdStrike\\CSFalconService.exe", ""),
    (
        "powershell.exe",
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "powershell.exe -NoProfile",
    ),
    ("OneDrive.exe", "C:\\Users\\jdoe\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe", "/background"),
]
MAC_APPS = [
    ("Safari.app", "com.apple.Safari", "18.2", "/Applications/Safari.app"),
    ("Google Chrome.app", "com.google.Chrome", "131.0.6778.205", "/Applications/Google Chrome.app"),
    ("Slack.app", "com.tinyspeck.slackmacgap", "4.41.105", "/Applications/Slack.app"),
    ("zoom.us.app", "us.zoom.xos", "6.3.1", "/Applications/zoom.us.app"),
    ("Microsoft Word.app", "com.microsoft.Word", "16.92", "/Applications/Microsoft Word.app"),
    ("Microsoft Outlook.app", "com.microsoft.Outlook", "16.92", "/Applications/Microsoft Outlook.app"),
    ("Visual Studio Code.app", "com.microsoft.VSCode", "1.96.2", "/Applications/Visual Studio Code.app"),
    ("1Password.app", "com.1password.1password", "8.10.56", "/Applications/1Password.app"),
    ("iTerm.app", "com.googlecode.iterm2", "3.5.10", "/Applications/iTerm.app"),
    ("Falcon.app", "com.crowdstrike.falcon.App", "7.20", "/Applications/Falcon.app"),
    (
        "Malwarebytes.app",
        "com.malwarebytes.mbam.frontend.application",
        "5.10",
        "/Applications/Malwarebytes.app",
    ),
]
DEB_PACKAGES = [
    ("openssh-server", "1:9.6p1-3ubuntu13.5", "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"),
    ("curl", "8.5.0-2ubuntu10.6", "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"),
    ("python3", "3.12.3-0ubuntu2", "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"),
    ("libssl3t64", "3.0.13-0ubuntu3.4", "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"),
    ("systemd", "255.4-1ubuntu8.4", "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"),
    ("nginx", "1.24.0-2ubuntu7.1", "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"),
    ("docker-ce", "5:27.4.1-1~ubuntu.24.04~noble", "Docker <support@docker.com>"),
    ("falcon-sensor", "7.18.0-17106", "CrowdStrike Inc."),
    ("clamav", "1.0.7+dfsg-1~0ubuntu0.24.04.1", "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"),
    ("vim", "2:9.1.0016-1ubuntu7.5", "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"),
    ("bash", "5.2.21-2ubuntu4", "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"),
    ("linux-image-6.8.0-51-generic", "6.8.0-51.52", "Canonical Kernel Team <kernel-team@lists.ubuntu.com>"),
]
LINUX_PROCESSES = [
    ("sshd", "/usr/sbin/sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"),
    ("systemd", "/usr/lib/systemd/systemd", "/sbin/init splash"),
    ("nginx", "/usr/sbin/nginx", "nginx: worker process"),
    ("dockerd", "/usr/bin/dockerd", "/usr/bin/dockerd -H fd://"),
    ("falcon-sensor", "/opt/CrowdStrike/falcon-sensor", "/opt/CrowdStrike/falcon-sensor"),
    ("cron", "/usr/sbin/cron", "/usr/sbin/cron -f -P"),
]
MAC_PROCESSES = [
    ("WindowServer", "/System/Library/PrivateFrameworks/SkyLight.framework/Resources/WindowServer", ""),
    ("Finder", "/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder", ""),
    ("launchd", "/sbin/launchd", ""),
    ("Slack", "/Applications/Slack.app/Contents/MacOS/Slack", ""),
]
EXTENSIONS = [
    ("uBlock Origin", "cjpalhdlnbpafiamejdnhcphjbkeiagm", "1.61.2", "Raymond Hill"),
    ("Google Docs Offline", "ghbmnnjooekpmoecnnnilnnbdlolhkhi", "1.85.0", ""),
    ("LastPass: Free Password Manager", "hdokiejnpimakedhajhdlcegeplioahd", "4.138.1", "LastPass"),
    ("Grammarly: AI Writing and Grammar Checker App", "kbfnbcaeplbcioakkpcpgfkobkghlhen", "14.1212.0", ""),
    ("Microsoft Editor: Spelling & Grammar Checker", "gpaiobkfhnonedkhhfjpmhdalgeoebfa", "1.2.3", ""),
    ("Zoom Scheduler", "kgjfgplpablkjnlkjmjdecgdpfankdle", "2.1.4", "Zoom"),
]

# Kaspersky rows: (table, os, columns). Hosts in the known set get one to three of them.
KASPERSKY_ROWS: list[tuple[str, str, dict[str, str]]] = [
    (
        "programs",
        "windows",
        {
            "name": "Kaspersky Endpoint Security for Windows",
            "version": "12.6.0.438",
            "publisher": "AO Kaspersky Lab",
            "install_location": "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.6.0\\",
            "install_source": "C:\\Windows\\Temp\\KES\\",
            "language": "1033",
            "uninstall_string": "MsiExec.exe /X{D7EC6A5E-3E0B-45D3-9C5B-A0C5E4B8E4F1}",
            "install_date": "20240611",
            "identifying_number": "{D7EC6A5E-3E0B-45D3-9C5B-A0C5E4B8E4F1}",
        },
    ),
    (
        "programs",
        "windows",
        {
            "name": "Kaspersky Security Center Network Agent",
            "version": "15.1.0.20748",
            "publisher": "Kaspersky",
            "install_location": "C:\\Program Files (x86)\\Kaspersky Lab\\NetworkAgent\\",
            "install_source": "",
            "language": "1033",
            "uninstall_string": "MsiExec.exe /I{BCC2A9B7-9A0F-4F4A-8A2C-6A6D0C1F1B43}",
            "install_date": "20240612",
            "identifying_number": "{BCC2A9B7-9A0F-4F4A-8A2C-6A6D0C1F1B43}",
        },
    ),
    (
        "programs",
        "windows",
        {
            "name": "Антивирус Касперского",
            "version": "21.3.10.391",
            "publisher": "АО «Лаборатория Касперского»",
            "install_location": "C:\\Program Files (x86)\\Kaspersky Lab\\Kaspersky Anti-Virus 21.3\\",
            "install_source": "",
            "language": "1049",
            "uninstall_string": "MsiExec.exe /I{0F5C4A14-3D2B-4E0E-8F7E-2B1C3B3A9E11}",
            "install_date": "20230105",
            "identifying_number": "{0F5C4A14-3D2B-4E0E-8F7E-2B1C3B3A9E11}",
        },
    ),
    (
        "processes",
        "windows",
        {
            "pid": "4312",
            "name": "avp.exe",
            "path": "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.6.0\\avp.exe",
            "cmdline": '"C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.6.0\\avp.exe" -r',
            "parent": "752",
            "on_disk": "1",
        },
    ),
    (
        "deb_packages",
        "linux",
        {
            "name": "kesl",
            "version": "12.1.0-1297",
            "source": "",
            "size": "812345",
            "arch": "amd64",
            "revision": "1297",
            "status": "install ok installed",
            "maintainer": "AO Kaspersky Lab <support@kaspersky.com>",
            "section": "misc",
            "priority": "optional",
        },
    ),
    (
        "apps",
        "macos",
        {
            "name": "Kaspersky Security Cloud.app",
            "path": "/Applications/Kaspersky Security Cloud.app",
            "bundle_executable": "Kaspersky Security Cloud",
            "bundle_identifier": "com.kaspersky.security.cloud",
            "bundle_name": "Kaspersky Security Cloud",
            "bundle_short_version": "21.4",
            "bundle_version": "21.4.31",
            "bundle_package_type": "APPL",
            "display_name": "Kaspersky Security Cloud",
        },
    ),
    (
        "chrome_extensions",
        "windows",
        {
            "browser_type": "chrome",
            "uid": "1001",
            "name": "Kaspersky Protection",
            "profile": "Default",
            "profile_path": "C:\\Users\\jdoe\\AppData\\Local\\Google\\Chrome\\User Data\\Default",
            "identifier": "amkpcclbbgegoafihnpgomddadjhcadd",
            "version": "4.0.10.0",
            "author": "",
            "permissions": "tabs, webNavigation, nativeMessaging",
            "path": "C:\\Users\\jdoe\\AppData\\Local\\Google\\Chrome\\User Data\\Default\\Extensions\\amkpcclbbgegoafihnpgomddadjhcadd",
        },
    ),
]
OS_OF_TABLES = {
    "windows": ("programs", "processes", "chrome_extensions"),
    "macos": ("apps", "processes", "chrome_extensions"),
    "linux": ("deb_packages", "processes"),
}


def _columns(rng: random.Random, os_name: str, table: str, host_no: int) -> dict[str, str]:
    if table == "programs":
        name, publisher, location = rng.choice(WIN_PROGRAMS if rng.random() > 0.03 else OTHER_AV)
        guid = str(uuid.UUID(int=rng.getrandbits(128))).upper()
        return {
            "name": name,
            "version": f"{rng.randint(1, 130)}.{rng.randint(0, 9)}.{rng.randint(0, 9999)}.{rng.randint(0, 999)}",
            "publisher": publisher,
            "install_location": location,
            "install_source": "",
            "language": "1033",
            "uninstall_string": f"MsiExec.exe /X{{{guid}}}",
            "install_date": f"2024{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
            "identifying_number": f"{{{guid}}}",
        }
    if table == "processes":
        pool = {"windows": WIN_PROCESSES, "macos": MAC_PROCESSES, "linux": LINUX_PROCESSES}[os_name]
        name, path, cmdline = rng.choice(pool)
        return {
            "pid": str(rng.randint(4, 65000)),
            "name": name,
            "path": path,
            "cmdline": cmdline,
            "state": "S",
            "parent": str(rng.randint(1, 2000)),
            "on_disk": "1",
            "resident_size": str(rng.randint(10**6, 10**9)),
            "user_time": str(rng.randint(0, 10**6)),
            "start_time": str(1736700000 + rng.randint(0, 86400)),
        }
    if table == "deb_packages":
        name, version, maintainer = rng.choice(DEB_PACKAGES)
        return {
            "name": name,
            "version": version,
            "source": "",
            "size": str(rng.randint(10, 100000)),
            "arch": "amd64",
            "revision": version.rsplit("-", 1)[-1],
            "status": "install ok installed",
            "maintainer": maintainer,
            "section": "utils",
            "priority": "optional",
        }
    if table == "apps":
        name, bundle, version, path = rng.choice(MAC_APPS)
        return {
            "name": name,
            "path": path,
            "bundle_executable": name.removesuffix(".app"),
            "bundle_identifier": bundle,
            "bundle_name": name.removesuffix(".app"),
            "bundle_short_version": version,
            "bundle_version": version,
            "bundle_package_type": "APPL",
            "display_name": name.removesuffix(".app"),
            "last_opened_time": str(1736000000 + rng.randint(0, 700000)),
        }
    name, ident, version, author = rng.choice(EXTENSIONS)
    profile = (
        "C:\\Users\\jdoe\\AppData\\Local\\Google\\Chrome\\User Data\\Default"
        if os_name == "windows"
        else "/Users/jdoe/Library/Application Support/Google/Chrome/Default"
    )
    return {
        "browser_type": "chrome",
        "uid": "1001",
        "name": name,
        "profile": "Default",
        "profile_path": profile,
        "identifier": ident,
        "version": version,
        "author": author,
        "permissions": "storage, tabs",
        "path": f"{profile}\\Extensions\\{ident}"
        if os_name == "windows"
        else f"{profile}/Extensions/{ident}",
    }


@dataclass
class Fleet:
    path: Path
    hosts: int
    rows: int
    bytes: int
    kaspersky: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)


SPELLINGS = ("compact", "spaced", "no-decorations")


def generate(path: Path, hosts: int, seed: int = SEED, spelling: str = "compact") -> Fleet:
    """Write the fleet's result log (NDJSON); deterministic for a seed and host count.

    `compact` is how osqueryd writes it; `spaced` has a space after every `:` and `,` (as
    Python's `json.dumps` and many exporters write JSON); `no-decorations` is spaced too and
    names hosts only by `hostIdentifier`, after the columns."""
    rng = random.Random(seed)
    n_k = max(1, int(hosts * KASPERSKY_SHARE))
    picks = rng.sample(
        range(hosts), n_k + max(1, int(hosts * REMOVED_SHARE)) + max(1, int(hosts * DECOY_SHARE))
    )
    k_hosts = set(picks[:n_k])
    removed_hosts = set(picks[n_k : n_k + max(1, int(hosts * REMOVED_SHARE))])
    decoy_hosts = set(picks[n_k + len(removed_hosts) :])
    fleet = Fleet(path, hosts, 0, 0)
    counter = 0
    buf: list[str] = []
    spaced = spelling != "compact"
    colon, comma = (": ", ", ") if spaced else (":", ",")
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(comma, colon)).encode
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for h in range(hosts):
            os_name = ("windows", "windows", "windows", "macos", "linux")[h % 5]
            hid = str(uuid.UUID(int=rng.getrandbits(128)))
            hostname = f"{os_name[:3]}-{h:06d}.corp.example.com"
            unix = 1736762400 + h % 3600
            cal = time.strftime("%a %b %d %H:%M:%S %Y UTC", time.gmtime(unix))
            c, k = colon, comma
            if spelling == "no-decorations":
                head = f'"calendarTime"{c}"{cal}"{k}"unixTime"{c}{unix}{k}"epoch"{c}0{k}"counter"{c}'
                deco = f'{k}"numerics"{c}false{k}"columns"{c}'
                tail = f'{k}"hostIdentifier"{c}"{hostname}"'
            else:
                head = (
                    f'"hostIdentifier"{c}"{hid}"{k}"calendarTime"{c}"{cal}"{k}"unixTime"{c}{unix}{k}'
                    f'"epoch"{c}0{k}"counter"{c}'
                )
                deco = (
                    f'{k}"numerics"{c}false{k}"decorations"{c}{{"host_uuid"{c}"{hid.upper()}"{k}'
                    f'"hostname"{c}"{hostname}"}}{k}"columns"{c}'
                )
                tail = ""
            rows: list[tuple[str, dict[str, str], str]] = []
            tables = OS_OF_TABLES[os_name]
            for _ in range(ROWS_PER_HOST):
                table = rng.choice(tables)
                rows.append((table, _columns(rng, os_name, table, h), "added"))
            special: list[tuple[str, dict[str, str], str]] = []
            if h in k_hosts or h in removed_hosts:
                fitting = [r for r in KASPERSKY_ROWS if r[1] == os_name or r[0] == "chrome_extensions"]
                chosen = rng.sample(fitting, min(len(fitting), rng.randint(1, 3)))
                special = [(t, dict(c), "added") for t, _, c in chosen]
                if h in removed_hosts:
                    special += [(t, c, "removed") for t, c, _ in special]
                fleet.kaspersky.add(hostname) if h in k_hosts else fleet.removed.add(hostname)
            if h in decoy_hosts and os_name == "windows":
                special.append(
                    (
                        "processes",
                        {
                            "pid": "9120",
                            "name": "Acrobat.exe",
                            "path": "C:\\Program Files\\Adobe\\Acrobat DC\\Acrobat\\Acrobat.exe",
                            "cmdline": '"Acrobat.exe" "C:\\Users\\jdoe\\Downloads\\Kaspersky review.pdf"',
                            "parent": "5012",
                            "on_disk": "1",
                        },
                        "added",
                    )
                )
            if special:  # replace rows from the middle so the host keeps 100 rows
                at = rng.randrange(0, ROWS_PER_HOST - len(special))
                rows[at : at + len(special)] = special
            for table, cols, action in rows:
                counter += 1
                buf.append(
                    f'{{"name"{colon}"pack_inventory_{table}"{comma}{head}{counter}{deco}{dumps(cols)}'
                    f'{comma}"action"{colon}"{action}"{tail}}}\n'
                )
            if len(buf) >= 20000:
                out.write("".join(buf))
                buf.clear()
            fleet.rows += len(rows)
        out.write("".join(buf))
    fleet.bytes = path.stat().st_size
    return fleet


# ---- measurements ---------------------------------------------------------------------------


def scan_child(path: str, plain: bool = False) -> dict[str, object]:
    """Run `bulk_scan` on the file (in a fresh process) and report time, hosts, findings, RSS."""
    from banscan.catalog.loader import load_catalog
    from banscan.errors import ErrorSink
    from banscan.inputs import bulk
    from banscan.match.matcher import Matcher

    if plain:
        bulk.hyperscan_available = lambda: False  # type: ignore[assignment]
    catalog = load_catalog()
    matcher = Matcher(catalog)
    t0 = time.perf_counter()
    target = bulk.bulk_scan(path, matcher, ErrorSink(echo=False), "osquery")
    findings = matcher.findings()
    secs = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "secs": secs,
        "cpu": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,
        "rows": target.records,
        "hosts": len(matcher.hosts),
        "records": matcher.records,
        "found": sorted({f.host for f in findings}),
        "errors": target.errors[:5],
        "engine": "plain" if plain or not bulk.hyperscan_available() else "hyperscan",
        "workers": bulk.workers_for(os.path.getsize(path)),
        # the main process, and the largest worker (workers run side by side; pages they share
        # with the main process count in both)
        "rss_mb": _peak_rss_kb(own.ru_maxrss) / 1024,
        "worker_rss_mb": kids.ru_maxrss / 1024,
    }


def _peak_rss_kb(fallback: int) -> int:
    """This process's peak RSS: VmHWM on Linux (ru_maxrss survives exec, so it may be the parent's)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return fallback


def _timed(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=False, capture_output=True, text=True)
    return time.perf_counter() - t0, out.stdout.strip()


def duckdb_alone(path: Path) -> tuple[float, int] | None:
    """DuckDB (2 threads) reading the file as lines and applying `Prefilter.sql_predicate`."""
    try:
        import duckdb
    except ImportError:
        return None

    from banscan.catalog.loader import load_catalog
    from banscan.match.prefilter import prefilter_for

    pf = prefilter_for(load_catalog())
    con = duckdb.connect()
    con.execute("SET memory_limit = '512MB'")
    con.execute("SET threads = 2")
    source = (
        f"read_csv('{path}', columns={{'line': 'VARCHAR'}}, header=false, auto_detect=false,"
        " delim=E'\\x01\\x02\\x03\\x04', quote='', escape='', new_line='\\n', strict_mode=false,"
        " max_line_size=16777216, buffer_size=33554432)"
    )
    where = f"{pf.sql_predicate('line')} OR {pf.sql_may_fold('line')}"
    t0 = time.perf_counter()
    row = con.execute(f"SELECT count(*) FROM {source} WHERE {where}").fetchone()
    return time.perf_counter() - t0, int(row[0]) if row else 0


def _run_scan(path: Path, plain: bool) -> tuple[float, dict[str, Any]]:
    cmd = [sys.executable, __file__, "--scan", str(path)] + (["--plain"] if plain else [])
    t0 = time.perf_counter()
    child = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0, json.loads(child.stdout)


def _run_command(path: Path) -> float:
    """The whole `banscan scan FILE` command as a user runs it: start-up, catalog, prefilter,
    scan, matching and writing the JSON result."""
    out = path.with_suffix(".result.json")
    cmd = [sys.executable, "-m", "banscan", "scan", str(path), "-f", "json", "-o", str(out), "--quiet"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=False, capture_output=True)
    secs = time.perf_counter() - t0
    out.unlink(missing_ok=True)
    return secs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=100_000)
    ap.add_argument("--keep", type=Path, help="directory to write (or reuse) the fleet file in, kept after")
    ap.add_argument("--scan", help=argparse.SUPPRESS)  # child process: scan this file, print JSON
    ap.add_argument("--plain", action="store_true", help="also time the engine without hyperscan")
    ap.add_argument("--spelling", choices=SPELLINGS, default="compact", help="how the JSON lines are written")
    args = ap.parse_args()
    if args.scan:
        print(json.dumps(scan_child(args.scan, plain=args.plain)))
        return 0

    work = args.keep or Path(tempfile.mkdtemp(prefix="banscan-fleet-"))
    work.mkdir(parents=True, exist_ok=True)
    stem = f"fleet-{args.hosts}" + ("" if args.spelling == "compact" else f"-{args.spelling}")
    path = work / f"{stem}.ndjson"
    meta_path = work / f"{stem}.json"
    need = args.hosts * ROWS_PER_HOST * 700
    free = shutil.disk_usage(work).free
    if not path.exists() and free < need * 1.2:
        print(f"not enough space in {work}: {free / 1e9:.1f} GB free, about {need / 1e9:.1f} GB needed")
        return 2
    try:
        if path.exists() and meta_path.exists():
            meta = json.loads(meta_path.read_text())
            fleet = Fleet(path, meta["hosts"], meta["rows"], meta["bytes"], set(meta["kaspersky"]))
            print(f"reusing {path}")
        else:
            t0 = time.perf_counter()
            fleet = generate(path, args.hosts, spelling=args.spelling)
            meta_path.write_text(
                json.dumps(
                    {
                        "hosts": fleet.hosts,
                        "rows": fleet.rows,
                        "bytes": fleet.bytes,
                        "kaspersky": sorted(fleet.kaspersky),
                    }
                )
            )
            print(
                f"generated {path}: {fleet.rows:,} rows, {fleet.bytes / 1e9:.2f} GB in {time.perf_counter() - t0:.0f} s"
            )
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=False)  # warm the page cache

        from banscan.catalog.loader import load_catalog
        from banscan.match.prefilter import prefilter_for

        tokens = work / "tokens.txt"
        tokens.write_text("\n".join(prefilter_for(load_catalog()).tokens) + "\n", encoding="utf-8")
        g_secs, g_out = _timed(["grep", "-c", "-i", "-F", "-f", str(tokens), str(path)])
        duck = duckdb_alone(path)
        wall, res = _run_scan(path, plain=False)
        plain = _run_scan(path, plain=True) if args.plain else None
        command = _run_command(path)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    rows = fleet.rows
    print()
    print(
        f"fleet: {fleet.hosts:,} hosts, {rows:,} rows, {fleet.bytes / 1e9:.2f} GB, {len(fleet.kaspersky)} Kaspersky hosts"
        f" ({args.spelling} JSON lines)"
    )
    print(f"{'step':48} {'seconds':>8} {'rows/s':>12} {'MB/s':>8}  notes")
    steps: list[tuple[str, float, str]] = [
        ("grep -c -i -F -f TOKENS (one core)", g_secs, f"{int(g_out or 0):,} lines"),
    ]
    if duck is not None:
        steps.append(("DuckDB read + prefilter only (2 threads)", duck[0], f"{duck[1]:,} lines kept"))
    runs = [("bulk_scan", wall, res)] + ([("bulk_scan without hyperscan", *plain)] if plain else [])
    ok = True
    for label, w, r in runs:
        steps.append(
            (
                f"{label} ({r['engine']}, {r['workers']} workers)",
                r["secs"],
                f"{r['records']:,} records matched; {r['cpu']:.1f} CPU s",
            )
        )
        steps.append(
            (
                f"{label} incl. start-up",
                w,
                f"peak RSS {r['rss_mb']:.0f} MB + {r['worker_rss_mb']:.0f} MB a worker",
            )
        )
        ok = ok and set(r["found"]) == fleet.kaspersky and r["hosts"] == fleet.hosts and r["rows"] == rows
    steps.append(("banscan scan FILE -f json -o OUT (whole command)", command, "start-up to result file"))
    for label, secs, note in steps:
        print(f"{label:48} {secs:8.2f} {rows / secs:12,.0f} {fleet.bytes / secs / 1e6:8.0f}  {note}")
    print(
        f"hosts counted: {res['hosts']:,}; hosts with findings: {len(res['found'])}; known: {len(fleet.kaspersky)}"
    )
    print("exactly the known Kaspersky hosts found" if ok else "MISMATCH between found and known hosts")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
