"""The ``sayso`` command line: managing clients and exporting feedback, on SQLite and PostgreSQL.

Commands run in-process through click's ``CliRunner`` with ``SAYSO_*`` variables
pointing at a test database; feedback is submitted over real HTTP to the live
server so exports read what the real write path stored. One test runs the
installed console script in a subprocess, from an empty data directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from sayso.settings import Settings
from sayso.store.clients import create_client, get_client
from sayso.store.database import create_db_engine
from tests.support.cli import Sayso
from tests.support.reference import API_FIELDS, FULL_EXAMPLE

CLIENT_ID = re.compile(r"^client_[A-Za-z0-9_-]{16,}$")
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
EXPORT_KEYS = ["id", "createdAt", *API_FIELDS, "origin", "userAgent", "status"]
FULL_FIELDS = FULL_EXAMPLE | {
    "metadata": {"appVersion": "2.4.1", "nested": {"flags": [1, 2]}, "build": 1842},
    "sessionReplayId": "replay-123",
    "replayOffsetMs": 183250,
}
FULL_HEADERS = {"Origin": "https://yourapp.com", "User-Agent": "ExampleBrowser/1.0"}


@pytest.fixture(scope="module")
def cli(backend: str, fresh_settings: Callable[..., Settings]) -> Sayso:
    """The CLI on a database of its own (clients are looked up by their new ids)."""
    return Sayso(fresh_settings(backend))


@pytest.fixture
def server_cli(settings: Settings, server: object) -> Sayso:
    """The CLI on the live server's database, to export what was submitted over HTTP."""
    return Sayso(settings)


def submit(
    api: httpx.Client, client_id: str, headers: dict[str, str] | None = None, **fields: Any
) -> str:
    response = api.post("/api/feedback", json={"clientId": client_id, **fields}, headers=headers)
    assert response.status_code == 200, response.text
    # Keep submissions a few milliseconds apart so createdAt tells them apart
    # even at the millisecond precision of the export.
    time.sleep(0.005)
    return str(response.json()["feedbackId"])


