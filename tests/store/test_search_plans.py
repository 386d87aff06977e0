"""SQLite's hand-planned full-text search finds exactly what a plain filter would.

``feedback_search`` searches SQLite two ways (see ``_sqlite_search``): a word
with few matches overall is looked up by rowid, a common one walks the
project newest first in growing chunks. The thresholds are lowered here so
both ways run on a small project; every page must equal the newest-first
list of matching rows, across keyset pages and other filters. PostgreSQL has
one way, checked the same.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine

from sayso.seed import seed_feedback
from sayso.store import feedback_search
from sayso.store.feedback_search import Filters, find


def _all_pages(engine: Engine, client_id: str, filters: Filters) -> list[str]:
    ids: list[str] = []
    before = None
    while True:
        page = find(engine, client_id, filters, before=before, limit=7)
        ids += [str(row["id"]) for row in page.rows]
        if page.older is None:
            return ids
        before = page.older


@pytest.mark.parametrize("few", [0, 3, 100_000], ids=["chunked", "chunked-early", "by-rowid"])
def test_search_pages_equal_the_newest_first_matches_whichever_way_sqlite_plans_them(
    engine: Engine, client_id: str, monkeypatch: pytest.MonkeyPatch, few: int
) -> None:
    monkeypatch.setattr(feedback_search, "FEW_MATCHES", few)
    monkeypatch.setattr(feedback_search, "FIRST_CHUNK", 5)
    seed_feedback(engine, client_id, 400, days=3, seed=5)
    everything = _all_pages(engine, client_id, Filters(environment="production"))
    rows = {
        str(row["id"]): row
        for row in find(engine, client_id, Filters(environment="production"), limit=1000).rows
    }

    for words, extra in [("page", {}), ("export", {}), ("page", {"ratings": (1, 2)})]:
        filters = Filters(environment="production", q=words, **extra)  # type: ignore[arg-type]
        expected = [
            i
            for i in everything
            if words in re.findall(r"\w+", str(rows[i]["comment"] or "").lower())
            and (not filters.ratings or rows[i]["rating"] in filters.ratings)
        ]
        assert expected, words
        assert _all_pages(engine, client_id, filters) == expected, (words, extra)
    assert _all_pages(engine, client_id, Filters(environment="production", q="nowhere")) == []
