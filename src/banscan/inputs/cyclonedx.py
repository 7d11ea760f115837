"""CycloneDX SBOMs (JSON and XML; specVersion 1.4, 1.5 and 1.6, and whatever else the library knows).

Each component, nested components included, becomes one `sbom-component` record; the host is the
SBOM's subject (`metadata.component.name`, whatever its type: device, application, container,
operating system, firmware), else the name given for the file. A subject that is not a device
(an SBOM of a product or container image) is also a record itself, as are its nested components.

The document is first checked against the official schema of its declared specVersion with
cyclonedx-python-lib's validators (JsonStrictValidator, XmlValidator). A failure is reported as
one error line naming the file and the first validation error, and the components are then still
read: a schema-invalid SBOM is matched all the same, because a Kaspersky component in a sloppy SBOM
is still a Kaspersky component. Components are therefore taken from the parsed JSON or XML tree
directly (the library's model deserialiser rejects too much to be used for this), tolerating
unknown keys and wrong types, and following `components[].components[]` down to MAX_DEPTH levels.

XML is parsed with defusedxml: entity declarations (external entities, entity-expansion bombs) and
external references are refused with one error line, and nothing is ever fetched from the network.
Inputs larger than MAX_BYTES are skipped. Validation is bounded so a large SBOM is still read in
about a second: JSON validation covers the first VALIDATE_ITEMS entries of each top-level list
(checked VALIDATE_CHUNK at a time, since the schema's `uniqueItems` is quadratic) and checks only
the cheap string formats (CHECKED_FORMATS), only UTF-8 XML is validated, and nothing above
VALIDATE_MAX_BYTES is; the components are always all read.
Without the library's validation extras (jsonschema, lxml) documents are read unvalidated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, BinaryIO, ClassVar
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException, EntitiesForbidden, ExternalReferenceForbidden

from banscan.errors import ErrorSink
from banscan.inputs.base import InputReader, parse_json_object, read_capped
from banscan.models import InventoryRecord, RecordKind, Source

COLLECTOR = "cyclonedx"
MAX_BYTES = 512 * 1024 * 1024
VALIDATE_MAX_BYTES = 64 * 1024 * 1024
VALIDATE_CHUNK = 250  # entries of a top-level list validated together
VALIDATE_ITEMS = 1000  # entries of a top-level list validated at most
MAX_DEPTH = 32
DEFAULT_SCHEMA = "1.6"  # validated against when a document declares no version
# String formats still checked in JSON. `iri-reference` (every URL in licenses, externalReferences …)
# is left out: jsonschema checks it with an Earley parser at ~80 ms a URL, so a BOM of a few thousand
# components took minutes, and a malformed URL says nothing about which software is installed.
CHECKED_FORMATS = ("date-time", "idn-email")
_MSG_MAX = 200

_XML_NS_URI = re.compile(r"^\{http://cyclonedx\.org/schema/bom/(\d+\.\d+)\}")
# Component types whose subject is software rather than the machine it runs on: the subject of
# such an SBOM is itself a record (an SBOM of a Kaspersky container is a Kaspersky finding).
_DEVICE_TYPES = frozenset({"device"})


@dataclass
class _Component:
    """What one component says, whichever serialisation it came from."""

    bom_path: str  # components[3].components[0]
    location: str  # the same for JSON; the element path for XML
    name: str | None = None
    version: str | None = None
    type: str | None = None
    group: str | None = None
    bom_ref: str | None = None
    publisher: str | None = None
    supplier: str | None = None
    manufacturer: str | None = None
    author: str | None = None
    purl: str | None = None
    cpe: str | None = None
    children: list[Any] = field(default_factory=list)


# --- reading and validation ---------------------------------------------------------------------


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MSG_MAX else text[: _MSG_MAX - 1] + "…"


@lru_cache(maxsize=16)
def _validator(fmt: str, version: str) -> Any:
    """The library's validator for this format and version, or None if it has no such schema."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    from cyclonedx.validation.xml import XmlValidator

    try:
        schema = SchemaVersion.from_version(version)
    except ValueError:
        return None
    try:
        return JsonStrictValidator(schema) if fmt == "json" else XmlValidator(schema)
    except ValueError:  # a version the library has no schema for in this format
        return None