def parse_created_at(value: str) -> datetime:
    assert ISO_UTC.match(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- clients create --------------------------------------------------------------


def test_clients_create_prints_only_the_new_client_id(cli: Sayso) -> None:
    result = cli("clients", "create", "My app")

    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("\n")
    client_id = result.stdout.strip()
    assert result.stdout == client_id + "\n"
    assert CLIENT_ID.match(client_id), client_id
    assert cli.clients()[client_id]["name"] == "My app"
    assert cli.clients()[client_id]["allowedOrigins"] == []


def test_clients_create_gives_every_client_a_different_id(cli: Sayso) -> None:
    ids = {cli.ok("clients", "create", "Same name").strip() for _ in range(3)}
    assert len(ids) == 3


def test_clients_create_stores_allowed_origins_normalised_and_deduplicated(cli: Sayso) -> None:
    client_id = cli.ok(
        "clients",
        "create",
        "My app",
        "--allow-origin",
        "HTTPS://MyApp.com:443/",
        "--allow-origin",
        "http://LOCALHOST:3000",
        "--allow-origin",
        "https://*.Example.COM",
        "--allow-origin",
        "https://myapp.com",
    ).strip()

    expected = ["https://myapp.com", "http://localhost:3000", "https://*.example.com"]
    assert cli.origins(client_id) == expected
    engine = create_db_engine(cli.settings)
    try:
        stored = get_client(engine, client_id)
    finally:
        engine.dispose()
    assert stored is not None
    assert [str(o) for o in stored.allowed_origins] == expected


@pytest.mark.parametrize(
    ("origin", "hint"),
    [
        ("myapp.com", "http:// or https://"),
        ("https://a.com/path", "no path"),
        ("ftp://x", "http:// or https://"),
        ("https://user@a.com", "credentials"),
        ("https://*.com", "wildcard"),
    ],
)
def test_clients_create_with_an_invalid_origin_fails_helpfully_and_creates_nothing(
    cli: Sayso, origin: str, hint: str
) -> None:
    before = cli.clients()

    output = cli.fails(
        "clients", "create", "Bad", "--allow-origin", "https://ok.example", "--allow-origin", origin
    )

    assert "--allow-origin" in output
    assert hint in output
    assert "Traceback" not in output
    assert cli.clients() == before


def test_clients_create_with_a_blank_name_fails_and_creates_nothing(cli: Sayso) -> None:
    before = cli.clients()
    output = cli.fails("clients", "create", "   ")
    assert "name" in output
    assert cli.clients() == before


# --- clients list ----------------------------------------------------------------


def test_clients_list_prints_id_name_and_allowlist_tab_separated(cli: Sayso) -> None:
    open_id = cli.ok("clients", "create", "Open app").strip()
    locked_id = cli.ok(
        "clients",
        "create",
        "Locked app",
        "--allow-origin",
        "https://a.example",
        "--allow-origin",
        "https://b.example:8443",
    ).strip()

    rows = {
        line.split("\t")[0]: line.split("\t") for line in cli.ok("clients", "list").splitlines()
    }

    assert rows[open_id] == [open_id, "Open app", "(any origin)"]
    assert rows[locked_id] == [locked_id, "Locked app", "https://a.example, https://b.example:8443"]
    assert all(len(row) == 3 for row in rows.values())


def test_cleanup_runs_on_a_fresh_data_directory(cli: Sayso) -> None:
    cli.ok("cleanup")


def test_screenshots_can_be_made_private_and_public_again(cli: Sayso) -> None:
    client_id = cli.ok("clients", "create", "Careful").strip()
    assert cli.clients()[client_id]["screenshotsPrivate"] is False
    cli.ok("clients", "update", client_id, "--private-screenshots")
    assert cli.clients()[client_id]["screenshotsPrivate"] is True
    cli.ok("clients", "update", client_id, "--public-screenshots")
    assert cli.clients()[client_id]["screenshotsPrivate"] is False


def test_clients_list_json_prints_one_object_per_line_oldest_first(cli: Sayso) -> None:
    first = cli.ok("clients", "create", "First", "--allow-origin", "https://first.example").strip()
    second = cli.ok("clients", "create", "Second").strip()

    records = [json.loads(line) for line in cli.ok("clients", "list", "--json").splitlines()]

    assert all(
        set(r)
        == {
            "id",
            "name",
            "allowedOrigins",
            "createdAt",
            "screenshotsPrivate",
            "replayRetentionDays",
        }
        for r in records
    )
    ids = [r["id"] for r in records]
    assert ids.index(first) < ids.index(second)
    by_id = {r["id"]: r for r in records}
    assert by_id[first]["name"] == "First"
    assert by_id[first]["allowedOrigins"] == ["https://first.example"]
    assert by_id[second]["allowedOrigins"] == []
    created = datetime.fromisoformat(by_id[first]["createdAt"])
    assert created.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)
    created_ats = [datetime.fromisoformat(r["createdAt"]) for r in records]
    assert created_ats == sorted(created_ats)


# --- clients update --------------------------------------------------------------


def _client_with(cli: Sayso, *origins: str) -> str:
    args = [arg for origin in origins for arg in ("--allow-origin", origin)]
    return cli.ok("clients", "create", "Updatable", *args).strip()


def test_clients_update_renames_and_prints_the_client(cli: Sayso) -> None:
    client_id = _client_with(cli, "https://a.example")

    output = cli.ok("clients", "update", client_id, "--name", "  Renamed  ")

    assert output == f"{client_id}\tRenamed\thttps://a.example\n"
    assert cli.clients()[client_id]["name"] == "Renamed"
    assert cli.origins(client_id) == ["https://a.example"]


def test_clients_update_adds_origins_normalised_without_duplicates(cli: Sayso) -> None:
    client_id = _client_with(cli, "https://a.example")

    cli.ok(
        "clients",
        "update",
        client_id,
        "--allow-origin",
        "HTTPS://A.example:443/",
        "--allow-origin",
        "https://B.example/",
    )

    assert cli.origins(client_id) == ["https://a.example", "https://b.example"]
    assert cli.clients()[client_id]["name"] == "Updatable"


def test_clients_update_removes_origins_given_in_any_spelling(cli: Sayso) -> None:
    client_id = _client_with(cli, "https://a.example", "https://b.example", "https://*.c.example")

    cli.ok(
        "clients",
        "update",
        client_id,
        "--remove-origin",
        "HTTPS://A.EXAMPLE:443",
        "--remove-origin",
        "https://*.C.example/",
        "--remove-origin",
        "https://never-listed.example",
    )

    assert cli.origins(client_id) == ["https://b.example"]


