"""Recorded removal states from the fleet server, set against what the scans show.

The fleet server tracks each host × product through found → replacement-installed → removed →
verified, with who moved it and when; its dashboard exports that board as `/transitions.csv`
and `/transitions.json` (each item's latest state), and every recorded step of each item as
`/transitions/history.csv` and `/transitions/history.json`. `load_transitions` reads any of
them (told apart by content, not by the file name) and refuses anything else with the file and
line at fault; `load_transition_files` merges a latest-state export with a history export.
From a history, each item's state is its latest step's, and the report cites every step in
order. `assess` sets each record against the scan results of the report:

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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from banscan.documents import FindingView, HostView, ReportContext, ReportInputError
from banscan.inputs import jsondepth
from banscan.models import Verdict
from banscan.output.csv import unguard_cell
from banscan.policy.calendar import parse_date
from banscan.removal import (
    EXPORT_COLUMNS,
    FLAG_GONE,
    FLAG_NEW_AGENT,
    FLAG_SEEN_AFTER_REMOVAL,
    HISTORY_COLUMNS,
    STATES,
    SYSTEM,
)

# What the assessment needs; the other columns are read when present.
REQUIRED_COLUMNS = ("hostname", "product", "state", "updated_at", "updated_by")
HISTORY_REQUIRED = ("hostname", "product", "at", "actor", "to_state")
LATEST, HISTORY = "latest", "history"
_SHAPES = {
    LATEST: (REQUIRED_COLUMNS, "transitions export", EXPORT_COLUMNS, "/transitions.json"),
    HISTORY: (HISTORY_REQUIRED, "transitions history export", HISTORY_COLUMNS, "/transitions/history.json"),
}
FLAG_TEXT = {
    FLAG_GONE: "a scan no longer found it, but no removal was recorded",
    FLAG_SEEN_AFTER_REMOVAL: "a scan found it again after it was recorded removed or verified",
    FLAG_NEW_AGENT: "a clean scan came from an agent enrolled after the removal was recorded, "
    "which does not verify it",
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


@dataclass
class TransitionStep:
    """One recorded move of an item, from the history export."""

    line: int
    host_id: str
    hostname: str
    product: str
    at: dt.datetime
    actor: str
    from_state: str
    to_state: str
    flag: str
    note: str
    report_id: str

    @property
    def text(self) -> str:
        """The step as cited: "removed by alice on 2025-03-04"."""
        day = f"on {self.at.astimezone(dt.UTC):%Y-%m-%d}"
        if self.actor == SYSTEM:
            ref = f" (report {self.report_id})" if self.report_id else ""
            scan = f"a scan{ref}"
            if self.to_state == "verified":
                return f"verified by a clean re-scan{ref} {day}"
            if not self.from_state:
                return f"found by {scan} {day}"
            if self.flag == FLAG_SEEN_AFTER_REMOVAL:
                return f"found again by {scan} after being recorded {self.from_state} {day}"
            if self.flag == FLAG_GONE:
                return f"not seen by {scan}, with no removal recorded, {day}"
            if self.from_state == self.to_state:
                return f"seen again by {scan} {day}"
            return f"{_STEP_WORDS[self.to_state]} by {scan} {day}"
        note = " ".join(self.note.split())
        note = f' ("{note[:200]}{"…" if len(note) > 200 else ""}")' if note else ""
        return f"{_STEP_WORDS[self.to_state]} by {self.actor} {day}{note}"


_STEP_WORDS = {
    "found": "set back to found",
    "replacement-installed": "replacement installed",
    "removed": "removed",
    "verified": "verified",
}


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
    steps: list[TransitionStep] = field(default_factory=list)  # from a history export, in order

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
    path: str  # the file, or the files joined with ", " when several were merged
    format: str  # csv | json (several: joined with ", ")
    records: list[TransitionRecord] = field(default_factory=list)
    kind: str = LATEST  # latest | history | both (merged)
    steps: int = 0  # recorded steps read from a history export

    @property
    def description(self) -> str:
        """What the file(s) are, for the report: "CSV export", "JSON history export", …"""
        fmts = self.format.upper().split(", ")
        if self.kind == "both" and len(fmts) == 2:
            return f"{fmts[0]} export and {fmts[1]} history export"
        return f"{self.format.upper()} {'history export' if self.kind == HISTORY else 'export'}"


def _fail(where: str, message: str) -> ReportInputError:
    return ReportInputError(f"{where}: {message}")


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
    text = unguard_cell(text.strip())
    if required and not text:
        raise _fail(where, f"{column} is empty")
    return text


def _stamp(value: Any, where: str, column: str) -> dt.datetime:
    stamp = _text(value, where, column, required=True)
    try:
        t = dt.datetime.fromisoformat(stamp)
    except ValueError:
        raise _fail(where, f"{column}: not an ISO 8601 date-time: {stamp!r} (truncated file?)") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _state(value: Any, where: str, column: str, *, required: bool = True) -> str:
    state = _text(value, where, column, required=required)
    if state and state not in STATES:
        raise _fail(where, f"unknown {column} {state!r} (the fleet server records {', '.join(STATES)})")
    return state


def _step(raw: dict[str, Any], line: int, where: str) -> TransitionStep:
    report = _text(raw.get("report_id"), where, "report_id")
    if report and not report.isdigit():
        raise _fail(where, f"report_id: expected a report number, not {report!r}")
    return TransitionStep(
        line=line,
        host_id=_text(raw.get("host_id"), where, "host_id"),
        hostname=_text(raw.get("hostname"), where, "hostname", required=True),
        product=_text(raw.get("product"), where, "product", required=True),
        at=_stamp(raw.get("at"), where, "at"),
        actor=_text(raw.get("actor"), where, "actor", required=True),
        from_state=_state(raw.get("from_state"), where, "from_state", required=False),
        to_state=_state(raw.get("to_state"), where, "to_state"),
        flag=_text(raw.get("flag"), where, "flag"),
        note=_text(raw.get("note"), where, "note"),
        report_id=report,
    )


def _record(raw: dict[str, Any], line: int, where: str) -> TransitionRecord:
    state = _state(raw.get("state"), where, "state")
    updated = _stamp(raw.get("updated_at"), where, "updated_at")
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


def _kind_of(columns: Any) -> str:
    """History or latest state, from the columns (a header, or a JSON item's keys)."""
    return HISTORY if "to_state" in columns or "actor" in columns else LATEST


def _from_csv(text: str, path: str) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise _fail(f"{path}:1", f"not a transitions export: {exc or 'no header'}") from None
    columns = [h.strip().lstrip("\ufeff") for h in header]
    kind = _kind_of(columns)
    required, what, expected, _ = _SHAPES[kind]
    missing = [c for c in required if c not in columns]
    if missing:
        raise _fail(
            f"{path}:1",
            f"missing column(s) {', '.join(missing)}; expected the fleet dashboard's {what} "
            f"({','.join(expected)})",
        )
    out: list[tuple[int, dict[str, str]]] = []
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
        out.append((line, dict(zip(columns, row, strict=True))))
    return kind, out


def _from_json(text: str, path: str) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    try:
        data = jsondepth.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(
            f"{path}:{exc.lineno}:{exc.colno}", f"invalid JSON: {exc.msg} (truncated file?)"
        ) from None
    except jsondepth.TooDeep as exc:
        raise _fail(path, str(exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        what = "a scan result" if isinstance(data, dict) and "schema" in data else "no `items` list"
        raise _fail(
            f"{path}:1",
            f"not a transitions export ({what}); expected the fleet dashboard's /transitions.json "
            "or /transitions/history.json",
        )
    items: list[Any] = data["items"]
    count = data.get("count")
    if count is not None and count != len(items):
        raise _fail(f"{path}:1", f"`count` is {count!r} but {len(items)} item(s) follow (truncated file?)")
    kind = _kind_of(items[0]) if items and isinstance(items[0], dict) else LATEST
    required, what, _, _ = _SHAPES[kind]
    out: list[tuple[int, dict[str, Any]]] = []
    for n, item in enumerate(items, start=1):
        where = f"{path}: item {n}"
        if not isinstance(item, dict):
            raise _fail(where, f"expected an object, not {type(item).__name__}")
        missing = [c for c in required if c not in item]
        if missing:
            raise _fail(where, f"missing {', '.join(missing)} (the {what} has {', '.join(required)})")
        out.append((n, item))
    return kind, out


def _where(path: str, fmt: str, line: int) -> str:
    return f"{path}:{line}" if fmt == "csv" else f"{path}: item {line}"


def _item_key(host_id: str, hostname: str, product: str) -> tuple[str, str]:
    return (f"#{host_id}" if host_id else hostname.lower(), product)


def _from_history(steps: list[TransitionStep]) -> list[TransitionRecord]:
    """One record per item, standing where its latest step left it."""
    items: dict[tuple[str, str], list[TransitionStep]] = {}
    for st in steps:
        items.setdefault(_item_key(st.host_id, st.hostname, st.product), []).append(st)
    out: list[TransitionRecord] = []
    for item in items.values():
        item.sort(key=lambda x: x.at)  # stable: steps at the same moment keep the file's order
        last = item[-1]
        out.append(
            TransitionRecord(
                line=item[0].line,
                host_id=last.host_id,
                hostname=last.hostname,
                product=last.product,
                product_name=last.product,
                verdict="",  # not in a history; the scans given, where they cover the host, say
                present=None,
                first_seen="",
                state=last.to_state,
                flag=last.flag,
                overdue=None,
                updated_at=last.at,
                updated_by=last.actor,
                steps=item,
            )
        )
    return out


def load_transitions(path: Path) -> TransitionExport:
    """Read a transitions export, latest-state or history (CSV or JSON, by content); problems
    name the file and line."""
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
    rows: list[tuple[int, dict[str, Any]]]
    if text.lstrip().startswith(("{", "[")):
        fmt = "json"
        kind, rows = _from_json(text, name)
    else:
        fmt = "csv"
        kind, csv_rows = _from_csv(text, name)
        rows = [(line, dict(row)) for line, row in csv_rows]
    if kind == HISTORY:
        steps = [_step(row, line, _where(name, fmt, line)) for line, row in rows]
        return TransitionExport(name, fmt, _from_history(steps), kind=HISTORY, steps=len(steps))
    records = [_record(row, line, _where(name, fmt, line)) for line, row in rows]
    seen: dict[tuple[str, str], int] = {}
    for r in records:
        if not r.host_id:
            continue
        key = (r.host_id, r.product)
        if key in seen:
            raise _fail(
                _where(name, fmt, r.line),
                f"second record for host id {r.host_id}, product {r.product!r} "
                f"(first at {'line' if fmt == 'csv' else 'item'} {seen[key]})",
            )
        seen[key] = r.line
    return TransitionExport(path=name, format=fmt, records=records)


def merge_exports(latest: TransitionExport, history: TransitionExport) -> TransitionExport:
    """A latest-state export with a history export: each item keeps its latest-state row (product
    name, verdict, first sighting) and gains its steps; where the history has a later step than
    the row, the item stands where that step left it. Items in only one file are kept as read."""
    steps = {_item_key(h.host_id, h.hostname, h.product): h for h in history.records}
    by_name = {(h.hostname.lower(), h.product): h for h in history.records}
    out: list[TransitionRecord] = []
    used: set[int] = set()
    for r in latest.records:
        h = steps.get(_item_key(r.host_id, r.hostname, r.product)) or (
            by_name.get((r.hostname.lower(), r.product)) if not r.host_id else None
        )
        if h is None:
            out.append(r)
            continue
        used.add(id(h))
        later = h.updated_at > r.updated_at
        out.append(
            replace(
                r,
                steps=h.steps,
                state=h.state if later else r.state,
                flag=h.flag if later else r.flag,
                updated_at=h.updated_at if later else r.updated_at,
                updated_by=h.updated_by if later else r.updated_by,
            )
        )
    out.extend(h for h in history.records if id(h) not in used)
    return TransitionExport(
        path=f"{latest.path}, {history.path}",
        format=f"{latest.format}, {history.format}",
        records=out,
        kind="both",
        steps=history.steps,
    )


def load_transition_files(paths: list[Path]) -> TransitionExport:
    """One export, or a latest-state export and a history export (in either order), merged."""
    exports = [load_transitions(p) for p in paths]
    if len(exports) == 1:
        return exports[0]
    latest = [e for e in exports if e.kind == LATEST]
    history = [e for e in exports if e.kind == HISTORY]
    if len(exports) > 2 or len(latest) != 1 or len(history) != 1:
        kinds = ", ".join(f"{e.path} ({'history' if e.kind == HISTORY else 'latest state'})" for e in exports)
        raise ReportInputError(
            f"--transitions takes one export, or one latest-state export and one history export: {kinds}"
        )
    return merge_exports(latest[0], history[0])


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


def _steps_note(rec: TransitionRecord) -> str:
    if not rec.steps:
        return ""
    return f" Recorded steps, in order: {'; '.join(s.text for s in rec.steps)}."


def _mitigation(rec: TransitionRecord, status: str) -> str:
    if rec.steps:
        acted = any(s.actor != SYSTEM or s.to_state == "verified" for s in rec.steps)
        if status == CONFLICT or not acted:
            return ""
        tail = " Awaiting verification by a re-scan." if rec.state == "removed" else ""
        return f"Undertaken, as the fleet server recorded it: {'; '.join(s.text for s in rec.steps)}.{tail}"
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


def _name(ctx: ReportContext, rec: TransitionRecord) -> str:
    """The product's name: the export's, else (a history gives only the id) the catalog's."""
    if rec.product_name != rec.product:
        return rec.product_name
    try:
        return ctx.catalog.product(rec.product).name
    except KeyError:
        return rec.product


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
    informational: set[tuple[str, str]] = set()
    for res in ctx.merged.results:
        for f in res.result.findings:
            if f.verdict is not Verdict.INFORMATIONAL:
                ever.setdefault((f.host.lower(), f.product), f.product_name)
            else:
                informational.add((f.host.lower(), f.product))
    for key, recs in list(records.items()):
        # a history does not give the verdict: the scans given tell an informational one
        if recs[0].verdict == "" and key in informational and key not in ever:
            del records[key]

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
                else ever.get((key_host, product)) or (_name(ctx, rec) if rec else product)
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
                    detail + _steps_note(rec) + _duplicates_note(recs),
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
                product_name=_name(ctx, rec),
                status=STATE_STATUS[rec.state],
                source=SOURCE_RECORD,
                scan="not in results",
                last_scanned="",
                detail=f"Status from the fleet record alone ({why}): it says {_recorded(rec)}."
                + _flag_note(rec)
                + _steps_note(rec)
                + _duplicates_note(recs),
                record=rec,
                mitigation=_mitigation(rec, STATE_STATUS[rec.state]),
            )
        )
    return out
