"""Organisations on SQLite and PostgreSQL: migration 0009 with a fleet's worth of rows in the
database (nothing lost, everything in the default organisation), the tree and its checks,
sharing, enrolment into the default organisation and into an enrol secret's, host identifiers
unique per organisation, the `banscan org` commands and the audit rows they leave."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from banscan.cli import app as cli_app
from banscan.store import enrolment as enrolment_store
from banscan.store import orgs
from banscan.store.accounts import create_user
from banscan.store.db import Database, make_engine
from banscan.store.imports import import_hosts
from banscan.store.migrate import alembic_config, upgrade_db
from banscan.store.models import (
    DEFAULT_ORG_ID,
    AuditEntry,
    Enrolment,
    EnrolSecret,
    Host,
    JSONType,
    Organisation,
    User,
)

from .conftest import ADMIN_PASSWORD, ENROLL_SECRET, Fleet

WHEN = dt.datetime(2025, 3, 1, 10, 0, 0)  # naive UTC, as the store keeps times
LATER = dt.datetime(2025, 3, 2, 9, 30, 0)
DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    upgrade_db(db_url)
    database = Database(db_url)
    yield database
    database.dispose()


# ---------------------------------------------------------------- migration 0009

# Rows as a server at 0008 keeps them: two hosts with tags, tokens, reports, findings, a
# removal record and its history, a user with a session, an API token, an enrol secret, an
# enrolment held for an admin and audit entries.
ROWS_AT_0008: dict[str, list[dict[str, Any]]] = {
    "hosts": [
        {
            "id": 1,
            "identifier": "4c4c4544-0042-3510-8051-b4c04f4e4d32",
            "hostname": "fin-ws-014",
            "platform": "windows",
            "site": "Albany",
            "source": "agent",
            "created_at": WHEN,
            "last_seen_at": LATER,
            "last_generated_at": LATER,
            "last_report_id": 2,
        },
        {
            "id": 2,
            "identifier": "KIOSK-01",
            "hostname": "KIOSK-01",
            "platform": "",
            "site": "",
            "source": "import",
            "created_at": WHEN,
            "last_report_id": 3,
        },
    ],
    "host_tags": [{"host_id": 1, "tag": "finance"}, {"host_id": 1, "tag": "pos"}],
    "agent_tokens": [
        {
            "id": 1,
            "host_id": 1,
            "token_hash": DIGEST,
            "created_at": WHEN,
            "last_used_at": LATER,
            "remote_addr": "10.20.0.14",
            "enrolled_at": WHEN,
        }
    ],
    "reports": [
        {
            "id": rid,
            "host_id": hid,
            "idempotency_key": f"{rid:064x}",
            "generated_at": when,
            "received_at": when,
            "source": source,
            "applied": True,
            "findings_count": 1,
            "banscan_version": "0.9.0",
            "catalog_version": "2026.1.1",
            "catalog_sha256": None,
            "catalog_source": None,
            "catalog_verified": None,
            "body": json.dumps({"catalog_version": "2026.1.1", "hosts": [name]}),
        }
        for rid, hid, when, source, name in (
            (1, 1, WHEN, "agent", "fin-ws-014"),
            (2, 1, LATER, "agent", "fin-ws-014"),
            (3, 2, WHEN, "import", "KIOSK-01"),
        )
    ],
    "findings": [
        {
            "id": 1,
            "host_id": 1,
            "product": "kes-windows",
            "product_name": "Kaspersky Endpoint Security for Windows",
            "vendor": "AO Kaspersky Lab",
            "category": "endpoint-security",
            "version": "12.3.0.493",
            "verdict": "covered",
            "confidence": "strong",
            "present": True,
            "first_seen": WHEN,
            "first_identified": WHEN.date(),
            "last_seen": LATER,
            "evidence": [{"source": "registry", "detail": "DisplayName"}],
            "obligations": [],
            "last_report_id": 2,
        }
    ],
    "transitions": [
        {
            "id": 1,
            "host_id": 1,
            "product": "kes-windows",
            "state": "replacement-installed",
            "updated_at": LATER,
            "updated_by": "alice",
        }
    ],
    "transition_events": [
        {
            "id": 1,
            "transition_id": 1,
            "at": LATER,
            "actor": "alice",
            "from_state": "found",
            "to_state": "replacement-installed",
            "note": "Defender onboarded, KES removal next window",
        }
    ],
    "users": [
        {
            "id": 7,
            "username": "alice",
            "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g",
            "role": "admin",
            "created_at": WHEN,
            "disabled": False,
            "failed_logins": 0,
        }
    ],
    "web_sessions": [
        {
            "id": 1,
            "session_hash": DIGEST,
            "user_id": 7,
            "csrf_token": "c" * 43,
            "created_at": WHEN,
            "expires_at": LATER,
            "remote_addr": "10.0.0.5",
        }
    ],
    "api_tokens": [
        {
            "id": 1,
            "name": "siem",
            "token_hash": "1" * 64,
            "role": "viewer",
            "created_by": "alice",
            "created_at": WHEN,
        }
    ],
    "enrol_secrets": [
        {
            "id": 1,
            "name": "albany",
            "key_id": "a1b2c3d4e5f6",
            "secret_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
            "site": "Albany",
            "created_by": "cli",
            "created_at": WHEN,
        }
    ],
    "enrolments": [
        {
            "id": 1,
            "identifier": "KIOSK-01",
            "hostname": "KIOSK-01",
            "platform": "windows",
            "site": "Albany",
            "tags": ["pos"],
            "reason": "imported-host",
            "host_id": 2,
            "secret_id": 1,
            "request_hash": "2" * 64,
            "state": "pending",
            "created_at": LATER,
            "remote_addr": "10.20.0.77",
        }
    ],
    "audit_log": [
        {
            "id": 1,
            "at": WHEN,
            "actor": "cli",
            "action": "user.create",
            "target": "alice",
            "detail": {"role": "admin"},
            "remote_addr": "",
        },
        {
            "id": 2,
            "at": LATER,
            "actor": "alice",
            "action": "transition",
            "target": "1/kes-windows",
            "detail": {"state": "replacement-installed"},
            "remote_addr": "10.0.0.5",
        },
    ],
}
JSON_COLUMNS = {"evidence", "obligations", "tags", "detail"}
OWNED = ("hosts", "enrol_secrets", "enrolments", "users", "audit_log")


def _table(name: str) -> sa.TableClause:
    """The table as 0008 has it (the columns the rows above set; JSON ones typed)."""
    columns = {c for row in ROWS_AT_0008[name] for c in row}
    return sa.table(
        name, *(sa.column(c, JSONType) if c in JSON_COLUMNS else sa.column(c) for c in sorted(columns))
    )


def _dump(conn: sa.Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table above, without org_id, in key order."""
    out = {}
    for name in ROWS_AT_0008:
        rows = conn.execute(sa.text(f"SELECT * FROM {name}")).mappings().all()
        out[name] = sorted(
            ({k: v for k, v in r.items() if k != "org_id"} for r in rows),
            key=lambda r: json.dumps(r, default=str),
        )
    return out


