"""Network device inventories: the IEEE MAC registry, nmap XML, SNMP walks, DHCP leases, NetBox and
CMDB CSV exports, judged by the ndaa-889 pack's equipment products; and `banscan export nmap`.

Fixtures are in tests/data/inputs/network (README.md there says where each comes from). Every
test reads MAC blocks from the small registry shipped there, never the machine's, except the one
that checks the catalog against the installed ieee-data files.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog, IdentifierKind
from banscan.errors import ErrorSink
from banscan.inputs import oui
from banscan.inputs.bulk import should_use_bulk
from banscan.inputs.csvexport import GenericCsvReader, parse_column_map
from banscan.inputs.registry import detect, read_target
from banscan.match.matcher import Matcher
from banscan.models import Finding, InventoryRecord, RecordKind, Verdict

DATA = Path(__file__).parent / "data" / "inputs" / "network"
REGISTRY = DATA / "oui-registry"
NMAP = DATA / "nmap-site-a.xml"
NMAP_OLD = DATA / "nmap-3.75-xml_test11.xml"
CMDB_COLUMNS = "host=Hostname,model=Model,manufacturer=Vendor,mac=MAC Address"


@pytest.fixture(autouse=True)
def fixture_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test resolves MAC addresses in the shipped registry rows."""
    monkeypatch.setenv(oui.ENV, str(REGISTRY))
    oui.use_registry(None)
    yield
    oui.use_registry(None)


@pytest.fixture(scope="module")
def ndaa() -> Catalog:
    return load_catalog().with_packs(["ndaa-889"])


def read(
    path: Path, fmt: str | None = None, columns: str | None = None
) -> tuple[list[InventoryRecord], list[str], str]:
    sink = ErrorSink(echo=False)
    target, records = read_target(
        str(path), sink, input_format=fmt, columns=parse_column_map(columns) if columns else None
    )
    got = list(records)
    return got, target.errors, target.format


def judge(catalog: Catalog, records: list[InventoryRecord]) -> dict[str, Finding]:
    """Findings by host (each host here has at most one)."""
    m = Matcher(catalog)
    m.add_all(records)
    out: dict[str, Finding] = {}
    for f in m.findings():
        assert f.host not in out, f"two findings on {f.host}: {out[f.host].product}, {f.product}"
        out[f.host] = f
    return out


def kinds(f: Finding) -> set[str]:
    return {e.kind for e in f.evidence}


# ---- the IEEE registry ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mac"),
    [
        ("28:57:BE:4A:11:02", "2857be4a1102"),
        ("28-57-be-4a-11-02", "2857be4a1102"),
        ("2857.be4a.1102", "2857be4a1102"),
        ("2857BE4A1102", "2857be4a1102"),
        ("f4:b7:8d:3:1a:70", "f4b78d031a70"),  # net-snmp drops leading zeros
        ("F4 B7 8D 03 1A 70 ", "f4b78d031a70"),  # snmpwalk -On Hex-STRING
        ("28:57:BE:4A:11", None),
        ("not a mac", None),
        ("", None),
    ],
)
def test_mac_spellings(text: str, mac: str | None) -> None:
    assert oui.parse_mac(text) == mac


def test_longest_assignment_wins() -> None:
    """MA-S and MA-M blocks are carved out of MA-L blocks the IEEE holds: an address belongs to the
    longest assignment holding it, and one outside every small block to the large one."""
    reg = oui.default_registry()
    assert reg is not None and len(reg) > 20

    def owner(mac: str) -> tuple[str, str, str] | None:
        parsed = oui.parse_mac(mac)
        assert parsed is not None
        hit = reg.lookup(parsed)
        return (hit.registry, hit.value, hit.organisation) if hit else None

    assert owner("70:B3:D5:F2:F1:23") == ("MA-S", "70:B3:D5:F2:F", "TELEPLATFORMS")
    assert owner("70:B3:D5:71:90:01") == ("MA-S", "70:B3:D5:71:9", "2M Technology")
    assert owner("70:B3:D5:00:00:01") == ("MA-L", "70:B3:D5", "IEEE Registration Authority")
    assert owner("74:1A:E0:5C:00:01") == (
        "MA-M",
        "74:1A:E0:5",
        "FUJIAN TAILI COMMUNICATION TECHNOLOGY CO.,LTD",
    )
    assert owner("74:1A:E0:9C:00:01") == ("MA-M", "74:1A:E0:9", "Private")
    assert owner("74:1A:E0:1C:00:01") == ("MA-L", "74:1A:E0", "IEEE Registration Authority")
    assert owner("28:57:BE:4A:11:02") == (
        "MA-L",
        "28:57:BE",
        "Hangzhou Hikvision Digital Technology Co.,Ltd.",
    )
    assert owner("40:2C:76:10:00:01") == ("MA-M", "40:2C:76:1", "Shanghai Dahua Scale Factory")
    assert owner("DE:AD:BE:EF:00:01") is None


