"""CycloneDX 1.6 JSON: the findings as an inventory of banned software.

`metadata.component` is the scanned host (type `device`) when the scan covered one host, and a
"banscan scan" application otherwise. Every finding is one `application` component with a
`bom-ref` unique per host and product; what banscan knows about it (host, verdict, confidence,
product id, evidence, obligations, exception) is carried in `banscan:` properties, and the places
the evidence was seen in `evidence.occurrences`. These are not vulnerabilities (no CVE), so no
`vulnerabilities` entries are written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
import warnings
from collections.abc import Iterable

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot6

from banscan.models import Finding, ScanResult

EVIDENCE_PROPERTIES = 3  # how many evidence items are repeated as `banscan:evidence` properties
_NAMESPACE = uuid.UUID("6f1c9a52-3c1e-4b8e-9d0a-5b2a6c7e8f10")  # fixed: serial numbers are stable


def render(result: ScanResult) -> str:
    bom = to_bom(result)
    with warnings.catch_warnings():
        # the library warns about components without dependencies; every one is declared below
        warnings.simplefilter("ignore", UserWarning)
        text: str = JsonV1Dot6(bom).output_as_string(indent=2)
    return text + "\n"


def to_bom(result: ScanResult) -> Bom:
    hosts = _hosts(result)
    root = _root_component(result, hosts)
    components: list[Component] = []
    seen: dict[str, int] = {}
    for f in result.findings:
        ref = bom_ref(f.host, f.product)
        n = seen.get(ref, 0)
        seen[ref] = n + 1
        components.append(_component(f, ref if n == 0 else f"{ref}#{n + 1}"))
    banscan = Component(
        type=ComponentType.APPLICATION,
        name="banscan",
        version=result.banscan_version,
        bom_ref="banscan-tool",
    )
    meta_props = [
        Property(name="banscan:catalog_version", value=result.catalog_version),
        Property(name="banscan:as_of", value=result.as_of),
        Property(name="banscan:role", value=result.role),
        *(Property(name="banscan:host", value=h) for h in hosts),
    ]
    for t in result.targets:
        for err in t.errors:
            meta_props.append(Property(name="banscan:target_error", value=f"{t.target}: {err}"))
    bom = Bom(
        serial_number=_serial(result),
        metadata=BomMetaData(
            component=root,
            tools=ToolRepository(components=[banscan]),
            properties=meta_props,
            timestamp=_timestamp(result),
        ),
        components=components,
    )
    bom.register_dependency(root, components)
    for c in components:
        bom.register_dependency(c, [])
    return bom


def bom_ref(host: str, product: str) -> str:
    return f"banscan:{host}:{product}"


def _hosts(result: ScanResult) -> list[str]:
    hosts = list(dict.fromkeys(result.hosts))
    for f in result.findings:
        if f.host not in hosts:
            hosts.append(f.host)
    return hosts


def _root_component(result: ScanResult, hosts: list[str]) -> Component:
    if len(hosts) == 1:
        return Component(type=ComponentType.DEVICE, name=hosts[0], bom_ref=f"host:{hosts[0]}")
    return Component(
        type=ComponentType.APPLICATION,
        name="banscan scan",
        bom_ref="banscan-scan",
        description=f"{len(hosts)} hosts scanned for banned software",
    )


def _component(f: Finding, ref: str) -> Component:
    props = [
        Property(name="banscan:host", value=f.host),
        Property(name="banscan:product", value=f.product),
        Property(name="banscan:verdict", value=f.verdict.value),
        Property(name="banscan:confidence", value=f.confidence.value),
        Property(name="banscan:evidence_count", value=str(len(f.evidence))),
    ]
    if f.category:
        props.append(Property(name="banscan:category", value=f.category))
    for e in f.evidence[:EVIDENCE_PROPERTIES]:
        props.append(Property(name="banscan:evidence", value=f"{e.kind}={e.value} @ {e.location}"))
    for o in f.obligations:
        text = f"{o.regulation}: {o.status}" + (f", deadline {o.deadline}" if o.deadline else "")
        props.append(Property(name="banscan:obligation", value=text))
    if f.definitions_age_days is not None:
        props.append(Property(name="banscan:definitions_age_days", value=str(f.definitions_age_days)))
    for key, value in (f.exception or {}).items():
        props.append(Property(name=f"banscan:exception:{key}", value=str(value)))
    return Component(
        type=ComponentType.APPLICATION,
        name=f.product_name,
        version=f.version,
        bom_ref=ref,
        supplier=OrganizationalEntity(name=f.vendor) if f.vendor else None,
        publisher=f.vendor or None,
        properties=props,
        evidence=_evidence(f, ref),
    )


def _evidence(f: Finding, ref: str) -> ComponentEvidence | None:
    occurrences = list(_occurrences(f, ref))
    return ComponentEvidence(occurrences=occurrences) if occurrences else None


def _occurrences(f: Finding, ref: str) -> Iterable[Occurrence]:
    # numbered bom-refs keep the evidence in its order (the library sorts occurrences by them)
    for i, e in enumerate(f.evidence, start=1):
        if e.location:
            yield Occurrence(
                bom_ref=f"{ref}#evidence-{i:03d}",
                location=e.location,
                additional_context=f"{e.source}: {e.kind}={e.value} ({e.confidence.value})",
            )


def _serial(result: ScanResult) -> uuid.UUID:
    """A serial number derived from the result, so the same scan renders the same document."""
    parts = [result.banscan_version, result.catalog_version, result.as_of, result.generated_at]
    parts += [f"{f.host}\x00{f.product}\x00{f.verdict.value}" for f in result.findings]
    digest = hashlib.sha256("\x01".join(parts).encode()).hexdigest()
    return uuid.uuid5(_NAMESPACE, digest)


def _timestamp(result: ScanResult) -> dt.datetime:
    for stamp in (result.generated_at, result.as_of):
        if not stamp:
            continue
        try:
            when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            continue
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC)
