"""`banscan catalog keys|publish|bundle|update|status`: signed catalog updates (TUF).

The TUF stack is imported inside the commands: a plain `banscan scan` imports this module too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from banscan.cli.common import err, write_output

keys_app = typer.Typer(help="Make the key set that signs a catalog repository.", no_args_is_help=True)

_out = Console(highlight=False, soft_wrap=True)


def _fail(prefix: str, message: str) -> typer.Exit:
    err.print(f"banscan: {prefix}: {message}", markup=False)
    return typer.Exit(2)


@keys_app.command("init")
def keys_init(
    folder: Annotated[Path, typer.Argument(help="An empty folder for the new keys.")],
    root_keys: Annotated[int, typer.Option("--root-keys", min=1, help="How many root keys.")] = 1,
    root_threshold: Annotated[
        int, typer.Option("--root-threshold", min=1, help="How many root keys must sign a root.")
    ] = 1,
) -> None:
    """Make Ed25519 keys for the root, targets, snapshot and timestamp roles (PKCS#8 PEM,
    encrypted when BANSCAN_KEY_PASSPHRASE is set). For testing and small deployments: keep
    real root keys offline."""
    from banscan.updates.keys import KeyError_, init_keys

    try:
        keys = init_keys(folder, root_keys=root_keys, root_threshold=root_threshold)
    except KeyError_ as exc:
        raise _fail("error", str(exc)) from None
    for role, signers in keys.signers.items():
        ids = ", ".join(s.public_key.keyid[:16] for s in signers)
        _out.print(f"{role:9} threshold {keys.thresholds[role]}  keys {ids}")
    _out.print(f"keys written to {folder} (readable by you only)")


def catalog_publish(
    keys: Annotated[Path, typer.Option("--keys", help="The key set that signs (see `catalog keys init`).")],
    out: Annotated[Path, typer.Option("--out", help="The repository folder (made when missing).")],
    catalog: Annotated[
        Path | None, typer.Option("--catalog", help="Catalog folder or file (default: the built-in one).")
    ] = None,
    previous_keys: Annotated[
        Path | None,
        typer.Option(
            "--previous-keys", help="The key set the repository's root was signed with (key rotation)."
        ),
    ] = None,
    timestamp_days: Annotated[int, typer.Option("--timestamp-days", min=1, help="Timestamp expiry.")] = 7,
    snapshot_days: Annotated[int, typer.Option("--snapshot-days", min=1, help="Snapshot expiry.")] = 30,
    targets_days: Annotated[int, typer.Option("--targets-days", min=1, help="Targets expiry.")] = 90,
    root_days: Annotated[int, typer.Option("--root-days", min=1, help="Root expiry.")] = 365,
) -> None:
    """Add the catalog to a TUF repository and sign it (maintainers)."""
    from banscan.catalog.loader import CatalogError
    from banscan.updates.keys import KeyError_, load_keys
    from banscan.updates.repository import PublishError, publish

    try:
        key_set = load_keys(keys)
        previous = load_keys(previous_keys) if previous_keys is not None else None
        done = publish(
            key_set,
            out,
            catalog,
            previous=previous,
            expiry_days={
                "timestamp": timestamp_days,
                "snapshot": snapshot_days,
                "targets": targets_days,
                "root": root_days,
            },
        )
    except (KeyError_, PublishError, CatalogError) as exc:
        raise _fail("error", str(exc).splitlines()[0]) from None
    _out.print(f"published catalog {done.catalog_version} (sha256 {done.sha256}) to {out}")
    for role, version in done.versions.items():
        _out.print(f"  {role:9} version {version}, expires {done.expires[role]}")
    if done.rotated:
        _out.print(
            "  the root was rotated: the new root is signed by the previous root keys and the new ones"
        )


def catalog_bundle(
    repo: Annotated[Path, typer.Option("--repo", help="The repository folder.")],
    out: Annotated[Path, typer.Option("--out", help="The bundle file to write (.tar).")],
) -> None:
    """Pack a repository's signed files into one file for an air-gapped network."""
    from banscan.updates.bundle import BundleError, make_bundle

    try:
        names = make_bundle(repo, out)
    except (BundleError, OSError) as exc:
        raise _fail("error", str(exc)) from None
    _out.print(f"bundle {out}: {len(names)} signed files")


