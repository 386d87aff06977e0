"""The project overview, through real HTTP against a live server, on SQLite and PostgreSQL.

Most feedback arrives through the public API; feedback that must be dated in
the past is inserted into ``feedback`` directly, which fires the same rollup
triggers (rollups are never edited, so moving a row's time afterwards would
not move it between days).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from markupsafe import escape

from sayso.store.triage import set_status
from tests.support.dashboard import (
    CSP,
    PAYLOADS,
    Browser,
    ids,
    inbox,
    insert_at,
    send,
    without_own_script,
)
from tests.support.live_server import LiveServer

DATA_ROW = re.compile(r'<tr><th scope="row"><a href="([^"]+)">([^<]+)</a></th>(.*?)</tr>', re.S)


def overview(browser: Browser, client_id: str, query: str = "") -> httpx.Response:
    page = browser.http.get(f"/projects/{client_id}/overview{query}")
    assert page.status_code == 200, page.text
    return page


def metric(page: httpx.Response, name: str) -> str:
    match = re.search(rf'<dd data-metric="{name}">([^<]*)</dd>', page.text)
    assert match, name
    return html.unescape(match.group(1))


def data_rows(page: httpx.Response) -> dict[str, list[str]]:
    """The chart's table: bucket label → its cells (four ratings, none, total, average)."""
    return {
        html.unescape(label): re.findall(r"<td>([^<]*)</td>", cells)
        for _, label, cells in DATA_ROW.findall(page.text)
    }


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def test_the_overview_counts_todays_feedback_by_rating_with_the_average_and_share_of_good(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Overview")
    for rating in (1, 3, 4, 4):
        send(site, client_id, rating=rating)
    send(site, client_id, comment="no rating")

    page = overview(ana, client_id)

    assert metric(page, "total") == "5"
    assert metric(page, "average") == "3.00"
    assert metric(page, "positive") == "75%"
    assert metric(page, "unrated") == "1"
    assert data_rows(page)[today()] == ["1", "0", "1", "2", "1", "5", "3.00"]
    assert len(data_rows(page)) == 30, "one row per day of the default 30-day period"
    assert f"{today()}: 5 feedback (1 Terrible, 0 Bad, 1 Good, 2 Amazing, 1 unrated)" in page.text
    assert '<svg class="chart"' in page.text
    assert 'role="img"' in page.text
    assert page.headers["content-security-policy"] == CSP
    assert "style=" not in page.text
    assert "<script" not in without_own_script(page.text)


def test_feedback_outside_the_period_is_left_out_and_long_periods_have_weekly_bars(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Periods")
    now = datetime.now(UTC)
    insert_at(site, client_id, now - timedelta(days=10), rating=2)
    insert_at(site, client_id, now - timedelta(days=100), rating=4)
    send(site, client_id, rating=4)

    assert metric(overview(ana, client_id, "?period=7"), "total") == "1"
    month = overview(ana, client_id, "?period=30")
    assert metric(month, "total") == "2"
    assert metric(month, "average") == "3.00"
    year = overview(ana, client_id, "?period=365")
    assert metric(year, "total") == "3"
    assert "Ratings per week" in year.text
    labels = list(data_rows(year))
    assert 52 <= len(labels) <= 54
    assert all(" to " in label for label in labels[1:-1])
    assert sum(int(cells[5]) for cells in data_rows(year).values()) == 3


def test_the_headline_compares_with_the_previous_period(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Compare")
    now = datetime.now(UTC)
    for _ in range(2):
        insert_at(site, client_id, now - timedelta(days=10), rating=1)
    for rating in (3, 4, 4):
        send(site, client_id, rating=rating)

    page = overview(ana, client_id, "?period=7")

    assert "+50% vs previous 7 days" in html.unescape(page.text)
    assert "+2.67 vs previous 7 days" in html.unescape(page.text)


def test_the_environment_switcher_keeps_the_period_and_volume_by_environment_links_to_the_inbox(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Envs")
    staged = {send(site, client_id, rating=3, environment="staging") for _ in range(2)}
    send(site, client_id, rating=4, environment="production")
    send(site, client_id, rating=1)

    default = overview(ana, client_id, "?period=90")
    assert metric(default, "total") == "1"
    switcher = re.search(r'<nav class="tabs environments"[^>]*>(.*?)</nav>', default.text, re.S)
    assert switcher
    assert re.findall(r">([^<>\n]+)</(?:a|strong)>", switcher.group(1)) == [
        "Default",
        "production",
        "staging",
    ]
    assert f"/projects/{client_id}/overview?env=staging&amp;period=90" in switcher.group(1)
    staging = overview(ana, client_id, "?env=staging&period=90")
    assert metric(staging, "total") == "2"
    assert metric(staging, "average") == "3.00"

    volumes = re.findall(r'<tr><td><a href="([^"]+)">([^<]+)</a></td><td>(\d+)</td>', default.text)
    assert [(label, n) for _, label, n in volumes] == [
        ("staging", "2"),
        ("Default", "1"),
        ("production", "1"),
    ]
    staging_link = html.unescape(volumes[0][0])
    assert staging_link.startswith(f"/projects/{client_id}/inbox?env=staging&from=")
    assert set(ids(ana.http.get(staging_link))) == staged


def test_top_pages_group_urls_without_query_or_fragment_and_link_to_the_filtered_inbox(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Pages")
    cart = {
        send(site, client_id, rating=4, pageUrl="https://shop.example/cart?step=1"),
        send(site, client_id, rating=1, pageUrl="https://shop.example/cart#total"),
        send(site, client_id, comment="hm", pageUrl="https://shop.example/cart"),
    }
    send(site, client_id, rating=3, pageUrl="https://shop.example/help")

    page = overview(ana, client_id)

    rows = re.findall(
        r'<td class="page"><a href="([^"]+)">([^<]+)</a></td><td>(\d+)</td><td>([^<]+)</td>',
        page.text,
    )
    assert [(p, n, avg) for _, p, n, avg in rows] == [
        ("https://shop.example/cart", "3", "2.50"),
        ("https://shop.example/help", "1", "3.00"),
    ]
    link = html.unescape(rows[0][0])
    assert "page=https%3A%2F%2Fshop.example%2Fcart" in link
    assert set(ids(inbox(ana, client_id, link.split("/inbox", 1)[1]))) == cart


def test_each_bar_links_to_the_inbox_for_its_day(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Bars")
    sent = {send(site, client_id, rating=2) for _ in range(2)}
    # Archived feedback is counted in the bar, so its inbox link must list it too.
    set_status(site.app.runtime.engine, client_id, [min(sent)], "archived")

    page = overview(ana, client_id, "?period=7")

    day = today()
    bar = re.search(rf'<a href="([^"]+from={day}&amp;to={day}[^"]*)"><g class="bar">', page.text)
    assert bar
    assert set(ids(ana.http.get(html.unescape(bar.group(1))))) == sent


def test_markup_in_page_urls_and_environments_is_shown_escaped(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("XSS")
    for payload in PAYLOADS:
        send(site, client_id, rating=1, pageUrl=f"https://x.example/{payload}")
        send(site, client_id, rating=1, environment=payload)

    default = overview(ana, client_id)
    per_env = [overview(ana, client_id, f"?{httpx.QueryParams(env=p)}") for p in PAYLOADS]

    for page in [default, *per_env]:
        for payload in PAYLOADS:
            assert payload not in page.text
            assert escape(payload) in page.text, "the switcher names every environment"
    for payload in PAYLOADS:
        assert escape(f"https://x.example/{payload}") in default.text
    assert [metric(page, "total") for page in per_env] == ["1", "1", "1"]


def test_bad_period_values_fall_back_to_thirty_days_with_a_note(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Notes")

    page = overview(ana, client_id, "?period=12&env=%00")

    assert "Ignored period=&#39;12&#39;" in page.text
    assert "Ignored env" in page.text
    assert len(data_rows(page)) == 30


def test_someone_who_is_not_a_member_gets_404_and_signed_out_visitors_are_sent_to_sign_in(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    owner, stranger = people("owner"), people("stranger")
    client_id = owner.create_project("Secret")
    send(site, client_id, rating=4)

    for path in (f"/projects/{client_id}/overview", f"/projects/{client_id}/people"):
        assert stranger.http.get(path).status_code == 404, path
        assert stranger.http.get(path + "?period=7&env=staging").status_code == 404, path
        assert httpx.get(site.url + path).status_code == 303, path


def test_every_project_page_links_to_the_overview_and_people(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Nav")
    for path in ("", "/inbox", "/settings", "/overview", "/people"):
        page = ana.http.get(f"/projects/{client_id}{path}")
        assert f'href="/projects/{client_id}/overview"' in page.text, path
        assert f'href="/projects/{client_id}/people"' in page.text, path
