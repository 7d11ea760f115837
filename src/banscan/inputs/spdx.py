"""SPDX SBOMs: 2.x (2.2 and 2.3; JSON and tag-value) and 3.0 (3.0.0 and 3.0.1; JSON-LD).

Each package becomes one `sbom-component` record: name, version (`versionInfo`), publisher (the
supplier's name, else the originator's; `NOASSERTION` gives none), purl and CPE from the external
references (`purl`, `cpe23Type`, `cpe22Type`), and the SPDXID and primary package purpose as extras.
The host is the package the document describes (`documentDescribes`, or a DESCRIBES relationship
from the document), else the document's name, else the name given for the file.

Documents are parsed with spdx-tools. When the library rejects a document (SPDXParsingError: a
required field missing, a malformed actor or reference …) that is reported as one error line with
its first messages, and the packages are then still read leniently — from the JSON tree, or line by
line for tag-value — so a sloppy SBOM is matched all the same. Inputs larger than MAX_BYTES are
skipped.

SPDX 3.0 JSON-LD (`@context` …/rdf/3.0.x/spdx-context.jsonld, elements in `@graph`) gives the
same records from each `software_Package`: `software_packageVersion`, purl (`software_packageUrl`
or an externalIdentifier of type packageUrl), CPE (externalIdentifier cpe23, else cpe22) and the
publisher from the Organization/Person element `suppliedBy` (else `originatedBy`) names, inline or
by spdxId. The host is the package the SpdxDocument's (or its SBOM's) rootElement names. Each
record's place is its element index (`@graph[12]`); an element that is not an object or has no
type is one error line, and the rest of the graph is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar

from banscan.errors import ErrorSink
from banscan.inputs.base import InputReader, parse_json_object, read_capped
from banscan.models import InventoryRecord, RecordKind, Source

COLLECTOR = "spdx"
MAX_BYTES = 512 * 1024 * 1024
_MSG_MAX = 240
_DOCUMENT = "SPDXRef-DOCUMENT"

_ACTOR = re.compile(
    r"^\s*(?:Organization|Person|Tool)\s*:\s*(?P<name>.*?)\s*(?:\((?P<email>[^()]*)\))?\s*$", re.I
)
_ANGLE_EMAIL = re.compile(r"\s*<[^<>]*@[^<>]*>\s*$")
_SETTER_NOISE = re.compile(r"Method [\w.]+\(\) ")  # spdx-tools names its own setter in each message
_NO_VALUE = frozenset({"NOASSERTION", "NONE"})
_CPE_TYPES = ("cpe23Type", "cpe22Type")


@dataclass
class _Package:
    """What one package says, whether the library or the lenient reader read it."""

    place: str  # packages[3] (JSON) or the line of PackageName (tag-value)
    name: str | None
    spdx_id: str | None = None
    version: str | None = None
    supplier: str | None = None
    originator: str | None = None
    purl: str | None = None
    cpe: str | None = None
    purpose: str | None = None


@dataclass
class _Document:
    name: str | None
    packages: list[_Package]
    described: list[str]  # SPDXIDs the document describes, in document order


# --- shared -------------------------------------------------------------------------------------


def _clean(value: Any) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None


def actor_name(value: Any) -> str | None:
    """`Organization: AO Kaspersky Lab (info@kaspersky.com)` → `AO Kaspersky Lab`; NOASSERTION → None."""
    text = _clean(value)
    if text is None or text.upper() in _NO_VALUE:
        return None
    m = _ACTOR.match(text)
    name = m.group("name") if m else text
    # some tools write `Person: Name <email>`; the name is what identifies the supplier
    return _ANGLE_EMAIL.sub("", name).strip() or None


def _refs(pkg: _Package, refs: Iterable[tuple[str | None, str | None]]) -> None:
    """Fill purl and cpe from (referenceType, referenceLocator) pairs; the first of each wins."""
    cpes: dict[str, str] = {}
    for ref_type, locator in refs:
        if not ref_type or not locator:
            continue
        if ref_type.lower() == "purl" and pkg.purl is None:
            pkg.purl = locator
        elif ref_type in _CPE_TYPES:
            cpes.setdefault(ref_type, locator)
    pkg.cpe = next((cpes[t] for t in _CPE_TYPES if t in cpes), None)


def _first_messages(messages: Iterable[Any], count: int = 2) -> str:
    text = "; ".join(" ".join(str(m).split()) for m in list(messages)[:count])
    text = _SETTER_NOISE.sub("", text)
    return text if len(text) <= _MSG_MAX else text[: _MSG_MAX - 1] + "…"


def _read_capped(stream: BinaryIO, filename: str, errors: ErrorSink) -> str | None:
    data = read_capped(stream, filename, errors, MAX_BYTES)
    if data is None:
        return None
    try:
        text: str = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        errors.report(filename, None, f"not UTF-8 text (byte {exc.start})")
        return None
    return text


def _records(
    doc: _Document, filename: str, errors: ErrorSink, default_host: str
) -> Iterator[InventoryRecord]:
    by_id = {p.spdx_id: p for p in doc.packages if p.spdx_id}
    subject = next((by_id[i] for i in doc.described if i in by_id and by_id[i].name), None)
    host = (subject.name if subject else None) or doc.name or default_host
    for p in doc.packages:
        if not p.name:
            errors.report(filename, p.place, "package has no name; skipped")
            continue
        extra = [
            (k, v) for k, v in (("spdx_id", p.spdx_id), ("purpose", p.purpose), ("supplier", p.supplier)) if v
        ]
        yield InventoryRecord(
            host=host,
            source=Source(COLLECTOR, f"{filename}:{p.place}"),
            kind=RecordKind.SBOM_COMPONENT,
            name=p.name,
            version=p.version,
            publisher=p.supplier or p.originator,
            purl=p.purl,
            cpe=p.cpe,
            extra=tuple(extra),
        )


def _from_library(doc: Any, locate: dict[str, str]) -> _Document:
    """Our view of an spdx_tools Document; `locate` maps SPDXIDs to places in the input."""
    packages: list[_Package] = []
    for i, p in enumerate(doc.packages):
        pkg = _Package(
            place=locate.get(p.spdx_id, f"packages[{i}]"),
            name=_clean(p.name),
            spdx_id=p.spdx_id,
            version=_clean(p.version),
            supplier=actor_name(getattr(p.supplier, "name", None)),
            originator=actor_name(getattr(p.originator, "name", None)),
            purpose=p.primary_package_purpose.name.replace("_", "-") if p.primary_package_purpose else None,
        )
        _refs(pkg, ((r.reference_type, r.locator) for r in p.external_references))
        packages.append(pkg)
    described: list[str] = []
    for r in doc.relationships:
        kind = r.relationship_type.name
        if kind == "DESCRIBES" and r.spdx_element_id == _DOCUMENT:
            described.append(str(r.related_spdx_element_id))
        elif kind == "DESCRIBED_BY" and str(r.related_spdx_element_id) == _DOCUMENT:
            described.append(r.spdx_element_id)
    return _Document(name=_clean(doc.creation_info.name), packages=packages, described=described)


# --- JSON ---------------------------------------------------------------------------------------


def _lenient_json(raw: dict[str, Any], filename: str, errors: ErrorSink) -> _Document:
    packages: list[_Package] = []
    items = raw.get("packages")
    if items is not None and not isinstance(items, list):
        errors.report(filename, "packages", "is not a JSON array; no packages read")
        items = []
    for i, item in enumerate(items or []):
        if not isinstance(item, dict):
            errors.report(filename, f"packages[{i}]", "package is not a JSON object; skipped")
            continue
        pkg = _Package(
            place=f"packages[{i}]",
            name=_clean(item.get("name")),
            spdx_id=_clean(item.get("SPDXID")),
            version=_clean(item.get("versionInfo")),
            supplier=actor_name(item.get("supplier")),
            originator=actor_name(item.get("originator")),
            purpose=_clean(item.get("primaryPackagePurpose")),
        )
        refs = item.get("externalRefs")
        if isinstance(refs, list):
            _refs(
                pkg,
                (
                    (_clean(r.get("referenceType")), _clean(r.get("referenceLocator")))
                    for r in refs
                    if isinstance(r, dict)
                ),
            )
        packages.append(pkg)
    described = [d for d in map(_clean, _as_list(raw.get("documentDescribes"))) if d]
    for r in _as_list(raw.get("relationships")):
        if not isinstance(r, dict):
            continue
        kind = _clean(r.get("relationshipType"))
        a, b = _clean(r.get("spdxElementId")), _clean(r.get("relatedSpdxElement"))
        if kind == "DESCRIBES" and a == _DOCUMENT and b:
            described.append(b)
        elif kind == "DESCRIBED_BY" and b == _DOCUMENT and a:
            described.append(a)
    return _Document(name=_clean(raw.get("name")), packages=packages, described=described)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _parse_json_with_library(raw: dict[str, Any]) -> Any:
    """spdx-tools' JSON model parser; raises SPDXParsingError (or a plain error on odd shapes)."""
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser

    return JsonLikeDictParser().parse(raw)  # type: ignore[no-untyped-call]


