"""Project membership and the audit log, at the store level, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import Engine, delete

from sayso.accounts.memberships import (
    LastOwner,
    MembershipError,
    add_member,
    change_role,
    create_project,
    list_members,
    parse_role,
    projects_for,
    remove_member,
    role_for,
)
from sayso.accounts.users import User, create_user
from sayso.store import audit
from sayso.store.blobs import LocalBlobStore
from sayso.store.clients import delete_client
from sayso.store.schema import users

PASSWORD = "correct horse battery"


def person(engine: Engine, *, is_admin: bool = False) -> User:
    return create_user(engine, f"p-{secrets.token_hex(4)}@example.com", PASSWORD, is_admin=is_admin)


def test_a_project_is_created_with_its_creator_as_owner_and_seen_only_by_members(
    engine: Engine,
) -> None:
    owner, admin, viewer = person(engine), person(engine, is_admin=True), person(engine)
    project = create_project(engine, owner.id, "Mine")
    add_member(engine, project.id, viewer.id, "viewer")

    assert role_for(engine, owner.id, project.id) == "owner"
    assert [(c.id, r) for c, r in projects_for(engine, owner.id)] == [(project.id, "owner")]
    assert [(c.id, r) for c, r in projects_for(engine, viewer.id)] == [(project.id, "viewer")]
    assert projects_for(engine, admin.id) == []
    assert role_for(engine, admin.id, project.id) is None
    assert [m.email for m in list_members(engine, project.id)] == [owner.email, viewer.email]


def test_the_last_owner_can_be_neither_removed_nor_demoted(engine: Engine) -> None:
    owner, other = person(engine), person(engine)
    project = create_project(engine, owner.id, "Owned")
    add_member(engine, project.id, other.id, "member")

    with pytest.raises(LastOwner):
        remove_member(engine, project.id, owner.id)
    with pytest.raises(LastOwner):
        change_role(engine, project.id, owner.id, "member")
    assert change_role(engine, project.id, owner.id, "owner") == "owner"  # a no-op is fine
    assert change_role(engine, project.id, other.id, "owner") == "member"
    assert change_role(engine, project.id, owner.id, "viewer") == "owner"
    assert remove_member(engine, project.id, owner.id) == "viewer"
    assert role_for(engine, owner.id, project.id) is None
    assert remove_member(engine, project.id, owner.id) is None


def test_adding_someone_twice_or_with_an_unknown_role_is_refused(engine: Engine) -> None:
    owner = person(engine)
    project = create_project(engine, owner.id, "Once")
    with pytest.raises(MembershipError):
        add_member(engine, project.id, owner.id, "viewer")
    with pytest.raises(MembershipError):
        parse_role("admin")
    assert parse_role("viewer") == "viewer"


def test_audit_entries_are_per_project_newest_first_and_outlive_project_and_actor(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    actor = person(engine)
    project = create_project(engine, actor.id, "Short-lived")
    audit.record(engine, actor.id, project.id, "project_created", {"name": "Short-lived"})
    audit.record(engine, actor.id, "client_someoneElse", "project_created")
    with engine.begin() as conn:
        audit.record(conn, actor.id, project.id, "project_renamed", {"new": "x"})

    assert delete_client(engine, LocalBlobStore(tmp_path_factory.mktemp("blobs")), project.id)
    with engine.begin() as conn:
        conn.execute(delete(users).where(users.c.id == actor.id))

    found = audit.entries(engine, project.id)
    assert [(e.action, e.details, e.actor_user_id) for e in found] == [
        ("project_renamed", {"new": "x"}, None),
        ("project_created", {"name": "Short-lived"}, None),
    ]
    assert audit.entries(engine, project.id, limit=1)[0].action == "project_renamed"
