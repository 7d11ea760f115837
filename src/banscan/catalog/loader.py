"""Load the catalog from the package or from `--catalog PATH`, and validate it.

A catalog is a folder of YAML files (catalog.yaml, sources.yaml and sources/*.yaml,
entities.yaml, regulations.yaml, alternatives.yaml and products/*.yaml) or one YAML file
holding all those keys. Errors name the file and the entry that is wrong.
"""

from __future__ import annotations

import functools
import hashlib
import json
import pickle
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from banscan import cache
from banscan.catalog import schema
from banscan.catalog.origin import BUILT_IN, INSTALLED, PATH, CatalogOrigin, digest_path
from banscan.catalog.schema import Catalog

# libyaml's safe loader is an order of magnitude faster; same semantics as yaml.SafeLoader.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_LIST_FILES = {
    "sources": "sources.yaml",
    "entities": "entities.yaml",
    "regulations": "regulations.yaml",
    "alternatives": "alternatives.yaml",
}


class CatalogError(Exception):
    """The catalog cannot be read or does not validate; the message names file and place."""


def default_catalog_dir() -> Path:
    return Path(str(resources.files("banscan.catalog") / "data"))


def _read_yaml(path: Path) -> Any:
    try:
        with path.open("rb") as fh:
            return yaml.load(fh, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise CatalogError(f"{where}: invalid YAML: {problem}") from exc
    except OSError as exc:
        raise CatalogError(f"{path}: {exc.strerror or exc}") from exc


def _raw_from_dir(folder: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge a catalog folder into one mapping; also return which file each entry came from.

    The folder's own lists are its first pack (`pack.yaml`, when present); each folder under
    `packs/` adds a pack of its own (a `pack.yaml` and any of the same list files). Every entity,
    product, regulation and alternative is marked with the pack of the folder it came from."""
    origin: dict[str, str] = {}
    meta = _read_yaml(folder / "catalog.yaml")
    if not isinstance(meta, dict):
        raise CatalogError(f"{folder / 'catalog.yaml'}: expected a mapping")
    raw: dict[str, Any] = {"meta": meta, "products": [], "packs": []}
    origin["meta"] = str(folder / "catalog.yaml")
    for key in _LIST_FILES:
        raw[key] = []
    _read_pack(folder, raw, origin, required=False)
    packs = folder / "packs"
    for sub in sorted(packs.iterdir()) if packs.is_dir() else []:
        if sub.is_dir():
            _read_pack(sub, raw, origin, required=True)
    if not raw["packs"]:
        del raw["packs"]
    return raw, origin


def _read_pack(folder: Path, raw: dict[str, Any], origin: dict[str, str], *, required: bool) -> None:
    """Add one folder's lists (and its pack.yaml) to `raw`."""
    pack_id: str | None = None
    pack_file = folder / "pack.yaml"
    if pack_file.exists() or required:
        pack = _read_yaml(pack_file)
        if not isinstance(pack, dict):
            raise CatalogError(f"{pack_file}: expected a mapping (id, title, version, released, …)")
        pack_id = str(pack.get("id", ""))
        origin[f"packs.{len(raw['packs'])}"] = str(pack_file)
        raw["packs"].append(pack)

    def add(key: str, items: Any, path: Path, *, per_entry: bool = True) -> None:
        if not isinstance(items, list):
            raise CatalogError(f"{path}: expected a list")
        start = len(raw[key])
        for item in items:
            if pack_id is not None and isinstance(item, dict) and key != "sources":
                item.setdefault("pack", pack_id)
            raw[key].append(item)
        if per_entry:
            for i in range(start, len(raw[key])):
                origin[f"{key}.{i}"] = f"{path} (entry {i - start + 1})"
        if key not in origin:
            origin[key] = str(path)

    for key, name in _LIST_FILES.items():
        p = folder / name
        if p.exists():
            # the first folder's own list files: entries are named by their place in the list
            add(key, _read_yaml(p) or [], p, per_entry=required)
    # Sources may be split by kind into sources/*.yaml (legal texts apart from public code).
    for p in sorted((folder / "sources").glob("*.yaml")):
        add("sources", _read_yaml(p) or [], p)
    for p in sorted((folder / "products").glob("*.yaml")):
        add("products", _read_yaml(p) or [], p)


def _describe(loc: tuple[Any, ...], raw: dict[str, Any], origin: dict[str, str], fallback: str) -> str:
    """Turn a pydantic error location into 'file (entry n, id X): field'."""
    if not loc:
        return fallback
    top = str(loc[0])
    if top == "products" and len(loc) > 1 and isinstance(loc[1], int):
        where = origin.get(f"products.{loc[1]}", fallback)
        item = raw["products"][loc[1]]
        ident = item.get("id") if isinstance(item, dict) else None
        rest = ".".join(str(x) for x in loc[2:])
        return f"{where} [id {ident}] {rest}".rstrip()
    where = origin.get(top, fallback)
    if len(loc) > 1 and isinstance(loc[1], int) and f"{top}.{loc[1]}" in origin:
        item = raw[top][loc[1]]
        ident = item.get("id") if isinstance(item, dict) else None
        rest = ".".join(str(x) for x in loc[2:])
        return f"{origin[f'{top}.{loc[1]}']} [id {ident}] {rest}".rstrip()
    if len(loc) > 1 and isinstance(loc[1], int):
        items = raw.get(top) or []
        item = items[loc[1]] if loc[1] < len(items) else None
        ident = item.get("id") if isinstance(item, dict) else None
        rest = ".".join(str(x) for x in loc[2:])
        return f"{where} (entry {loc[1] + 1}, id {ident}) {rest}".rstrip()
    return f"{where} {'.'.join(str(x) for x in loc[1:])}".rstrip()


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate a catalog; raises CatalogError with every problem, one per line.

    Without a path: the catalog installed by `banscan catalog update` when there is one and it
    is not older than the built-in one, else the built-in one (`banscan.catalog.installed`)."""
    if path is None:
        return _default()
    p = Path(path)
    catalog = _load_path(p)
    catalog._origin = CatalogOrigin(PATH, str(p), digest_path(p))
    return catalog


def _load_path(p: Path) -> Catalog:
    if p.is_dir():
        return _validate(*_raw_from_dir(p), fallback=str(p))
    raw = _read_json(p) if p.suffix == ".json" else _read_yaml(p)
    if not isinstance(raw, dict):
        raise CatalogError(f"{p}: expected a mapping with meta, sources, entities, products, regulations")
    return _validate(raw, {}, fallback=str(p))


def built_in_catalog() -> Catalog:
    """The catalog shipped inside the package."""
    return _load_dir_cached(str(default_catalog_dir()))


def built_in_version() -> str:
    """The built-in catalog's version, read from its catalog.yaml alone (no full load)."""
    meta = _read_yaml(default_catalog_dir() / "catalog.yaml")
    return str(meta.get("version", "")) if isinstance(meta, dict) else ""


def _default() -> Catalog:
    from banscan.catalog import installed

    got = installed.active()
    if got is not None and installed.version_key(got.version) >= installed.version_key(built_in_version()):
        try:
            return _load_installed(str(got.path), got.sha256, got.repository)
        except CatalogError:
            pass  # a damaged installed file: the built-in catalog (`catalog status` says so)
    return built_in_catalog()


@functools.lru_cache(maxsize=4)
def _load_installed(path: str, sha256: str, repository: str) -> Catalog:
    if digest_path(Path(path)) != sha256:
        raise CatalogError(f"{path}: not the file that was verified (SHA-256 differs)")
    catalog = _validated_once(sha256, lambda: _load_path(Path(path)))
    catalog._origin = CatalogOrigin(INSTALLED, path, sha256, verified=True, repository=repository)
    return catalog


def _read_json(path: Path) -> Any:
    """A catalog as one JSON document (as `banscan catalog publish` writes it)."""
    try:
        return json.loads(path.read_bytes())
    except ValueError as exc:
        raise CatalogError(f"{path}: invalid JSON: {exc}") from exc
    except OSError as exc:
        raise CatalogError(f"{path}: {exc.strerror or exc}") from exc


@functools.lru_cache(maxsize=4)
def _load_dir_cached(folder: str) -> Catalog:
    digest = digest_path(Path(folder))
    catalog = _validated_once(digest, lambda: _validate(*_raw_from_dir(Path(folder)), fallback=folder))
    catalog._origin = CatalogOrigin(BUILT_IN, folder, digest)
    return catalog


@functools.cache
def _schema_digest() -> str:
    """The schema's own source: a catalog validated by other code is validated again."""
    return hashlib.sha256(Path(schema.__file__).read_bytes()).hexdigest()


def _validated_once(digest: str, build: Callable[[], Catalog]) -> Catalog:
    """The catalog with content `digest`, validated once and kept in the user's cache folder:
    parsing and validating the YAML is most of a small scan's fixed cost (≈0.35 s), reading it
    back ≈0.01 s. Keyed by the content and the schema's source, so any change builds it again;
    the cache folder is the user's own (a damaged entry fails its SHA-256 and is rebuilt)."""
    key = hashlib.sha256(f"{digest}:{_schema_digest()}:{pickle.HIGHEST_PROTOCOL}".encode()).hexdigest()
    blob = cache.read_blob("catalog", key)
    if blob is not None:
        try:
            got = pickle.loads(blob)  # our own cache entry, checked by its digest
        except Exception:  # noqa: BLE001 - an entry from an incompatible build: rebuild it
            got = None
        if isinstance(got, Catalog):
            return got
    catalog = build()
    cache.write_blob("catalog", key, pickle.dumps(catalog, protocol=pickle.HIGHEST_PROTOCOL))
    return catalog


def _validate(raw: dict[str, Any], origin: dict[str, str], fallback: str) -> Catalog:
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            lines.append(f"{_describe(tuple(err['loc']), raw, origin, fallback)}: {err['msg']}")
        raise CatalogError("\n".join(lines)) from None
