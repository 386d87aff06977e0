"""The Install page waits for the first feedback, and can send a test one.

Runs on SQLite and PostgreSQL against a live server.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from sayso.store.schema import feedback
from tests.support.dashboard import Browser, db, ids, inbox, send
from tests.support.live_server import LiveServer


def test_the_install_page_says_when_the_first_feedback_has_arrived(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Install")
    base = f"/projects/{client_id}"
    assert "Waiting for your first feedback" in ana.http.get(base).text
    assert ana.http.get(f"{base}/first-feedback.json").json() == {
        "received": False,
        "inbox": f"{base}/inbox",
    }
    send(site, client_id, rating=4, environment="production")
    # The inbox tab where it is: the widget tag named an environment.
    assert ana.http.get(f"{base}/first-feedback.json").json() == {
        "received": True,
        "inbox": f"{base}/inbox?env=production",
    }
    page = ana.http.get(base).text
    assert "Feedback is arriving" in page
    assert f'<a href="{base}/inbox?env=production">Open the inbox</a>' in page


def test_non_members_get_nothing_from_the_watcher(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    client_id = people("ana").create_project("Private")
    eve = people("eve")
    assert eve.http.get(f"/projects/{client_id}/first-feedback.json").status_code == 404
    assert (
        eve.http.post(
            f"/projects/{client_id}/test-feedback", data={"csrf_token": eve.token}
        ).status_code
        == 404
    )


def test_a_test_feedback_lands_in_the_inbox_marked_as_a_test(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Test button")
    base = f"/projects/{client_id}"
    refused = ana.http.post(f"{base}/test-feedback", data={})
    assert refused.status_code == 403  # no CSRF token
    sent = ana.http.post(f"{base}/test-feedback", data={"csrf_token": ana.token})
    assert sent.status_code == 303
    assert sent.headers["location"] == base
    [item] = ids(inbox(ana, client_id))
    with db(site).connect() as conn:
        row = conn.execute(select(feedback).where(feedback.c.id == item)).mappings().one()
    assert row["metadata"] == {"sayso": {"test": True}}
    assert row["rating"] == 4
    assert row["status"] == "new"
    audit = ana.http.get(f"{base}/audit").text
    assert "sent a test feedback from the Install page" in audit
