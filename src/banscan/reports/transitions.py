"""Recorded removal states from the fleet server, set against what the scans show.

The fleet server tracks each host × product through found → replacement-installed → removed →
verified, with who moved it and when; its dashboard exports that board as `/transitions.csv`
and `/transitions.json`. `load_transitions` reads either export (told apart by content, not by
the file name) and refuses anything else with the file and line at fault. `assess` sets each
record against the scan results of the report:

- a recorded state the scans cannot show (replacement installed, removed) is reported as
  recorded, with who and when;
- `verified` stands only when the record says verified *and* the newest scan given for the
  host does not find the product; when they disagree the row says so — the record never
  silently overrides a scan, nor a scan a record;
- hosts and products the record tracks but the results do not cover are still listed, marked
  as resting on the fleet record alone.

Hosts are matched by name, ignoring case; products by their catalog id.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from banscan.models import Verdict
from banscan.removal import EXPORT_COLUMNS, FLAG_GONE, FLAG_SEEN_AFTER_REMOVAL, STATES, SYSTEM
from banscan.reports import FindingView, HostView, ReportContext, ReportInputError
from banscan.reports.load import parse_date

# What the assessment needs; the other columns are read when present.
REQUIRED_COLUMNS = ("hostname", "product", "state", "updated_at", "updated_by")
FLAG_TEXT = {
    FLAG_GONE: "a scan no longer found it, but no removal was recorded",
    FLAG_SEEN_AFTER_REMOVAL: "a scan found it again after it was recorded removed or verified",
}
# Status words of the implementation-status section.
STATE_STATUS = {
    "found": "found",
    "replacement-installed": "replacement installed",
    "removed": "removed, awaiting verification",
    "verified": "verified",
}
CONFLICT = "conflict"
GONE_UNRECORDED = "gone, no removal recorded"
SOURCE_SCANS = "scans"
SOURCE_BOTH = "scans and fleet record"
SOURCE_RECORD = "fleet record only"
# The dashboard's CSV guards cells against spreadsheet formulas with a leading quote.
_GUARDED = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class TransitionRecord:
    line: int  # CSV line, or the item's position (1-based) in a JSON export
    host_id: str
    hostname: str
    product: str
    product_name: str
    verdict: str
    present: bool | None
    first_seen: str
    state: str
    flag: str
    overdue: bool | None
    updated_at: dt.datetime
    updated_by: str

    @property
    def when(self) -> str:
        return self.updated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")

    @property
    def by_when(self) -> str:
        if self.updated_by == SYSTEM:
            return f"by the fleet server from a scan, {self.when}"
        return f"by {self.updated_by} on {self.when}"


@dataclass
class TransitionExport:
    path: str
    format: str  # csv | json
    records: list[TransitionRecord] = field(default_factory=list)


def _fail(where: str, message: str) -> ReportInputError:
    return ReportInputError(f"{where}: {message}")


def _unguard(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:2] in _GUARDED and len(value) > 1 else value


def _bool(value: Any, where: str, column: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise _fail(where, f"{column}: expected true or false, not {value!r}")


def _text(value: Any, where: str, column: str, *, required: bool = False) -> str:
    if value is None:
        text = ""
    elif isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value)
    else:
        raise _fail(where, f"{column}: expected text, not {type(value).__name__}")
    text = _unguard(text.strip())
    if required and not text:
        raise _fail(where, f"{column} is empty")
    return text


def _record(raw: dict[str, Any], line: int, where: str) -> TransitionRecord:
    state = _text(raw.get("state"), where, "state", required=True)
    if state not in STATES:
        raise _fail(where, f"unknown state {state!r} (the fleet server records {', '.join(STATES)})")
    stamp = _text(raw.get("updated_at"), where, "updated_at", required=True)
    try:
        updated = dt.datetime.fromisoformat(stamp)
    except ValueError:
        raise _fail(where, f"updated_at: not an ISO 8601 date-time: {stamp!r} (truncated file?)") from None
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=dt.UTC)
    product = _text(raw.get("product"), where, "product", required=True)
    return TransitionRecord(
        line=line,
        host_id=_text(raw.get("host_id"), where, "host_id"),
        hostname=_text(raw.get("hostname"), where, "hostname", required=True),
        product=product,
        product_name=_text(raw.get("product_name"), where, "product_name") or product,
        verdict=_text(raw.get("verdict"), where, "verdict"),
        present=_bool(raw.get("present"), where, "present"),
        first_seen=_text(raw.get("first_seen"), where, "first_seen"),
        state=state,
        flag=_text(raw.get("flag"), where, "flag"),
        overdue=_bool(raw.get("overdue"), where, "overdue"),
        updated_at=updated,
        updated_by=_text(raw.get("updated_by"), where, "updated_by", required=True),
    )


def _from_csv(text: str, path: str) -> list[TransitionRecord]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise _fail(f"{path}:1", f"not a transitions export: {exc or 'no header'}") from None
    columns = [h.strip().lstrip("\ufeff") for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise _fail(
            f"{path}:1",
            f"missing column(s) {', '.join(missing)}; expected the fleet dashboard's transitions "
            f"export ({','.join(EXPORT_COLUMNS)})",
        )
    out: list[TransitionRecord] = []
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise _fail(f"{path}:{reader.line_num}", f"malformed CSV: {exc} (truncated file?)") from None
        line = reader.line_num
        if not row or not "".join(row).strip():
            continue
        if len(row) != len(columns):
            raise _fail(
                f"{path}:{line}",
                f"{len(row)} field(s) where the header has {len(columns)} (truncated or hand-edited file?)",
            )
        out.append(_record(dict(zip(columns, row, strict=True)), line, f"{path}:{line}"))
    return out


def _from_json(text: str, path: str) -> list[TransitionRecord]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(
            f"{path}:{exc.lineno}:{exc.colno}", f"invalid JSON: {exc.msg} (truncated file?)"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        what = "a scan result" if isinstance(data, dict) and "schema" in data else "no `items` list"
        raise _fail(
            f"{path}:1",
            f"not a transitions export ({what}); expected the fleet dashboard's /transitions.json",
        )
    items: list[Any] = data["items"]
    count = data.get("count")
    if count is not None and count != len(items):
        raise _fail(f"{path}:1", f"`count` is {count!r} but {len(items)} item(s) follow (truncated file?)")
    out: list[TransitionRecord] = []
    for n, item in enumerate(items, start=1):
        where = f"{path}: item {n}"
        if not isinstance(item, dict):
            raise _fail(where, f"expected an object, not {type(item).__name__}")
        missing = [c for c in REQUIRED_COLUMNS if c not in item]
        if missing:
            raise _fail(where, f"missing {', '.join(missing)}")
        out.append(_record(item, n, where))
    return out


def load_transitions(path: Path) -> TransitionExport:
    """Read a transitions export (CSV or JSON, by content); problems name the file and line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ReportInputError(f"{path}: no such file") from None
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReportInputError(
            f"{path}: not UTF-8 text (byte {exc.start}); not a transitions export"
        ) from None
    if not text.strip():
        raise ReportInputError(f"{path}: empty file; not a transitions export")
    name = str(path)
    if text.lstrip().startswith(("{", "[")):
        records, fmt = _from_json(text, name), "json"
    else:
        records, fmt = _from_csv(text, name), "csv"
    seen: dict[tuple[str, str], int] = {}
    for r in records:
        if not r.host_id:
            continue
        key = (r.host_id, r.product)
        if key in seen:
            raise _fail(
                f"{name}:{r.line}" if fmt == "csv" else f"{name}: item {r.line}",
                f"second record for host id {r.host_id}, product {r.product!r} "
                f"(first at {'line' if fmt == 'csv' else 'item'} {seen[key]})",
            )
        seen[key] = r.line
    return TransitionExport(path=name, format=fmt, records=records)


