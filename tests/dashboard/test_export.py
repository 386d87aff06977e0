"""Exporting the inbox's current view from the dashboard, as CSV and JSON.

Real HTTP against a live server on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest

from sayso.dashboard import exports
from sayso.export import FIELDS
from sayso.store import audit
from tests.support.dashboard import (
    Browser,
    db,
    inbox,
    send,
)
from tests.support.live_server import LiveServer


def test_the_inbox_offers_exports_of_exactly_its_current_filters(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Export links")
    send(site, client_id, rating=1, comment="x")
    page = inbox(ana, client_id, "?rating=1&q=checkout").text
    assert f"/projects/{client_id}/export?rating=1&amp;q=checkout&amp;format=csv" in page
    assert f"/projects/{client_id}/export?rating=1&amp;q=checkout&amp;format=json" in page


def test_a_json_export_holds_every_matching_item_across_batches_newest_first(
    site: LiveServer, people: Callable[[str], Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The live server runs in this process: batches of 2 make 3 items span two.
    monkeypatch.setattr(exports, "BATCH", 2)
    ana = people("ana")
    client_id = ana.create_project("Export JSON")
    wanted = [send(site, client_id, rating=1, comment=f"bad {i}") for i in range(3)]
    send(site, client_id, rating=4, comment="good")

    response = ana.http.get(f"/projects/{client_id}/export?rating=1&format=json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    records = json.loads(response.text)
    assert [r["id"] for r in records] == wanted[::-1]
    assert records[0]["comment"] == "bad 2"
    assert records[0]["status"] == "new"


def test_a_csv_export_has_a_header_and_formula_safe_cells(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Export CSV")
    send(site, client_id, rating=2, comment='=HYPERLINK("https://evil")', userEmail="a@b.co")

    response = ana.http.get(f"/projects/{client_id}/export?format=csv")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, row = rows
    assert header[:5] == ["id", "createdAt", "clientId", "rating", "comment"]
    record = dict(zip(header, row, strict=True))
    assert record["comment"] == '\'=HYPERLINK("https://evil")'
    assert record["userEmail"] == "a@b.co"


def test_an_empty_export_is_still_a_valid_file(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Empty")
    assert json.loads(ana.http.get(f"/projects/{client_id}/export?format=json").text) == []
    csv_file = ana.http.get(f"/projects/{client_id}/export?format=csv").content.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(csv_file))) == [list(FIELDS)]


def test_every_export_is_audited_with_its_format_and_filters(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Audited")
    ana.http.get(f"/projects/{client_id}/export?format=csv&rating=3&rating=1&env=staging")
    entry = audit.entries(db(site), client_id)[0]
    assert entry.action == "feedback_exported"
    filters = [["env", "staging"], ["rating", "1"], ["rating", "3"]]
    assert entry.details == {"format": "csv", "filters": filters}


def test_an_unknown_format_is_a_400_and_strangers_get_404(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana, bob = people("ana"), people("bob")
    client_id = ana.create_project("Formats")
    assert ana.http.get(f"/projects/{client_id}/export?format=xml").status_code == 400
    assert bob.http.get(f"/projects/{client_id}/export?format=csv").status_code == 404