def test_local_and_group_addresses_are_no_vendors() -> None:
    reg = oui.default_registry()
    # 2A:57:BE is 28:57:BE with the locally administered bit set (a randomised address)
    assert oui.mac_extras("2A:57:BE:90:11:3C", reg) == [("mac", "2a:57:be:90:11:3c"), ("mac_local", "yes")]
    assert ("mac_local", "yes") in oui.mac_extras("01:00:5E:00:00:FB", reg)  # multicast
    assert dict(oui.mac_extras("28:57:be:4a:11:02", reg))["mac_oui"] == "28:57:BE"


def test_without_a_registry_prefixes_still_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ndaa: Catalog
) -> None:
    """No registry installed: the address's 24/28/36-bit prefixes meet the catalog's assignments."""
    monkeypatch.delenv(oui.ENV)
    monkeypatch.setattr(oui, "SYSTEM_FOLDER", tmp_path)  # no ieee-data there
    oui.use_registry(None)
    assert oui.default_registry() is None
    records, errors, _ = read(DATA / "dnsmasq.leases")
    assert not errors
    assert not any(dict(r.extra).get("mac_oui") for r in records)
    found = judge(ndaa, records)
    assert found["192.168.8.31"].product == "dahua-video-surveillance-equipment"


def test_a_bad_registry_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "oui.csv"
    bad.write_text("Assignment,Name\n2857BE,Someone\n", encoding="utf-8")
    monkeypatch.setenv(oui.ENV, str(bad))
    oui.use_registry(None)
    records, errors, _ = read(DATA / "dnsmasq.leases")
    assert len(errors) == 1 and errors[0].startswith(f"{DATA / 'dnsmasq.leases'}: MAC addresses not resolved")
    assert f"{bad}:1" in errors[0]
    assert records  # the leases are still read


INSTALLED = oui.SYSTEM_FOLDER / "oui.csv"
# The registry organisations each equipment product lists (its note names them).
PRODUCT_ORGS = {
    "huawei-telecom-equipment": {
        "HUAWEI TECHNOLOGIES CO.,LTD",
        "Huawei Technologies Co., Ltd.",
        "Huawei Device Co., Ltd.",
    },
    "zte-telecom-equipment": {"zte corporation"},
    "hikvision-video-surveillance-equipment": {"Hangzhou Hikvision Digital Technology Co.,Ltd."},
    "ezviz-cameras": {"Hangzhou Ezviz Software Co.,Ltd."},
    "dahua-video-surveillance-equipment": {"Zhejiang Dahua Technology Co., Ltd."},
    "hytera-radio-equipment": {"Hytera Communications Co .,ltd", "Hytera Communications Corporation Limited"},
}


@pytest.mark.skipif(
    not INSTALLED.is_file(), reason="ieee-data is not installed (scripts/install-system-deps)"
)
def test_catalog_blocks_against_the_installed_registry() -> None:
    """Every MAC block of the catalog is assigned, in the installed IEEE registry, to one of the
    organisations its product names, and each product lists every block of those organisations
    that the registry read for the catalog had (a newer registry may hold more)."""
    reg = oui.OuiRegistry.from_files(oui.registry_paths(str(oui.SYSTEM_FOLDER)))
    assert reg.lookup("2857be000001") is not None
    cat = load_catalog()
    for pid, orgs in PRODUCT_ORGS.items():
        blocks = [i.value for i in cat.product(pid).identifiers if i.kind == IdentifierKind.MAC_OUI]
        assert blocks, pid
        for value in blocks:
            assert reg.organisation(value) in orgs, (pid, value, reg.organisation(value))


def test_catalog_blocks_are_canonical_and_unshared() -> None:
    cat = load_catalog()
    owner: dict[str, str] = {}
    for p in cat.products:
        for i in p.identifiers:
            if i.kind != IdentifierKind.MAC_OUI:
                continue
            assert i.value == oui.assignment_form(i.value.replace(":", "")), (p.id, i.value)
            assert len(i.value.replace(":", "")) in oui.PREFIX_LENGTHS
            assert i.value not in owner, (i.value, owner.get(i.value), p.id)
            owner[i.value] = p.id
    # decoys from the shipped registry rows: names or addresses that only look like a vendor's
    for decoy in ("90:FF:D6", "40:2C:76:1", "00:40:8C", "AC:CC:8E", "E4:30:22", "00:09:18", "0C:F5:A4"):
        assert decoy not in owner, decoy


