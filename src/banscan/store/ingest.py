"""Parse and validate one scan result before it is stored, and record manual transitions.

A result is accepted as the exact bytes the agent sent (kept verbatim) and keyed by the
SHA-256 of its canonical JSON form; an agent's is also held to the server's `ReportLimits` (its
time, its size, its product ids); `banscan.store.apply` stores it and holds the rules of
the removal tracking (found → replacement-installed → removed → verified). People move a
transition with `set_transition`; only a clean re-scan sets `verified`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from banscan.catalog.schema import Catalog
from banscan.match.matcher import UNLISTED_SUFFIX, unlisted_entity
from banscan.models import VERDICT_NAMES
from banscan.removal import MANUAL_STATES
from banscan.store.models import Host, Report, Transition, TransitionEvent, utcnow

# Most severe first: a product reported twice in one result keeps its worst verdict.
_LIMITS = {"product": 200, "product_name": 500, "vendor": 200, "category": 100, "version": 200}
MAX_ERRORS = 10


class ReportRejected(ValueError):
    """A result that cannot be accepted: an HTTP status, a reason and where in the body."""

    def __init__(self, status: int, reason: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.errors = errors or []

    def to_json(self) -> dict[str, Any]:
        return {"detail": self.reason, "errors": self.errors}


def result_schema() -> dict[str, Any]:
    """The banscan/result/v1 JSON Schema (2020-12) shipped with the package (a fresh copy)."""
    text = (resources.files("banscan.output") / "schemas" / "result-v1.schema.json").read_text(
        encoding="utf-8"
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def result_validator() -> Draft202012Validator:
    schema = result_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


class _QuickCheck:
    """Validation of a result, memoised per top-level member.

    The result schema's root only constrains the type, the required members and each member
    by its own subschema, so a document is valid exactly when its root passes with member
    subschemas replaced by `true` and every member passes its subschema. A member whose exact
    canonical JSON already passed (an agent re-sends the same targets and findings, with a new
    `generated_at`) is not walked again. Only successes are remembered; a failure is reported
    by a full validation, so error messages are unchanged.
    """

    def __init__(self, validator: Draft202012Validator, size: int = 8192) -> None:
        schema = validator.schema
        assert isinstance(schema, dict)
        extra = set(schema) - {"$schema", "$id", "title", "description", "type", "required", "properties"}
        self.usable = not extra and isinstance(schema.get("properties"), dict)
        props: dict[str, Any] = schema.get("properties", {}) if self.usable else {}
        self.root = validator.evolve(schema={**schema, "properties": {k: True for k in props}})
        self.members = {k: validator.evolve(schema=v) for k, v in props.items()}
        self.size = size
        self.passed: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self.lock = threading.Lock()

    def __call__(self, data: dict[str, Any], texts: dict[str, str]) -> bool:
        """Whether `data` is valid; `texts` holds each member's canonical JSON."""
        if not self.usable or not self.root.is_valid(data):
            return False
        for name, value in data.items():
            member = self.members.get(name)
            if member is None:
                continue  # allowed by the root (no additionalProperties), like jsonschema
            memo = (name, hashlib.sha256(texts[name].encode("utf-8", "surrogatepass")).digest())
            with self.lock:
                if memo in self.passed:
                    self.passed.move_to_end(memo)
                    continue
            if not member.is_valid(value):
                return False
            with self.lock:
                self.passed[memo] = None
                if len(self.passed) > self.size:
                    self.passed.popitem(last=False)
        return True


@functools.cache
def _quick_check() -> _QuickCheck:
    return _QuickCheck(result_validator())


def json_path(parts: Any) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no insignificant whitespace; ValueError for NaN/infinity."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_key(data: Any) -> str:
    """SHA-256 of the canonical form, UTF-8 encoded."""
    return hashlib.sha256(_canonical(data).encode("utf-8")).hexdigest()


def _joined(texts: dict[str, str]) -> str:
    """The canonical form of an object from its members' canonical forms (as `_canonical` gives)."""
    return "{" + ",".join(f"{_canonical(k)}:{texts[k]}" for k in sorted(texts)) + "}"


