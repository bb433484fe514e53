"""Schema versions: the Alembic migrations in `migrations/versions/`, applied to a connection the caller
opened (and locked: see `DbAdapter.upgrade_schema`).

There is no alembic.ini: the database is the one the config names, so `python -m utils.db upgrade --env ENV`
migrates it, and `python -m utils.db revision MESSAGE` writes the next migration from a change to schema.py.
Alembic is imported by the functions that use it, so that `--help` and a config error never load it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, create_engine, inspect

from utils.db.schema import Base

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's settings; `migrations/env.py` runs on `connection`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR.as_posix())
    # Revision ids count up (0001, 0002, ...; see new_revision), so the files list in the order they apply.
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    # A new migration leaves `revision` as the project's linters want it (ruff is a dev dependency).
    hooks = {"ruff_format": "format --quiet", "ruff_fix": "check --fix --quiet"}
    config.set_section_option("post_write_hooks", "hooks", ", ".join(hooks))
    for hook, arguments in hooks.items():
        options = {"type": "module", "module": "ruff", "options": f"{arguments} REVISION_SCRIPT_FILENAME"}
        for key, value in options.items():
            config.set_section_option("post_write_hooks", f"{hook}.{key}", value)
    config.attributes["connection"] = connection
    return config


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The latest migration: the schema this code expects."""
    head = _scripts().get_current_head()
    if head is None:
        raise RuntimeError(f"{MIGRATIONS_DIR / 'versions'} holds no migration")
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


def current_revision(connection: Connection) -> str | None:
    """The migration the database is at; None for a database no migration has run on."""
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


# What `DbAdapter.upgrade_schema` reports as the revision before, for a database whose tables were made
# without migrations (`create_all`, as this repository did before it had them) and then recorded.
UNRECORDED = "unrecorded"


def has_schema_tables(connection: Connection) -> bool:
    """Whether any of schema.py's tables is in the database, migration record or not."""
    return bool(set(inspect(connection).get_table_names()) & set(Base.metadata.tables))


def stamp(connection: Connection, revision: str) -> None:
    """Record `revision` as the database's migration without running any."""
    from alembic import command

    command.stamp(alembic_config(connection), revision)


def schema_differences(connection: Connection) -> list[Any]:
    """How the database differs from schema.py's tables, as Alembic's autogenerate sees it; [] when none."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def new_revision(message: str) -> Path | None:
    """Write the next migration: what schema.py has that the latest migration does not. Compared on an
    empty in-memory database brought to the latest migration, so no real database is needed. None when
    there is no difference."""
    from alembic import command
    from alembic.script import Script

    engine = create_engine("sqlite://")
    try:
        with engine.begin() as connection:
            config = alembic_config(connection)
            command.upgrade(config, "head")
            if not schema_differences(connection):
                return None
            rev_id = f"{int(head_revision()) + 1:04d}"
            script = command.revision(config, message=message, autogenerate=True, rev_id=rev_id)
    finally:
        engine.dispose()
    if not isinstance(script, Script):
        raise RuntimeError(f"alembic wrote no single migration for {message!r}")
    return Path(script.path)