# ---- nmap XML -----------------------------------------------------------------------------------


def test_nmap_hosts_and_records() -> None:
    records, errors, fmt = read(NMAP)
    assert fmt == "nmap-xml" and not errors
    assert all(r.kind == RecordKind.DEVICE for r in records)
    hosts = {r.host for r in records}
    assert hosts == {
        "cam-lobby.example.org",
        "10.20.30.12",
        "cam-dock.example.org",
        "10.20.30.14",
        "gw-site-a.example.org",
        "core-sw-2.example.org",
        "10.20.30.57",
    }  # the host that is down is not a device
    base = next(r for r in records if r.host == "cam-lobby.example.org" and r.get("mac"))
    assert base.get("mac") == "28:57:be:4a:11:02" and base.get("mac_oui") == "28:57:BE"
    assert base.get("mac_org") == "Hangzhou Hikvision Digital Technology Co.,Ltd."
    assert base.get("nmap_mac_vendor") == "Hangzhou Hikvision Digital Technology"
    assert base.source.location == f"{NMAP}:15"
    # an OS guess below 100 is an alternative, not evidence: no Linux CPE on the camera
    assert base.cpe is None and base.name == "network device"
    ipcam = next(r for r in records if r.name == "Hikvision IPCam control port")
    assert ipcam.get("port") == "8000/tcp" and ipcam.source.location == f"{NMAP}:27"
    cisco = [r.cpe for r in records if r.host == "gw-site-a.example.org"]
    assert "cpe:/a:cisco:ssh:1.25" in cisco and "cpe:/o:cisco:ios" in cisco
    phone = next(r for r in records if r.host == "10.20.30.57")
    assert phone.get("mac_local") == "yes" and phone.get("mac_oui") is None


def test_nmap_verdicts(ndaa: Catalog) -> None:
    """A Hikvision camera is found for review (its MAC block and nmap's product string); Dahua's too;
    a Huawei switch with its block and a Huawei CPE is covered; Axis, Hanwha and Cisco devices and a
    randomised address are left alone."""
    found = judge(ndaa, read(NMAP)[0])
    assert set(found) == {"cam-lobby.example.org", "10.20.30.12", "core-sw-2.example.org"}
    cam = found["cam-lobby.example.org"]
    assert (cam.product, cam.verdict) == ("hikvision-video-surveillance-equipment", Verdict.REVIEW)
    assert kinds(cam) == {"mac_oui", "display_name"}
    dahua = found["10.20.30.12"]
    assert (dahua.product, dahua.verdict) == ("dahua-video-surveillance-equipment", Verdict.REVIEW)
    switch = found["core-sw-2.example.org"]
    assert (switch.product, switch.verdict) == ("huawei-telecom-equipment", Verdict.COVERED)
    assert kinds(switch) == {"mac_oui", "cpe"}


def test_nmap_oui_alone_is_review(tmp_path: Path, ndaa: Catalog) -> None:
    """The MAC block alone never makes a covered finding, even for Huawei equipment."""
    text = NMAP.read_text(encoding="utf-8")
    stripped = tmp_path / "scan.xml"
    stripped.write_text(text.replace("<cpe>cpe:/o:huawei:vrp:5.170</cpe>", ""), encoding="utf-8")
    switch = judge(ndaa, read(stripped)[0])["core-sw-2.example.org"]
    assert switch.verdict == Verdict.REVIEW and kinds(switch) == {"mac_oui"}


def test_nmap_3_output_is_read(ndaa: Catalog) -> None:
    """nmap 3.75's XML (osclass directly under os, no cpe) from nmap's own test files."""
    records, errors, fmt = read(NMAP_OLD)
    assert fmt == "nmap-xml" and not errors
    assert {r.host for r in records} == {"canopo", "SpeedTouch.canopo", "servidor.canopo", "10.0.0.150"}
    assert any(r.get("nmap_mac_vendor") == "Thomson Belgium" for r in records)
    assert not judge(ndaa, records)