def _migrate(db_url: str, revision: str, *, down: bool) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(cfg, revision)
    finally:
        engine.dispose()


def test_migration_0009_keeps_every_row_in_the_default_organisation(db_url: str) -> None:
    upgrade_db(db_url)
    _migrate(db_url, "0008", down=True)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            assert "organisations" not in sa.inspect(conn).get_table_names()
            for name, rows in ROWS_AT_0008.items():
                for row in rows:
                    conn.execute(_table(name).insert().values(**row))
            if conn.dialect.name == "postgresql":
                for name in ("hosts", "users", "enrol_secrets", "enrolments", "audit_log"):
                    conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), 100)"))
        with engine.connect() as conn:
            before = _dump(conn)
        assert [len(before[n]) for n in ROWS_AT_0008] == [len(r) for r in ROWS_AT_0008.values()]

        upgrade_db(db_url)
        with engine.connect() as conn:
            assert _dump(conn) == before  # nothing lost, nothing changed (tags, sessions, history)
            for name in OWNED:
                owners = conn.execute(sa.text(f"SELECT DISTINCT org_id FROM {name}")).scalars().all()
                assert owners == [DEFAULT_ORG_ID], name
            (default,) = conn.execute(sa.select(Organisation)).all()
        assert (default.id, default.slug, default.name, default.parent_id) == (
            1,
            "default",
            "Default organisation",
            None,
        )
        assert (default.share_with_coordinators, default.contact) == ("aggregates", "")

        db = Database(db_url)
        try:
            with db.writing() as s:
                agency = orgs.add_org(s, "agency", "Agency", parent="default", actor="test")
                assert agency.id == 2  # the default organisation's id is not handed out again
                # Identifiers are unique per organisation now: the same one in another is a new host.
                s.add(Host(org_id=agency.id, identifier="KIOSK-01", hostname="KIOSK-01"))
            with pytest.raises(IntegrityError), db.writing() as s:
                s.add(Host(org_id=DEFAULT_ORG_ID, identifier="KIOSK-01", hostname="again"))
            with db.writing() as s:  # the foreign keys still cascade to the rebuilt tables
                s.execute(sa.delete(Host).where(Host.id == 1))
        finally:
            db.dispose()
        with engine.connect() as conn:
            for name in ("host_tags", "agent_tokens", "findings", "transitions", "transition_events"):
                assert conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one() == 0, name
            assert conn.execute(sa.text("SELECT count(*) FROM web_sessions")).scalar_one() == 1

        # Down again is refused while any row belongs to another organisation (the tables
        # before 0009 could not say whose it is) ...
        for table in ("hosts", "audit_log"):  # the host above, the audit entry of `agency`
            with pytest.raises(RuntimeError, match=rf"1 row\(s\) of {table} belong to another organisation"):
                _migrate(db_url, "0008", down=True)
            with engine.begin() as conn:
                conn.execute(sa.text(f"DELETE FROM {table} WHERE org_id <> 1"))
        # ... and keeps every row once there is none.
        _migrate(db_url, "0008", down=True)
        with engine.connect() as conn:
            assert "organisations" not in sa.inspect(conn).get_table_names()
            assert "org_id" not in {c["name"] for c in sa.inspect(conn).get_columns("hosts")}
            assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM enrolments")).scalar_one() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM hosts")).scalar_one() == 1
    finally:
        engine.dispose()
        upgrade_db(db_url)