def _library_failure(exc: Exception) -> str:
    messages = getattr(exc, "messages", None)
    if isinstance(messages, list) and messages:
        return _first_messages(messages)
    return _first_messages([f"{type(exc).__name__}: {exc}"])


class SpdxJsonReader:
    name: ClassVar[str] = "spdx-json"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head.decode("utf-8-sig", errors="ignore")
        if text.lstrip().startswith("{") and '"spdxVersion"' in text:
            return 95
        return 0

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        from spdx_tools.spdx.parser.error import SPDXParsingError

        text = _read_capped(stream, filename, errors)
        if text is None:
            return
        raw = parse_json_object(text, filename, errors, "an SPDX document")
        if raw is None:
            return
        try:
            parsed = _parse_json_with_library(raw)
        except (SPDXParsingError, AttributeError, TypeError, ValueError, KeyError) as exc:
            errors.report(
                filename, None, f"not valid SPDX: {_library_failure(exc)} (packages read leniently)"
            )
            doc = _lenient_json(raw, filename, errors)
        else:
            items = raw.get("packages")
            locate: dict[str, str] = {}
            for i, item in enumerate(items if isinstance(items, list) else []):
                sid = _clean(item.get("SPDXID")) if isinstance(item, dict) else None
                if sid:
                    locate.setdefault(sid, f"packages[{i}]")
            doc = _from_library(parsed, locate)
        yield from _records(doc, filename, errors, default_host)


