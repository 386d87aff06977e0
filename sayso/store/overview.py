"""The overview page's numbers, read from the daily rollups of migration 0007.

Nothing here touches ``feedback``: a day's counts per rating live in
``feedback_daily`` and per page in ``feedback_pages_daily``, so the cost of a
query grows with the number of days (and pages) in the period, never with the
number of feedback rows. Environment ``''`` is the default inbox, rating 0 is
"no rating", as in the rollup tables.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, func, select

from sayso.store.rollups import RatingTotals
from sayso.store.schema import feedback_daily, feedback_pages_daily

RATINGS = (1, 2, 3, 4)
TOP_PAGES = 10


@dataclass(frozen=True, slots=True)
class PageStats(RatingTotals):
    page: str


def daily_ratings(
    engine: Engine, client_id: str, environment: str, start: date, end: date
) -> dict[date, dict[int, int]]:
    """Counts per day (inclusive range) and rating (0 = none); days without feedback are absent."""
    t = feedback_daily.c
    query = select(t.day, t.rating, t.count).where(
        t.client_id == client_id,
        t.environment == environment,
        t.day >= start,
        t.day <= end,
        t.count > 0,
    )
    days: dict[date, dict[int, int]] = defaultdict(dict)
    with engine.connect() as conn:
        for day, rating, count in conn.execute(query):
            days[day][int(rating)] = int(count)
    return dict(days)


def by_environment(engine: Engine, client_id: str, start: date, end: date) -> dict[str, int]:
    """Feedback per environment ('' = default) in the period, environments with none left out."""
    t = feedback_daily.c
    total = func.sum(t.count)
    query = (
        select(t.environment, total)
        .where(t.client_id == client_id, t.day >= start, t.day <= end)
        .group_by(t.environment)
        .having(total > 0)
    )
    with engine.connect() as conn:
        return {str(env): int(n) for env, n in conn.execute(query)}


def environments(engine: Engine, client_id: str) -> list[str]:
    """Every named environment the project's feedback has used, alphabetically."""
    t = feedback_daily.c
    query = (
        select(t.environment)
        .where(t.client_id == client_id, t.environment != "", t.count > 0)
        .distinct()
        .order_by(t.environment)
    )
    with engine.connect() as conn:
        return [str(env) for env in conn.execute(query).scalars()]


def top_pages(
    engine: Engine,
    client_id: str,
    environment: str,
    start: date,
    end: date,
    limit: int = TOP_PAGES,
) -> list[PageStats]:
    """The pages with the most feedback in the period, most first (ties by page)."""
    t = feedback_pages_daily.c
    count = func.sum(t.count).label("n")
    query = (
        select(t.page, count, func.sum(t.rating_sum), func.sum(t.rated_count))
        .where(
            t.client_id == client_id,
            t.environment == environment,
            t.day >= start,
            t.day <= end,
        )
        .group_by(t.page)
        .having(count > 0)
        .order_by(count.desc(), t.page)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [
            PageStats(
                page=str(page), count=int(n), rating_sum=int(rating_sum), rated_count=int(rated)
            )
            for page, n, rating_sum, rated in conn.execute(query)
        ]