@pytest.mark.parametrize("name", ["nmap-hostile-entities.xml", "nmap-hostile-external.xml"])
def test_hostile_xml_is_refused_in_one_line(name: str) -> None:
    records, errors, _ = read(DATA / name)
    assert records == []
    assert len(errors) == 1
    assert errors[0].startswith(f"{DATA / name}: refused XML: entity declarations are not allowed")


def test_truncated_nmap_keeps_finished_hosts() -> None:
    records, errors, _ = read(DATA / "nmap-truncated.xml")
    assert {r.host for r in records} == {"cam-lobby.example.org"}
    assert len(errors) == 1
    assert errors[0].startswith(f"{DATA / 'nmap-truncated.xml'}:52:")
    assert "not well-formed XML" in errors[0] and "the 1 hosts before it were read" in errors[0]


def test_other_xml_is_not_nmap(tmp_path: Path) -> None:
    other = tmp_path / "other.xml"
    other.write_text('<?xml version="1.0"?>\n<scan><host/></scan>\n', encoding="utf-8")
    assert detect(other.read_bytes(), str(other)) is None
    records, errors, _ = read(other, "nmap-xml")
    assert records == [] and errors == [f"{other}: not nmap XML output: the root element is <scan>"]


# ---- SNMP walks -------------------------------------------------------------------------------


def test_snmp_symbolic_and_numeric_forms_agree(ndaa: Catalog) -> None:
    sym, e1, f1 = read(DATA / "huawei-ar1220.walk")
    num, e2, f2 = read(DATA / "huawei-ar1220-numeric.walk")
    assert f1 == f2 == "snmp-walk" and not e1 and not e2
    for records in (sym, num):
        assert {r.host for r in records} == {"branch-rtr-07"}
        device = records[0]
        assert device.get("snmp_enterprise") == "2011"
        assert device.name == "Huawei AR1220 Huawei Versatile Routing Platform Software"
        assert "V200R003C01SPC900" in (device.get("sys_descr") or "")
        assert [r.get("mac_oui") for r in records[1:]] == ["F4:B7:8D"]  # one record per block
        found = judge(ndaa, records)["branch-rtr-07"]
        # the enterprise number and the MAC block: two independent kinds
        assert (found.product, found.verdict) == ("huawei-telecom-equipment", Verdict.COVERED)


def test_snmp_several_walks_in_one_file(ndaa: Catalog) -> None:
    records, errors, _ = read(DATA / "site-b.walk")
    assert not errors
    assert {r.host for r in records} == {
        "nvr-02.example.org",
        "cam-gate.example.org",
        "access-sw-9.example.org",
    }
    found = judge(ndaa, records)
    # 50001 is not Hikvision's enterprise number (IANA: Scildon): only the MAC block counts
    nvr = found["nvr-02.example.org"]
    assert (nvr.product, nvr.verdict, kinds(nvr)) == (
        "hikvision-video-surveillance-equipment",
        Verdict.REVIEW,
        {"mac_oui"},
    )
    zte = found["access-sw-9.example.org"]
    assert (zte.product, zte.verdict, kinds(zte)) == (
        "zte-telecom-equipment",
        Verdict.REVIEW,
        {"snmp_enterprise"},
    )
    assert "cam-gate.example.org" not in found  # Axis: enterprise 368 and its own MAC block


def test_snmp_without_headers_and_symbolic_vendor_oid(tmp_path: Path) -> None:
    walk = tmp_path / "walks.txt"
    one = (DATA / "huawei-ar1220.walk").read_text(encoding="utf-8")
    two = one.replace("SNMPv2-SMI::enterprises.2011.2.224.1", "HUAWEI-MIB::ar1220").replace(
        "branch-rtr-07", ""
    )
    walk.write_text(one + two.replace("SNMPv2-MIB::sysName.0 = STRING: \n", ""), encoding="utf-8")
    records, errors, _ = read(walk)
    assert {r.host for r in records} == {"branch-rtr-07", "walks#2"}
    assert len(errors) == 1 and errors[0].startswith(f"{walk}:17: sysObjectID 'HUAWEI-MIB::ar1220' names no")


# ---- DHCP leases ------------------------------------------------------------------------------


