"""Attacks found by the hostile probe of the running server (issue 10), kept as tests.

Each module here reproduces one family of findings against real parts — a live
server, both databases, real uploads — and asserts the fixed behaviour, so a
later change that reopens a hole fails here. The fixtures of ``tests/conftest.py``
(``backend``, ``server``, ``api``, ``client_id`` …) apply unchanged.
"""
