"""Dashboard accounts: users and their passwords, sign-in sessions, and the sign-in rate limit.

Store functions take the SQLAlchemy ``Engine`` (like ``sayso.store.clients``)
and are synchronous; the dashboard calls them in a thread.
"""