# --- SPDX 3.0 JSON-LD ---------------------------------------------------------------------------

# spdx-tools (0.8) can write SPDX 3 but not parse it, so the JSON-LD graph is read here: each
# element of `@graph` is one JSON object, checked for the shape of the few properties used.
_SPDX3_CONTEXT = re.compile(r"spdx\.org/rdf/3\.\d+(?:\.\d+)?/spdx-context\.jsonld")
_SPDX3_TYPE_IRI = re.compile(r"^https?://spdx\.org/rdf/3[^/]*/terms/(\w+)/(\w+)$")
_AGENT_TYPES = frozenset({"Agent", "Organization", "Person", "SoftwareAgent"})
_PACKAGE_TYPES = frozenset({"software_Package"})
_BOM_TYPES = frozenset({"SpdxDocument", "software_Sbom", "Bom", "Bundle"})
_PURL_IDS = ("packageUrl",)
_CPE_IDS = ("cpe23", "cpe22")


def _spdx3_type(element: dict[str, Any]) -> str | None:
    """`software_Package`, also when written `@type`, prefixed `spdx:` or as the full class IRI."""
    value = element.get("type", element.get("@type"))
    if isinstance(value, list):  # JSON-LD allows several types; the first SPDX one is enough
        value = next((v for v in value if isinstance(v, str)), None)
    text = _clean(value)
    if text is None:
        return None
    m = _SPDX3_TYPE_IRI.match(text)
    if m:
        profile, cls = m.groups()
        return cls if profile == "Core" else f"{profile.lower()}_{cls}"
    return text.removeprefix("spdx:")


def _spdx3_id(element: dict[str, Any]) -> str | None:
    return _clean(element.get("spdxId", element.get("@id")))