def _check_strings(data: Any) -> None:
    """Strings a database can store: no NUL characters, no lone surrogates."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for k, v in value.items():
                stack.append((k, (*path, "<key>")))
                stack.append((v, (*path, k)))
        elif isinstance(value, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(value))
        elif isinstance(value, str):
            problem = None
            if "\x00" in value:
                problem = "contains a NUL character"
            else:
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    problem = "contains an unpaired surrogate"
            if problem:
                where = json_path(path)
                raise ReportRejected(422, f"{where}: string {problem}", [{"path": where, "message": problem}])


@dataclass(frozen=True)
class ReportLimits:
    """What a server accepts from an agent beyond the result schema (from `ServerSettings`).

    `max_findings`: more findings in one result are refused (413). `max_evidence`: per finding,
    the first ones are stored (a result lists the strongest first) and one more item, of kind
    `truncated`, says how many were left out; the report keeps the whole body as sent.
    `max_clock_skew`: a `generated_at` further ahead of the server's clock is refused (422), since
    the host's state follows its newest result and a result from the future would freeze it;
    results from the past are kept (an old inventory, an agent catching up). `known_product`: a
    finding whose product id it answers False for is refused (422; `KnownProducts`). None: no
    such limit. The number of findings and their product ids are checked, and evidence cut,
    before the schema validation, which costs in proportion to what it walks."""

    max_findings: int | None = None
    max_evidence: int | None = None
    max_clock_skew: dt.timedelta | None = None
    known_product: Callable[[str], bool] | None = None


# Bodies up to this size are parsed where they arrive (an agent's usual result is ~10 KiB);
# the server validates larger ones on a worker thread.
PARSE_INLINE_BYTES = 64 * 1024
# An unlisted product's name part, as `banscan.match.matcher.unlisted_id` writes it.
_UNLISTED_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
TRUNCATED_KIND = "truncated"


class KnownProducts:
    """The product ids a catalog accounts for: its products, and the unlisted products of the
    entities it covers (`<entity>-unlisted-<name>` and the bare `<entity>-unlisted`)."""

    def __init__(self, catalog: Catalog) -> None:
        self.products = frozenset(p.id for p in catalog.products)
        self.entities = frozenset(e.id for e in catalog.entities if e.covered)
        self.version = catalog.meta.version

    def __call__(self, product: str) -> bool:
        if product in self.products:
            return True
        entity = unlisted_entity(product)
        if entity is None or entity not in self.entities:
            return False
        slug = product[len(entity) + len(UNLISTED_SUFFIX) :]
        return not slug or (slug[0] == "-" and _UNLISTED_SLUG.fullmatch(slug[1:]) is not None)


def report_cost(data: dict[str, Any]) -> int:
    """How much storing a parsed result costs, in rows and evidence items: 1 + its findings +
    their evidence (the writer's unit of fairness, `GroupCommitWriter.submit_item`)."""
    findings = data.get("findings") or []
    return 1 + len(findings) + sum(len(f.get("evidence") or ()) for f in findings)


def _refuse_early(data: dict[str, Any], limits: ReportLimits) -> None:
    """The limits checked before any work on a result's findings: their number (413) and their
    product ids (422); what the schema says of them comes after."""
    findings = data.get("findings")
    if not isinstance(findings, list):
        return
    if limits.max_findings is not None and len(findings) > limits.max_findings:
        msg = f"{len(findings)} findings in one result; this server accepts at most {limits.max_findings}"
        raise ReportRejected(413, f"$.findings: {msg}", [{"path": "$.findings", "message": msg}])
    if limits.known_product is None:
        return
    for i, f in enumerate(findings):
        product = f.get("product") if isinstance(f, dict) else None
        if isinstance(product, str) and product and not limits.known_product(product):
            where = json_path(["findings", i, "product"])
            version = getattr(limits.known_product, "version", "")
            msg = (
                f"unknown product id {product[:200]!r}: neither a product of the server's catalog"
                f"{f' {version}' if version else ''} nor an unlisted product of an entity it covers"
                " (is the server's catalog older than the agent's?)"
            )
            raise ReportRejected(422, f"{where}: {msg}", [{"path": where, "message": msg}])


def _cut(data: dict[str, Any], limits: ReportLimits) -> bool:
    """Evidence beyond the limit left out before the result is validated (what is left out costs
    no validation), with a marker saying how much; whether anything was."""
    findings = data.get("findings")
    keep = limits.max_evidence
    if not isinstance(findings, list) or keep is None:
        return False  # (not a list: the schema says what is wrong)
    cut = False
    for f in findings:
        evidence = f.get("evidence") if isinstance(f, dict) else None
        if isinstance(evidence, list) and len(evidence) > keep:
            marker = {
                "source": "banscan-server",
                "kind": TRUNCATED_KIND,
                "value": f"{len(evidence) - keep} more evidence items left out (this server keeps "
                f"{keep} per finding); the stored report holds them all",
                "location": "",
                "confidence": "weak",
            }
            f["evidence"] = [*evidence[:keep], marker]
            cut = True
    return cut


def check_limits(data: dict[str, Any], limits: ReportLimits, now: dt.datetime) -> None:
    """The limit a valid result is held to: its time (ReportRejected)."""
    if limits.max_clock_skew is not None:
        when = generated_at(data)
        if when is not None and when > now + limits.max_clock_skew:
            msg = (
                f"{when.isoformat()} is {_duration(when - now)} ahead of the server's clock "
                f"({now.replace(microsecond=0).isoformat()}); at most {_duration(limits.max_clock_skew)} "
                "is accepted: correct the clock of the host that generated it"
            )
            raise ReportRejected(422, f"$.generated_at: {msg}", [{"path": "$.generated_at", "message": msg}])


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600} hours"
    if seconds >= 120:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"


