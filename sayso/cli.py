"""The ``sayso`` command: serve, migrate, manage clients and users, export feedback.

Every command that touches the database first brings its schema up to date,
so any of them works on a fresh data directory.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar

import click
from sqlalchemy import Engine

from sayso import __version__
from sayso.accounts.passwords import PasswordRejected, check_rules
from sayso.accounts.users import (
    DuplicateEmail,
    InvalidEmail,
    User,
    create_user,
    find_user_by_email,
    list_users,
    normalise_email,
    set_password,
)
from sayso.origins import InvalidOrigin
from sayso.settings import Settings, SettingsError
from sayso.store import migrate
from sayso.store.clients import Client, create_client, list_clients, update_client
from sayso.store.database import create_db_engine
from sayso.store.outages import describe, is_outage

# Seconds between tries while waiting for the database at start-up.
DB_RETRY_SECONDS = 2.0
T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def _engine(settings: Settings) -> Engine:
    """The engine, schema up to date, once the database answers.

    A database that is still booting (or failing over) is waited for, up to
    ``SAYSO_DB_WAIT_SECONDS``, with one line per try; then the command exits
    with one line, not a traceback. Any other error is a bug and propagates.
    """
    engine = create_db_engine(settings)
    deadline = time.monotonic() + settings.db_wait_seconds
    while True:
        try:
            migrate.upgrade(engine)
        except Exception as exc:
            if not is_outage(exc):
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                engine.dispose()
                raise click.ClickException(f"database unavailable: {describe(exc)}") from None
            click.echo(
                f"sayso: waiting for the database ({left:.0f} s left): {describe(exc)}", err=True
            )
            time.sleep(min(DB_RETRY_SECONDS, left))
        else:
            return engine


def _fail_on_bad_origin(exc: InvalidOrigin | ValueError) -> click.ClickException:
    return click.BadParameter(str(exc), param_hint="--allow-origin/--name")


@click.group()
@click.version_option(__version__, prog_name="sayso")
def main() -> None:
    """Sayso: self-hostable user feedback."""


@main.command()
@click.option("--host", help="Interface to listen on [SAYSO_HOST, default 127.0.0.1].")
@click.option("--port", type=int, help="Port to listen on [SAYSO_PORT, default 8000].")
@click.option("--workers", type=int, help="Worker processes [SAYSO_WORKERS, default 1].")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Apply migrations, then serve the API and dashboard."""
    import os

    import uvicorn

    from sayso.serving import uvicorn_options

    # Worker processes rebuild Settings from the environment, so CLI flags are
    # passed on through it.
    for name, value in (("SAYSO_HOST", host), ("SAYSO_PORT", port), ("SAYSO_WORKERS", workers)):
        if value is not None:
            os.environ[name] = str(value)
    settings = _settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _engine(settings).dispose()
    click.echo(
        f"Sayso {__version__} on {settings.public_url} "
        f"(database: {settings.database_url.split('://', 1)[0]}, data: {settings.data_dir})",
        err=True,
    )
    uvicorn.run(
        "sayso.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        log_level=settings.log_level,
        access_log=settings.access_log,
        **uvicorn_options(settings),
    )


@main.command("migrate")
def migrate_command() -> None:
    """Bring the database schema up to date."""
    engine = _engine(_settings())
    click.echo(f"database at revision {migrate.current_revision(engine)}", err=True)


_JSON_LINES = click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")


def _echo_each(
    items: Iterable[T],
    as_json: bool,
    record: Callable[[T], dict[str, object]],
    text: Callable[[T], str],
) -> None:
    """A list command's output: a line of text per item, or with --json a JSON object."""
    import msgspec

    for item in items:
        click.echo(msgspec.json.encode(record(item)).decode() if as_json else text(item))


@main.group()
def clients() -> None:
    """Create and manage clients (projects) and their domain allowlists."""


def _describe(client: Client) -> str:
    allowlist = ", ".join(map(str, client.allowed_origins)) or "(any origin)"
    return f"{client.id}\t{client.name}\t{allowlist}"


@clients.command("create")
@click.argument("name")
@click.option(
    "--allow-origin",
    "origins",
    multiple=True,
    help="Accept submissions only from this origin (repeatable), e.g. https://myapp.com "
    "or https://*.myapp.com for its subdomains.",
)
def clients_create(name: str, origins: tuple[str, ...]) -> None:
    """Create a client and print its clientId."""
    engine = _engine(_settings())
    try:
        client = create_client(engine, name, origins)
    except (InvalidOrigin, ValueError) as exc:
        raise _fail_on_bad_origin(exc) from None
    click.echo(client.id)


def _client_record(client: Client) -> dict[str, object]:
    return {
        "id": client.id,
        "name": client.name,
        "allowedOrigins": [str(o) for o in client.allowed_origins],
        "screenshotsPrivate": client.screenshots_private,
        "replayRetentionDays": client.replay_retention_days,
        "createdAt": client.created_at.isoformat(),
    }


