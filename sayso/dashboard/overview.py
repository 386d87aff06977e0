"""A project's overview: ratings over time, average rating trend, volume by environment and page.

Every number comes from the daily rollups (``store.overview``), never from a
scan of ``feedback``. Charts are inline SVG drawn on the server (the CSP allows
no inline script or style; SVG presentation attributes are markup, not style),
each bar and point with a ``<title>`` for screen readers and hover, and the
same numbers as a table for anyone who can't use the chart. Bars, environments
and pages link into the inbox with the matching filters.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Response
from litestar.di import NamedDependency

from sayso.dashboard.access import Access, AnyRequest, page_context, runtime_of
from sayso.dashboard.inbox_query import EVERY_STATUS, MAX_TEXT
from sayso.dashboard.pages import (
    RATINGS,
    environment_param,
    get_or_head,
    render,
    switcher,
)
from sayso.store import overview

PERIODS = (7, 30, 90, 365)
DEFAULT_PERIOD = 30
# Up to a month, one bar per day; longer periods, one bar per week (Monday first).
DAILY_UP_TO = 30

# Chart geometry, in SVG user units (the SVG scales to its container).
WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 10, 28
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
STACK_ORDER = (1, 2, 3, 4, 0)  # worst at the bottom, unrated on top


@dataclass(slots=True)
class Bucket:
    """One bar: a day or a week, clipped to the period."""

    start: date
    end: date  # inclusive
    counts: dict[int, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def rated(self) -> int:
        return sum(self.counts.get(r, 0) for r in overview.RATINGS)

    @property
    def average(self) -> float | None:
        rated = self.rated
        if not rated:
            return None
        return sum(r * self.counts.get(r, 0) for r in overview.RATINGS) / rated

    @property
    def label(self) -> str:
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def buckets_for(
    days: dict[date, dict[int, int]], start: date, end: date, weekly: bool
) -> list[Bucket]:
    buckets: list[Bucket] = []
    day = start
    while day <= end:
        last = min(end, day + timedelta(days=6 - day.weekday())) if weekly else day
        bucket = Bucket(day, last)
        current = day
        while current <= last:
            for rating, count in days.get(current, {}).items():
                bucket.counts[rating] = bucket.counts.get(rating, 0) + count
            current += timedelta(days=1)
        buckets.append(bucket)
        day = last + timedelta(days=1)
    return buckets


def _nice_ceiling(value: int) -> int:
    """The smallest round number (1, 1.5, 2, 3, 4, 5, 6 or 8 times a power of ten) at or
    above ``value``; from 2 up only even ones, so the middle gridline is whole too."""
    step = 1
    while True:
        for factor in (1, 1.5, 2, 3, 4, 5, 6, 8):
            top = int(step * factor)
            if top == step * factor and top >= value and (top < 2 or top % 2 == 0):
                return top
        step *= 10


def _average_text(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "—"


def _inbox(client_id: str, environment: str, pairs: list[tuple[str, str]]) -> str:
    env = [("env", environment)] if environment else []
    return f"/projects/{client_id}/inbox?{urlencode([*env, *pairs, *EVERY_STATUS])}"


def _range(bucket_start: date, bucket_end: date) -> list[tuple[str, str]]:
    return [("from", bucket_start.isoformat()), ("to", bucket_end.isoformat())]


def bar_chart(buckets: list[Bucket], client_id: str, environment: str) -> dict[str, Any]:
    """Stacked bars per bucket, as rectangles in SVG units, with a title and an inbox link each."""
    top = _nice_ceiling(max((b.total for b in buckets), default=0))
    slot = PLOT_W / max(len(buckets), 1)
    bars = []
    for index, bucket in enumerate(buckets):
        x = LEFT + index * slot + slot * 0.1
        y: float = TOP + PLOT_H
        rects = []
        for rating in STACK_ORDER:
            count = bucket.counts.get(rating, 0)
            if not count:
                continue
            height = PLOT_H * count / top
            y -= height
            rects.append(
                {"x": round(x, 2), "y": round(y, 2), "h": round(height, 2), "rating": rating}
            )
        parts = [f"{bucket.counts.get(r, 0)} {RATINGS[r][1]}" for r in overview.RATINGS] + [
            f"{bucket.counts.get(0, 0)} unrated"
        ]
        bars.append(
            {
                "title": f"{bucket.label}: {bucket.total} feedback ({', '.join(parts)})",
                "href": _inbox(client_id, environment, _range(bucket.start, bucket.end)),
                "rects": rects,
            }
        )
    return {
        "bars": bars,
        "bar_width": round(slot * 0.8, 2),
        "grid": [
            {"y": round(TOP + PLOT_H - PLOT_H * v / top, 2), "label": str(v)}
            for v in sorted({0, top // 2, top})
        ],
        "x_labels": _x_labels(buckets, slot),
    }


def _x_labels(buckets: list[Bucket], slot: float) -> list[dict[str, Any]]:
    if not buckets:
        return []
    picks = sorted({0, len(buckets) // 2, len(buckets) - 1})
    anchors = {0: "start", len(buckets) - 1: "end"}
    return [
        {
            "x": round(
                LEFT + i * slot + (0 if i == 0 else slot if i == len(buckets) - 1 else slot / 2), 2
            ),
            "text": buckets[i].start.isoformat(),
            "anchor": anchors.get(i, "middle"),
        }
        for i in picks
    ]


def trend_chart(buckets: list[Bucket]) -> dict[str, Any]:
    """The average rating per bucket on a 1 to 4 scale; a bucket without ratings breaks the line."""
    slot = PLOT_W / max(len(buckets), 1)
    segments: list[list[dict[str, Any]]] = [[]]
    points = []
    for index, bucket in enumerate(buckets):
        average = bucket.average
        if average is None:
            if segments[-1]:
                segments.append([])
            continue
        point = {
            "x": round(LEFT + index * slot + slot / 2, 2),
            "y": round(TOP + PLOT_H - PLOT_H * (average - 1) / 3, 2),
            "title": f"{bucket.label}: average {average:.2f} from {bucket.rated} ratings",
        }
        segments[-1].append(point)
        points.append(point)
    return {
        "lines": [" ".join(f"{p['x']},{p['y']}" for p in seg) for seg in segments if len(seg) > 1],
        "points": points,
        "grid": [
            {"y": round(TOP + PLOT_H - PLOT_H * (v - 1) / 3, 2), "label": str(v)}
            for v in overview.RATINGS
        ],
        "x_labels": _x_labels(buckets, slot),
    }


def _period(raw: str | None, notes: list[str]) -> int:
    if raw is None or raw == "":
        return DEFAULT_PERIOD
    if raw in {str(p) for p in PERIODS}:
        return int(raw)
    notes.append(f"Ignored period={raw!r}: use 7, 30, 90 or 365 (days).")
    return DEFAULT_PERIOD


def _change(now: float | None, before: float | None, percent: bool) -> str | None:
    if now is None or before is None or (percent and before == 0):
        return None
    change = round((now - before) / before * 100) if percent else round(now - before, 2)
    if change == 0:
        return "no change"  # rather than "-0%" for a small drop
    return f"{change:+d}%" if percent else f"{change:+.2f}"


@get_or_head("/projects/{client_id:str}/overview")
async def overview_page(request: AnyRequest, access: NamedDependency[Access]) -> Response[Any]:
    client_id = access.client.id
    engine = runtime_of(request).engine
    notes: list[str] = []
    period = _period(request.query_params.get("period"), notes)
    environment = environment_param(request, notes)
    end = datetime.now(UTC).date()
    start = end - timedelta(days=period - 1)
    previous_start = start - timedelta(days=period)
    days, volumes, pages, named = await asyncio.gather(
        asyncio.to_thread(
            overview.daily_ratings, engine, client_id, environment, previous_start, end
        ),
        asyncio.to_thread(overview.by_environment, engine, client_id, start, end),
        asyncio.to_thread(overview.top_pages, engine, client_id, environment, start, end),
        asyncio.to_thread(overview.environments, engine, client_id),
    )
    weekly = period > DAILY_UP_TO
    buckets = buckets_for(days, start, end, weekly)
    now_total = Bucket(start, end)
    before_total = Bucket(previous_start, start - timedelta(days=1))
    for day, counts in days.items():
        target = now_total if day >= start else before_total
        for rating, count in counts.items():
            target.counts[rating] = target.counts.get(rating, 0) + count
    positive = now_total.counts.get(3, 0) + now_total.counts.get(4, 0)
    period_range = _range(start, end)
    base = f"/projects/{client_id}/overview"
    env_pairs = [("env", environment)] if environment else []
    env_rows = sorted(volumes.items(), key=lambda item: (-item[1], item[0]))
    widest = max(volumes.values(), default=1)
    return render(
        "overview.html",
        notes=notes,
        period=period,
        periods=[
            {
                "days": p,
                "current": p == period,
                "href": f"{base}?{urlencode([*env_pairs, ('period', str(p))])}",
            }
            for p in PERIODS
        ],
        switcher=switcher(base, environment, named, [("period", str(period))]),
        environment=environment,
        start=start,
        end=end,
        weekly=weekly,
        headline={
            "total": now_total.total,
            "total_change": _change(now_total.total, before_total.total, percent=True),
            "average": _average_text(now_total.average),
            "average_change": _change(now_total.average, before_total.average, percent=False),
            "positive": f"{positive / now_total.rated * 100:.0f}%" if now_total.rated else "—",
            "unrated": now_total.counts.get(0, 0),
        },
        inbox_href=_inbox(client_id, environment, period_range),
        buckets=[
            {
                "label": b.label,
                "counts": [b.counts.get(r, 0) for r in (*overview.RATINGS, 0)],
                "total": b.total,
                "average": _average_text(b.average),
                "href": _inbox(client_id, environment, _range(b.start, b.end)),
            }
            for b in buckets
        ],
        bars=bar_chart(buckets, client_id, environment),
        trend=trend_chart(buckets),
        chart={"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT},
        environments=[
            {
                "label": env or "Default",
                "count": n,
                "width": round(200 * n / widest, 1),
                "href": _inbox(client_id, env, period_range),
            }
            for env, n in env_rows
        ],
        pages=[
            {
                "page": page.page,
                "count": page.count,
                "average": _average_text(page.average),
                # The inbox's page filter is "URL contains", capped at MAX_TEXT.
                "href": _inbox(client_id, environment, [("page", page.page), *period_range])
                if page.page and len(page.page) <= MAX_TEXT
                else None,
            }
            for page in pages
        ],
        ratings=RATINGS,
        **page_context(access),
    )


ROUTES = [overview_page]