# --- set against the scans ------------------------------------------------------------------


@dataclass
class Assessment:
    """One host × product: the status the report states, and on what it rests."""

    host: str
    product: str
    product_name: str
    status: str
    source: str  # scans | scans and fleet record | fleet record only
    scan: str  # the newest scan's verdict, "not found", or "not in results"
    last_scanned: str
    detail: str
    conflict: bool = False
    record: TransitionRecord | None = None
    earlier: bool = False  # some scan given found it
    mitigation: str = ""  # what was recorded as done, for the FAR mitigation field


def _scan_time(hv: HostView, ctx: ReportContext) -> tuple[dt.datetime | None, bool]:
    """When the newest scan of the host was made, and whether only its date is known."""
    r = ctx.merged.host_result.get(hv.name)
    stamp = r.result.generated_at if r else ""
    t = _when(stamp) if stamp else None
    if t is not None:
        return t, False
    day = parse_date(hv.as_of)
    return (dt.datetime.combine(day, dt.time(), dt.UTC) if day else None), True


def _when(stamp: str) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _order(hv: HostView, ctx: ReportContext, rec: TransitionRecord) -> str:
    """Whether the host's newest scan was made after or before the record: after | before | unknown."""
    t, date_only = _scan_time(hv, ctx)
    if t is None:
        return "unknown"
    if date_only:
        rec_day = rec.updated_at.astimezone(dt.UTC).date()
        if t.date() == rec_day:
            return "unknown"
        return "after" if t.date() > rec_day else "before"
    return "after" if t > rec.updated_at else "before"


