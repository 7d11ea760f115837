"""The import page's format choice and preview, on SQLite and PostgreSQL: a chosen format is the
one the upload is read as (page and API), an unknown one is a 400 that says what to choose,
and a preview shows what was read and would be found while storing nothing."""

from __future__ import annotations

import re
import warnings
from html import unescape

import pytest
from sqlalchemy import func, select

from banscan.server.uploads import input_formats
from banscan.store.db import make_engine
from banscan.store.models import AuditEntry, Finding, Host, Report

from .conftest import ADMIN_PASSWORD, Fleet, make_admin

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TSV = (
    "Computer\tApp\tVendor\tVersion\tSeen\n"
    "KIOSK-01\tKaspersky Security Center Network Agent\tAO Kaspersky Lab\t14.2.0.26967\t2024-12-30\n"
    "KIOSK-02\tMozilla Firefox\tMozilla\t133.0.3\t2024-12-29\n"
)
# A Configuration Manager export: detected as configmgr-csv; the generic CSV reader finds no
# application-name column in it.
CONFIGMGR = (
    "Netbios_Name0,DisplayName0,Publisher0,Version0\n"
    "WS-01,Kaspersky Endpoint Security for Windows,AO Kaspersky Lab,12.1.0.506\n"
    "WS-02,Notepad++,Notepad++ Team,8.6\n"
)
# osquery results with one broken line between two good ones
OSQUERY = (
    '{"name":"programs","hostIdentifier":"pc-1","columns":{"name":"Kaspersky Endpoint Security for Windows",'
    '"version":"12.1","publisher":"AO Kaspersky Lab"},"action":"added"}\n'
    "{broken\n"
    '{"name":"programs","hostIdentifier":"pc-2","columns":{"name":"7-Zip","version":"23",'
    '"publisher":"Igor Pavlov"},"action":"added"}\n'
)


