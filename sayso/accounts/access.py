"""Who may do what in a project: the one access rule, callable without an HTTP request.

The dashboard asks it for every project page (``dashboard/access.py``); an API
key or MCP caller will ask it the same way, with the user the key belongs to.
The answer is ``None`` when the project doesn't exist or the user isn't a
member (callers show both the same, so project ids can't be probed), else a
``ProjectAccess`` whose role says which actions it allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from sqlalchemy import Engine, select

from sayso.accounts.memberships import Role
from sayso.store.clients import Client, possible_client_id
from sayso.store.schema import clients, memberships

# read: see the project, its feedback, replays and screenshots, export them;
# triage: status, tags and notes; delete: delete feedback;
# manage: settings, members, the audit log, deleting the project.
Action = Literal["read", "triage", "delete", "manage"]
ACTIONS: tuple[Action, ...] = ("read", "triage", "delete", "manage")

ALLOWED: dict[Role, frozenset[Action]] = {
    "owner": frozenset(ACTIONS),
    "member": frozenset({"read", "triage"}),
    "viewer": frozenset({"read"}),
}


@dataclass(frozen=True, slots=True)
class ProjectAccess:
    """A member's standing in one project."""

    user_id: str
    client: Client
    role: Role

    def allows(self, action: Action) -> bool:
        return action in ALLOWED[self.role]

    @property
    def can_triage(self) -> bool:
        return self.allows("triage")

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


def project_access(engine: Engine, user_id: str, client_id: str) -> ProjectAccess | None:
    """``user_id``'s access to ``client_id``; None for an unknown project or a non-member."""
    if not possible_client_id(client_id):
        return None
    query = (
        select(clients, memberships.c.role)
        .join(memberships, memberships.c.client_id == clients.c.id)
        .where(clients.c.id == client_id, memberships.c.user_id == user_id)
    )
    with engine.connect() as conn:
        row = conn.execute(query).mappings().one_or_none()
    if row is None:
        return None
    return ProjectAccess(user_id, Client.from_row(row), cast("Role", row["role"]))
