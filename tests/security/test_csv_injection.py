"""CSV exports never hand a spreadsheet a formula (finding 13).

The first guard caught ``=1`` but not ``U+FF1D 1`` (a fullwidth equals) or `` =1`` (a
leading space): spreadsheets fold the first and skip the second. The rule is
OWASP's CSV injection list, applied after leading blanks and after Unicode
compatibility folding; every cell is also quoted. Checked on the exported file
itself, through the CLI, on both databases.
"""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest
from click.testing import CliRunner

from sayso.cli import main
from sayso.export import is_formula
from sayso.settings import Settings

# Each of these must reach the spreadsheet as text.
DANGEROUS = [
    "=1+1",
    '=HYPERLINK("https://evil.example")',
    "+1",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1)",
    "%0A=1",
    "|calc",
    "\t=1",
    "\r=1",
    "\n=1",
    " =1",
    "   +1",
    "\u00a0=1",  # no-break space
    "\u3000=1",  # ideographic space
    "\u200b=1",  # zero-width space
    "\ufeff=1",  # byte order mark
    "\x0b=1",
    "\uff1d1+1",  # fullwidth equals
    "\uff0b1",  # fullwidth plus
    "\uff0d1",  # fullwidth hyphen-minus
    "\uff20SUM(A1)",  # fullwidth commercial at
    "\ufe661",  # small equals
    " \uff1dcmd",
]
HARMLESS = ["a = b", "hello", "1+1", "email@example.com", "50% off", "", "ok =", "(=1)"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_every_form_of_a_formula_start_is_recognised(text: str) -> None:
    assert is_formula(text)


@pytest.mark.parametrize("text", HARMLESS)
def test_ordinary_text_is_not_a_formula(text: str) -> None:
    assert not is_formula(text)


def test_the_exported_file_neutralises_every_form(
    api: httpx.Client, client_id: str, settings: Settings
) -> None:
    for text in [*DANGEROUS, *HARMLESS]:
        response = api.post(
            "/api/feedback", json={"clientId": client_id, "rating": 2, "comment": text or None}
        )
        assert response.status_code == 200, response.text
    runner = CliRunner(
        env={"SAYSO_DATA_DIR": str(settings.data_dir), "SAYSO_DATABASE_URL": settings.database_url}
    )

    result = runner.invoke(
        main,
        ["feedback", "export", "--format", "csv", "--client", client_id],
        catch_exceptions=False,
    )

    raw = result.stdout_bytes.decode("utf-8")
    header, *rows = list(csv.reader(io.StringIO(raw, newline="")))
    cells = {row[0]: dict(zip(header, row, strict=True))["comment"] for row in rows}
    jsonl = runner.invoke(main, ["feedback", "export", "--format", "jsonl", "--client", client_id])
    stored = {r["id"]: r["comment"] or "" for r in map(json.loads, jsonl.stdout.splitlines())}
    assert len(stored) == len(cells) == len(DANGEROUS) + len(HARMLESS)
    # A comment is neutralised exactly when it is dangerous, otherwise untouched…
    assert cells == {i: "'" + c if is_formula(c) else c for i, c in stored.items()}
    # …and every dangerous one still is, as the API stored it.
    assert sum(is_formula(c) for c in stored.values()) == len(DANGEROUS)
    # Every cell is quoted, so nothing inside a value can open a new cell.
    assert raw.startswith('"id","createdAt"')
