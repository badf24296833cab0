"""pre_migrate and post_migrate from a real Alembic migration directory, up and down.

Each test writes the directory (env.py, two revisions) into tmp_path and runs Alembic's
own commands on a SQLite file, as ``alembic upgrade head`` does.
"""

from __future__ import annotations

import asyncio
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import alembic
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, inspect, text

from reqsignals.contrib.alembic import MigrationStep
from reqsignals.signals import post_migrate, pre_migrate
from reqsignals.testing import Capture, capture

SYNC_ENV = """
import sqlalchemy as sa
from alembic import context
from sqlalchemy import create_engine

from reqsignals.contrib.alembic import run_migrations
from reqsignals.contrib.sqlalchemy import connect_engine

url = context.config.get_main_option("sqlalchemy.url")
# What the revisions build, for the commands that compare (check, autogenerate).
target_metadata = sa.MetaData()
sa.Table(
    "note",
    target_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("text", sa.String),
)

if context.is_offline_mode():
    context.configure(url=url, literal_binds=True)
    with context.begin_transaction():
        run_migrations(context)
else:
    engine = connect_engine(create_engine(url), using="default")
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            run_migrations(context)
    engine.dispose()
"""

ASYNC_ENV = """
import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from reqsignals.contrib.alembic import run_migrations
from reqsignals.contrib.sqlalchemy import connect_engine

url = context.config.get_main_option("sqlalchemy.url").replace("sqlite:", "sqlite+aiosqlite:")


def do_run_migrations(connection):
    context.configure(connection=connection)
    with context.begin_transaction():
        run_migrations(context)


async def main():
    engine = connect_engine(create_async_engine(url), using="default")
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
        await connection.commit()
    await engine.dispose()


asyncio.run(main())
"""

REVISION = """
from alembic import op
import sqlalchemy as sa

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
{upgrade}


def downgrade():
{downgrade}
"""

REVISIONS = [
    (
        "0001",
        None,
        '    op.create_table("note", sa.Column("id", sa.Integer, primary_key=True))',
        '    op.drop_table("note")',
    ),
    (
        "0002",
        "0001",
        '    op.add_column("note", sa.Column("text", sa.String))',
        '    op.drop_column("note", "text")',
    ),
]

FAILING = ("0003", "0002", '    raise RuntimeError("migration 0003 failed")', "    pass")


def make_directory(root: Path, env: str, revisions: list[tuple[str, Any, str, str]]) -> Config:
    scripts = root / "migrations"
    (scripts / "versions").mkdir(parents=True, exist_ok=True)
    (scripts / "env.py").write_text(env)
    for revision, down, upgrade, downgrade in revisions:
        source = REVISION.format(revision=revision, down=down, upgrade=upgrade, downgrade=downgrade)
        (scripts / "versions" / f"{revision}.py").write_text(source)
    config = Config(stdout=io.StringIO())
    config.set_main_option("script_location", str(scripts))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{root / 'db.sqlite'}")
    return config


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_directory(tmp_path, SYNC_ENV, REVISIONS)


@pytest.fixture
def sent() -> Iterator[Capture]:
    with capture(pre_migrate, post_migrate) as cap:
        yield cap


def plan_of(send: Any) -> list[tuple[str, str]]:
    return [(step.revision, step.direction) for step in send.kwargs["plan"]]


def tables(config: Config) -> set[str]:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_then_downgrade_send_the_plan_with_its_direction(
    config: Config, sent: Capture
) -> None:
    command.upgrade(config, "head")
    assert sent.names == ["pre_migrate", "post_migrate"]
    pre, post = sent.sent
    assert pre.sender == "alembic"
    assert post.sender == "alembic"
    assert plan_of(pre) == [("0001", "upgrade"), ("0002", "upgrade")]
    assert pre.kwargs["plan"] == post.kwargs["plan"]
    step = pre.kwargs["plan"][0]
    assert isinstance(step, MigrationStep)
    script, backwards = step  # Django's (migration, backwards) pairs
    assert (script.revision, backwards) == ("0001", False)
    assert pre.kwargs["using"] == "default"
    assert isinstance(pre.kwargs["connection"], Connection)
    assert tables(config) == {"note"}

    sent.clear()
    command.downgrade(config, "base")
    assert sent.names == ["pre_migrate", "post_migrate"]
    assert plan_of(sent.sent[0]) == [("0002", "downgrade"), ("0001", "downgrade")]
    assert [s.backwards for s in sent.sent[0].kwargs["plan"]] == [True, True]
    assert tables(config) == set()


