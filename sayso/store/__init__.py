"""Persistence: tables, migrations, the group-commit writer and record-level operations."""