@clients.command("list")
@_JSON_LINES
def clients_list(as_json: bool) -> None:
    """List clients: id, name, allowlist."""
    _echo_each(list_clients(_engine(_settings())), as_json, _client_record, _describe)


@clients.command("add-member")
@click.argument("client_id")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(["owner", "member", "viewer"]),
    default="owner",
    show_default=True,
    help="owner: everything; member: triage; viewer: read-only.",
)
def clients_add_member(client_id: str, email: str, role: str) -> None:
    """Give a dashboard user access to a client (e.g. one created with `clients create`)."""
    from sayso.accounts.memberships import MembershipError, add_member, parse_role
    from sayso.accounts.users import find_user_by_email
    from sayso.store.audit import record
    from sayso.store.clients import get_client

    engine = _engine(_settings())
    if get_client(engine, client_id) is None:
        raise click.ClickException(f"no client {client_id!r}")
    user = find_user_by_email(engine, email)
    if user is None:
        raise click.ClickException(f"no user {email!r}: create it with `sayso users create`")
    try:
        add_member(engine, client_id, user.id, parse_role(role))
    except MembershipError as exc:
        raise click.ClickException(str(exc)) from None
    record(
        engine,
        None,
        client_id,
        "member_added",
        {"user_id": user.id, "email": user.email, "role": role, "via": "cli"},
    )
    click.echo(f"{user.email} is now {role} of {client_id}", err=True)


@clients.command("update")
@click.argument("client_id")
@click.option("--name", help="New display name.")
@click.option("--allow-origin", "add", multiple=True, help="Add an origin (repeatable).")
@click.option("--remove-origin", "remove", multiple=True, help="Remove an origin (repeatable).")
@click.option(
    "--clear-allowlist",
    is_flag=True,
    help="Empty the allowlist first (every origin accepted unless --allow-origin adds some).",
)
@click.option(
    "--private-screenshots/--public-screenshots",
    "screenshots_private",
    default=None,
    help="Private: once feedback is submitted, its screenshots are no longer served from "
    "their public URL (only to signed-in dashboard users). Public (the default): anyone "
    "holding a screenshot's URL can load it.",
)
@click.option(
    "--replay-retention-days",
    type=click.IntRange(1, 3650),
    help="Delete this client's session replays (and their chunks) after N days [default 30].",
)
def clients_update(
    client_id: str,
    name: str | None,
    add: tuple[str, ...],
    remove: tuple[str, ...],
    clear_allowlist: bool,
    screenshots_private: bool | None,
    replay_retention_days: int | None,
) -> None:
    """Rename a client or change its allowlist (takes effect within SAYSO_CLIENT_CACHE_SECONDS)."""
    engine = _engine(_settings())
    try:
        client = update_client(
            engine,
            client_id,
            name=name,
            clear_allowlist=clear_allowlist,
            add_origins=add,
            remove_origins=remove,
            screenshots_private=screenshots_private,
            replay_retention_days=replay_retention_days,
        )
    except (InvalidOrigin, ValueError) as exc:
        raise _fail_on_bad_origin(exc) from None
    if client is None:
        raise click.ClickException(f"no client {client_id!r}")
    click.echo(_describe(client))


@main.group()
def users() -> None:
    """Create and manage dashboard users."""


_FROM_STDIN_HELP = "Read the password from the first line of standard input instead of asking."


def _checked_email(email: str) -> str:
    try:
        return normalise_email(email)
    except InvalidEmail as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None


def _read_password(from_stdin: bool) -> str:
    """The new password, checked against the rules before anything is written."""
    if from_stdin:
        # Only the line ending goes: spaces may be part of a password.
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            "Password", hide_input=True, confirmation_prompt=True, prompt_suffix=": "
        )
    try:
        check_rules(password)
    except PasswordRejected as exc:
        raise click.ClickException(str(exc)) from None
    return password


def _describe_user(user: User) -> str:
    role = "admin" if user.is_admin else "member"
    last = user.last_sign_in_at.isoformat() if user.last_sign_in_at else "never signed in"
    return f"{user.id}\t{user.email}\t{role}\t{last}"


@users.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="May manage users and settings.")
@click.option("--password-stdin", is_flag=True, help=_FROM_STDIN_HELP)
def users_create(email: str, admin: bool, password_stdin: bool) -> None:
    """Create a dashboard user and print its id."""
    email = _checked_email(email)
    engine = _engine(_settings())
    # Refuse a taken email before asking for a password nobody will use.
    if find_user_by_email(engine, email) is not None:
        raise click.ClickException(f"there is already a user {email!r}")
    password = _read_password(password_stdin)
    try:
        user = create_user(engine, email, password, is_admin=admin)
    except (DuplicateEmail, InvalidEmail, PasswordRejected) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(user.id)