def _unchecked(version: str) -> str:
    return f"specVersion {version!r} is not one this reader can validate; components read without validation"


@lru_cache(maxsize=16)
def _json_schema_validator(version: str) -> Any:
    """The library's strict JSON validator narrowed to CHECKED_FORMATS (see there for why).

    The same jsonschema validator (the library's schema files and registry), evolved with a
    narrower format checker; the library validator itself if it cannot be narrowed, None for a
    version the library has no schema for.
    """
    from jsonschema import FormatChecker

    lib = _validator("json", version)
    if lib is None:
        return None
    inner = getattr(lib, "_validator", None)
    if inner is None or not hasattr(inner, "evolve"):
        return lib
    return inner.evolve(format_checker=FormatChecker(formats=CHECKED_FORMATS))


def _first_json_error(version: str, part: dict[str, Any]) -> Any:
    """The first jsonschema ValidationError of `part`, None if valid, or a str if not checkable."""
    from cyclonedx.exception import MissingOptionalDependencyException

    try:
        validator = _json_schema_validator(version)
        if validator is None:
            return _unchecked(version)
        if hasattr(validator, "iter_errors"):
            return next(iter(validator.iter_errors(part)), None)
        found = validator.validate_str(json.dumps(part), all_errors=True)
    except MissingOptionalDependencyException:
        return None  # validation extras not installed: read without validation, as documented
    except (RecursionError, ValueError, TypeError) as exc:  # odd values the validator trips on
        return _not_validated(version, exc)
    first = next(iter(found), None) if found is not None else None
    return getattr(first, "data", None)


def _first_error(fmt: str, version: str, text: str) -> Any:
    """The first schema validation error (library object), None if valid, or a str if not checkable."""
    from cyclonedx.exception import MissingOptionalDependencyException

    validator = _validator(fmt, version)
    if validator is None:
        return _unchecked(version)
    try:
        found = validator.validate_str(text, all_errors=True)
    except MissingOptionalDependencyException:
        return None  # validation extras not installed: read without validation, as documented
    except Exception as exc:  # noqa: BLE001 - lxml refuses what defusedxml read (odd namespaces …)
        return _not_validated(version, exc)
    if found is None:
        return None
    return next(iter(found), None)


def _not_validated(version: str, exc: BaseException) -> str:
    why = "nested too deeply" if isinstance(exc, RecursionError) else _short(f"{type(exc).__name__}: {exc}")
    return f"not validated against the CycloneDX {version} schema ({why}); components read anyway"


def _json_parts(doc: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, int]]]:
    """The document, or slices of it that keep each top-level list to VALIDATE_CHUNK entries.

    The schema's `uniqueItems` makes validation quadratic in the length of a list (20,000 components
    take minutes), so long lists are validated a chunk at a time, up to VALIDATE_ITEMS entries.
    """
    long = {k: v for k, v in doc.items() if isinstance(v, list) and len(v) > VALIDATE_CHUNK}
    if not long:
        yield doc, {}
        return
    stop = min(max(len(v) for v in long.values()), VALIDATE_ITEMS)
    for start in range(0, stop, VALIDATE_CHUNK):
        part = {k: v for k, v in doc.items() if k not in long}
        for k, v in long.items():
            if v[start : start + VALIDATE_CHUNK]:
                part[k] = v[start : start + VALIDATE_CHUNK]
        yield part, {k: start for k in long}


def _json_path(parts: Any, offsets: dict[str, int]) -> str:
    out = ""
    items = list(parts)
    for i, p in enumerate(items):
        if isinstance(p, int):
            if i == 1 and isinstance(items[0], str):
                p += offsets.get(items[0], 0)
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


