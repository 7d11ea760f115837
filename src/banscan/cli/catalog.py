"""`banscan catalog list|show|validate`: inspect and validate the detection catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from banscan.cli.common import load_catalog_or_exit, narrow_to_packs, usage_error, write_output

catalog_app = typer.Typer(help="Inspect and validate the detection catalog.", no_args_is_help=True)


@catalog_app.command("list")
def catalog_list(
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog folder or file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    pack: Annotated[
        list[str] | None, typer.Option("--pack", help="Only this pack's products (repeatable).")
    ] = None,
) -> None:
    """List the catalog's products with their pack, status and identifier counts."""
    cat = load_catalog_or_exit(catalog)
    if pack:
        cat = narrow_to_packs(cat, pack, "US")
    if as_json:
        rows = [
            {
                "id": p.id,
                "pack": p.pack,
                "name": p.name,
                "vendor": p.vendor,
                "category": p.category.value,
                "status": p.status.value,
                "relation": p.relation.value,
                "platforms": p.platforms,
                "identifiers": len(p.identifiers),
            }
            for p in cat.products
        ]
        write_output(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", None)
        return
    console = Console(highlight=False)
    wide = console.width >= 120  # narrower: the columns that say the most, ids never cut
    table = Table(title=f"banscan catalog {cat.meta.version} — {len(cat.products)} products")
    table.add_column("id", no_wrap=True, min_width=max((len(p.id) for p in cat.products), default=2))
    table.add_column("name", ratio=1, overflow="fold")
    if wide:
        table.add_column("category", no_wrap=True)
    table.add_column("status", no_wrap=True)
    if wide:
        table.add_column("platforms")
    table.add_column("ids", no_wrap=True, justify="right")
    for p in cat.products:
        cells = [p.id, p.name]
        if wide:
            cells.append(p.category.value)
        cells.append(p.status.value)
        if wide:
            cells.append(",".join(p.platforms))
        cells.append(str(len(p.identifiers)))
        table.add_row(*cells)
    console.print(table)


@catalog_app.command("packs")
def catalog_packs(
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog folder or file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the catalog's packs (one ban each): id, title, version, where its rules apply, and
    how many products and regulations it holds."""
    cat = load_catalog_or_exit(catalog)
    rows = [
        {
            "id": p.id,
            "title": p.title,
            "version": p.version,
            "released": p.released.isoformat(),
            "jurisdictions": p.jurisdictions,
            "products": sum(1 for x in cat.products if x.pack == p.id),
            "regulations": sum(1 for x in cat.regulations if x.pack == p.id),
            "sources": p.sources,
        }
        for p in cat.packs
    ]
    if as_json:
        write_output(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", None)
        return
    table = Table(title=f"banscan catalog {cat.meta.version} — {len(rows)} packs")
    # the title takes what the narrow columns leave (an 80-column terminal keeps it readable)
    for col in ("id", "title", "version", "where", "products", "rules"):
        table.add_column(
            col,
            overflow="fold",
            no_wrap=col != "title",
            ratio=1 if col == "title" else None,
            justify="right" if col in ("products", "rules") else "left",
        )
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["title"]),
            str(r["version"]),
            ", ".join(r["jurisdictions"]),  # type: ignore[arg-type]
            str(r["products"]),
            str(r["regulations"]),
        )
    Console(highlight=False).print(table)


@catalog_app.command("show")
def catalog_show(
    item: Annotated[str, typer.Argument(help="A product, entity, regulation or alternative id.")],
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog folder or file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Print one catalog entry with the sources it cites, as text (YAML) or JSON."""
    cat = load_catalog_or_exit(catalog)
    for group in (cat.products, cat.entities, cat.regulations, cat.alternatives):
        for entry in group:
            if entry.id == item:
                data = entry.model_dump(mode="json")
                # Legal sources first, then technical ones; each names its publisher, and a copy
                # read in place of the original appears as `consulted`.
                cited = sorted(
                    (cat.source(s) for s in set(_cited(data))), key=lambda s: (s.topic != "legal", s.id)
                )
                data["_sources"] = [s.model_dump(mode="json", exclude_none=True) for s in cited]
                if as_json:
                    write_output(json.dumps(data, indent=2, ensure_ascii=False) + "\n", None)
                else:
                    import yaml

                    data["sources_cited"] = data.pop("_sources")
                    write_output(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), None)
                return
    raise usage_error(f"no catalog entry with id {item!r}")


def _cited(data: object) -> list[str]:
    out: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if k == "sources" and isinstance(v, list):
                out.extend(str(x) for x in v)
            else:
                out.extend(_cited(v))
    elif isinstance(data, list):
        for v in data:
            out.extend(_cited(v))
    return out


@catalog_app.command("validate")
def catalog_validate(
    path: Annotated[
        Path | None, typer.Argument(help="Catalog folder or file (default: the shipped one).")
    ] = None,
) -> None:
    """Validate a catalog against the schema; every problem is printed with file and entry."""
    cat = load_catalog_or_exit(path)
    idents = sum(len(p.identifiers) for p in cat.products)
    Console(highlight=False).print(
        f"catalog {cat.meta.version} is valid: {len(cat.products)} products, {idents} identifiers, "
        f"{len(cat.entities)} entities, {len(cat.regulations)} regulations, {len(cat.sources)} sources"
    )


def _register_more() -> None:
    from banscan.cli.catalog_diff import catalog_diff
    from banscan.cli.catalog_updates import register

    catalog_app.command("diff")(catalog_diff)
    register(catalog_app)


_register_more()
