"""Triage from the dashboard: status, tags, notes, bulk selections and who may do it.

Real HTTP against a live server, on SQLite and PostgreSQL; feedback arrives
through the public API.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import select

from sayso.store import audit
from sayso.store.schema import feedback, feedback_notes, feedback_tags
from tests.support.dashboard import (
    Browser,
    db,
    ids,
    inbox,
    send,
)
from tests.support.live_server import LiveServer


def triage_response(browser: Browser, client_id: str, **form: str | list[str]) -> httpx.Response:
    data: dict[str, str | list[str]] = {"csrf_token": browser.token, **form}
    return browser.http.post(f"/projects/{client_id}/triage", data=data)


def triage(browser: Browser, client_id: str, **form: str | list[str]) -> int:
    return triage_response(browser, client_id, **form).status_code


def tag_and_note_rows(site: LiveServer, feedback_id: str) -> int:
    with db(site).connect() as conn:
        return sum(
            len(conn.execute(select(t).where(t.feedback_id == feedback_id)).all())
            for t in (feedback_tags.c, feedback_notes.c)
        )


def status_of(site: LiveServer, feedback_id: str) -> str:
    with db(site).connect() as conn:
        query = select(feedback.c.status).where(feedback.c.id == feedback_id)
        return str(conn.execute(query).scalar_one())


def test_new_feedback_is_new_and_a_member_moves_it_through_in_progress_to_resolved(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana, max_ = people("ana"), people("max")
    client_id = ana.create_project("Triage")
    ana.settings(client_id, action="add_member", email=max_.email, role="member")
    item = send(site, client_id, rating=2, comment="Broken")
    assert status_of(site, item) == "new"
    detail = ana.http.get(f"/projects/{client_id}/feedback/{item}")
    assert '<span class="status status-new">New</span>' in detail.text

    for status in ("in_progress", "resolved"):
        assert triage(max_, client_id, action=f"status:{status}", ids=item) == 303
        assert status_of(site, item) == status


def test_archived_feedback_leaves_the_default_inbox_but_the_status_filter_finds_it(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Archive")
    spam = send(site, client_id, comment="buy now")
    kept = send(site, client_id, comment="real")
    resolved = send(site, client_id, comment="fixed")
    triage(ana, client_id, action="status:archived", ids=spam)
    triage(ana, client_id, action="status:resolved", ids=resolved)

    assert ids(inbox(ana, client_id)) == [resolved, kept]
    assert ids(inbox(ana, client_id, "?status=archived")) == [spam]
    assert ids(inbox(ana, client_id, "?status=new&status=in_progress")) == [kept]
    everything = "?status=new&status=in_progress&status=resolved&status=archived"
    assert ids(inbox(ana, client_id, everything)) == [resolved, kept, spam]


def test_a_bulk_selection_is_triaged_at_once_and_the_browser_returns_to_the_same_view(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Bulk")
    items = [send(site, client_id, rating=1, comment=f"n{i}") for i in range(3)]
    back = f"/projects/{client_id}/inbox?rating=1"
    response = ana.http.post(
        f"/projects/{client_id}/triage",
        data={
            "csrf_token": ana.token,
            "action": "status:resolved",
            "ids": items[:2],
            "next": back,
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == back
    assert [status_of(site, i) for i in items] == ["resolved", "resolved", "new"]


def test_tags_are_added_normalised_filtered_on_and_removed(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Tags")
    a = send(site, client_id, comment="a")
    b = send(site, client_id, comment="b")
    assert triage(ana, client_id, action="add_tag", tag="  Checkout   Bug ", ids=[a, b]) == 303
    assert triage(ana, client_id, action="add_tag", tag="checkout bug", ids=a) == 303  # no-op

    assert ids(inbox(ana, client_id, "?tag=CHECKOUT+bug")) == [b, a]
    page = inbox(ana, client_id)
    assert page.text.count('<span class="tag">checkout bug</span>') == 2

    assert triage(ana, client_id, action="remove_tag", tag="checkout bug", ids=a) == 303
    assert ids(inbox(ana, client_id, "?tag=checkout+bug")) == [b]


def test_notes_are_listed_oldest_first_with_their_author_and_shown_as_text(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Notes")
    item = send(site, client_id, comment="help")
    assert triage(ana, client_id, action="note", body="First look", ids=item) == 303
    payload = "<script>alert(1)</script>"
    assert triage(ana, client_id, action="note", body=payload, ids=item) == 303

    detail = ana.http.get(f"/projects/{client_id}/feedback/{item}").text
    bodies = re.findall(r'<div class="note-body">(.*?)</div>', detail, re.S)
    assert [html.unescape(b) for b in bodies] == ["First look", payload]
    assert payload not in detail
    authors = re.findall(r'<p class="note-meta">([^<]*) · <time', detail)
    assert authors == [ana.email, ana.email]


def test_viewers_can_read_but_not_triage_and_see_no_triage_forms(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana, vic = people("ana"), people("vic")
    client_id = ana.create_project("Viewer")
    ana.settings(client_id, action="add_member", email=vic.email, role="viewer")
    item = send(site, client_id, comment="x")

    assert triage(vic, client_id, action="status:archived", ids=item) == 403
    assert triage(vic, client_id, action="note", body="hi", ids=item) == 403
    assert status_of(site, item) == "new"
    assert 'action="/projects/' + client_id + '/triage"' not in inbox(vic, client_id).text
    member_page = inbox(ana, client_id).text
    assert 'action="/projects/' + client_id + '/triage"' in member_page


def test_ids_from_another_project_are_ignored_and_strangers_get_404(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana, bob = people("ana"), people("bob")
    mine = ana.create_project("Mine")
    theirs = bob.create_project("Theirs")
    their_item = send(site, theirs, comment="private")

    assert triage(ana, mine, action="status:archived", ids=their_item) == 303
    assert triage(ana, mine, action="add_tag", tag="x", ids=their_item) == 303
    assert triage(ana, mine, action="note", body="x", ids=their_item) == 400
    assert status_of(site, their_item) == "new"
    assert tag_and_note_rows(site, their_item) == 0
    assert triage(ana, theirs, action="status:archived", ids=their_item) == 404
    assert status_of(site, their_item) == "new"


def test_bad_triage_forms_say_why_and_change_nothing(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Bad")
    item = send(site, client_id, comment="x")
    cases: list[tuple[dict[str, str | list[str]], str]] = [
        ({"action": "status:deleted", "ids": item}, "Choose a status."),
        ({"action": "add_tag", "tag": "", "ids": item}, "Type a tag."),
        ({"action": "add_tag", "tag": "x" * 41, "ids": item}, "at most 40 characters"),
        ({"action": "add_tag", "tag": "a,b", "ids": item}, "can&#39;t contain commas"),
        ({"action": "note", "body": "   ", "ids": item}, "Write something first."),
        ({"action": "note", "body": "x" * 5001, "ids": item}, "at most 5000 characters"),
        ({"action": "launch", "ids": item}, "Unknown action"),
        ({"action": "status:resolved\x00", "ids": item}, "Unknown action"),
    ]
    for form, reason in cases:
        response = triage_response(ana, client_id, **form)
        assert response.status_code == 400, form
        assert reason in response.text, form
    assert status_of(site, item) == "new"
    assert tag_and_note_rows(site, item) == 0
    # Nothing ticked: back to the list (filters kept), which says so; not an error page.
    back = f"/projects/{client_id}/inbox?rating=4"
    for form in ({"action": "status:resolved"}, {"action": "add_tag", "tag": "x", "ids": "no"}):
        response = triage_response(ana, client_id, next=back, **form)
        assert response.status_code == 303, form
        assert response.headers["location"] == f"{back}&notice=none-selected"
        page = ana.http.get(response.headers["location"])
        assert "Select some feedback first: nothing was changed." in page.text
    assert status_of(site, item) == "new"
    no_csrf = ana.http.post(
        f"/projects/{client_id}/triage", data={"action": "status:resolved", "ids": item}
    )
    assert no_csrf.status_code == 403
    assert status_of(site, item) == "new"


def test_next_may_only_point_back_into_the_same_project(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Next")
    other = ana.create_project("Other")
    item = send(site, client_id, comment="x")
    for target in (
        "https://evil.example/",
        "//evil.example/",
        f"/projects/{other}/inbox",
        f"/projects/{client_id}evil",
        "/\\evil.example",
    ):
        response = ana.http.post(
            f"/projects/{client_id}/triage",
            data={
                "csrf_token": ana.token,
                "action": "status:resolved",
                "ids": item,
                "next": target,
            },
        )
        assert response.headers["location"] == f"/projects/{client_id}/inbox", target


def test_an_owner_deletes_feedback_with_its_notes_and_unshared_screenshots_and_it_is_audited(
    site: LiveServer,
    people: Callable[[str], Browser],
    upload_screenshot: Callable[..., dict[str, object]],
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Erase")
    with httpx.Client(base_url=site.url, timeout=30) as api:
        own, shared = upload_screenshot(api, client_id), upload_screenshot(api, client_id)
    doomed = send(site, client_id, comment="forget me", screenshots=[own, shared])
    kept = send(site, client_id, comment="keep", screenshots=[shared])
    triage(ana, client_id, action="note", body="note", ids=doomed)
    triage(ana, client_id, action="add_tag", tag="gdpr", ids=doomed)
    blobs = site.app.runtime.blobs

    stranger = send(site, ana.create_project("Elsewhere"), comment="not in this project")
    assert triage(ana, client_id, action="delete", ids=[doomed, stranger]) == 303
    assert status_of(site, stranger) == "new"

    assert ids(inbox(ana, client_id)) == [kept]
    assert ana.http.get(f"/projects/{client_id}/feedback/{doomed}").status_code == 404
    assert blobs.get(f"screenshots/{own['fileName']}") is None
    assert blobs.get(f"screenshots/{shared['fileName']}") is not None
    with db(site).connect() as conn:
        for table in (feedback_notes, feedback_tags):
            left = conn.execute(select(table).where(table.c.feedback_id == doomed)).all()
            assert left == []
    entry = audit.entries(db(site), client_id)[0]
    assert entry.action == "feedback_deleted"
    assert entry.details == {"count": 1, "ids": [doomed]}


def test_members_may_triage_but_only_owners_delete(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana, max_ = people("ana"), people("max")
    client_id = ana.create_project("Only owners")
    ana.settings(client_id, action="add_member", email=max_.email, role="member")
    item = send(site, client_id, comment="x")

    assert triage(max_, client_id, action="status:resolved", ids=item) == 303
    assert triage(max_, client_id, action="delete", ids=item) == 403
    assert status_of(site, item) == "resolved"
    assert 'value="delete"' not in inbox(max_, client_id).text
    assert 'value="delete"' in inbox(ana, client_id).text


def test_the_same_tag_added_many_times_at_once_is_stored_once_without_an_error(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Double click")
    item = send(site, client_id, comment="x")

    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(
                lambda _: triage(ana, client_id, action="add_tag", tag="dup", ids=item), range(8)
            )
        )

    assert codes == [303] * 8
    assert tag_and_note_rows(site, item) == 1
