"""The feedback inbox and detail pages, through real HTTP against a live server.

Feedback arrives through the public API on the same server (so the ingest
writer's raw inserts are what gets searched), except where a test needs
chosen timestamps. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from sqlalchemy import update

from sayso.store.ids import new_sortable_id
from sayso.store.schema import feedback
from tests.support.dashboard import (
    CSP,
    PAYLOADS,
    ROW,
    Browser,
    db,
    ids,
    inbox,
    notes,
    send,
    without_own_script,
)
from tests.support.live_server import LiveServer
from tests.support.replay import start_session


def test_the_inbox_lists_feedback_newest_first_with_each_rows_summary(
    site: LiveServer,
    people: Callable[[str], Browser],
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Inbox")
    first = send(site, client_id, rating=1, comment="x" * 300, userEmail="a@example.com")
    second = send(
        site,
        client_id,
        rating=4,
        comment="Great",
        pageUrl="https://shop.example/cart",
        sessionReplayId=start_session(site, client_id),
    )
    third = send(
        site,
        client_id,
        comment="No rating",
        pageTitle="Checkout",
        pageUrl="https://shop.example/pay",
    )

    page = inbox(ana, client_id)

    assert ids(page) == [third, second, first]
    rows = ROW.findall(page.text)
    assert "—" in rows[0]
    assert "Checkout" in rows[0]
    assert "shop.example/pay" not in rows[0]
    assert "😍 Amazing" in rows[1]
    assert "https://shop.example/cart" in rows[1]
    assert '<span class="replay">replay</span>' in rows[1]
    assert "😞 Terrible" in rows[2]
    assert "a@example.com" in rows[2]
    assert "x" * 139 + "…" in rows[2]
    assert "x" * 141 not in rows[2]
    assert re.search(
        r'<time datetime="\d{4}-\d\d-\d\dT[\d:.]+\+00:00">[\d -:]+ UTC</time>', rows[2]
    )
    assert f'href="/projects/{client_id}/inbox"' in ana.http.get("/").text
    assert f'href="/projects/{client_id}/inbox"' in ana.http.get(f"/projects/{client_id}").text


def test_the_environment_switcher_lists_the_projects_environments_and_filters_by_one(
    site: LiveServer,
    people: Callable[[str], Browser],
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Envs")
    prod = send(site, client_id, rating=3)
    staging = send(site, client_id, rating=3, environment="staging")
    send(site, client_id, rating=3, environment="dev")

    default = inbox(ana, client_id)
    assert ids(default) == [prod]
    switcher = re.search(r'<nav class="tabs environments"[^>]*>(.*?)</nav>', default.text, re.S)
    assert switcher
    labels = re.findall(r">([^<>\n]+)</(?:a|strong)>", switcher.group(1))
    assert labels == ["Default", "dev", "staging"]
    assert f'href="/projects/{client_id}/inbox?env=staging"' in switcher.group(1)
    assert ids(inbox(ana, client_id, "?env=staging")) == [staging]
    assert ids(inbox(ana, client_id, "?env=nowhere")) == []


def test_each_filter_and_a_combination_narrow_the_inbox(
    site: LiveServer,
    people: Callable[[str], Browser],
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Filters")
    bad = send(
        site,
        client_id,
        rating=2,
        comment="The payment form rejects my card",
        userEmail="Bea@Example.com",
        pageUrl="https://shop.example/Checkout?step=2",
        metadata={"plan": "pro", "seats": 5, "nested": {"plan": "free"}},
    )
    good = send(
        site,
        client_id,
        rating=4,
        comment="Love the new payment page",
        userEmail="cy@example.com",
        pageUrl="https://shop.example/home",
        metadata={"plan": "free"},
        sessionReplayId="rec-2",
    )
    silent = send(site, client_id, rating=1, userEmail="bea@example.com")

    def found(query: str) -> set[str]:
        return set(ids(inbox(ana, client_id, query)))

    assert found("?rating=2&rating=1") == {bad, silent}
    assert found("?has=comment") == {bad, good}
    assert found("?has=replay") == {good}
    assert found("?has=comment&has=replay") == {good}
    assert found("?page=CHECKOUT") == {bad}
    assert found("?page=%25") == set(), "LIKE wildcards are literal"
    assert found("?person=BEA@example.com") == {bad, silent}
    assert found("?meta=plan%3Dpro") == {bad}
    assert found("?meta=plan%3Dfree") == {good}, "top-level keys only"
    assert found("?meta=seats%3D5") == {bad}
    assert found("?q=payment") == {bad, good}
    assert found("?q=payment+card") == {bad}
    assert found("?q=payment&rating=4&person=cy@example.com&page=home") == {good}
    assert found("?q=payment&rating=4&person=bea@example.com") == set()
    today = datetime.now(UTC).date().isoformat()
    assert found(f"?from={today}&to={today}") == {bad, good, silent}
    assert found("?to=2020-01-01") == set()
    assert found("?from=2999-01-01") == set()


def test_date_filters_use_utc_days_inclusive_of_the_to_day(
    site: LiveServer,
    people: Callable[[str], Browser],
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Dates")
    days = {}
    for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
        row_id = send(site, client_id, rating=3)
        at = datetime.fromisoformat(f"{day}T23:59:59+00:00")
        with db(site).begin() as conn:
            conn.execute(update(feedback).where(feedback.c.id == row_id).values(created_at=at))
        days[day] = row_id

    page = inbox(ana, client_id, "?from=2026-01-02&to=2026-01-02")

    assert ids(page) == [days["2026-01-02"]]
    assert set(ids(inbox(ana, client_id, "?from=2026-01-02"))) == {
        days["2026-01-02"],
        days["2026-01-03"],
    }
    assert 'value="2026-01-02"' in page.text, "the form shows the filters in use"


def test_bad_filter_values_are_ignored_with_a_note_and_never_fail(
    site: LiveServer,
    people: Callable[[str], Browser],
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Bad input")
    row = send(site, client_id, rating=3, comment="fine")
    queries = [
        "?rating=9&rating=x",
        "?has=video",
        "?from=yesterday&to=2026-13-45",
        "?meta=no-equals-sign",
        "?meta=%22%5C%22%3D1",
        "?before=not-an-id",
        f"?before={new_sortable_id()}",
        "?q=" + "long" * 100,
        "?to=9999-12-31",  # the day after it can't exist
        "?from=9999-12-31",
    ]
    for query in queries:
        page = inbox(ana, client_id, query)
        assert notes(page), query
        assert ids(page) == [row], query
        assert "Ignored" in notes(page)[0]
    for query in ['?q="', "?q=*", "?q=NEAR(", "?q=%00", "?page=%5C", "?meta=k%3D%27"]:
        assert inbox(ana, client_id, query).status_code == 200, query


def test_odd_numbers_and_far_dates_on_every_listing_page_are_ignored_never_a_500(
    site: LiveServer,
    people: Callable[[str], Browser],
) -> None:
    # "²" passes str.isdigit() yet int() refuses it; 9999-12-31 has no next day.
    ana = people("ana")
    client_id = ana.create_project("Odd input")
    base = f"/projects/{client_id}"
    for path in (
        f"{base}/inbox?to=9999-12-31",
        f"{base}/export?format=csv&to=9999-12-31",
        f"{base}/replays?to=9999-12-31",
        f"{base}/replays?from=9999-12-31",
        f"{base}/people?page=%C2%B2",
        f"{base}/overview?period=%C2%B2",
        f"{base}/overview?period=%C2%B3%C2%B6%C2%B5",
    ):
        assert ana.http.get(path).status_code == 200, path


def test_pages_of_fifty_link_to_older_feedback_keeping_the_filters(
    site: LiveServer,
    people: Callable[[str], Browser],
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Many")
    sent = [send(site, client_id, rating=3, environment="live") for _ in range(55)]
    send(site, client_id, rating=2, environment="live")

    first = inbox(ana, client_id, "?env=live&rating=3")
    older = re.search(r'<a href="([^"]+)" rel="next">Older</a>', first.text)
    assert older
    link = html.unescape(older.group(1))
    assert "env=live" in link
    assert "rating=3" in link
    assert "before=" in link
    second = ana.http.get(link)

    assert len(ids(first)) == 50
    assert len(ids(second)) == 5
    assert ids(first) + ids(second) == list(reversed(sent))
    assert 'rel="next"' not in second.text


def test_the_detail_page_shows_every_field_links_only_web_urls_and_the_persons_other_feedback(
    site: LiveServer,
    people: Callable[[str], Browser],
    upload_screenshot: Callable[..., dict[str, object]],
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Detail")
    with httpx.Client(base_url=site.url, timeout=30) as api:
        shot = upload_screenshot(api, client_id)
    earlier = send(site, client_id, rating=2, userEmail="dee@example.com", comment="before")
    row_id = send(
        site,
        client_id,
        rating=3,
        comment="Line one\nline two",
        userEmail="dee@example.com",
        pageUrl="https://shop.example/a?b=c&d=e",
        pageTitle="Shop",
        referrer="ftp://elsewhere.example/",
        environment="staging",
        screenshots=[shot],
        metadata={"plan": "pro", "cart": {"items": [1, 2], "coupon": None}},
        sessionReplayId="rec-9",
    )
    send(site, client_id, rating=1, userEmail="someone-else@example.com")

    page = ana.http.get(f"/projects/{client_id}/feedback/{row_id}")

    assert page.status_code == 200
    text = page.text
    assert "🙂 Good" in text
    assert "Line one\nline two" in text
    assert "Shop" in text
    assert (
        '<a href="https://shop.example/a?b=c&amp;d=e" rel="noopener noreferrer nofollow">' in text
    )
    assert "ftp://elsewhere.example/" in text
    assert 'href="ftp:' not in text
    thumb = f"/projects/{client_id}/screenshots/{str(shot['fileName']).split('/')[1]}"
    assert f'<a href="{thumb}" data-lightbox><img src="{thumb}"' in text
    # rec-9 names no stored session: said plainly, and no link to a player
    assert "No recording of this session is stored (<code>rec-9</code>)" in text
    assert "Watch session replay" not in text
    assert '<span class="key">cart</span>: <ul class="metadata">' in text
    assert '<span class="key">coupon</span>: <span class="value">null</span>' in text
    assert "python-httpx" in text, "the user agent"
    assert ids(page) == [earlier], "more from the same person, not from others"
    assert page.headers["content-security-policy"] == CSP


def test_feedback_of_another_project_is_404_and_so_are_non_members(
    site: LiveServer,
    people: Callable[[str], Browser],
) -> None:
    ana, bea = people("ana"), people("bea")
    mine = ana.create_project("Mine")
    theirs = bea.create_project("Theirs")
    their_row = send(site, theirs, rating=3)

    assert ana.http.get(f"/projects/{mine}/feedback/{their_row}").status_code == 404
    assert ana.http.get(f"/projects/{theirs}/feedback/{their_row}").status_code == 404
    assert ana.http.get(f"/projects/{theirs}/inbox").status_code == 404
    assert ana.http.get(f"/projects/{mine}/feedback/nope").status_code == 404
    with httpx.Client(base_url=site.url, timeout=30) as anonymous:
        assert anonymous.get(f"/projects/{mine}/inbox").headers["location"] == (
            f"/login?next=%2Fprojects%2F{mine}%2Finbox"
        )


def test_impossible_ids_in_the_path_are_404_not_a_database_error(
    site: LiveServer,
    people: Callable[[str], Browser],
) -> None:
    # A NUL would make PostgreSQL refuse the query: such ids must never reach it.
    ana = people("ana")
    mine = ana.create_project("Mine")
    for path in (
        "/projects/%00x/inbox",
        "/projects/%00x/settings",
        f"/projects/{'c' * 200}",
        f"/projects/{mine}/feedback/%00x",
        f"/projects/{mine}/feedback/{'a' * 200}",
    ):
        assert ana.http.get(path).status_code == 404, path


def test_viewers_and_members_can_read_the_inbox_and_the_detail_page(
    site: LiveServer,
    people: Callable[[str], Browser],
) -> None:
    owner = people("owner")
    client_id = owner.create_project("Shared")
    row_id = send(site, client_id, rating=4, comment="shared")
    for role in ("viewer", "member"):
        other = people(role)
        added = owner.settings(client_id, action="add_member", email=other.email, role=role)
        assert added.status_code == 303
        assert ids(inbox(other, client_id)) == [row_id]
        assert other.http.get(f"/projects/{client_id}/feedback/{row_id}").status_code == 200


def test_markup_and_script_urls_in_feedback_are_never_live_in_the_inbox_or_detail_page(
    site: LiveServer,
    people: Callable[[str], Browser],
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Hostile")
    rows = []
    for payload, url in zip(
        PAYLOADS,
        ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", " javascript:x"],
        strict=True,
    ):
        rows.append(
            send(
                site,
                client_id,
                rating=1,
                comment=payload,
                pageTitle=payload,
                pageUrl=url,
                referrer=url,
                userEmail="x@example.com",
                sessionReplayId=payload,
                metadata={payload: payload, "email": payload, "nested": [payload, {payload: 1}]},
            )
        )
    # The title wins in the inbox; a second row shows the URL itself there.
    rows.append(send(site, client_id, rating=1, pageUrl="javascript:alert(1)", comment="u"))
    shot_url = {"fileName": "x", "url": "javascript:alert(1)", "mimeType": "image/png"}
    with db(site).begin() as conn:
        conn.execute(
            update(feedback).where(feedback.c.id == rows[0]).values(screenshots=[shot_url])
        )

    pages = [inbox(ana, client_id), inbox(ana, client_id, "?q=alert")]
    pages += [ana.http.get(f"/projects/{client_id}/feedback/{row}") for row in rows]
    assert set(ids(pages[0])) == set(rows)
    for page in pages:
        assert page.status_code == 200
        lowered = page.text.lower()
        for payload in PAYLOADS:
            assert payload not in page.text, (payload, page.url)
        assert "<script" not in without_own_script(lowered)
        assert "<svg" not in lowered
        assert "<img src=x" not in lowered
        assert 'href="javascript:' not in lowered
        assert 'href="data:' not in lowered
        assert 'src="javascript:' not in lowered
        assert 'href=" javascript' not in lowered
        assert "style=" not in page.text
        assert "<style" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[2].text
    assert "javascript:alert(1)" in pages[-1].text, "shown as text"


def test_members_see_screenshots_of_a_private_project_that_the_public_url_no_longer_serves(
    site: LiveServer,
    people: Callable[[str], Browser],
    upload_screenshot: Callable[..., dict[str, object]],
) -> None:
    ana, bob = people("ana"), people("bob")
    client_id = ana.create_project("Private shots")
    ana.settings(client_id, action="screenshots", private="on")
    with httpx.Client(base_url=site.url, timeout=30) as api:
        shot = upload_screenshot(api, client_id)
        send(site, client_id, rating=3, screenshots=[shot])
        assert api.get(str(shot["url"])).status_code == 404
    name = str(shot["fileName"]).split("/")[1]

    seen = ana.http.get(f"/projects/{client_id}/screenshots/{name}")

    assert seen.status_code == 200
    assert seen.headers["content-type"] == "image/png"
    assert seen.headers["x-content-type-options"] == "nosniff"
    assert seen.headers["cache-control"] == "private, max-age=3600"
    assert "sandbox" in seen.headers["content-security-policy"]
    assert seen.content.startswith(b"\x89PNG")
    assert bob.http.get(f"/projects/{client_id}/screenshots/{name}").status_code == 404
    other = ana.create_project("Other")
    assert ana.http.get(f"/projects/{other}/screenshots/{name}").status_code == 404
    for bad in ("x.png", "../" + name, name.replace(".png", ".svg")):
        assert ana.http.get(f"/projects/{client_id}/screenshots/{bad}").status_code == 404