def _report_json_schema(errors: ErrorSink, filename: str, doc: dict[str, Any], size: int) -> None:
    if size > VALIDATE_MAX_BYTES:
        return
    declared = _clean(doc.get("specVersion"))
    version = declared or DEFAULT_SCHEMA
    for part, offsets in _json_parts(doc):
        data = _first_json_error(version, part)  # a jsonschema ValidationError
        if data is None:
            continue
        if isinstance(data, str):
            errors.report(filename, None, data)
            return
        where = _json_path(getattr(data, "absolute_path", ()), offsets)
        message = _short(str(getattr(data, "message", data)))
        errors.report(
            filename, where or None, f"not valid CycloneDX {version}: {message} (components read anyway)"
        )
        return


def _report_xml_schema(errors: ErrorSink, filename: str, declared: str | None, data: bytes) -> None:
    if len(data) > VALIDATE_MAX_BYTES:
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return  # only UTF-8 documents are handed to the validator (it re-encodes as UTF-8)
    if text.lstrip().startswith("<?xml"):
        # the validator parses bytes it encodes as UTF-8; drop a declaration naming another encoding
        text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    version = declared or DEFAULT_SCHEMA
    err = _first_error("xml", version, text)
    if err is None:
        return
    if isinstance(err, str):
        errors.report(filename, None, err)
        return
    entry = err.data  # an lxml _LogEntry
    line = getattr(entry, "line", None)
    message = _short(str(getattr(entry, "message", entry)))
    errors.report(
        filename, line or None, f"not valid CycloneDX {version}: {message} (components read anyway)"
    )


# --- building records ---------------------------------------------------------------------------


