"""The ``sayso`` command: serve, migrate, manage clients, export feedback.

Every command that touches the database first brings its schema up to date,
so any of them works on a fresh data directory.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import click
from sqlalchemy import Engine

from sayso import __version__
from sayso.origins import InvalidOrigin
from sayso.settings import Settings, SettingsError
from sayso.store import migrate
from sayso.store.clients import Client, create_client, list_clients, update_client
from sayso.store.database import create_db_engine


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def _engine(settings: Settings) -> Engine:
    engine = create_db_engine(settings)
    migrate.upgrade(engine)
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
        http="httptools",
        log_level=settings.log_level,
        access_log=settings.access_log,
        server_header=False,
        proxy_headers=False,
    )


@main.command("migrate")
def migrate_command() -> None:
    """Bring the database schema up to date."""
    engine = _engine(_settings())
    click.echo(f"database at revision {migrate.current_revision(engine)}", err=True)


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


@clients.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def clients_list(as_json: bool) -> None:
    """List clients: id, name, allowlist."""
    import msgspec

    for client in list_clients(_engine(_settings())):
        if as_json:
            record = {
                "id": client.id,
                "name": client.name,
                "allowedOrigins": [str(o) for o in client.allowed_origins],
                "screenshotsPrivate": client.screenshots_private,
                "createdAt": client.created_at.isoformat(),
            }
            click.echo(msgspec.json.encode(record).decode())
        else:
            click.echo(_describe(client))


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
def clients_update(
    client_id: str,
    name: str | None,
    add: tuple[str, ...],
    remove: tuple[str, ...],
    clear_allowlist: bool,
    screenshots_private: bool | None,
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
        )
    except (InvalidOrigin, ValueError) as exc:
        raise _fail_on_bad_origin(exc) from None
    if client is None:
        raise click.ClickException(f"no client {client_id!r}")
    click.echo(_describe(client))


@main.command()
def cleanup() -> None:
    """Delete screenshots that no feedback has referenced for 24 hours.

    `sayso serve` runs the same job every SAYSO_CLEANUP_INTERVAL_SECONDS.
    """
    from sayso.store.blobs import open_blob_store
    from sayso.store.screenshots import delete_unattached

    settings = _settings()
    deleted = delete_unattached(_engine(settings), open_blob_store(settings))
    click.echo(f"deleted {deleted} unattached screenshots", err=True)


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
