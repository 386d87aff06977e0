"""Who belongs to which project, and in what role.

Roles: ``owner`` (everything, settings and members included), ``member`` and
``viewer`` (may look; triage for members comes with the inbox). Visibility is
membership only: being an administrator does not show anyone's projects. A
project always keeps at least one owner — the last one can be neither removed
nor demoted. Changes to a project's owners lock its membership rows first
(``FOR UPDATE`` on PostgreSQL; SQLite serialises writers anyway), so two
owners demoting each other at once can't leave it ownerless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.exc import IntegrityError

from sayso.store.clients import Client, insert_client
from sayso.store.schema import clients, memberships, users

Role = Literal["owner", "member", "viewer"]
ROLES: tuple[Role, ...] = ("owner", "member", "viewer")


class MembershipError(ValueError):
    """A change that was refused; the message is fit to show the user."""


class LastOwner(MembershipError):
    def __init__(self) -> None:
        super().__init__("A project needs at least one owner; make someone else owner first.")


@dataclass(frozen=True, slots=True)
class Member:
    user_id: str
    email: str
    role: Role
    joined_at: datetime


def parse_role(value: str) -> Role:
    if value not in ROLES:
        raise MembershipError(f"A role is one of {', '.join(ROLES)}.")
    return value


def role_for(engine: Engine, user_id: str, client_id: str) -> Role | None:
    query = select(memberships.c.role).where(
        memberships.c.user_id == user_id, memberships.c.client_id == client_id
    )
    with engine.connect() as conn:
        role = conn.execute(query).scalar_one_or_none()
    return cast("Role | None", role)


def projects_for(engine: Engine, user_id: str) -> list[tuple[Client, Role]]:
    """The projects ``user_id`` is a member of, oldest first, with their role."""
    query = (
        select(clients, memberships.c.role)
        .join(memberships, memberships.c.client_id == clients.c.id)
        .where(memberships.c.user_id == user_id)
        .order_by(clients.c.created_at, clients.c.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [(Client.from_row(row), cast("Role", row["role"])) for row in rows]


def create_project(engine: Engine, owner_user_id: str, name: str) -> Client:
    """A new client with ``owner_user_id`` as its owner; raises ``ValueError`` on a bad name."""
    # One transaction: a project must never exist without its owner.
    with engine.begin() as conn:
        client = insert_client(conn, name)
        _insert(conn, client.id, owner_user_id, "owner")
    return client


def list_members(engine: Engine, client_id: str) -> list[Member]:
    query = (
        select(memberships.c.user_id, users.c.email, memberships.c.role, memberships.c.created_at)
        .join(users, users.c.id == memberships.c.user_id)
        .where(memberships.c.client_id == client_id)
        .order_by(memberships.c.created_at, users.c.email)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [Member(r.user_id, r.email, cast("Role", r.role), r.created_at) for r in rows]


def add_member(engine: Engine, client_id: str, user_id: str, role: Role) -> None:
    """Raises ``MembershipError`` if the user already belongs to the project."""
    try:
        with engine.begin() as conn:
            _insert(conn, client_id, user_id, role)
    except IntegrityError:
        raise MembershipError("That user is already a member of this project.") from None


def change_role(engine: Engine, client_id: str, user_id: str, role: Role) -> Role | None:
    """Set a member's role; returns the previous one (None: not a member). Raises ``LastOwner``."""
    with engine.begin() as conn:
        owners = _lock_owners(conn, client_id)
        previous = _current_role(conn, client_id, user_id)
        if previous is None:
            return None
        if previous == "owner" and role != "owner" and owners == [user_id]:
            raise LastOwner
        conn.execute(
            memberships.update()
            .where(memberships.c.client_id == client_id, memberships.c.user_id == user_id)
            .values(role=role)
        )
    return previous


def remove_member(engine: Engine, client_id: str, user_id: str) -> Role | None:
    """Remove a member; returns their role (None: not a member). Raises ``LastOwner``."""
    with engine.begin() as conn:
        owners = _lock_owners(conn, client_id)
        previous = _current_role(conn, client_id, user_id)
        if previous is None:
            return None
        if previous == "owner" and owners == [user_id]:
            raise LastOwner
        conn.execute(
            delete(memberships).where(
                memberships.c.client_id == client_id, memberships.c.user_id == user_id
            )
        )
    return previous


def _insert(conn: Connection, client_id: str, user_id: str, role: Role) -> None:
    conn.execute(
        memberships.insert().values(
            client_id=client_id, user_id=user_id, role=role, created_at=datetime.now(UTC)
        )
    )


def _lock_owners(conn: Connection, client_id: str) -> list[str]:
    query = (
        select(memberships.c.user_id)
        .where(memberships.c.client_id == client_id, memberships.c.role == "owner")
        .order_by(memberships.c.user_id)
        .with_for_update()
    )
    return list(conn.execute(query).scalars())


def _current_role(conn: Connection, client_id: str, user_id: str) -> Role | None:
    query = select(memberships.c.role).where(
        memberships.c.client_id == client_id, memberships.c.user_id == user_id
    )
    return cast("Role | None", conn.execute(query).scalar_one_or_none())