def test_clients_update_applies_removals_before_additions(cli: Sayso) -> None:
    client_id = _client_with(cli, "https://a.example", "https://b.example")

    cli.ok(
        "clients",
        "update",
        client_id,
        "--allow-origin",
        "https://a.example",
        "--remove-origin",
        "https://a.example",
    )

    origins = cli.origins(client_id)
    assert sorted(origins) == ["https://a.example", "https://b.example"]


def test_clients_update_clears_the_allowlist_before_removing_and_adding(cli: Sayso) -> None:
    client_id = _client_with(cli, "https://a.example", "https://b.example")

    output = cli.ok(
        "clients",
        "update",
        client_id,
        "--clear-allowlist",
        "--remove-origin",
        "https://c.example",
        "--allow-origin",
        "https://c.example",
        "--allow-origin",
        "https://d.example",
    )

    assert cli.origins(client_id) == ["https://c.example", "https://d.example"]
    assert output == f"{client_id}\tUpdatable\thttps://c.example, https://d.example\n"


def test_clients_update_clear_allowlist_alone_accepts_every_origin(cli: Sayso) -> None:
    client_id = _client_with(cli, "https://a.example")

    output = cli.ok("clients", "update", client_id, "--clear-allowlist")

    assert cli.origins(client_id) == []
    assert output == f"{client_id}\tUpdatable\t(any origin)\n"


def test_clients_update_with_an_invalid_origin_fails_and_changes_nothing(cli: Sayso) -> None:
    client_id = _client_with(cli, "https://a.example")
    before = cli.clients()[client_id]

    output = cli.fails(
        "clients", "update", client_id, "--clear-allowlist", "--name", "X", "--allow-origin", "a.b"
    )

    assert "--allow-origin" in output
    assert "http:// or https://" in output
    assert cli.clients()[client_id] == before


def test_clients_update_of_an_unknown_client_fails_naming_it(cli: Sayso) -> None:
    before = cli.clients()

    output = cli.fails("clients", "update", "client_doesNotExist12345", "--name", "X")

    assert "client_doesNotExist12345" in output
    assert cli.clients() == before


# --- feedback export -------------------------------------------------------------


def test_export_jsonl_has_exactly_the_public_fields_with_null_for_absent_ones(
    api: httpx.Client, client_id: str, server_cli: Sayso, upload_screenshot: Callable[..., Any]
) -> None:
    sent = FULL_FIELDS | {"screenshots": [upload_screenshot(api, client_id)]}
    full_id = submit(api, client_id, headers=FULL_HEADERS, **sent)
    minimal_id = submit(api, client_id, rating=3)

    full, minimal = server_cli.export_jsonl("--client", client_id)

    assert list(full) == EXPORT_KEYS
    assert list(minimal) == EXPORT_KEYS
    assert full["id"] == full_id
    assert full["clientId"] == client_id
    assert {k: full[k] for k in sent} == sent
    assert full["origin"] == "https://yourapp.com"
    assert full["userAgent"] == "ExampleBrowser/1.0"
    assert minimal["id"] == minimal_id
    assert minimal["clientId"] == client_id
    assert minimal["rating"] == 3
    assert minimal["status"] == "new"
    absent = set(EXPORT_KEYS) - {"id", "createdAt", "clientId", "rating", "userAgent", "status"}
    assert {k: minimal[k] for k in absent} == dict.fromkeys(absent)


def test_export_defaults_to_jsonl(api: httpx.Client, client_id: str, server_cli: Sayso) -> None:
    feedback_id = submit(api, client_id, rating=1)

    result = server_cli("feedback", "export", "--client", client_id)

    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [feedback_id]


def test_export_created_at_is_iso_utc_ending_in_z_and_records_come_oldest_first(
    api: httpx.Client, client_id: str, server_cli: Sayso
) -> None:
    started = datetime.now(UTC)
    ids = [submit(api, client_id, rating=r) for r in (1, 2, 3, 4)]

    records = server_cli.export_jsonl("--client", client_id)

    assert [r["id"] for r in records] == ids
    created = [parse_created_at(r["createdAt"]) for r in records]
    assert created == sorted(created)
    assert started - timedelta(seconds=1) <= created[0] <= created[-1]
    assert created[-1] <= datetime.now(UTC) + timedelta(seconds=1)
    # The whole database, across every client, is oldest first too.
    everything = [parse_created_at(r["createdAt"]) for r in server_cli.export_jsonl()]
    assert everything == sorted(everything)


