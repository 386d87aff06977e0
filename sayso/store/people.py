"""The People view: feedback grouped by person, read from the ``feedback_people`` rollup.

A person is a lowercased ``user_email`` within one project and environment
('' = the default inbox). The rollup is kept by triggers (migration 0007), so
listing people costs the same at a million feedback rows as at ten.
Pages are numbered (offset) rather than keyset: a project has thousands of
people, not millions, and numbered pages let the order be by count as well as
by time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine, select

from sayso.store.database import as_utc
from sayso.store.rollups import RatingTotals
from sayso.store.schema import feedback_people

PAGE_SIZE = 50
Sort = Literal["last_seen", "count"]
SORTS: tuple[Sort, ...] = ("last_seen", "count")


@dataclass(frozen=True, slots=True)
class Person(RatingTotals):
    email: str
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class PeoplePage:
    people: list[Person]
    more: bool  # whether another page follows


def find(
    engine: Engine,
    client_id: str,
    environment: str,
    *,
    sort: Sort = "last_seen",
    prefix: str = "",
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> PeoplePage:
    """One page of people, most recent (or most feedback) first; ``prefix`` matches emails."""
    t = feedback_people.c
    query = select(t.email, t.count, t.rating_sum, t.rated_count, t.first_seen, t.last_seen).where(
        t.client_id == client_id, t.environment == environment, t.count > 0
    )
    if prefix:
        # Emails are stored lowercased; autoescape keeps % and _ literal.
        query = query.where(t.email.startswith(prefix.lower(), autoescape=True))
    first = t.last_seen if sort == "last_seen" else t.count
    # email DESC too, so the index is read backwards in one direction, without a sort.
    query = query.order_by(first.desc(), t.email.desc()).offset(offset).limit(limit + 1)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    people = [
        Person(
            email=str(email),
            count=int(count),
            rating_sum=int(rating_sum),
            rated_count=int(rated),
            first_seen=as_utc(first_seen),
            last_seen=as_utc(last_seen),
        )
        for email, count, rating_sum, rated, first_seen, last_seen in rows[:limit]
    ]
    return PeoplePage(people, len(rows) > limit)
