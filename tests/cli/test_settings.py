"""Settings: sensible zero-config defaults, loud failures on bad values, and documentation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sayso.settings
from sayso.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_the_code_reads_is_documented() -> None:
    code = Path(sayso.settings.__file__).read_text()
    read = set(re.findall(r'"(SAYSO_[A-Z_]+)"', code))
    documented = set(re.findall(r"`(SAYSO_[A-Z_]+)`", (ROOT / "docs" / "settings.md").read_text()))
    assert read, "found no settings in sayso/settings.py"
    assert read <= documented, f"undocumented: {sorted(read - documented)}"


def test_the_docs_list_no_setting_that_does_not_exist() -> None:
    code = "\n".join(p.read_text() for p in [*ROOT.glob("sayso/**/*.py"), *ROOT.glob("tests/*.py")])
    documented = set(re.findall(r"`(SAYSO_[A-Z_]+)`", (ROOT / "docs" / "settings.md").read_text()))
    assert {name for name in documented if f'"{name}"' not in code} == set()


def test_with_no_environment_everything_lives_in_sayso_data() -> None:
    settings = Settings.from_env({})
    assert settings.data_dir == Path("sayso-data")
    assert settings.database_url == "sqlite:///sayso-data/sayso.db"
    assert settings.is_sqlite
    assert settings.public_url == "http://127.0.0.1:8000"
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)


def test_a_postgresql_url_switches_the_driver_to_psycopg() -> None:
    settings = Settings.from_env({"SAYSO_DATABASE_URL": "postgresql://u@db.internal:5432/sayso"})
    assert settings.sqlalchemy_url == "postgresql+psycopg://u@db.internal:5432/sayso"
    assert not settings.is_sqlite
    assert Settings.from_env({"SAYSO_DATABASE_URL": "postgres://u@h/d"}).sqlalchemy_url.startswith(
        "postgresql+psycopg://"
    )


def test_the_public_url_loses_its_trailing_slash() -> None:
    assert Settings.from_env({"SAYSO_PUBLIC_URL": "https://fb.example.com/"}).public_url == (
        "https://fb.example.com"
    )


@pytest.mark.parametrize(
    "env",
    [
        {"SAYSO_PORT": "eighty"},
        {"SAYSO_WORKERS": "0"},
        {"SAYSO_DB_POOL_SIZE": "-1"},
        {"SAYSO_CLIENT_CACHE_SECONDS": "soon"},
        {"SAYSO_LOG_LEVEL": "loud"},
        {"SAYSO_ACCESS_LOG": "maybe"},
        {"SAYSO_DATABASE_URL": "mysql://root@localhost/db"},
    ],
)
def test_a_bad_value_is_refused_with_the_variable_named(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=next(iter(env))):
        Settings.from_env(env)
