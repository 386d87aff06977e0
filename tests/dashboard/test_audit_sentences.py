"""Audit entries read as sentences, whatever their details hold."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sayso.dashboard.audit_sentences import sentence
from sayso.store.audit import Entry


def entry(action: str, times: int = 1, **details: Any) -> Entry:
    return Entry("id", datetime.now(UTC), None, None, "client_x", action, details, times)


@pytest.mark.parametrize(
    ("made", "words"),
    [
        (entry("feedback_deleted", count=3), "deleted 3 feedback items"),
        (entry("feedback_deleted", count=1), "deleted 1 feedback item"),
        (
            entry("feedback_exported", format="csv", filters=[["rating", "1"], ["status", "new"]]),
            "exported the inbox (CSV) filtered by rating 1 and status new",
        ),
        (entry("feedback_exported", format="json", filters=[]), "exported the inbox (JSON)"),
        (
            entry("allowlist_changed", change="clear"),
            "let any website send feedback (cleared the allowlist)",
        ),
        (entry("member_removed", role="viewer"), "removed a member (viewer)"),
        (entry("replay_retention_changed", days=30), "set session replays to be kept 30 days"),
        (entry("sign_in_failed", times=4, email="a@b.c"), "failed to sign in as a@b.c, 4 times"),
        (entry("something_new", reason="x", n=2), "something new (reason x, n 2)"),
    ],
)
def test_each_action_reads_as_words(made: Entry, words: str) -> None:
    assert sentence(made) == words


def test_no_entry_reads_as_a_python_repr() -> None:
    odd = entry("feedback_exported", format=None, filters=[["rating"], "x", None])
    assert "[" not in sentence(odd)
    assert "{" not in sentence(entry("project_renamed"))
