"""Every setting Sayso reads, from environment variables prefixed ``SAYSO_``.

One frozen ``Settings`` object is built at start-up (``Settings.from_env``) and
passed down explicitly; nothing else in the package reads the environment.
Every variable here must be described in ``docs/settings.md`` — a test checks it.
The defaults make ``sayso serve`` work with zero configuration: a SQLite file and
a blob folder under ``./sayso-data``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sayso.client_ip import TrustedProxies, parse_trusted_proxies


class SettingsError(ValueError):
    """A ``SAYSO_*`` variable holds a value that can't be used."""


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _optional_bool(env: Mapping[str, str], name: str) -> bool | None:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _optional_bool(env, name)
    return default if value is None else value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _str(env, name, default).lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def sqlalchemy_url(database_url: str) -> str:
    """Map the user-facing database URL onto the driver SQLAlchemy should use.

    Users write ``postgresql://user@host:5432/db`` (what every PostgreSQL tool
    understands); we always talk to it through psycopg 3.
    """
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    if database_url.startswith(("sqlite:///", "postgresql+psycopg://")):
        return database_url
    raise SettingsError(
        "SAYSO_DATABASE_URL must start with sqlite:/// or postgresql://, "
        f"got {database_url.split(':', 1)[0]!r}"
    )


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("sayso-data")
    database_url: str = ""
    public_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    db_pool_size: int = 5
    # How long commands wait for an unreachable database at start-up.
    db_wait_seconds: float = 60.0
    # /healthz reports the disk full below this much free space (MiB).
    min_free_disk_mb: int = 64
    client_cache_seconds: float = 5.0
    # Screenshot decoding (sayso/ingest/pixel_budgets.py): pixels per client
    # per minute (0: no limit), and pixels being decoded at once, per process.
    screenshot_megapixels_per_minute: int = 200
    screenshot_decode_megapixels: int = 64
    log_level: str = "info"
    access_log: bool = False
    storage_url: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_path_style: bool | None = None
    cleanup_interval_seconds: float = 3600.0
    replay_idle_minutes: int = 30
    # Addresses/CIDRs whose X-Forwarded-For is believed (sayso/client_ip.py).
    trusted_proxies: str = ""
    audit_retention_days: int = 365
    # Slow clients (sayso/serving.py, ingest/http.py): seconds to send a
    # request's headers; a body's longest silence and whole duration; idle
    # keep-alive; open connections per worker.
    header_timeout_seconds: float = 20.0
    body_idle_seconds: float = 60.0
    body_timeout_seconds: float = 600.0
    keep_alive_seconds: int = 5
    max_connections: int = 4096
    # Filled in by __post_init__ from the fields above.
    sqlalchemy_url: str = field(default="", init=False)
    trusted_proxy_networks: TrustedProxies = field(default=(), init=False)

    def __post_init__(self) -> None:
        database_url = self.database_url or f"sqlite:///{self.data_dir / 'sayso.db'}"
        public_url = (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
        object.__setattr__(self, "database_url", database_url)
        object.__setattr__(self, "public_url", public_url)
        object.__setattr__(self, "sqlalchemy_url", sqlalchemy_url(database_url))
        if self.storage_url.startswith("s3://") and not self.storage_url[5:].strip("/"):
            raise SettingsError("SAYSO_STORAGE_URL needs a bucket: s3://bucket[/prefix]")
        try:
            networks = parse_trusted_proxies(self.trusted_proxies)
        except ValueError as exc:
            raise SettingsError(f"SAYSO_TRUSTED_PROXIES: {exc}") from None
        object.__setattr__(self, "trusted_proxy_networks", networks)

    @property
    def blob_location(self) -> str:
        """``s3://bucket/prefix`` or a local folder (default: ``<data dir>/blobs``)."""
        url = self.storage_url
        if not url:
            return str(self.data_dir / "blobs")
        if url.startswith("file://"):
            return url[len("file://") :]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            data_dir=Path(_str(env, "SAYSO_DATA_DIR", "sayso-data")),
            database_url=_str(env, "SAYSO_DATABASE_URL", ""),
            public_url=_str(env, "SAYSO_PUBLIC_URL", ""),
            host=_str(env, "SAYSO_HOST", "127.0.0.1"),
            port=_int(env, "SAYSO_PORT", 8000),
            workers=_int(env, "SAYSO_WORKERS", 1, minimum=1),
            db_pool_size=_int(env, "SAYSO_DB_POOL_SIZE", 5, minimum=1),
            db_wait_seconds=_float(env, "SAYSO_DB_WAIT_SECONDS", 60.0),
            min_free_disk_mb=_int(env, "SAYSO_MIN_FREE_DISK_MB", 64),
            client_cache_seconds=_float(env, "SAYSO_CLIENT_CACHE_SECONDS", 5.0),
            screenshot_megapixels_per_minute=_int(
                env, "SAYSO_SCREENSHOT_MEGAPIXELS_PER_MINUTE", 200
            ),
            screenshot_decode_megapixels=_int(
                env, "SAYSO_SCREENSHOT_DECODE_MEGAPIXELS", 64, minimum=1
            ),
            log_level=_choice(
                env, "SAYSO_LOG_LEVEL", "info", ("debug", "info", "warning", "error")
            ),
            access_log=_bool(env, "SAYSO_ACCESS_LOG", False),
            storage_url=_str(env, "SAYSO_STORAGE_URL", ""),
            s3_endpoint_url=_str(env, "SAYSO_S3_ENDPOINT_URL", ""),
            s3_region=_str(env, "SAYSO_S3_REGION", ""),
            s3_access_key_id=_str(env, "SAYSO_S3_ACCESS_KEY_ID", ""),
            s3_secret_access_key=_str(env, "SAYSO_S3_SECRET_ACCESS_KEY", ""),
            s3_path_style=_optional_bool(env, "SAYSO_S3_PATH_STYLE"),
            cleanup_interval_seconds=_float(env, "SAYSO_CLEANUP_INTERVAL_SECONDS", 3600.0),
            replay_idle_minutes=_int(env, "SAYSO_REPLAY_IDLE_MINUTES", 30, minimum=1),
            trusted_proxies=_str(env, "SAYSO_TRUSTED_PROXIES", ""),
            audit_retention_days=_int(env, "SAYSO_AUDIT_RETENTION_DAYS", 365),
            header_timeout_seconds=_float(env, "SAYSO_HEADER_TIMEOUT_SECONDS", 20.0, minimum=0.1),
            body_idle_seconds=_float(env, "SAYSO_BODY_IDLE_SECONDS", 60.0, minimum=0.1),
            body_timeout_seconds=_float(env, "SAYSO_BODY_TIMEOUT_SECONDS", 600.0, minimum=0.1),
            keep_alive_seconds=_int(env, "SAYSO_KEEP_ALIVE_SECONDS", 5, minimum=1),
            max_connections=_int(env, "SAYSO_MAX_CONNECTIONS", 4096, minimum=1),
        )