def _admin(fleet: Fleet) -> tuple[TestClient, str]:
    """A browser logged in as an admin, and its CSRF token."""
    make_admin(fleet.db_url)
    client = TestClient(fleet.app, base_url="https://testserver")
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    r = client.post(
        "/login",
        data={"username": "alice", "password": ADMIN_PASSWORD, "csrf_token": token.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/imports").text)
    assert csrf
    return client, csrf.group(1)


def _stored(db_url: str) -> dict[str, int]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return {
                "hosts": conn.scalar(select(func.count()).select_from(Host)) or 0,
                "reports": conn.scalar(select(func.count()).select_from(Report)) or 0,
                "findings": conn.scalar(select(func.count()).select_from(Finding)) or 0,
                "imports": conn.scalar(
                    select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "import")
                )
                or 0,
            }
    finally:
        engine.dispose()


def _text(html: str, element_id: str) -> str:
    m = re.search(rf'id="{element_id}">(.*?)</', html, re.DOTALL)
    assert m, element_id
    return unescape(m.group(1)).strip()


def _post(client: TestClient, csrf: str, name: str, content: str, **form: str) -> tuple[int, str]:
    r = client.post("/imports", data={"csrf_token": csrf, **form}, files={"file": (name, content.encode())})
    return r.status_code, r.text


def test_the_form_offers_auto_detect_then_every_format(fleet: Fleet) -> None:
    client, _ = _admin(fleet)
    html = client.get("/imports").text
    select_ = html[html.index('<select name="format">') : html.index("</select>")]
    values = re.findall(r'<option value="([^"]*)"', select_)
    assert values == ["", *input_formats()]
    assert re.search(r'<option value="" selected>auto-detect</option>', select_)
    for name in ("osquery", "fleet", "csv", "intune-csv", "configmgr-csv", "cyclonedx-json", "spdx-json"):
        assert name in input_formats(), name
    assert 'name="action" value="preview"' in html and 'name="action" value="import"' in html


def test_preview_shows_what_was_read_and_stores_nothing(fleet: Fleet) -> None:
    client, csrf = _admin(fleet)
    before = _stored(fleet.db_url)
    status, html = _post(client, csrf, "inventory.tsv", TSV, action="preview", site="Depot")
    assert status == 200, html
    assert _stored(fleet.db_url) == before == {"hosts": 0, "reports": 0, "findings": 0, "imports": 0}
    assert 'id="import-preview"' in html and 'id="import-result"' not in html
    assert _text(html, "preview-format") == "csv" and "(detected)" in html
    assert _text(html, "preview-records-count") == "2"
    assert _text(html, "preview-hosts-count") == "2" and _text(html, "preview-hosts") == "KIOSK-01, KIOSK-02"
    assert _text(html, "preview-findings-count") == "1" and _text(html, "preview-errors-count") == "0"
    sample = html[html.index('id="preview-sample"') :]
    sample = sample[: sample.index("</table>")]
    rows = [
        [unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", sample)
    ]
    assert rows[1:] == [
        ["KIOSK-01", "Kaspersky Security Center Network Agent", "14.2.0.26967", "AO Kaspersky Lab"],
        ["KIOSK-02", "Mozilla Firefox", "133.0.3", "Mozilla"],
    ]
    findings = html[html.index('id="preview-findings"') :]
    findings = findings[: findings.index("</table>")]
    assert "KIOSK-01" in findings and "KIOSK-02" not in findings
    assert '<span class="verdict covered">covered</span>' in findings
    # the form keeps what was chosen, to import the same way
    assert 'name="site" maxlength="100" placeholder="for the hosts this file adds" value="Depot"' in html

    # the same file imported: stored, as the preview said
    status, html = _post(client, csrf, "inventory.tsv", TSV, action="import")
    assert status == 201, html
    after = _stored(fleet.db_url)
    assert after["hosts"] == 2 and after["imports"] == 1
    # a preview after the import changes nothing either
    status, _ = _post(client, csrf, "inventory.tsv", TSV, action="preview")
    assert status == 200 and _stored(fleet.db_url) == after


def test_preview_lists_input_errors_one_line_each(fleet: Fleet) -> None:
    client, csrf = _admin(fleet)
    status, html = _post(client, csrf, "results.log", OSQUERY, action="preview")
    assert status == 200, html
    assert _text(html, "preview-format") == "osquery"
    assert _text(html, "preview-records-count") == "2" and _text(html, "preview-errors-count") == "1"
    block = html[html.index('id="preview-errors"') :]
    errors = re.findall(r"<li>(.*?)</li>", block[: block.index("</ul>")])
    assert len(errors) == 1 and errors[0].startswith("results.log:2: not valid JSON")
    assert "banscan-import-" not in html  # never the server's temporary path
    assert _stored(fleet.db_url)["hosts"] == 0


def test_a_chosen_format_is_the_one_read(fleet: Fleet) -> None:
    client, csrf = _admin(fleet)
    # detected, the export reads as Configuration Manager's
    status, html = _post(client, csrf, "cm.csv", CONFIGMGR, action="preview")
    assert status == 200 and _text(html, "preview-format") == "configmgr-csv"
    assert _text(html, "preview-records-count") == "2" and _text(html, "preview-findings-count") == "1"
    # forced as the generic CSV it is read as that, which finds no name column: the preview says so
    status, html = _post(client, csrf, "cm.csv", CONFIGMGR, action="preview", format="csv")
    assert status == 422
    assert _text(html, "preview-format") == "csv" and "(as chosen)" in html
    assert _text(html, "preview-records-count") == "0"
    assert "cm.csv:1: no application-name column in the header" in unescape(html)
    assert '<option value="csv" selected>csv</option>' in html
    # the tab-separated inventory forced as csv reads as before
    status, html = _post(client, csrf, "inventory.tsv", TSV, action="preview", format="csv")
    assert status == 200 and _text(html, "preview-records-count") == "2"
    assert _stored(fleet.db_url)["hosts"] == 0

    # importing with the format: the same choice, stored
    status, html = _post(client, csrf, "cm.csv", CONFIGMGR, action="import", format="csv")
    assert status == 422 and 'id="import-error"' in html
    assert "cm.csv:1: no application-name column" in unescape(html)
    assert _stored(fleet.db_url)["hosts"] == 0
    status, html = _post(client, csrf, "cm.csv", CONFIGMGR, action="import", format="configmgr-csv")
    assert status == 201, html
    assert "records read as configmgr-csv" in html and _stored(fleet.db_url)["hosts"] == 2

    # and through the API
    admin = fleet.as_admin()
    r = fleet.client.post(
        "/api/v1/imports", files={"file": ("k.tsv", TSV.encode())}, data={"format": "csv"}, headers=admin
    )
    assert r.status_code == 201, r.text
    assert r.json()["targets"][0]["format"] == "csv"
    r = fleet.client.post(
        "/api/v1/imports",
        files={"file": ("cm.csv", CONFIGMGR.encode())},
        data={"format": "csv"},
        headers=admin,
    )
    assert r.status_code == 422 and "no application-name column" in r.text


@pytest.mark.parametrize("action", ["preview", "import"])
def test_an_unknown_format_is_a_400_that_says_what_to_choose(fleet: Fleet, action: str) -> None:
    client, csrf = _admin(fleet)
    status, html = _post(client, csrf, "inventory.tsv", TSV, action=action, format="excel")
    assert status == 400
    message = _text(html, "import-error")
    assert message.startswith("<p>unknown format 'excel': leave it to auto-detect, or choose one of ")
    assert "osquery" in message and "configmgr-csv" in message
    assert _stored(fleet.db_url) == {"hosts": 0, "reports": 0, "findings": 0, "imports": 0}

    r = fleet.client.post(
        "/api/v1/imports",
        files={"file": ("i.tsv", TSV.encode())},
        data={"format": "\u202eexcel"},
        headers=fleet.as_admin(),
    )
    assert r.status_code == 400
    assert r.json()["detail"].startswith("unknown format '(unreadable)'")
    assert _stored(fleet.db_url)["hosts"] == 0


def test_a_bad_action_is_refused(fleet: Fleet) -> None:
    client, csrf = _admin(fleet)
    status, _ = _post(client, csrf, "inventory.tsv", TSV, action="store-twice")
    assert status == 400  # the dashboard's answer to a form it did not send
    assert _stored(fleet.db_url)["hosts"] == 0
