"""The clean-up: one list of jobs, run by every node of ``sayso serve`` and by ``sayso cleanup``.

Each job is idempotent, so nodes may overlap. A failing job does not stop the
others; an outage (``store.outages``) is logged as one line, anything else
with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from sayso.accounts.rate_limit import delete_finished_windows
from sayso.settings import Settings
from sayso.store import audit
from sayso.store.blobs import BlobStore
from sayso.store.orphans import delete_orphans
from sayso.store.outages import describe, is_outage
from sayso.store.replays import close_idle_sessions, delete_expired_sessions
from sayso.store.screenshots import delete_unattached

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    done: str  # what a run did, with {} for the count
    run: Callable[[Engine, BlobStore, Settings], int]


def close_idle(engine: Engine, _blobs: BlobStore, settings: Settings) -> int:
    return close_idle_sessions(engine, timedelta(minutes=settings.replay_idle_minutes))


def expire_audit(engine: Engine, _blobs: BlobStore, settings: Settings) -> int:
    delete_finished_windows(engine)
    return audit.apply_retention(engine, settings.audit_retention_days)


JOBS = (
    Job("deleted {} unattached screenshots", lambda e, b, _s: delete_unattached(e, b)),
    Job("closed {} idle session replays", close_idle),
    Job("deleted {} expired session replays", lambda e, b, _s: delete_expired_sessions(e, b)),
    Job("deleted {} blobs no row points at", lambda e, b, _s: delete_orphans(e, b)),
    Job("deleted {} audit entries past their retention", expire_audit),
)
# Closing idle sessions also runs every minute on its own (Runtime).
CLOSE_IDLE = JOBS[1]


def run(
    jobs: tuple[Job, ...],
    engine: Engine,
    blobs: BlobStore,
    settings: Settings,
    report: Callable[[str, int], None],
) -> int:
    """Run ``jobs`` in order, reporting each result and its count; returns how many failed."""
    failed = 0
    for job in jobs:
        try:
            count = job.run(engine, blobs, settings)
            report(job.done.format(count), count)
        except Exception as exc:
            failed += 1
            what = job.done.format("…")
            if is_outage(exc):
                log.warning("clean-up (%s) failed, will retry: %s", what, describe(exc))
            else:
                log.exception("clean-up (%s) failed, will retry", what)
    return failed