def test_isc_leases(ndaa: Catalog) -> None:
    records, errors, fmt = read(DATA / "dhcpd.leases")
    assert fmt == "dhcpd-leases" and not errors
    by_host = {r.host: r for r in records}
    assert set(by_host) == {"IPC-lobby", "axis-accc8e", "Pixel-7", "10.40.0.24"}  # one device per MAC
    lobby = by_host["IPC-lobby"]
    assert lobby.source.location == f"{DATA / 'dhcpd.leases'}:53"  # the client's last block
    assert lobby.get("vendor_class") == "udhcp 1.19.4" and lobby.get("binding_state") == "active"
    assert by_host["Pixel-7"].get("mac_local") == "yes"
    found = judge(ndaa, records)
    assert set(found) == {"IPC-lobby"}  # HONOR's block is not Huawei's; Axis is no covered vendor
    assert found["IPC-lobby"].verdict == Verdict.REVIEW


def test_isc_lease_cut_short(tmp_path: Path) -> None:
    cut = tmp_path / "dhcpd.leases"
    text = (DATA / "dhcpd.leases").read_text(encoding="utf-8")
    cut.write_text(text[: text.index("lease 10.40.0.22") + 200], encoding="utf-8")
    records, errors, _ = read(cut)
    assert {r.host for r in records} == {"IPC-lobby"}
    assert errors == [f"{cut}:21: lease 10.40.0.22 is not closed (file cut short?); its block skipped"]


def test_dnsmasq_leases(ndaa: Catalog) -> None:
    records, errors, fmt = read(DATA / "dnsmasq.leases")
    assert fmt == "dnsmasq-leases" and not errors
    assert {r.host for r in records} == {"192.168.8.31", "wisenet-xnv", "HUAWEI_P30-3c1d", "iPhone"}
    found = judge(ndaa, records)
    assert set(found) == {"192.168.8.31", "HUAWEI_P30-3c1d"}  # Hanwha and a randomised iPhone left alone
    phone = found["HUAWEI_P30-3c1d"]
    assert (phone.product, phone.verdict) == ("huawei-telecom-equipment", Verdict.REVIEW)


def test_dnsmasq_line_cut_short(tmp_path: Path) -> None:
    cut = tmp_path / "dnsmasq.leases"
    text = (DATA / "dnsmasq.leases").read_text(encoding="utf-8")
    cut.write_text(text[: text.index("10:32:7e") + 8], encoding="utf-8")
    records, errors, _ = read(cut, "dnsmasq-leases")
    assert {r.host for r in records} == {"192.168.8.31", "wisenet-xnv"}
    assert errors == [f"{cut}:3: not a dnsmasq lease line ('1741122301 10:32:7e'); skipped"]


# ---- NetBox and CMDB CSV ----------------------------------------------------------------------


def test_netbox_devices(ndaa: Catalog) -> None:
    records, errors, fmt = read(DATA / "netbox-devices.csv")
    assert fmt == "netbox-csv" and not errors
    cam = next(r for r in records if r.host == "cam-lobby")
    assert (cam.name, cam.publisher, cam.get("site"), cam.get("ip")) == (
        "DS-2CD2143G2-IS",
        "Hikvision",
        "HQ",
        "10.20.30.11/24",
    )
    assert any(r.host == "netbox-devices" and r.publisher == "ZTE" for r in records)  # no name, no IP
    found = judge(ndaa, records)
    assert set(found) == {"cam-lobby", "core-sw-1", "netbox-devices"}  # Axis and Cisco left alone
    assert found["cam-lobby"].verdict == Verdict.REVIEW  # Hikvision: the purpose test
    # the inventory states the maker: Huawei equipment is covered whatever its purpose
    assert found["core-sw-1"].verdict == Verdict.COVERED


def test_cmdb_csv_with_a_mac_column(ndaa: Catalog) -> None:
    records, errors, fmt = read(DATA / "cmdb-assets.csv", columns=CMDB_COLUMNS)
    assert fmt == "csv" and not errors and all(r.kind == RecordKind.DEVICE for r in records)
    ap = next(r for r in records if r.host == "ap-7")
    assert ap.get("mac") == "4c:54:99:3e:0a:11" and ap.name == "network device"
    found = judge(ndaa, records)
    assert set(found) == {"cam-yard-1", "ap-7"}  # Hanwha Vision and Samsung left alone
    assert kinds(found["cam-yard-1"]) == {"publisher", "mac_oui"}
    assert found["cam-yard-1"].verdict == Verdict.REVIEW
    assert found["ap-7"].verdict == Verdict.REVIEW  # a Huawei block alone