# ---------------------------------------------------------------- the tree


def test_organisations_form_a_tree_without_cycles(db: Database) -> None:
    with db.writing() as s:
        state = orgs.add_org(
            s, "state-cio", "Office of the State CIO", contact="soc@cio.example.gov", actor="alice"
        )
        health = orgs.add_org(
            s, "health", "Department of Health", parent="state-cio", share="hosts", actor="alice"
        )
        clinic = orgs.add_org(s, "clinic-7", "Clinic 7", parent="health", actor="alice")
        transport = orgs.add_org(s, "transport", "Department of Transport", parent="state-cio", actor="alice")
    with db.reading() as s:
        assert orgs.ancestors(s, clinic.id) == [health.id, state.id]
        assert orgs.ancestors(s, state.id) == []
        assert orgs.descendants(s, state.id) == [health.id, transport.id, clinic.id]
        assert orgs.descendants(s, clinic.id) == []
        found = orgs.get_org(s, "health")
        assert found is not None and found.parent_id == state.id and found.share_with_coordinators == "hosts"
        assert orgs.get_org(s, "nowhere") is None

    refusals = [
        (dict(slug="health", name="Again"), "already exists"),
        (dict(slug="parks", name="Parks", parent="nowhere"), "no organisation 'nowhere'"),
        (dict(slug="parks", name="Parks", parent="parks"), "cannot be its own parent"),
        (dict(slug="Parks", name="Parks"), "lower-case letters"),
        (dict(slug="-parks", name="Parks"), "starting with a letter or digit"),
        (dict(slug="p" * 64, name="Parks"), "1-63 characters"),
        (dict(slug="parks", name="  "), "name must not be empty"),
        (dict(slug="parks", name="Parks\x00"), "without control characters"),
        (dict(slug="parks", name="Parks", share="everything"), "aggregates, hosts"),
    ]
    for kwargs, message in refusals:
        with pytest.raises(ValueError, match=message), db.writing() as s:
            orgs.add_org(s, actor="alice", **kwargs)

    # Moving an organisation under itself or one of its own members would make a cycle.
    for parent in ("state-cio", "health", "clinic-7"):
        with pytest.raises(ValueError, match="cycle"), db.writing() as s:
            orgs.set_parent(s, "state-cio", parent, actor="alice")
    with db.writing() as s:
        assert orgs.set_parent(s, "clinic-7", "transport", actor="alice")
        assert not orgs.set_parent(s, "clinic-7", "transport", actor="alice")
    with db.reading() as s:
        assert orgs.ancestors(s, clinic.id) == [transport.id, state.id]
        assert orgs.descendants(s, health.id) == []
        rows = {o["slug"]: o for o in orgs.list_orgs(s)}
    assert [*rows] == ["clinic-7", "default", "health", "state-cio", "transport"]
    assert rows["clinic-7"]["parent"] == "transport" and rows["default"]["parent"] is None
    assert (rows["state-cio"]["members"], rows["transport"]["members"], rows["health"]["members"]) == (
        2,
        1,
        0,
    )
    assert rows["state-cio"]["contact"] == "soc@cio.example.gov"