def _scan_ref(hv: HostView) -> str:
    return f"{hv.as_of or 'undated'}, {Path(hv.result_path).name}"


def _scan_status(v: Verdict) -> str:
    if v is Verdict.REMNANT:
        return "remnants only"
    if v is Verdict.ACCEPTED:
        return "accepted"
    return "found"


def _flag_note(rec: TransitionRecord) -> str:
    if not rec.flag:
        return ""
    return f" The fleet server flags it {rec.flag!r}: {FLAG_TEXT.get(rec.flag, 'see the dashboard')}."


def _recorded(rec: TransitionRecord) -> str:
    """What the fleet record says, as the object of "the fleet record says …"."""
    if rec.state == "verified":
        return f"verified by a clean re-scan ({rec.when})"
    if rec.state == "found":
        return f"found, no replacement or removal recorded yet (last updated {rec.by_when})"
    return f"{STATE_STATUS[rec.state].split(',')[0]} (recorded {rec.by_when})"


def _mitigation(rec: TransitionRecord, status: str) -> str:
    if status == CONFLICT or rec.state == "found":
        return ""
    if rec.state == "replacement-installed":
        return f"Undertaken: replacement installed (recorded {rec.by_when})."
    if rec.state == "removed":
        return f"Undertaken: removed (recorded {rec.by_when}); awaiting verification by a re-scan."
    return f"Undertaken: removal verified by a clean re-scan ({rec.when})."


def _with_record(
    ctx: ReportContext, hv: HostView, fv: FindingView | None, rec: TransitionRecord, earlier: bool
) -> tuple[str, str, bool]:
    """Status, detail and whether record and scans disagree, for a host the results cover."""
    ref = _scan_ref(hv)
    says = f"The fleet record says {_recorded(rec)}"
    flag = _flag_note(rec)
    if fv is not None:
        v = fv.finding.verdict
        seen = f"still finds the product ({v.value})"
        order = _order(hv, ctx, rec)
        if rec.state == "found":
            return (
                _scan_status(v),
                f"No replacement or removal recorded yet; the newest scan ({ref}) {seen}.{flag}",
                False,
            )
        if rec.state == "replacement-installed":
            return (
                STATE_STATUS["replacement-installed"],
                f"{says}; the newest scan ({ref}) {seen}: removal still to do.{flag}",
                False,
            )
        if rec.state == "removed":
            if order == "after":
                return (
                    CONFLICT,
                    f"Conflict: the fleet record says {_recorded(rec)}, but the scan of {ref}, made after "
                    f"that, {seen}. Not removed as far as the scans show.{flag}",
                    True,
                )
            when = "was made the same day" if order == "unknown" else "predates the removal"
            return (
                STATE_STATUS["removed"],
                f"{says}; the newest scan given ({ref}) {when} and {seen}. A re-scan verifies the removal.{flag}",
                False,
            )
        # verified, yet a scan given still finds the product
        if order == "after":
            why = f"the scan of {ref}, made after that, {seen}"
        elif order == "before":
            why = (
                f"the newest scan given for this host ({ref}, made before it) {seen}; "
                "the scans given do not confirm the verification"
            )
        else:
            why = f"the newest scan given for this host ({ref}, the same day) {seen}"
        return (
            CONFLICT,
            f"Conflict: the fleet record says {_recorded(rec)}, but {why}. Not verified.{flag}",
            True,
        )
    first = _when(rec.first_seen)
    made, _ = _scan_time(hv, ctx)
    if first is not None and made is not None and made < first and not earlier:
        return (
            STATE_STATUS[rec.state],
            f"{says}; the newest scan given ({ref}) predates the fleet server's first sighting of the "
            f"product ({first.astimezone(dt.UTC):%Y-%m-%d}), so the scans given cannot confirm or "
            f"contradict it.{flag}",
            False,
        )
    gone = f"the newest scan given ({ref}) does not find the product" + (
        " (an earlier scan did)" if earlier else ""
    )
    if rec.state == "verified":
        return STATE_STATUS["verified"], f"{says}, and {gone}.{flag}", False
    if rec.state == "removed":
        tail = (
            " The fleet server has not recorded a verifying re-scan yet: send it this scan, or re-scan."
            if _order(hv, ctx, rec) == "after"
            else " That scan is not later than the removal record, so it does not verify it."
        )
        return STATE_STATUS["removed"], f"{says}; {gone}.{tail}{flag}", False
    return (
        GONE_UNRECORDED,
        f"Disagreement: the fleet record says {_recorded(rec)}"
        + (", and no removal recorded" if rec.state != "found" else "")
        + f", but {gone}.{flag}",
        True,
    )