def test_export_client_option_returns_only_that_clients_feedback(
    api: httpx.Client, client_id: str, engine: Engine, server_cli: Sayso
) -> None:
    other_id = create_client(engine, "other").id
    mine = [submit(api, client_id, rating=4), submit(api, client_id, comment="mine")]
    theirs = [submit(api, other_id, rating=1)]

    assert [r["id"] for r in server_cli.export_jsonl("--client", client_id)] == mine
    assert [r["id"] for r in server_cli.export_jsonl("--client", other_id)] == theirs
    assert server_cli.export_jsonl("--client", "client_nobodyHasThisId0") == []
    all_ids = [r["id"] for r in server_cli.export_jsonl()]
    assert set(mine + theirs) <= set(all_ids)


def test_export_since_a_date_means_from_midnight_utc(
    api: httpx.Client, client_id: str, server_cli: Sayso
) -> None:
    feedback_id = submit(api, client_id, rating=2)
    day = date.fromisoformat(server_cli.export_jsonl("--client", client_id)[0]["createdAt"][:10])

    def exported_since(value: date) -> list[str]:
        return [
            r["id"] for r in server_cli.export_jsonl("--client", client_id, "--since", str(value))
        ]

    assert exported_since(day - timedelta(days=1)) == [feedback_id]
    assert exported_since(day) == [feedback_id]
    assert exported_since(day + timedelta(days=1)) == []


def test_export_since_an_iso_time_keeps_feedback_at_or_after_it_whatever_the_offset(
    api: httpx.Client, client_id: str, server_cli: Sayso
) -> None:
    submit(api, client_id, comment="before")
    time.sleep(0.02)
    later = [submit(api, client_id, comment="at"), submit(api, client_id, comment="after")]
    exported = server_cli.export_jsonl("--client", client_id)
    cutoff = parse_created_at(exported[1]["createdAt"])  # millisecond precision, rounded down

    def exported_since(value: str) -> list[str]:
        return [r["id"] for r in server_cli.export_jsonl("--client", client_id, "--since", value)]

    spellings = [
        cutoff.isoformat().replace("+00:00", "Z"),
        cutoff.isoformat(),
        cutoff.replace(tzinfo=None).isoformat(),  # no offset: UTC
        cutoff.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
        cutoff.astimezone(timezone(timedelta(hours=-8))).isoformat(),
    ]
    for spelling in spellings:
        assert exported_since(spelling) == later, spelling


def test_export_since_in_the_future_gives_nothing(
    api: httpx.Client, client_id: str, server_cli: Sayso
) -> None:
    submit(api, client_id, rating=3)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    assert server_cli.export_jsonl("--since", tomorrow) == []
    assert server_cli.export_csv("--since", tomorrow) == [EXPORT_KEYS]
    result = server_cli("feedback", "export", "--since", tomorrow)
    assert result.exit_code == 0
    assert result.stdout == ""


@pytest.mark.parametrize("since", ["yesterday", "2026-13-01", "2026-11-01T25:00", "", "1700000000"])
def test_export_with_an_unreadable_since_fails_explaining_the_format(
    server_cli: Sayso, since: str
) -> None:
    output = server_cli.fails("feedback", "export", "--since", since)

    assert "--since" in output
    assert "2026-11-01" in output
    assert "Traceback" not in output


def test_export_with_an_unknown_format_fails(server_cli: Sayso) -> None:
    output = server_cli.fails("feedback", "export", "--format", "xlsx")
    assert "--format" in output