def test_a_walk_ends_even_on_a_cycle_made_by_hand(db: Database) -> None:
    with db.writing() as s:
        a = orgs.add_org(s, "a", "A", actor="t")
        b = orgs.add_org(s, "b", "B", parent="a", actor="t")
        a.parent_id = b.id  # what no store function does
    with db.reading() as s:
        with pytest.raises(RuntimeError, match="cycle"):
            orgs.ancestors(s, a.id)
        assert orgs.descendants(s, a.id) == [b.id]


def test_sharing_is_aggregates_or_hosts_and_every_change_is_audited(db: Database) -> None:
    with db.writing() as s:
        org = orgs.add_org(s, "msp-client-3", "Client 3", actor="alice", remote_addr="10.0.0.5")
        assert org.share_with_coordinators == "aggregates"  # the default: counts only
        assert orgs.set_sharing(s, "msp-client-3", "hosts", actor="alice")
        assert not orgs.set_sharing(s, "msp-client-3", "hosts", actor="alice")
        orgs.add_org(s, "msp", "The MSP", actor="alice")
        orgs.set_parent(s, "msp-client-3", "msp", actor="alice")
    with pytest.raises(ValueError, match="aggregates, hosts"), db.writing() as s:
        orgs.set_sharing(s, "msp-client-3", "nothing", actor="alice")
    with pytest.raises(ValueError, match="no organisation 'msp-client-9'"), db.writing() as s:
        orgs.set_sharing(s, "msp-client-9", "hosts", actor="alice")
    with pytest.raises(IntegrityError), db.writing() as s:  # the database refuses other values too
        s.execute(
            sa.update(Organisation).where(Organisation.slug == "msp").values(share_with_coordinators="all")
        )
    with db.reading() as s:
        entries = [
            (e.org_id, e.actor, e.action, e.target, e.detail)
            for e in s.scalars(
                sa.select(AuditEntry).where(AuditEntry.action.like("org.%")).order_by(AuditEntry.id)
            )
        ]
        msp = orgs.find_org(s, "msp").id
    assert entries == [
        (
            org.id,
            "alice",
            "org.create",
            "msp-client-3",
            {"name": "Client 3", "parent": None, "share": "aggregates"},
        ),
        (org.id, "alice", "org.sharing", "msp-client-3", {"share": "hosts", "previous": "aggregates"}),
        (msp, "alice", "org.create", "msp", {"name": "The MSP", "parent": None, "share": "aggregates"}),
        (org.id, "alice", "org.parent", "msp-client-3", {"parent": "msp", "previous": None}),
    ]


# ---------------------------------------------------------------- who lands where


def _enrol(fleet: Fleet, identifier: str, secret: str, **extra: Any) -> httpx.Response:
    r: httpx.Response = fleet.client.post(
        "/api/v1/enroll",
        json={
            "enroll_secret": secret,
            "host_identifier": identifier,
            "hostname": f"{identifier}-name",
            "platform": "linux",
            **extra,
        },
    )
    return r


