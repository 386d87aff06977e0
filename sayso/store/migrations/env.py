"""Alembic environment: always run in-process on a connection handed over by ``store.migrate``."""

from alembic import context

from sayso.store.schema import is_search_object, metadata


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # The full-text search objects of 0006 exist only in the migration (see schema.py).
    return not (reflected and compare_to is None and is_search_object(name, type_))


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite can't ALTER most things; batch mode rebuilds tables instead.
    render_as_batch=True,
    compare_type=True,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