def _clean(value: Any) -> str | None:
    """A scalar as a stripped string; None for empty values, objects and lists."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _record(comp: _Component, host: str, filename: str) -> InventoryRecord:
    extra: list[tuple[str, str]] = []
    for key, value in (
        ("type", comp.type),
        ("group", comp.group),
        ("bom_ref", comp.bom_ref),
        ("supplier", comp.supplier),
        ("manufacturer", comp.manufacturer),
        ("bom_path", comp.bom_path),
    ):
        if value:
            extra.append((key, value))
    return InventoryRecord(
        host=host,
        source=Source(COLLECTOR, f"{filename}:{comp.location}"),
        kind=RecordKind.SBOM_COMPONENT,
        name=comp.name or "",
        version=comp.version,
        publisher=comp.publisher or comp.supplier or comp.manufacturer or comp.author,
        purl=comp.purl,
        cpe=comp.cpe,
        extra=tuple(extra),
    )


def _name_from_purl(purl: str | None) -> str | None:
    """`pkg:type/namespace/name@version?q#s` → name (for a component that lacks its name)."""
    if not purl or not purl.startswith("pkg:"):
        return None
    core = purl.split("#", 1)[0].split("?", 1)[0].split("@", 1)[0]
    tail = core.rsplit("/", 1)[-1]
    return tail or None


def _walk(
    comp: _Component,
    depth: int,
    host: str,
    filename: str,
    errors: ErrorSink,
    expand: Any,
) -> Iterator[InventoryRecord]:
    """Yield the record of `comp` and then its nested components, depth-first, in document order."""
    if comp.name is None:
        comp.name = _name_from_purl(comp.purl)
    if comp.name is None:
        errors.report(
            filename, comp.location, "component has no name; skipped (its nested components are read)"
        )
    else:
        yield _record(comp, host, filename)
    if not comp.children:
        return
    if depth >= MAX_DEPTH:
        errors.report(filename, comp.location, f"components nested deeper than {MAX_DEPTH} levels; skipped")
        return
    for child in expand(comp):
        yield from _walk(child, depth + 1, host, filename, errors, expand)


# --- JSON ---------------------------------------------------------------------------------------


def _json_entity_name(value: Any) -> str | None:
    if isinstance(value, dict):
        return _clean(value.get("name"))
    return _clean(value)


def _json_component(obj: dict[str, Any], path: str) -> _Component:
    author = _clean(obj.get("author"))
    if author is None and isinstance(obj.get("authors"), list):
        author = next((n for n in map(_json_entity_name, obj["authors"]) if n), None)
    children = obj.get("components")
    return _Component(
        bom_path=path,
        location=path,
        name=_clean(obj.get("name")),
        version=_clean(obj.get("version")),
        type=_clean(obj.get("type")),
        group=_clean(obj.get("group")),
        bom_ref=_clean(obj.get("bom-ref")),
        publisher=_clean(obj.get("publisher")),
        supplier=_json_entity_name(obj.get("supplier")),
        manufacturer=_json_entity_name(obj.get("manufacturer")),
        author=author,
        purl=_clean(obj.get("purl")),
        cpe=_clean(obj.get("cpe")),
        children=children if isinstance(children, list) else [],
    )


def _json_children(items: list[Any], base: str, filename: str, errors: ErrorSink) -> Iterator[_Component]:
    for i, item in enumerate(items):
        path = f"{base}[{i}]"
        if isinstance(item, dict):
            yield _json_component(item, path)
        else:
            errors.report(filename, path, "component is not a JSON object; skipped")


def json_records(
    doc: dict[str, Any], filename: str, errors: ErrorSink, default_host: str
) -> Iterator[InventoryRecord]:
    """Records from a parsed CycloneDX JSON document (no validation)."""
    metadata = doc.get("metadata")
    subject = metadata.get("component") if isinstance(metadata, dict) else None
    host = default_host
    if isinstance(subject, dict):
        host = _clean(subject.get("name")) or default_host

    def expand(comp: _Component) -> Iterator[_Component]:
        return _json_children(comp.children, f"{comp.bom_path}.components", filename, errors)

    if isinstance(subject, dict):
        top = _json_component(subject, "metadata.component")
        if (top.type or "") in _DEVICE_TYPES:
            for child in expand(top):
                yield from _walk(child, 1, host, filename, errors, expand)
        else:
            yield from _walk(top, 0, host, filename, errors, expand)
    components = doc.get("components")
    if components is None:
        return
    if not isinstance(components, list):
        errors.report(filename, "components", "is not a JSON array; no components read")
        return
    for comp in _json_children(components, "components", filename, errors):
        yield from _walk(comp, 0, host, filename, errors, expand)


def _json_sniff(text: str) -> int:
    if not text.lstrip().startswith("{"):
        return 0
    if '"bomFormat"' in text and '"CycloneDX"' in text:
        return 95
    if "cyclonedx.org/schema/bom-" in text:
        return 80
    return 0


class CycloneDxJsonReader:
    name: ClassVar[str] = "cyclonedx-json"

    def sniff(self, head: bytes, filename: str) -> int:
        return _json_sniff(head.decode("utf-8-sig", errors="ignore"))

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        data = read_capped(stream, filename, errors, MAX_BYTES)
        if data is None:
            return
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            errors.report(filename, None, f"not UTF-8 text (byte {exc.start})")
            return
        doc = parse_json_object(text, filename, errors, "a CycloneDX document")
        if doc is None:
            return
        _report_json_schema(errors, filename, doc, len(data))
        yield from json_records(doc, filename, errors, default_host)


# --- XML ----------------------------------------------------------------------------------------


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(el: Element, name: str) -> Element | None:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _text(el: Element | None, name: str) -> str | None:
    c = _child(el, name) if el is not None else None
    return _clean(c.text) if c is not None and c.text is not None else None


def _xml_component(el: Element, bom_path: str, location: str) -> _Component:
    author = _text(el, "author")
    authors = _child(el, "authors")
    if author is None and authors is not None:
        author = next((n for n in (_text(a, "name") for a in authors) if n), None)
    nested = _child(el, "components")
    return _Component(
        bom_path=bom_path,
        location=location,
        name=_text(el, "name"),
        version=_text(el, "version"),
        type=_clean(el.get("type")),
        group=_text(el, "group"),
        bom_ref=_clean(el.get("bom-ref")),
        publisher=_text(el, "publisher"),
        supplier=_text(_child(el, "supplier"), "name"),
        manufacturer=_text(_child(el, "manufacturer"), "name"),
        author=author,
        purl=_text(el, "purl"),
        cpe=_text(el, "cpe"),
        children=[(nested, f"{location}/components")] if nested is not None else [],
    )


def _xml_children(container: Element, bom_base: str, loc_base: str) -> Iterator[_Component]:
    for i, el in enumerate(_children(container, "component")):
        yield _xml_component(el, f"{bom_base}[{i}]", f"{loc_base}/component[{i + 1}]")


def xml_records(
    root: Element, filename: str, errors: ErrorSink, default_host: str
) -> Iterator[InventoryRecord]:
    """Records from a parsed CycloneDX XML document (no validation; namespace-agnostic)."""

    def expand(comp: _Component) -> Iterator[_Component]:
        for container, loc_base in comp.children:
            yield from _xml_children(container, f"{comp.bom_path}.components", loc_base)

    metadata = _child(root, "metadata")
    subject = _child(metadata, "component") if metadata is not None else None
    host = (_text(subject, "name") if subject is not None else None) or default_host
    if subject is not None:
        top = _xml_component(subject, "metadata.component", "/bom/metadata/component")
        if (top.type or "") in _DEVICE_TYPES:
            for child in expand(top):
                yield from _walk(child, 1, host, filename, errors, expand)
        else:
            yield from _walk(top, 0, host, filename, errors, expand)
    components = _child(root, "components")
    if components is None:
        return
    for comp in _xml_children(components, "components", "/bom/components"):
        yield from _walk(comp, 0, host, filename, errors, expand)


def _xml_head_text(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="ignore")
    return head.decode("utf-8", errors="ignore")


class CycloneDxXmlReader:
    name: ClassVar[str] = "cyclonedx-xml"

    def sniff(self, head: bytes, filename: str) -> int:
        text = _xml_head_text(head)
        if not text.lstrip("\ufeff \t\r\n").startswith("<"):
            return 0
        if re.search(r"<(\w+:)?bom[\s>]", text) and "cyclonedx.org/schema/bom/" in text:
            return 95
        return 0

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        data = read_capped(stream, filename, errors, MAX_BYTES)
        if data is None:
            return
        try:
            root = SafeET.fromstring(data)
        except EntitiesForbidden as exc:
            errors.report(filename, None, f"refused XML: entities are not allowed (entity {exc.name!r})")
            return
        except ExternalReferenceForbidden:
            errors.report(filename, None, "refused XML: external references are not allowed")
            return
        except DefusedXmlException as exc:
            errors.report(filename, None, f"refused XML: {exc}")
            return
        except LookupError as exc:  # the XML declaration names an encoding Python does not know
            errors.report(filename, None, f"not well-formed XML: {exc}")
            return
        except ParseError as exc:
            line, col = getattr(exc, "position", (0, 0))
            message = str(exc).split(":", 1)[0]
            errors.report(filename, f"{line}:{col}", f"not well-formed XML: {message}")
            return
        if _local(root.tag) != "bom":
            errors.report(
                filename, None, f"not a CycloneDX document: the root element is <{_local(root.tag)}>"
            )
            return
        ns = _XML_NS_URI.match(root.tag if isinstance(root.tag, str) else "")
        _report_xml_schema(errors, filename, ns.group(1) if ns else None, data)
        yield from xml_records(root, filename, errors, default_host)


READERS: list[InputReader] = [CycloneDxJsonReader(), CycloneDxXmlReader()]
