"""The dashboard's projects pages, through real HTTP against a live server.

Each test signs in fresh users (httpx clients with their own cookie jars,
redirects not followed) on a server whose client cache is long, so a test
that sees an allowlist change take effect at once proves the pages drop the
cached client. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from sayso.accounts.memberships import role_for
from sayso.accounts.users import create_user, find_user_by_email
from sayso.store.audit import entries
from sayso.store.clients import get_client
from sayso.store.schema import audit_log, feedback, feedback_screenshots, memberships, screenshots
from tests.support.dashboard import (
    CSP,
    PASSWORD,
    Browser,
    db,
    form_token,
    new_user,
    sign_in,
    without_own_script,
)
from tests.support.images import png_bytes
from tests.support.live_server import LiveServer

PROJECT_LINK = re.compile(r'href="/projects/(client_[A-Za-z0-9]+)"')
PRE = re.compile(r"<pre><code[^>]*>(.*?)</code></pre>", re.S)


def user_id(site: LiveServer, email: str) -> str:
    user = find_user_by_email(db(site), email)
    assert user is not None
    return user.id


def project_routes(client_id: str) -> list[str]:
    return [
        f"/projects/{client_id}",
        f"/projects/{client_id}/settings",
        f"/projects/{client_id}/audit",
    ]


def test_a_new_project_is_listed_with_the_owner_role_and_its_page_has_ready_to_paste_snippets(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    name = f"Shop {secrets.token_hex(3)}"
    client_id = ana.create_project(name)

    home = ana.http.get("/")
    assert home.status_code == 200
    row = re.search(
        rf"<tr><td><a href=\"/projects/{client_id}\">{name}</a></td>(.*?)</tr>", home.text
    )
    assert row, home.text
    assert f"<code>{client_id}</code>" in row.group(1)
    assert "<td>owner</td>" in row.group(1)

    page = ana.http.get(f"/projects/{client_id}")
    assert page.status_code == 200
    assert f'<input type="text" id="client-id" value="{client_id}" readonly>' in page.text
    widget_tag, curl = (html.unescape(block) for block in PRE.findall(page.text))
    assert widget_tag == (
        f'<script src="{site.url}/widget.js" data-client-id="{client_id}" async></script>'
    )
    assert curl.startswith(f"curl -X POST {site.url}/api/feedback")
    assert f'"clientId": "{client_id}"' in curl
    assert get_client(db(site), client_id) is not None
    assert role_for(db(site), user_id(site, ana.email), client_id) == "owner"


def test_the_snippets_curl_command_really_delivers_feedback(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Curlable")
    curl = html.unescape(PRE.findall(ana.http.get(f"/projects/{client_id}").text)[1])
    body = re.search(r"-d '(.*)'$", curl)
    assert body, curl

    response = httpx.post(
        f"{site.url}/api/feedback",
        content=body.group(1),
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 200, response.text


def test_someone_who_is_not_a_member_gets_404_on_every_project_route(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    owner, stranger = people("owner"), people("stranger")
    client_id = owner.create_project("Secret plans")

    for path in project_routes(client_id):
        assert stranger.http.get(path).status_code == 404, path
    for action in ("rename", "delete", "add_member", "clear_allowlist"):
        answer = stranger.settings(
            client_id, action=action, name="Mine", confirm_name="Secret plans"
        )
        assert answer.status_code == 404, action
    assert "Secret plans" not in stranger.http.get("/").text
    assert get_client(db(site), client_id) is not None
    assert get_client(db(site), client_id).name == "Secret plans"  # type: ignore[union-attr]
    for path in project_routes("client_doesNotExist0000000000"):
        assert owner.http.get(path).status_code == 404


def test_an_administrator_sees_only_the_projects_they_belong_to(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    owner = people("owner")
    client_id = owner.create_project("Not for admins")
    admin_email = f"admin-{secrets.token_hex(4)}@example.com"
    create_user(db(site), admin_email, PASSWORD, is_admin=True)
    with httpx.Client(base_url=site.url, timeout=30) as admin:
        assert sign_in(admin, admin_email).status_code == 303
        assert client_id not in admin.get("/").text
        assert admin.get(f"/projects/{client_id}").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in_from_every_project_route(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    client_id = people("owner").create_project("Anything")
    with httpx.Client(base_url=site.url, timeout=30) as anonymous:
        for path in project_routes(client_id):
            # back to the page after signing in
            assert anonymous.get(path).headers["location"] == "/login?next=" + quote(path, safe="")
        assert anonymous.post("/projects", data={"name": "x"}).headers["location"] == "/login"


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_viewers_and_members_can_look_but_owner_actions_are_refused(
    site: LiveServer, people: Callable[[str], Browser], role: str
) -> None:
    owner, other = people("owner"), people(role)
    client_id = owner.create_project("Look, don't touch")
    assert (
        owner.settings(client_id, action="add_member", email=other.email, role=role).status_code
        == 303
    )

    assert other.http.get(f"/projects/{client_id}").status_code == 200
    settings = other.http.get(f"/projects/{client_id}/settings")
    assert settings.status_code == 200
    assert f"You are a {role} of this project" in settings.text
    assert 'name="action"' not in settings.text, "no forms for someone who can't use them"
    assert other.http.get(f"/projects/{client_id}/audit").status_code == 403
    assert f"<td>{role}</td>" in other.http.get("/").text

    attempts = [
        {"action": "rename", "name": "Touched"},
        {"action": "add_origin", "origin": "https://evil.example"},
        {"action": "clear_allowlist"},
        {"action": "screenshots", "private": "on"},
        {"action": "add_member", "email": other.email, "role": "owner"},
        {"action": "change_role", "user_id": user_id(site, other.email), "role": "owner"},
        {"action": "remove_member", "user_id": user_id(site, owner.email)},
        {"action": "delete", "confirm_name": "Look, don't touch"},
    ]
    for attempt in attempts:
        answer = other.settings(client_id, **attempt)
        assert answer.status_code == 403, attempt
        assert "Only the project&#39;s owners can do that." in answer.text
    client = get_client(db(site), client_id)
    assert client is not None
    assert (client.name, client.allowed_origins, client.screenshots_private) == (
        "Look, don't touch",
        (),
        False,
    )
    assert role_for(db(site), user_id(site, other.email), client_id) == role


def test_the_owner_renames_the_project_and_toggles_private_screenshots(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Old name")

    renamed = ana.settings(client_id, action="rename", name="  New name  ")
    assert renamed.status_code == 303
    assert renamed.headers["location"] == f"/projects/{client_id}/settings"
    assert get_client(db(site), client_id).name == "New name"  # type: ignore[union-attr]
    empty = ana.settings(client_id, action="rename", name="   ")
    assert empty.status_code == 400
    assert "a client name has 1 to 200 characters" in empty.text
    assert get_client(db(site), client_id).name == "New name"  # type: ignore[union-attr]

    assert ana.settings(client_id, action="screenshots", private="on").status_code == 303
    assert get_client(db(site), client_id).screenshots_private  # type: ignore[union-attr]
    assert " checked" in ana.http.get(f"/projects/{client_id}/settings").text
    assert ana.settings(client_id, action="screenshots").status_code == 303
    assert not get_client(db(site), client_id).screenshots_private  # type: ignore[union-attr]


def test_the_owner_edits_the_allowlist_and_ingest_sees_it_at_once(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Allowlisted")

    def submit(origin: str) -> int:
        response = httpx.post(
            f"{site.url}/api/feedback",
            json={"clientId": client_id, "rating": 4},
            headers={"origin": origin},
        )
        return response.status_code

    assert submit("https://elsewhere.example") == 200  # cached now: no allowlist

    added = ana.settings(client_id, action="add_origin", origin="https://App.Example.com/")
    assert added.status_code == 303
    assert (
        ana.settings(client_id, action="add_origin", origin="https://*.example.org").status_code
        == 303
    )
    client = get_client(db(site), client_id)
    assert client is not None
    assert [str(o) for o in client.allowed_origins] == [
        "https://app.example.com",
        "https://*.example.org",
    ]
    assert submit("https://elsewhere.example") == 403
    assert submit("https://app.example.com") == 200
    assert "<code>https://app.example.com</code>" in ana.http.get(f"/projects/{client_id}").text

    bad = ana.settings(client_id, action="add_origin", origin="ftp://files.example.com")
    assert bad.status_code == 400
    assert 'class="error"' in bad.text
    assert "ftp://files.example.com" in html.unescape(bad.text)
    assert len(get_client(db(site), client_id).allowed_origins) == 2  # type: ignore[union-attr]

    removed = ana.settings(client_id, action="remove_origin", origin="https://*.example.org")
    assert removed.status_code == 303
    assert [str(o) for o in get_client(db(site), client_id).allowed_origins] == [  # type: ignore[union-attr]
        "https://app.example.com"
    ]
    assert ana.settings(client_id, action="clear_allowlist").status_code == 303
    assert get_client(db(site), client_id).allowed_origins == ()  # type: ignore[union-attr]
    assert submit("https://elsewhere.example") == 200


def test_members_are_added_by_email_their_role_changes_and_the_last_owner_stays(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    owner, bea = people("owner"), people("bea")
    client_id = owner.create_project("Team")
    owner_id, bea_id = user_id(site, owner.email), user_id(site, bea.email)

    unknown = owner.settings(
        client_id, action="add_member", email="nobody@example.com", role="member"
    )
    assert unknown.status_code == 400
    assert "There is no user with that email" in unknown.text
    bad_role = owner.settings(client_id, action="add_member", email=bea.email, role="king")
    assert bad_role.status_code == 400
    assert role_for(db(site), bea_id, client_id) is None

    added = owner.settings(client_id, action="add_member", email=bea.email.upper(), role="viewer")
    assert added.status_code == 303
    assert role_for(db(site), bea_id, client_id) == "viewer"
    twice = owner.settings(client_id, action="add_member", email=bea.email, role="member")
    assert twice.status_code == 400
    assert "already a member" in twice.text
    assert bea.email in owner.http.get(f"/projects/{client_id}/settings").text

    assert (
        owner.settings(client_id, action="change_role", user_id=bea_id, role="member").status_code
        == 303
    )
    assert role_for(db(site), bea_id, client_id) == "member"

    for refused in (
        {"action": "remove_member", "user_id": owner_id},
        {"action": "change_role", "user_id": owner_id, "role": "viewer"},
    ):
        answer = owner.settings(client_id, **refused)
        assert answer.status_code == 400, refused
        assert "at least one owner" in html.unescape(answer.text)
    assert role_for(db(site), owner_id, client_id) == "owner"

    # With a second owner, the first may step down, and then leave.
    assert (
        owner.settings(client_id, action="change_role", user_id=bea_id, role="owner").status_code
        == 303
    )
    assert (
        owner.settings(client_id, action="change_role", user_id=owner_id, role="viewer").status_code
        == 303
    )
    assert owner.http.get(f"/projects/{client_id}/audit").status_code == 403
    assert bea.settings(client_id, action="remove_member", user_id=owner_id).status_code == 303
    assert owner.http.get(f"/projects/{client_id}").status_code == 404
    assert bea.settings(client_id, action="remove_member", user_id=bea_id).status_code == 400


def test_deleting_needs_the_exact_name_and_removes_feedback_screenshots_and_their_blobs(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana, bea = people("ana"), people("bea")
    client_id = ana.create_project("Doomed")
    ana.settings(client_id, action="add_member", email=bea.email, role="member")
    with httpx.Client(base_url=site.url, timeout=30) as api:
        upload = api.post(
            "/api/screenshots",
            data={"clientId": client_id},
            files={"screenshot": ("shot.png", png_bytes(), "image/png")},
        )
        assert upload.status_code == 200, upload.text
        shot: dict[str, Any] = upload.json()["screenshot"]
        sent = api.post(
            "/api/feedback", json={"clientId": client_id, "rating": 2, "screenshots": [shot]}
        )
        assert sent.status_code == 200, sent.text
    blob_key = f"screenshots/{shot['fileName']}"
    blobs = site.app.runtime.blobs
    assert blobs.get(blob_key) is not None

    for wrong in ("doomed", "Doomed ", ""):
        answer = ana.settings(client_id, action="delete", confirm_name=wrong)
        assert answer.status_code == 400
        assert "Type the project&#39;s name exactly" in answer.text
    assert get_client(db(site), client_id) is not None

    deleted = ana.settings(client_id, action="delete", confirm_name="Doomed")

    assert deleted.status_code == 303
    assert deleted.headers["location"] == "/"
    assert get_client(db(site), client_id) is None
    assert blobs.get(blob_key) is None
    with db(site).connect() as conn:
        for table in (feedback, screenshots, memberships):
            count = conn.execute(
                select(func.count()).select_from(table).where(table.c.client_id == client_id)
            ).scalar_one()
            assert count == 0, table.name
        links = conn.execute(
            select(func.count())
            .select_from(feedback_screenshots)
            .where(feedback_screenshots.c.file_name == shot["fileName"])
        ).scalar_one()
        assert links == 0
    for browser in (ana, bea):
        for path in project_routes(client_id):
            assert browser.http.get(path).status_code == 404
    assert "Doomed" not in ana.http.get("/").text
    with httpx.Client(base_url=site.url, timeout=30) as api:
        gone = api.post("/api/feedback", json={"clientId": client_id, "rating": 2})
        assert gone.status_code != 200
    # The history outlives the project.
    assert entries(db(site), client_id)[0].action == "project_deleted"


def test_the_audit_log_lists_each_change_newest_first_with_who_did_it(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana, bea = people("ana"), people("bea")
    client_id = ana.create_project("Audited")
    ana.settings(client_id, action="rename", name="Audited twice")
    ana.settings(client_id, action="add_origin", origin="https://app.example.com")
    ana.settings(client_id, action="screenshots", private="on")
    ana.settings(client_id, action="add_member", email=bea.email, role="viewer")
    ana.settings(client_id, action="change_role", user_id=user_id(site, bea.email), role="owner")
    bea.settings(client_id, action="remove_member", user_id=user_id(site, ana.email))

    page = bea.http.get(f"/projects/{client_id}/audit")

    assert page.status_code == 200
    rows = re.findall(r'<tr class="audit-entry" data-action="\w+">(.*?)</tr>', page.text, re.S)
    actions = [
        [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row, re.S)[1:3]] for row in rows
    ]
    assert actions == [
        [bea.email, f"removed {ana.email} (owner)"],
        [ana.email, f"made {bea.email} owner (was viewer)"],
        [ana.email, f"added {bea.email} as viewer"],
        [ana.email, "made screenshots private (members only)"],
        [ana.email, "allowed https://app.example.com to send feedback"],
        [ana.email, "renamed the project from Audited to Audited twice"],
        [ana.email, "created the project"],
    ]


def test_sign_ins_failed_sign_ins_and_sign_outs_are_audited_without_passwords(
    site: LiveServer,
) -> None:
    email = new_user(site, "audited")
    with httpx.Client(base_url=site.url, timeout=30) as client:
        assert sign_in(client, email, "a wrong password").status_code == 400
        assert sign_in(client, email).status_code == 303
        assert (
            client.post("/logout", data={"csrf_token": form_token(client.get("/"))}).status_code
            == 303
        )
    uid = user_id(site, email)
    with db(site).connect() as conn:
        rows = conn.execute(
            select(audit_log.c.action, audit_log.c.actor_user_id, audit_log.c.details)
            .where(audit_log.c.action.in_(["sign_in", "sign_in_failed", "sign_out"]))
            .order_by(audit_log.c.at, audit_log.c.id)
        ).all()
    mine = [r for r in rows if r.actor_user_id == uid or (r.details or {}).get("email") == email]
    assert [(r.action, r.actor_user_id) for r in mine] == [
        ("sign_in_failed", None),
        ("sign_in", uid),
        ("sign_out", uid),
    ]
    assert mine[0].details == {"email": email, "reason": "wrong_credentials"}
    assert all(
        PASSWORD not in str(r.details) and "a wrong password" not in str(r.details) for r in rows
    )


def test_markup_in_a_project_name_or_an_allowlist_is_shown_escaped(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("<script>alert(1)</script>")
    bad_origin = ana.settings(client_id, action="add_origin", origin="<script>alert(2)</script>")
    assert bad_origin.status_code == 400

    pages = [bad_origin] + [ana.http.get(path) for path in ["/", *project_routes(client_id)]]

    for page in pages:
        assert page.status_code in (200, 400), page.url
        assert "<script>alert" not in page.text, page.url
        assert "&lt;script&gt;alert(" in page.text, page.url
        assert page.headers["content-security-policy"] == CSP
        assert "style=" not in page.text
        assert "<style" not in page.text
        assert "<script" not in without_own_script(page.text), "no script but our own"


def test_every_project_form_without_its_csrf_token_is_refused_and_changes_nothing(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana, bea = people("ana"), people("bea")
    client_id = ana.create_project("Guarded")
    before = len(entries(db(site), client_id))
    forms = [
        {"action": "rename", "name": "Hijacked"},
        {"action": "add_origin", "origin": "https://evil.example"},
        {"action": "remove_origin", "origin": "https://evil.example"},
        {"action": "clear_allowlist"},
        {"action": "screenshots", "private": "on"},
        {"action": "add_member", "email": bea.email, "role": "owner"},
        {"action": "change_role", "user_id": user_id(site, ana.email), "role": "viewer"},
        {"action": "remove_member", "user_id": user_id(site, ana.email)},
        {"action": "delete", "confirm_name": "Guarded"},
    ]
    for form in forms:
        for token in ({}, {"csrf_token": "0" * 64}):
            answer = ana.http.post(f"/projects/{client_id}/settings", data=form | token)
            assert answer.status_code == 403, (form, token)
            assert "security token" in answer.text
    for token in ({}, {"csrf_token": "0" * 64}):
        assert ana.http.post("/projects", data={"name": "Forged"} | token).status_code == 403

    client = get_client(db(site), client_id)
    assert client is not None
    assert (client.name, client.allowed_origins, client.screenshots_private) == (
        "Guarded",
        (),
        False,
    )
    assert role_for(db(site), user_id(site, bea.email), client_id) is None
    assert len(entries(db(site), client_id)) == before
    assert "Forged" not in ana.http.get("/").text


def test_a_nul_in_any_form_field_is_refused_like_a_missing_value_never_a_500(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    # PostgreSQL refuses queries carrying a NUL; no form may pass one through.
    ana = people("ana")
    mine = ana.create_project("Mine")
    for action in ("rename", "add_origin", "change_role", "remove_member", "add_member", "delete"):
        response = ana.settings(
            mine,
            action=action,
            name="n\x00",
            origin="https://a\x00.com",
            email="a\x00@x.com",
            role="own\x00er",
            user_id="u\x00",
            confirm="M\x00ine",
        )
        assert response.status_code < 500, action
    assert (
        ana.http.post("/projects", data={"name": "x\x00", "csrf_token": ana.token}).status_code
        == 400
    )
    with httpx.Client(base_url=site.url, timeout=30) as anonymous:
        token = form_token(anonymous.get("/login"))
        response = anonymous.post(
            "/login", data={"email": "a\x00@example.com", "password": "p\x00", "csrf_token": token}
        )
        assert response.status_code == 400


def test_the_settings_list_the_environments_feedback_has_used(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Environments")
    for env in ("staging", "production", "<b>qa</b>"):
        response = httpx.post(
            f"{site.url}/api/feedback",
            json={"clientId": client_id, "environment": env, "rating": 3},
        )
        assert response.status_code == 200, response.text
    page = ana.http.get(f"/projects/{client_id}/settings").text
    assert f'<a href="/projects/{client_id}/inbox?env=staging">staging</a>' in page
    assert f'<a href="/projects/{client_id}/inbox?env=production">production</a>' in page
    assert "&lt;b&gt;qa&lt;/b&gt;" in page
    assert "<b>qa" not in page


def test_the_owner_sets_how_long_recordings_are_kept_within_its_range(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana, vic = people("ana"), people("vic")
    client_id = ana.create_project("Retention")
    ana.settings(client_id, action="add_member", email=vic.email, role="viewer")
    assert (
        'name="days" min="1" max="3650" value="30"'
        in ana.http.get(f"/projects/{client_id}/settings").text
    )

    assert ana.settings(client_id, action="replay_retention", days="7").status_code == 303
    assert get_client(db(site), client_id).replay_retention_days == 7  # type: ignore[union-attr]
    for bad in ("0", "3651", "-1", "7.5", "seven", "", "٣"):
        refused = ana.settings(client_id, action="replay_retention", days=bad)
        assert refused.status_code == 400, bad
        assert "whole number of days, 1 to 3650" in refused.text
    assert vic.settings(client_id, action="replay_retention", days="90").status_code == 403
    assert get_client(db(site), client_id).replay_retention_days == 7  # type: ignore[union-attr]
    assert entries(db(site), client_id)[0].details == {"days": 7}