def _duplicates_note(recs: list[TransitionRecord]) -> str:
    if len(recs) < 2:
        return ""
    ids = ", ".join(r.host_id or "?" for r in recs)
    return (
        f" The fleet server has {len(recs)} hosts named {recs[0].hostname!r} tracking this product "
        f"(host ids {ids}); the most recently updated record is used."
    )


def assess(ctx: ReportContext, export: TransitionExport) -> list[Assessment]:
    """One row per host × product the scans or the record know of; hosts in the results first."""
    records: dict[tuple[str, str], list[TransitionRecord]] = {}
    for one in export.records:
        records.setdefault((one.hostname.lower(), one.product), []).append(one)
    for recs in records.values():
        recs.sort(key=lambda x: x.updated_at, reverse=True)
    current: dict[tuple[str, str], FindingView] = {}
    for view in ctx.findings:
        if view.finding.verdict is not Verdict.INFORMATIONAL:
            current.setdefault((view.finding.host.lower(), view.finding.product), view)
    ever: dict[tuple[str, str], str] = {}  # non-informational findings in any result → product name
    for res in ctx.merged.results:
        for f in res.result.findings:
            if f.verdict is not Verdict.INFORMATIONAL:
                ever.setdefault((f.host.lower(), f.product), f.product_name)

    out: list[Assessment] = []
    covered_hosts: set[str] = set()
    for hv in ctx.hosts:
        key_host = hv.name.lower()
        loaded = ctx.merged.host_result.get(hv.name)
        if loaded is not None and not loaded.findings_known:
            continue  # its record rows are listed below, resting on the record alone
        covered_hosts.add(key_host)
        products = {p for (h, p) in ever if h == key_host}
        products |= {
            p for (h, p), recs in records.items() if h == key_host and recs[0].verdict != "informational"
        }
        rows: list[Assessment] = []
        for product in products:
            fv = current.get((key_host, product))
            recs = records.get((key_host, product), [])
            rec = recs[0] if recs else None
            earlier = (key_host, product) in ever  # found by some scan given
            name = (
                fv.finding.product_name
                if fv
                else ever.get((key_host, product)) or (rec.product_name if rec else product)
            )
            scan = fv.finding.verdict.value if fv else "not found"
            if rec is None:
                if fv is not None:
                    status = _scan_status(fv.finding.verdict)
                    detail = (
                        f"No fleet record for this product; the newest scan ({_scan_ref(hv)}) finds it "
                        f"({fv.finding.verdict.value})."
                    )
                else:
                    status = "verified clean"
                    detail = (
                        f"No fleet record for this product; an earlier scan found it, the newest scan "
                        f"({_scan_ref(hv)}) does not."
                    )
                rows.append(
                    Assessment(
                        hv.name, product, name, status, SOURCE_SCANS, scan, hv.as_of, detail, earlier=earlier
                    )
                )
                continue
            status, detail, conflict = _with_record(ctx, hv, fv, rec, earlier)
            rows.append(
                Assessment(
                    hv.name,
                    product,
                    name,
                    status,
                    SOURCE_BOTH,
                    scan,
                    hv.as_of,
                    detail + _duplicates_note(recs),
                    conflict=conflict,
                    record=rec,
                    mitigation=_mitigation(rec, status),
                    earlier=earlier,
                )
            )
        rows.sort(key=lambda a: (a.product_name.lower(), a.product))
        out.extend(rows)

    alone = sorted(
        (
            (h, p)
            for (h, p), recs in records.items()
            if h not in covered_hosts and recs[0].verdict != "informational"
        ),
        key=lambda k: (records[k][0].hostname.lower(), k[1]),
    )
    for key in alone:
        recs = records[key]
        rec = recs[0]
        partial = next((h for h in ctx.hosts if h.name.lower() == key[0]), None)
        why = (
            f"the scan result for this host ({Path(partial.result_path).name}) does not record findings"
            if partial is not None
            else "not in the scan results given"
        )
        out.append(
            Assessment(
                host=partial.name if partial else rec.hostname,
                product=rec.product,
                product_name=rec.product_name,
                status=STATE_STATUS[rec.state],
                source=SOURCE_RECORD,
                scan="not in results",
                last_scanned="",
                detail=f"Status from the fleet record alone ({why}): it says {_recorded(rec)}."
                + _flag_note(rec)
                + _duplicates_note(recs),
                record=rec,
                mitigation=_mitigation(rec, STATE_STATUS[rec.state]),
            )
        )
    return out