def test_export_csv_has_the_header_row_and_round_trips(
    api: httpx.Client, client_id: str, server_cli: Sayso, upload_screenshot: Callable[..., Any]
) -> None:
    sent = FULL_FIELDS | {"screenshots": [upload_screenshot(api, client_id)]}
    full_id = submit(api, client_id, headers=FULL_HEADERS, **sent)
    minimal_id = submit(api, client_id, comment='He said "hi", then left,\nsecond line')
    jsonl = server_cli.export_jsonl("--client", client_id)

    header, *rows = server_cli.export_csv("--client", client_id)

    assert header == EXPORT_KEYS
    assert len(rows) == 2
    full, minimal = (dict(zip(header, row, strict=True)) for row in rows)
    assert full["id"] == full_id
    assert full["createdAt"] == jsonl[0]["createdAt"]
    assert full["clientId"] == client_id
    assert full["rating"] == "2"
    assert full["replayOffsetMs"] == "183250"
    for key in ("comment", "userEmail", "pageUrl", "pageTitle", "referrer", "environment"):
        assert full[key] == sent[key]
    assert json.loads(full["metadata"]) == sent["metadata"]
    assert json.loads(full["screenshots"]) == sent["screenshots"]
    assert full["origin"] == "https://yourapp.com"
    assert full["userAgent"] == "ExampleBrowser/1.0"
    assert minimal["id"] == minimal_id
    assert minimal["comment"] == 'He said "hi", then left,\nsecond line'
    absent = set(EXPORT_KEYS) - {"id", "createdAt", "clientId", "comment", "userAgent", "status"}
    assert {k: minimal[k] for k in absent} == dict.fromkeys(absent, "")


FORMULAS = ['=HYPERLINK("http://evil")', "+1", "-1", "@x", "=1+1", "-2+3+cmd|' /C calc'!A0"]


def test_export_csv_neutralises_spreadsheet_formulas(
    api: httpx.Client, client_id: str, server_cli: Sayso
) -> None:
    for formula in FORMULAS:
        submit(api, client_id, comment=formula, pageTitle=formula, environment="=env")

    _, *rows = server_cli.export_csv("--client", client_id)
    records = [dict(zip(EXPORT_KEYS, row, strict=True)) for row in rows]

    assert [r["comment"] for r in records] == ["'" + f for f in FORMULAS]
    assert [r["pageTitle"] for r in records] == ["'" + f for f in FORMULAS]
    assert {r["environment"] for r in records} == {"'=env"}
    # JSON Lines is not opened by spreadsheets: the text stays as submitted.
    assert [r["comment"] for r in server_cli.export_jsonl("--client", client_id)] == FORMULAS


def test_export_csv_leaves_harmless_text_alone(
    api: httpx.Client, client_id: str, server_cli: Sayso
) -> None:
    submit(api, client_id, comment="a = b + c - d @ e", rating=1)

    _, row = server_cli.export_csv("--client", client_id)

    assert dict(zip(EXPORT_KEYS, row, strict=True))["comment"] == "a = b + c - d @ e"


def test_unicode_comments_survive_both_formats(
    api: httpx.Client, client_id: str, server_cli: Sayso
) -> None:
    comment = "Ça marche très bien 👍 — 日本語のテスト\nЗдравствуйте, עברית, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"  # noqa: RUF001
    metadata = {"plan": "Übersicht", "emoji": "🎉"}
    submit(api, client_id, comment=comment, metadata=metadata, pageTitle="Café ☕")

    (record,) = server_cli.export_jsonl("--client", client_id)
    _, row = server_cli.export_csv("--client", client_id)
    csv_record = dict(zip(EXPORT_KEYS, row, strict=True))

    assert record["comment"] == comment
    assert record["metadata"] == metadata
    assert record["pageTitle"] == "Café ☕"
    assert csv_record["comment"] == comment
    assert json.loads(csv_record["metadata"]) == metadata
    assert csv_record["pageTitle"] == "Café ☕"


# --- the installed command -------------------------------------------------------


def _sayso_script() -> str:
    beside_python = Path(sys.executable).parent / "sayso"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("sayso")
    assert found, "the sayso console script is not installed"
    return found


def test_installed_sayso_works_from_a_fresh_data_directory(
    backend: str, fresh_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    data_dir = tmp_path / "nested" / "sayso-data"  # does not exist yet
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAYSO_")}
    env["SAYSO_DATA_DIR"] = str(data_dir)
    if backend == "postgres":
        env["SAYSO_DATABASE_URL"] = fresh_settings(backend).database_url
    script = _sayso_script()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [script, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert completed.returncode == 0, completed.stderr
        return completed

    client_id = run("clients", "create", "X").stdout.strip()
    listing = run("clients", "list").stdout

    assert CLIENT_ID.match(client_id), client_id
    assert f"{client_id}\tX\t(any origin)" in listing.splitlines()
    if backend == "sqlite":
        # Zero configuration: the SQLite database lives in the data directory.
        assert (data_dir / "sayso.db").is_file()