def test_pre_migrate_comes_before_the_first_step_and_post_migrate_after_the_last(
    config: Config,
) -> None:
    seen: list[tuple[str, set[str]]] = []

    def look(signal: Any, sender: Any, connection: Connection, **kwargs: Any) -> None:
        names = set(inspect(connection).get_table_names()) - {"alembic_version"}
        seen.append((signal.name, names))
        if signal is post_migrate:
            connection.execute(text("INSERT INTO note (id, text) VALUES (1, 'seeded')"))
            # Alembic runs each SQLite migration in a transaction of its own, and this
            # is after the last: commit. (With transactional DDL, as on PostgreSQL, this
            # is inside the run's one transaction, which env.py commits.)
            connection.commit()

    with pre_migrate.connected_to(look), post_migrate.connected_to(look):
        command.upgrade(config, "head")
    assert seen == [("pre_migrate", set()), ("post_migrate", {"note"})]
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT text FROM note")).scalar_one() == "seeded"
    engine.dispose()


def test_a_failing_migration_sends_no_post_migrate(tmp_path: Path, sent: Capture) -> None:
    config = make_directory(tmp_path, SYNC_ENV, [*REVISIONS, FAILING])
    with pytest.raises(RuntimeError, match="migration 0003 failed"):
        command.upgrade(config, "head")
    assert sent.names == ["pre_migrate"]
    assert plan_of(sent.sent[0]) == [("0001", "upgrade"), ("0002", "upgrade"), ("0003", "upgrade")]


def test_a_pre_migrate_receiver_that_raises_stops_the_run(config: Config, sent: Capture) -> None:
    def refuse(sender: Any, **kwargs: Any) -> None:
        raise PermissionError("not now")

    with pre_migrate.connected_to(refuse), pytest.raises(PermissionError):
        command.upgrade(config, "head")
    assert sent.names == ["pre_migrate"]
    assert tables(config) == set()


def test_nothing_to_do_still_sends_an_empty_plan(config: Config, sent: Capture) -> None:
    command.upgrade(config, "head")
    sent.clear()
    command.upgrade(config, "head")  # as Django's migrate with nothing to apply
    assert sent.names == ["pre_migrate", "post_migrate"]
    assert sent.sent[0].kwargs["plan"] == []


def test_read_only_commands_and_offline_mode_send_nothing(config: Config, sent: Capture) -> None:
    command.upgrade(config, "0001")
    sent.clear()
    command.current(config)
    command.upgrade(config, "0001:head", sql=True)  # prints SQL, migrates nothing
    assert len(sent) == 0
    command.stamp(config, "head")  # changes the version table: a run
    assert sent.names == ["pre_migrate", "post_migrate"]
    assert sent.sent[0].kwargs["plan"] == []


def test_commands_that_only_read_the_database_send_nothing(
    config: Config, sent: Capture, tmp_path: Path
) -> None:
    # They run env.py, and so run_migrations(), but migrate nothing: as Django's
    # makemigrations (--check) and showmigrations send no pre_migrate/post_migrate.
    template = Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"
    shutil.copy(template, tmp_path / "migrations")  # for `alembic revision`
    command.upgrade(config, "head")
    sent.clear()
    command.check(config)  # the models match the database
    command.revision(config, message="autogenerated", autogenerate=True, rev_id="0003")
    command.show(config, "current")
    command.history(config, indicate_current=True)
    command.ensure_version(config)
    assert len(sent) == 0
    assert (tmp_path / "migrations" / "versions" / "0003_autogenerated.py").exists()
    command.upgrade(config, "head")  # the generated revision (empty) is a run
    assert sent.names == ["pre_migrate", "post_migrate"]
    assert plan_of(sent.sent[0]) == [("0003", "upgrade")]


def test_run_migrations_refuses_what_is_not_envs_context(sent: Capture) -> None:
    from alembic.runtime.migration import MigrationContext

    from reqsignals.contrib.alembic import run_migrations

    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        migration_context = MigrationContext.configure(connection)  # a common mix-up
        for wrong in (migration_context, "context"):
            with pytest.raises(TypeError, match=r"takes env\.py's context"):
                run_migrations(wrong)  # type: ignore[arg-type]
    engine.dispose()
    assert len(sent) == 0


def test_async_env_awaits_async_receivers(tmp_path: Path) -> None:
    config = make_directory(tmp_path, ASYNC_ENV, REVISIONS)
    heard: list[Any] = []

    async def on_migrate(signal: Any, sender: Any, plan: list[MigrationStep], **kw: Any) -> None:
        await asyncio.sleep(0.001)
        heard.append((signal.name, [s.revision for s in plan], kw["using"]))

    with pre_migrate.connected_to(on_migrate), post_migrate.connected_to(on_migrate):
        command.upgrade(config, "head")
    assert heard == [
        ("pre_migrate", ["0001", "0002"], "default"),
        ("post_migrate", ["0001", "0002"], "default"),
    ]
    assert tables(config) == {"note"}


def test_migrate_signals_send_exactly_their_typed_keys(config: Config, sent: Capture) -> None:
    from tests.test_types import assert_sent_keys

    command.upgrade(config, "head")
    command.downgrade(config, "base")
    assert len(sent) == 4
    assert_sent_keys(sent, "wsgi")