def _host_org(db_url: str, host_id: int) -> int:
    db = Database(db_url)
    try:
        with db.reading() as s:
            host = s.get(Host, host_id)
            assert host is not None
            return host.org_id
    finally:
        db.dispose()


def test_agents_land_in_the_organisation_of_their_secret(fleet: Fleet) -> None:
    ident = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    r = _enrol(fleet, ident, ENROLL_SECRET)  # the server's own secret: the default organisation
    assert r.status_code == 201, r.text
    default_host = r.json()["host_id"]
    assert _host_org(fleet.db_url, default_host) == DEFAULT_ORG_ID

    secret = enrolment_store.create_enrol_secret(fleet.db_url, "health-agents", site="Albany")
    db = Database(fleet.db_url)
    try:
        with db.writing() as s:
            row = enrolment_store.find_enrol_secret(s, "health-agents")
            assert row is not None and row.org_id == DEFAULT_ORG_ID  # the existing command's default
            health = orgs.add_org(s, "health", "Department of Health", actor="test")
            row.org_id = health.id  # no command makes one for another organisation yet
        # The same identifier with the health secret: a new host of its own, not the default one.
        r = _enrol(fleet, ident, secret)
        assert r.status_code == 201, r.text
        health_host = r.json()["host_id"]
        assert health_host != default_host and _host_org(fleet.db_url, health_host) == health.id

        # Asking again without the host's token is held, in the health organisation.
        r = _enrol(fleet, ident, secret)
        assert r.status_code == 202, r.text
        enrolment_id, pending = r.json()["enrolment_id"], r.json()["pending_secret"]
        with db.reading() as s:
            held = s.get(Enrolment, enrolment_id)
            assert held is not None and (held.org_id, held.host_id) == (health.id, health_host)
        with db.writing() as s:  # an admin of the health organisation approves it
            assert enrolment_store.approve_enrolment(s, enrolment_id, actor="health-admin") is not None
        # Its pending secret does not collect the health host's token with the default secret ...
        r = _enrol(fleet, ident, ENROLL_SECRET, pending_secret=pending)
        assert r.status_code == 202 and "token" not in r.json(), r.text
        # ... only with a secret of the health organisation.
        r = _enrol(fleet, ident, secret, pending_secret=pending)
        assert r.status_code == 201 and r.json()["host_id"] == health_host, r.text
        with db.reading() as s:
            hosts = {(h.org_id, h.identifier, h.site) for h in s.scalars(sa.select(Host))}
            approval = s.scalar(sa.select(AuditEntry).where(AuditEntry.action == "enrolment.approve"))
            made = s.scalar(sa.select(AuditEntry).where(AuditEntry.action == "enrol_secret.create"))
        assert hosts == {(DEFAULT_ORG_ID, ident, ""), (health.id, ident, "Albany")}
        assert approval is not None and approval.org_id == health.id
        assert made is not None and made.org_id == DEFAULT_ORG_ID
    finally:
        db.dispose()


def test_host_identifiers_are_unique_per_organisation(db: Database) -> None:
    with db.writing() as s:
        other = orgs.add_org(s, "county", "County IT", actor="t")
        s.add(Host(org_id=DEFAULT_ORG_ID, identifier="VM-4421", hostname="vm-4421"))
        s.add(Host(org_id=other.id, identifier="VM-4421", hostname="vm-4421"))
    with pytest.raises(IntegrityError), db.writing() as s:
        s.add(Host(org_id=other.id, identifier="VM-4421", hostname="copy"))
    with db.reading() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Host)) == 2


