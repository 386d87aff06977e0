"""The shape of the ``sign_in_as`` fixture: ``(email, password)`` → the user or None."""

from __future__ import annotations

from collections.abc import Callable

from sayso.accounts.users import User

SignIn = Callable[[str, str], User | None]