def test_prefilter_does_not_lose_device_rows(tmp_path: Path, ndaa: Catalog) -> None:
    """The prefilter has no tokens for MAC blocks: the CSV bulk path leaves a device file to the
    per-record reader, with the same findings; device inputs never take a bulk path."""
    from banscan.inputs.bulkcsv import bulk_csv_scan
    from banscan.match.prefilter import prefilter_for

    pf = prefilter_for(ndaa)
    assert not any(
        "mac_oui" in label or "snmp_enterprise" in label for labels in pf.labels.values() for label in labels
    )
    assert not pf.passes("ap-7,,,4C54.993E.0A11,Floor 2")  # a device row the prefilter would drop
    big = tmp_path / "cmdb.csv"
    head, *rows = (DATA / "cmdb-assets.csv").read_text(encoding="utf-8").splitlines()
    filler = [
        f"desk-{n},A-{n},Dell,OptiPlex 7010,00-14-22-{n // 256:02X}-{n % 256:02X}-01,Floor 3"
        for n in range(3000)
    ]
    big.write_text("\r\n".join([head, *filler, *rows]) + "\r\n", encoding="utf-8")
    bulk = Matcher(ndaa)
    target = bulk_csv_scan(
        str(big), bulk, ErrorSink(echo=False), GenericCsvReader(parse_column_map(CMDB_COLUMNS))
    )
    assert target.records == 3004 and not target.errors
    per_record = judge(ndaa, read(big, columns=CMDB_COLUMNS)[0])
    assert {(f.host, f.product) for f in bulk.findings()} == {(h, f.product) for h, f in per_record.items()}
    assert {"ap-7", "cam-yard-1"} <= set(per_record)
    for name in ("nmap-xml", "snmp-walk", "dhcpd-leases", "dnsmasq-leases", "netbox-csv"):
        assert not should_use_bulk(str(NMAP), name)


# ---- `banscan export nmap` --------------------------------------------------------------------


def _export(*args: str) -> str:
    from banscan.cli import app

    result = CliRunner().invoke(app, ["export", "nmap", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_export_nmap() -> None:
    text = _export("--pack", "ndaa-889", "--oui-registry", str(REGISTRY))
    lines = text.splitlines()
    assert "#      nmap -sV -O -oX scan.xml 10.0.0.0/24" in lines
    assert "#      banscan scan scan.xml --pack ndaa-889" in lines
    rows = list(csv.DictReader([ln for ln in lines if not ln.startswith("#")], delimiter="\t"))
    by_value = {r["value"]: r for r in rows}
    hik = by_value["28:57:BE"]
    assert (hik["kind"], hik["product"], hik["status"]) == (
        "mac_oui",
        "hikvision-video-surveillance-equipment",
        "review",
    )
    assert hik["registry_organisation"] == "Hangzhou Hikvision Digital Technology Co.,Ltd."
    assert by_value["BC:AD:28"]["nmap_output"] == '<address addr="BC:AD:28:…" addrtype="mac">'
    assert by_value["2011"]["kind"] == "snmp_enterprise"
    assert by_value["Dahua IP camera rtspd"]["kind"] == "product"
    assert "AC:CC:8E" not in by_value and "50001" not in by_value
    # every device identifier of the catalog is in the list, and nothing else
    cat = load_catalog().with_packs(["ndaa-889"])
    device = {IdentifierKind.MAC_OUI, IdentifierKind.SNMP_ENTERPRISE}
    blocks = {i.value for p in cat.products for i in p.identifiers if i.kind in device}
    assert blocks <= set(by_value)
    assert all(r["product"] in {p.id for p in cat.products} for r in rows)


def test_export_nmap_of_a_pack_without_equipment() -> None:
    lines = [ln for ln in _export("--pack", "kaspersky").splitlines() if not ln.startswith("#")]
    assert lines == ["kind\tvalue\tnmap_output\tproduct\tstatus\tvendor\tregistry_organisation"]


def test_scan_cli_reads_a_scan(tmp_path: Path) -> None:
    """`nmap -oX` then `banscan scan scan.xml`, as the export's header says."""
    from banscan.cli import app

    out = tmp_path / "result.json"
    result = CliRunner().invoke(
        app,
        [
            "scan",
            str(NMAP),
            "--pack",
            "ndaa-889",
            "--oui-registry",
            str(REGISTRY),
            "-q",
            "-f",
            "json",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 1, result.output  # findings
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["targets"][0]["format"] == "nmap-xml"
    got = {(f["host"], f["product"], f["verdict"]) for f in doc["findings"]}
    assert ("cam-lobby.example.org", "hikvision-video-surveillance-equipment", "review") in got
    assert ("core-sw-2.example.org", "huawei-telecom-equipment", "covered") in got