def test_an_inventory_import_matches_only_its_own_organisations_hosts(db: Database) -> None:
    with db.writing() as s:
        county = orgs.add_org(s, "county", "County IT", actor="t")
        theirs = Host(org_id=county.id, identifier="KIOSK-01", hostname="KIOSK-01")
        by_name = Host(org_id=county.id, identifier="b7e1c2d4", hostname="KIOSK-02")
        s.add_all([theirs, by_name])
    with db.writing() as s:
        ids = import_hosts(s, ["KIOSK-01", "KIOSK-02"], "")  # the default organisation
        assert theirs.id not in ids.values() and by_name.id not in ids.values()
        again = import_hosts(s, ["KIOSK-01", "KIOSK-02"], "", org_id=county.id)
        assert again == {"KIOSK-01": theirs.id, "KIOSK-02": by_name.id}
    with db.reading() as s:
        made = s.scalars(sa.select(Host).where(Host.id.in_(ids.values()))).all()
        assert {(h.org_id, h.source) for h in made} == {(DEFAULT_ORG_ID, "import")}


def test_users_made_by_the_existing_commands_are_in_the_default_organisation(db: Database) -> None:
    create_user(db.url.render_as_string(hide_password=False), "alice", ADMIN_PASSWORD, "admin")
    with db.reading() as s:
        user = s.scalar(sa.select(User).where(User.username == "alice"))
        entry = s.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.create"))
    assert user is not None and user.org_id == DEFAULT_ORG_ID
    assert entry is not None and (entry.org_id, entry.target) == (DEFAULT_ORG_ID, "alice")


def test_secrets_made_by_the_existing_commands_are_in_the_default_organisation(db: Database) -> None:
    url = db.url.render_as_string(hide_password=False)
    enrolment_store.create_enrol_secret(url, "branch")
    with db.reading() as s:
        (row,) = s.scalars(sa.select(EnrolSecret)).all()
    assert row.org_id == DEFAULT_ORG_ID


# ---------------------------------------------------------------- the command line


def test_org_commands_round_trip(db_url: str) -> None:
    runner = CliRunner()

    def org(*args: str) -> Any:
        return runner.invoke(cli_app, ["org", *args, "--db", db_url])

    r = org("add", "state-cio", "--name", "Office of the State CIO", "--contact", "soc@cio.example.gov")
    assert r.exit_code == 0, r.output
    assert "created organisation state-cio" in r.output
    r = org("add", "health", "--name", "Department of Health", "--parent", "state-cio", "--share", "hosts")
    assert r.exit_code == 0 and "created organisation health in state-cio" in r.output, r.output
    for args, message in (
        (("add", "health", "--name", "Again"), "already exists"),
        (("add", "parks", "--name", "Parks", "--parent", "nowhere"), "no organisation 'nowhere'"),
        (("add", "parks", "--name", "Parks", "--share", "all"), "aggregates, hosts"),
        (("add", "Parks", "--name", "Parks"), "lower-case letters"),
        (("list", "--format", "xml"), "table or json"),
    ):
        r = org(*args)
        assert r.exit_code == 2 and message in r.output, (args, r.output)

    r = org("list", "--format", "json")
    assert r.exit_code == 0, r.output
    items = {o["slug"]: o for o in json.loads(r.stdout)["items"]}
    assert [*items] == ["default", "health", "state-cio"]
    assert items["health"]["parent"] == "state-cio" and items["health"]["share_with_coordinators"] == "hosts"
    assert items["state-cio"]["members"] == 1 and items["state-cio"]["contact"] == "soc@cio.example.gov"
    assert items["default"]["name"] == "Default organisation" and items["default"]["id"] == DEFAULT_ORG_ID
    r = org("list")
    assert r.exit_code == 0
    health_line = next(line for line in r.stdout.splitlines() if line.startswith("health "))
    assert health_line.split()[:3] == ["health", "state-cio", "hosts"]
    assert health_line.endswith("Department of Health")

    db = Database(db_url)
    try:
        with db.reading() as s:
            created = list(
                s.execute(
                    sa.select(AuditEntry.actor, AuditEntry.target, AuditEntry.org_id)
                    .where(AuditEntry.action == "org.create")
                    .order_by(AuditEntry.id)
                )
            )
            ids = {o.slug: o.id for o in s.scalars(sa.select(Organisation))}
    finally:
        db.dispose()
    assert [tuple(c) for c in created] == [
        ("cli", "state-cio", ids["state-cio"]),
        ("cli", "health", ids["health"]),
    ]