def parse_result(
    raw: bytes, limits: ReportLimits | None = None, *, now: dt.datetime | None = None
) -> tuple[str, dict[str, Any], str]:
    """Decode, parse and validate a result body; return (text, data, idempotency key).

    With `limits` (an agent's report), they are applied (`ReportLimits`) as of `now` (default:
    the clock); the key is that of the body as sent, whatever evidence the limits left out."""
    if not raw.strip():
        raise ReportRejected(400, "empty body: expected a banscan/result/v1 JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportRejected(400, f"body is not UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ReportRejected(
            400, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ReportRejected(400, f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ReportRejected(422, f"$: expected a JSON object, got {type(data).__name__}")
    if limits is not None:
        _refuse_early(data, limits)
    # Each member is serialised once: for the memoised validation and for the idempotency key.
    try:
        texts: dict[str, str] | None = {k: _canonical(v) for k, v in data.items()}
    except ValueError:  # 1e999 parses as infinity, which JSON (and PostgreSQL) cannot hold
        texts = None
    # What the limits leave out is not validated (the stored body keeps it as sent).
    cut = limits is not None and _cut(data, limits)
    valid = texts is not None and not cut and _quick_check()(data, texts)
    errors = [] if valid else list(result_validator().iter_errors(data))
    if errors:
        errors.sort(key=lambda e: list(e.absolute_path))
        best = best_match(errors) or errors[0]
        listed = [_error_json(e) for e in errors[:MAX_ERRORS]]
        raise ReportRejected(422, f"{json_path(best.absolute_path)}: {best.message}", listed)
    if texts is None:
        _check_strings(data)
        raise ReportRejected(422, "a number in the body is out of range")
    canon = _joined(texts)
    try:
        encoded = canon.encode("utf-8")
    except UnicodeEncodeError:
        encoded = b""
    if not encoded or "\\u0000" in canon:  # a lone surrogate or a NUL: find and name it
        _check_strings(data)
        if not encoded:
            raise ReportRejected(422, "a string in the body is not valid Unicode")
    for i, f in enumerate(data["findings"]):
        for key, limit in _LIMITS.items():
            value = f.get(key)
            if isinstance(value, str) and (len(value) > limit or (key == "product" and not value)):
                where = json_path(["findings", i, key])
                msg = (
                    f"must be 1 to {limit} characters"
                    if key == "product"
                    else f"longer than {limit} characters"
                )
                raise ReportRejected(422, f"{where}: {msg}", [{"path": where, "message": msg}])
    generated_at(data)  # a present but unreadable generated_at is rejected here
    key = hashlib.sha256(encoded).hexdigest()
    if limits is not None:
        check_limits(data, limits, now or utcnow())
    return text, data, key


def _error_json(e: ValidationError) -> dict[str, str]:
    return {"path": json_path(e.absolute_path), "message": e.message}


def generated_at(data: dict[str, Any]) -> dt.datetime | None:
    value = data.get("generated_at")
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ReportRejected(
            422,
            "$.generated_at: not an ISO 8601 date-time",
            [{"path": "$.generated_at", "message": "not an ISO 8601 date-time"}],
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    try:
        return when.astimezone(dt.UTC)
    except OverflowError:
        raise ReportRejected(
            422, "$.generated_at: out of range", [{"path": "$.generated_at", "message": "out of range"}]
        ) from None


def platform_of(data: dict[str, Any]) -> str:
    """`linux` from a target format such as `live:linux` or `root:linux`, else ''."""
    for t in data.get("targets", []):
        fmt = str(t.get("format", ""))
        if ":" in fmt:
            return fmt.split(":", 1)[1]
    return ""


def read_anything(data: dict[str, Any]) -> bool:
    """Whether the scan read this host at all; an unreadable scan verifies nothing."""
    targets = data.get("targets", [])
    return not targets or any(int(t.get("records", 0)) > 0 for t in targets)


def _earliest_day(*values: Any) -> str | None:
    """The earliest of some ISO dates, as given (unreadable ones ignored)."""
    days: list[tuple[dt.date, str]] = []
    for v in values:
        if isinstance(v, str):
            try:
                days.append((dt.date.fromisoformat(v[:10]), v))
            except ValueError:
                continue
    return min(days)[1] if days else None


def merge_findings(findings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for f in findings:
        prev = merged.get(f["product"])
        if prev is None:
            merged[f["product"]] = dict(f, evidence=list(f["evidence"]), obligations=list(f["obligations"]))
            continue
        if VERDICT_NAMES.index(f["verdict"]) < VERDICT_NAMES.index(prev["verdict"]):
            prev["verdict"], prev["confidence"] = f["verdict"], f["confidence"]
        earliest = _earliest_day(prev.get("first_identified"), f.get("first_identified"))
        if earliest is not None:
            prev["first_identified"] = earliest
        prev["evidence"].extend(f["evidence"])
        prev["obligations"].extend(o for o in f["obligations"] if o not in prev["obligations"])
    return merged


def set_transition(
    session: Session, host_id: int, product: str, state: str, note: str, actor: str
) -> Transition | None:
    """Record a person's move of a transition; `verified` is left to clean re-scans."""
    if state not in MANUAL_STATES:
        raise ValueError(
            f"state must be one of {', '.join(MANUAL_STATES)}; 'verified' is set by a clean re-scan"
        )
    t = session.scalar(
        select(Transition)
        .where(Transition.host_id == host_id, Transition.product == product)
        .with_for_update()
    )
    if t is None:
        return None
    now = utcnow()
    session.add(
        TransitionEvent(
            transition_id=t.id, actor=actor, from_state=t.state, to_state=state, note=note, at=now
        )
    )
    t.state, t.flag, t.updated_at, t.updated_by = state, None, now, actor
    session.flush()
    return t


def request_scan(session: Session, host_id: int, actor: str) -> Host | None:
    """Ask the host's agent for a scan now; its next check-in says so, and the first result it
    generates after this moment clears the request (`banscan.store.apply`)."""
    host = session.get(Host, host_id, with_for_update=True)
    if host is None:
        return None
    host.scan_requested_at = utcnow()
    host.scan_requested_by = actor[:255]
    session.flush()
    return host


def reset_clock(
    session: Session, host_id: int, now: dt.datetime | None = None
) -> tuple[Host, dt.datetime | None] | None:
    """Forget a host's last-result time if it lies ahead of `now` (a result generated in the
    future — a host whose clock was wrong, accepted before limits refused it — after which every
    later result would be kept without moving the host's state): it becomes the newest
    `generated_at` of the host's reports not after `now`, or none. The reports are kept; the
    next result is applied. Returns the host and its previous time; None for an unknown host."""
    host = session.get(Host, host_id, with_for_update=True)
    if host is None:
        return None
    now = now or utcnow()
    previous = host.last_generated_at
    if previous is not None and previous > now:
        host.last_generated_at = session.scalar(
            select(func.max(Report.generated_at)).where(Report.host_id == host_id, Report.generated_at <= now)
        )
        session.flush()
    return host, previous