def _user_record(user: User) -> dict[str, object]:
    return {
        "id": user.id,
        "email": user.email,
        "isAdmin": user.is_admin,
        "createdAt": user.created_at.isoformat(),
        "lastSignInAt": user.last_sign_in_at.isoformat() if user.last_sign_in_at else None,
    }


@users.command("list")
@_JSON_LINES
def users_list(as_json: bool) -> None:
    """List users: id, email, role, last sign-in."""
    _echo_each(list_users(_engine(_settings())), as_json, _user_record, _describe_user)


@users.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help=_FROM_STDIN_HELP)
def users_reset_password(email: str, password_stdin: bool) -> None:
    """Set a user's password and sign them out everywhere."""
    email = _checked_email(email)
    engine = _engine(_settings())
    user = find_user_by_email(engine, email)
    if user is None:
        raise click.ClickException(f"no user {email!r}")
    password = _read_password(password_stdin)
    if not set_password(engine, user.id, password):
        raise click.ClickException(f"no user {email!r}")
    click.echo(f"password changed; every session of {user.email} has ended", err=True)


@main.command()
def cleanup() -> None:
    """Delete screenshots that no feedback has referenced for 24 hours, close
    session replays idle for SAYSO_REPLAY_IDLE_MINUTES and delete those past
    their client's retention, delete blobs no row points at (left by a crash
    between writing a blob and its row) once they are an hour old; delete
    audit entries older than SAYSO_AUDIT_RETENTION_DAYS and finished sign-in
    limit windows.

    `sayso serve` runs the same job every SAYSO_CLEANUP_INTERVAL_SECONDS.
    """
    from sayso import cleanup as jobs
    from sayso.store.blobs import open_blob_store

    settings = _settings()
    engine, blobs = _engine(settings), open_blob_store(settings)
    failed = jobs.run(
        jobs.JOBS, engine, blobs, settings, lambda message, _count: click.echo(message, err=True)
    )
    if failed:
        raise click.ClickException(f"{failed} clean-up job(s) failed; see the log above")


@main.group()
def replays() -> None:
    """Inspect recorded sessions (session replay)."""


@replays.command("events")
@click.argument("session_replay_id")
def replays_events(session_replay_id: str) -> None:
    """Print a session's rrweb events as one JSON array, in recording order."""
    from sayso.store.blobs import open_blob_store
    from sayso.store.replays import get_session, iter_events_json

    settings = _settings()
    engine = _engine(settings)
    if len(session_replay_id) > 32 or get_session(engine, session_replay_id) is None:
        raise click.ClickException(f"no session replay {session_replay_id!r}")
    out = sys.stdout.buffer
    for piece in iter_events_json(engine, open_blob_store(settings), session_replay_id):
        out.write(piece)
    out.write(b"\n")
    out.flush()


@main.group()
def feedback() -> None:
    """Work with stored feedback."""


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            "use a date (2026-11-01) or an ISO time (2026-11-01T12:00:00Z)", param_hint="--since"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


@feedback.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option("--client", "client_id", help="Only this client's feedback.")
@click.option("--since", help="Only feedback received at or after this date/time (UTC).")
def feedback_export(fmt: str, client_id: str | None, since: str | None) -> None:
    """Write stored feedback to stdout, oldest first."""
    from sayso.export import write_csv, write_jsonl
    from sayso.store.feedback import iter_feedback

    since_at = _parse_since(since)
    rows = iter_feedback(_engine(_settings()), client_id=client_id, since=since_at)
    count = write_jsonl(rows, sys.stdout.buffer) if fmt == "jsonl" else write_csv(rows, sys.stdout)
    sys.stdout.flush()
    click.echo(f"exported {count} feedback items", err=True)


@main.command()
@click.option("--client-id", help="Seed this client; without it, a new client is created.")
@click.option("--rows", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=90,
    show_default=True,
    help="Spread the feedback over this many days up to now.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same data.")
def seed(client_id: str | None, rows: int, days: int, seed: int) -> None:
    """Fill a project with realistic fake feedback (for demos and benchmarks)."""
    from sayso.seed import seed_feedback
    from sayso.store.clients import get_client

    engine = _engine(_settings())
    if client_id is None:
        client_id = create_client(engine, "Seeded demo").id
        click.echo(f"created client {client_id}", err=True)
    elif get_client(engine, client_id) is None:
        raise click.ClickException(f"no client {client_id!r}")
    with click.progressbar(length=rows, label="Seeding feedback", file=sys.stderr) as bar:
        inserted = seed_feedback(engine, client_id, rows, days, seed, progress=bar.update)
    click.echo(f"inserted {inserted} feedback items for {client_id}", err=True)
    click.echo(client_id)