def _spdx3_refs(value: Any) -> list[Any]:
    """A JSON-LD property that may hold one value or a list of them."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class _Spdx3Graph:
    """The elements of one SPDX 3 document, and the names of the agents they refer to."""

    def __init__(self, graph: list[Any], filename: str, errors: ErrorSink) -> None:
        self.filename = filename
        self.errors = errors
        self.elements: list[tuple[int, str, dict[str, Any]]] = []  # (index, type, element)
        self.by_id: dict[str, tuple[str, dict[str, Any]]] = {}
        for i, element in enumerate(graph):
            if not isinstance(element, dict):
                errors.report(filename, f"@graph[{i}]", "element is not a JSON object; skipped")
                continue
            kind = _spdx3_type(element)
            if kind is None:
                errors.report(filename, f"@graph[{i}]", "element has no type; skipped")
                continue
            self.elements.append((i, kind, element))
            sid = _spdx3_id(element)
            if sid:
                self.by_id.setdefault(sid, (kind, element))

    def agent(self, value: Any) -> str | None:
        """The name of the first agent a suppliedBy/originatedBy value names (an IRI or inline)."""
        for ref in _spdx3_refs(value):
            element = ref if isinstance(ref, dict) else None
            if isinstance(ref, str):
                found = self.by_id.get(ref.strip())
                element = found[1] if found and found[0] in _AGENT_TYPES else None
            name = actor_name(element.get("name")) if element is not None else None
            if name:
                return name
        return None

    def package(self, index: int, element: dict[str, Any]) -> _Package:
        place = f"@graph[{index}]"
        pkg = _Package(
            place=place,
            name=_clean(element.get("name")),
            spdx_id=_spdx3_id(element),
            version=_clean(element.get("software_packageVersion")),
            supplier=self.agent(element.get("suppliedBy")),
            originator=self.agent(element.get("originatedBy")),
            purl=_clean(element.get("software_packageUrl")),
            purpose=_clean(element.get("software_primaryPurpose")),
        )
        cpes: dict[str, str] = {}
        for j, ident in enumerate(_spdx3_refs(element.get("externalIdentifier"))):
            if not isinstance(ident, dict):
                self.errors.report(
                    self.filename, f"{place}.externalIdentifier[{j}]", "is not a JSON object; ignored"
                )
                continue
            kind, value = _clean(ident.get("externalIdentifierType")), _clean(ident.get("identifier"))
            if not kind or not value:
                continue
            if kind in _PURL_IDS and pkg.purl is None:
                pkg.purl = value
            elif kind in _CPE_IDS:
                cpes.setdefault(kind, value)
        pkg.cpe = next((cpes[t] for t in _CPE_IDS if t in cpes), None)
        return pkg

    def document(self) -> _Document:
        packages = [self.package(i, e) for i, kind, e in self.elements if kind in _PACKAGE_TYPES]
        described: list[str] = []
        name: str | None = None
        boms: list[dict[str, Any]] = []
        for _, kind, element in self.elements:
            if kind == "SpdxDocument":
                name = name or _clean(element.get("name"))
                boms.insert(0, element)
            elif kind in _BOM_TYPES:
                boms.append(element)
        # the document's root elements; an SBOM among them stands for its own root elements
        for bom in boms:
            for ref in _spdx3_refs(bom.get("rootElement")):
                described.extend(self._roots(ref, depth=0))
        bom_ids = {_spdx3_id(b) for b in boms} - {None}
        for _, kind, element in self.elements:
            if (
                kind == "Relationship"
                and _clean(element.get("relationshipType")) == "describes"
                and _clean(element.get("from")) in bom_ids
            ):
                described.extend(t for t in map(_clean, _spdx3_refs(element.get("to"))) if t)
        return _Document(name=name, packages=packages, described=described)

    def _roots(self, ref: Any, depth: int) -> list[str]:
        sid = _clean(ref)
        if sid is None:
            return []
        found = self.by_id.get(sid)
        if found is None or found[0] not in _BOM_TYPES or depth >= 4:
            return [sid]
        return [r for sub in _spdx3_refs(found[1].get("rootElement")) for r in self._roots(sub, depth + 1)]


def _spdx3_sniff(text: str) -> int:
    if not text.lstrip().startswith("{"):
        return 0
    if '"@context"' in text and _SPDX3_CONTEXT.search(text):
        return 95
    if '"@graph"' in text and "software_Package" in text and "spdx.org/rdf/3" in text:
        return 80
    return 0


class Spdx3JsonLdReader:
    """SPDX 3.0 (3.0.0, 3.0.1) JSON-LD: the `software_Package` elements of its `@graph`."""

    name: ClassVar[str] = "spdx3-jsonld"

    def sniff(self, head: bytes, filename: str) -> int:
        return _spdx3_sniff(head.decode("utf-8-sig", errors="ignore"))

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        text = _read_capped(stream, filename, errors)
        if text is None:
            return
        raw = parse_json_object(text, filename, errors, "an SPDX 3 document")
        if raw is None:
            return
        context = raw.get("@context")
        contexts = [c for c in _spdx3_refs(context) if isinstance(c, str)]
        if not any(_SPDX3_CONTEXT.search(c) for c in contexts):
            errors.report(
                filename, "@context", "does not name an SPDX 3 context (spdx-context.jsonld); read anyway"
            )
        graph = raw.get("@graph")
        if graph is None and ("type" in raw or "@type" in raw):
            graph = [{k: v for k, v in raw.items() if k != "@context"}]  # a document of one element
        if not isinstance(graph, list):
            errors.report(filename, "@graph", "is missing or not a JSON array; no elements read")
            return
        doc = _Spdx3Graph(graph, filename, errors).document()
        yield from _records(doc, filename, errors, default_host)


# --- tag-value ----------------------------------------------------------------------------------

# Tags that start an element other than a package: they end the package being read.
_OTHER_ELEMENTS = frozenset({"FileName", "SnippetSPDXID", "LicenseID"})


def _lenient_tagvalue(text: str) -> _Document:
    """Packages, DESCRIBES relationships and the document name, read line by line."""
    packages: list[_Package] = []
    described: list[str] = []
    name: str | None = None
    current: _Package | None = None
    refs: list[tuple[str | None, str | None]] = []
    in_text = False

    def close() -> None:
        if current is not None:
            _refs(current, refs)
            packages.append(current)

    for lineno, line in enumerate(text.splitlines(), 1):
        if in_text:
            if "</text>" in line:
                in_text = False
            continue
        if not line.strip() or line.lstrip().startswith("#") or ":" not in line:
            continue
        tag, _, value = line.partition(":")
        tag, value = tag.strip(), value.strip()
        if value.startswith("<text>"):
            in_text = "</text>" not in value
            value = value.removeprefix("<text>").split("</text>", 1)[0].strip()
        if tag == "PackageName":
            close()
            current, refs = _Package(place=str(lineno), name=value or None), []
        elif tag in _OTHER_ELEMENTS:
            close()
            current, refs = None, []
        elif tag == "DocumentName":
            name = value or None
        elif tag == "Relationship":
            parts = value.split()
            if len(parts) >= 3 and parts[1] == "DESCRIBES" and parts[0] == _DOCUMENT:
                described.append(parts[2])
            elif len(parts) >= 3 and parts[1] == "DESCRIBED_BY" and parts[2] == _DOCUMENT:
                described.append(parts[0])
        elif current is not None:
            if tag == "SPDXID" and current.spdx_id is None:
                current.spdx_id = value or None
            elif tag == "PackageVersion":
                current.version = value or None
            elif tag == "PackageSupplier":
                current.supplier = actor_name(value)
            elif tag == "PackageOriginator":
                current.originator = actor_name(value)
            elif tag == "PrimaryPackagePurpose":
                current.purpose = value or None
            elif tag == "ExternalRef":
                parts = value.split(None, 2)
                if len(parts) == 3:
                    refs.append((parts[1], parts[2].strip()))
    close()
    return _Document(name=name, packages=packages, described=described)


def _parse_tagvalue_with_library(text: str) -> Any:
    from ply import yacc  # type: ignore[import-untyped]
    from spdx_tools.spdx.parser.tagvalue.parser import Parser

    # no parse tables written into site-packages, no grammar chatter on stderr
    parser = Parser(write_tables=False, debug=False, errorlog=yacc.NullLogger())  # type: ignore[no-untyped-call]
    return parser.parse(text)  # type: ignore[no-untyped-call]


class SpdxTagValueReader:
    name: ClassVar[str] = "spdx-tag-value"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head.decode("utf-8-sig", errors="ignore")
        for line in text.splitlines()[:50]:
            if line.startswith("SPDXVersion:"):
                return 95
        return 0

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        from spdx_tools.spdx.parser.error import SPDXParsingError

        text = _read_capped(stream, filename, errors)
        if text is None:
            return
        lenient = _lenient_tagvalue(text)
        try:
            parsed = _parse_tagvalue_with_library(text)
        except (SPDXParsingError, AttributeError, TypeError, ValueError, KeyError) as exc:
            errors.report(
                filename, None, f"not valid SPDX: {_library_failure(exc)} (packages read leniently)"
            )
            doc = lenient
        else:
            locate = {p.spdx_id: p.place for p in lenient.packages if p.spdx_id}
            doc = _from_library(parsed, locate)
        yield from _records(doc, filename, errors, default_host)


READERS: list[InputReader] = [SpdxJsonReader(), SpdxTagValueReader(), Spdx3JsonLdReader()]
