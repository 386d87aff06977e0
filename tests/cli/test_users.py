"""``sayso users …``: creating dashboard users, listing them, resetting passwords.

Commands run in-process through click's ``CliRunner`` against the test
database, on SQLite and PostgreSQL; what they wrote is checked with the store's
own functions.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import Engine

from sayso.accounts.sessions import start_session, user_for_token
from sayso.accounts.users import count_users, find_user_by_email
from sayso.cli import main
from sayso.settings import Settings
from tests.support.accounts import SignIn

PASSWORD = "correct horse battery"


class Users:
    """Runs ``sayso users …`` in-process against one database."""

    def __init__(self, settings: Settings) -> None:
        self.runner = CliRunner(
            env={
                "SAYSO_DATA_DIR": str(settings.data_dir),
                "SAYSO_DATABASE_URL": settings.database_url,
            }
        )

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(main, ["users", *args], input=input, catch_exceptions=False)

    def ok(self, *args: str, input: str | None = None) -> str:
        result = self(*args, input=input)
        assert result.exit_code == 0, result.output
        return result.stdout

    def fails(self, *args: str, input: str | None = None) -> str:
        result = self(*args, input=input)
        assert result.exit_code != 0, result.output
        return result.output

    def create(self, email: str, *options: str) -> str:
        """``users create`` with ``PASSWORD`` on stdin; the new user's id."""
        return self.ok("create", email, *options, "--password-stdin", input=PASSWORD + "\n").strip()

    def listed(self) -> dict[str, dict[str, Any]]:
        lines = self.ok("list", "--json").splitlines()
        return {record["email"]: record for record in map(json.loads, lines)}


def new_email(label: str = "cli") -> str:
    return f"{label}-{secrets.token_hex(4)}@Example.com"


def test_create_reads_the_password_from_stdin_and_prints_the_new_id(
    settings: Settings, sign_in_as: SignIn
) -> None:
    users = Users(settings)
    email = new_email()

    user_id = users.ok("create", email, "--admin", "--password-stdin", input=PASSWORD + "\n")

    record = users.listed()[email.lower()]
    assert record["id"] == user_id.strip()
    assert record["isAdmin"] is True
    assert record["lastSignInAt"] is None
    assert record["createdAt"].endswith("+00:00")
    assert sign_in_as(email, PASSWORD) is not None


def test_create_without_password_stdin_asks_twice_without_echoing(
    settings: Settings, sign_in_as: SignIn
) -> None:
    users = Users(settings)
    email = new_email()

    result = users("create", email, input=f"{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert result.output.count("Password") == 1
    assert "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output
    user = sign_in_as(email, PASSWORD)
    assert user is not None
    assert not user.is_admin


def test_a_mistyped_confirmation_asks_again(settings: Settings, sign_in_as: SignIn) -> None:
    users = Users(settings)
    email = new_email()

    users.ok("create", email, input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n")

    assert sign_in_as(email, PASSWORD) is not None


def test_a_duplicate_email_fails_clearly_and_writes_nothing(
    settings: Settings, engine: Engine, sign_in_as: SignIn
) -> None:
    users = Users(settings)
    email = new_email()
    users.create(email)
    before = count_users(engine)

    output = users.fails("create", email.upper(), "--password-stdin", input="another password\n")

    assert "already a user" in output
    assert count_users(engine) == before
    assert sign_in_as(email, PASSWORD) is not None


def test_a_bad_email_fails_before_asking_for_a_password(settings: Settings, engine: Engine) -> None:
    before = count_users(engine)

    output = Users(settings).fails("create", "not-an-email", input=f"{PASSWORD}\n{PASSWORD}\n")

    assert "not an email address" in output
    assert "Password" not in output
    assert count_users(engine) == before


def test_a_short_password_fails_clearly_and_writes_nothing(
    settings: Settings, engine: Engine
) -> None:
    email = new_email()

    output = Users(settings).fails("create", email, "--password-stdin", input="short\n")

    assert "at least 10 characters" in output
    assert find_user_by_email(engine, email) is None


def test_list_prints_one_line_per_user_with_role(settings: Settings) -> None:
    users = Users(settings)
    admin, member = new_email("admin"), new_email("member")
    users.create(admin, "--admin")
    users.create(member)

    lines = users.ok("list").splitlines()

    assert any(admin.lower() in line and "\tadmin\t" in line for line in lines)
    assert any(member.lower() in line and "\tmember\t" in line for line in lines)


def test_reset_password_sets_the_new_password_and_ends_every_session(
    settings: Settings, engine: Engine, sign_in_as: SignIn
) -> None:
    users = Users(settings)
    email = new_email()
    user_id = users.create(email)
    tokens = [start_session(engine, user_id)[0] for _ in range(2)]

    users.ok("reset-password", email.upper(), "--password-stdin", input="a new password here\n")

    assert sign_in_as(email, PASSWORD) is None
    assert sign_in_as(email, "a new password here") is not None
    assert [user_for_token(engine, token) for token in tokens] == [None, None]


def test_reset_password_prompts_twice_when_not_given_stdin(
    settings: Settings, sign_in_as: SignIn
) -> None:
    users = Users(settings)
    email = new_email()
    users.create(email)

    users.ok("reset-password", email, input="a new password here\na new password here\n")

    assert sign_in_as(email, "a new password here") is not None


def test_reset_password_refuses_a_short_password_and_keeps_sessions(
    settings: Settings, engine: Engine, sign_in_as: SignIn
) -> None:
    users = Users(settings)
    email = new_email()
    token, _ = start_session(engine, users.create(email))

    output = users.fails("reset-password", email, "--password-stdin", input="short\n")

    assert "at least 10 characters" in output
    assert sign_in_as(email, PASSWORD) is not None
    assert user_for_token(engine, token) is not None


def test_reset_password_for_an_unknown_email_fails(settings: Settings) -> None:
    output = Users(settings).fails(
        "reset-password", new_email("nobody"), "--password-stdin", input=PASSWORD + "\n"
    )
    assert "no user" in output


def test_clients_add_member_gives_a_user_access_to_a_cli_created_client(
    settings: Settings, engine: Engine
) -> None:
    from sayso.accounts.memberships import projects_for, role_for

    users = Users(settings)
    email = new_email("owner")
    user_id = users.create(email)
    client_id = users.runner.invoke(main, ["clients", "create", "From the CLI"]).stdout.strip()
    assert role_for(engine, user_id, client_id) is None

    added = users.runner.invoke(
        main, ["clients", "add-member", client_id, email, "--role", "viewer"]
    )
    again = users.runner.invoke(main, ["clients", "add-member", client_id, email])
    nobody = users.runner.invoke(main, ["clients", "add-member", client_id, "nobody@example.com"])

    assert added.exit_code == 0, added.output
    assert role_for(engine, user_id, client_id) == "viewer"
    assert client_id in {client.id for client, _ in projects_for(engine, user_id)}
    assert again.exit_code != 0
    assert "already" in again.output
    assert nobody.exit_code != 0