def catalog_update(
    repo: Annotated[str | None, typer.Option("--repo", help="The catalog repository's URL.")] = None,
    from_bundle: Annotated[
        Path | None, typer.Option("--from-bundle", help="A bundle file (`catalog bundle`) instead of a URL.")
    ] = None,
    root: Annotated[
        Path | None, typer.Option("--root", help="Trust this root.json (pin it; needed the first time).")
    ] = None,
    root_sha256: Annotated[
        str | None,
        typer.Option("--root-sha256", help="Trust the repository's 1.root.json with this SHA-256."),
    ] = None,
) -> None:
    """Fetch, verify (TUF) and install the latest signed catalog; prints what changed."""
    from banscan.catalog.diff import diff_catalogs, render_text
    from banscan.updates.client import UpdateRefused, source_record, update

    if repo is None and from_bundle is None:
        repo = source_record().get("repository") or None
        if repo is None:
            raise _fail("error", "give --repo URL (or --from-bundle FILE) the first time")
    try:
        got = update(None if from_bundle else repo, bundle=from_bundle, root=root, root_sha256=root_sha256)
    except UpdateRefused as exc:
        raise _fail("catalog update refused", str(exc)) from None
    if not got.changed:
        _out.print(f"catalog {got.new.meta.version} is up to date (verified {got.installed.sha256[:16]}…)")
        return
    _out.print(
        f"installed catalog {got.new.meta.version} (was {got.old.meta.version}), "
        f"verified, sha256 {got.installed.sha256}"
    )
    _out.print(render_text(diff_catalogs(got.old, got.new)).rstrip(), markup=False)
    from banscan.catalog.loader import load_catalog

    in_use = load_catalog()
    if in_use.origin is None or in_use.origin.source != "installed":
        _out.print(
            f"note: the built-in catalog {in_use.meta.version} is newer and stays in use until a newer one is published"
        )


def catalog_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """The catalog in use, where it came from, and the signed metadata that vouches for it."""
    from banscan.updates.status import catalog_status as status

    doc = status()
    if as_json:
        write_output(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", None)
        return
    for line in _status_lines(doc):
        _out.print(line, markup=False)


def _status_lines(doc: dict[str, Any]) -> list[str]:
    use = doc["in_use"]
    lines = [
        f"in use:    catalog {use['version']} ({use['source']}, "
        f"{'verified' if use['verified'] else 'not signature-verified'})",
        f"sha256:    {use['sha256']}",
        f"built-in:  catalog {doc['built_in']['version']}",
    ]
    inst = doc.get("installed")
    if inst:
        lines.append(
            f"installed: catalog {inst['version']} from {inst['repository']} at {inst['installed_at']}"
        )
    trust = doc.get("trust")
    if trust:
        lines.append(f"trusted repository: {trust.get('repository') or '(bundle)'}")
        for role, info in trust.get("roles", {}).items():
            keys = ", ".join(k[:16] for k in info.get("keyids", []))
            state = "EXPIRED" if info.get("expired") else "valid"
            lines.append(
                f"  {role:9} v{info.get('version', '?')} expires {info.get('expires', '?')} ({state})"
                + (f"; {info.get('threshold')} of keys {keys}" if keys else "")
            )
    for note in doc.get("notes", []):
        lines.append(f"note: {note}")
    return lines


def register(app: typer.Typer) -> None:
    """Add the update commands to `banscan catalog`."""
    app.add_typer(keys_app, name="keys")
    app.command("publish")(catalog_publish)
    app.command("bundle")(catalog_bundle)
    app.command("update")(catalog_update)
    app.command("status")(catalog_status)
