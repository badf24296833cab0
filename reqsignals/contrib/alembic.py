"""Django's ``pre_migrate`` and ``post_migrate`` for Alembic: one call in ``env.py``.

Example (``env.py``, online mode)::

    from reqsignals.contrib.alembic import run_migrations

    def run_migrations_online():
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata)
            with context.begin_transaction():
                run_migrations(context)     # instead of context.run_migrations()

``pre_migrate(sender="alembic", plan, using, connection)`` is sent once Alembic knows
the steps it will run and before the first one; ``post_migrate`` with the same
arguments once they have all run. A run that fails (a migration, or a ``pre_migrate``
receiver, raises) sends no ``post_migrate``. ``plan`` is a list of
:class:`MigrationStep`, Django's ``(migration, backwards)`` pairs; ``using`` names the
bind as the model signals do, and ``connection`` is the SQLAlchemy ``Connection`` the
migrations run on (inside their transaction), for receivers that write rows.

Nothing is sent by the commands that run ``env.py`` and migrate nothing (``alembic
current``, ``check``, ``revision --autogenerate``, ``show current``, ``history
--indicate-current``, ``ensure_version``), nor in offline mode (``--sql``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, RevisionStep
from alembic.script import Script

from ..signals import post_migrate, pre_migrate
from .sqlalchemy._send import bind_name, send

__all__ = ["MigrationStep", "run_migrations"]

SENDER = "alembic"


class MigrationStep(NamedTuple):
    """One step of a migration plan: Django's ``(migration, backwards)`` pair.

    ``script`` is the revision's Alembic :class:`~alembic.script.Script` (its
    ``upgrade()`` runs, or its ``downgrade()`` when ``backwards``).
    """

    script: Script
    backwards: bool

    @property
    def revision(self) -> str:
        """The revision id, as in ``alembic history``."""
        return self.script.revision

    @property
    def direction(self) -> str:
        """``"upgrade"`` or ``"downgrade"``."""
        return "downgrade" if self.backwards else "upgrade"


# The work functions of the Alembic commands that run env.py and migrate nothing (each
# returns no step): show, history --indicate-current, edit, ensure_version, merge.
# (current passes dont_mutate; revision --autogenerate and check a revision_context.)
_READ_ONLY = frozenset(
    {"show_current", "_display_current_history", "edit_current", "do_ensure_version", "nothing"}
)


def _reads_only(migration_context: MigrationContext, work: Any) -> bool:
    opts = migration_context.opts
    if opts.get("dont_mutate", False) or opts.get("revision_context") is not None:
        return True
    return getattr(work, "__module__", None) == "alembic.command" and (
        getattr(work, "__name__", None) in _READ_ONLY
    )


def run_migrations(context: EnvironmentContext, **kw: Any) -> None:
    """Run ``context.run_migrations(**kw)``, sending ``pre_migrate`` and ``post_migrate``.

    Call it where ``env.py`` calls ``context.run_migrations()``, after
    ``context.configure(...)``; *kw* is passed on (Alembic gives it to each migration's
    ``upgrade()``/``downgrade()``). Under an async engine, call it inside
    ``connection.run_sync(...)`` as ``env.py`` calls ``context.run_migrations``: async
    receivers are then awaited.

    A migration or a ``pre_migrate`` receiver that raises stops the run: the exception
    propagates and ``post_migrate`` is not sent.

    Raises:
        TypeError: *context* is not env.py's context (a ``MigrationContext``, say).
    """
    if not callable(getattr(context, "get_context", None)):
        raise TypeError(
            "run_migrations() takes env.py's context (`from alembic import context`, "
            f"Alembic's EnvironmentContext), got {context!r}"
        )
    migration_context = context.get_context()
    # Alembic computes its plan from the database's heads inside run_migrations(), by
    # calling the command's work function: see the steps as they are handed over.
    work = migration_context._migrations_fn
    if migration_context.as_sql or _reads_only(migration_context, work):
        context.run_migrations(**kw)
        return
    named: dict[str, Any] = {}

    def plan_then_signal(heads: tuple[str, ...], ctx: MigrationContext) -> Iterable[Any]:
        steps = list(work(heads, ctx)) if work is not None else []
        named["plan"] = [
            MigrationStep(step.revision, not step.is_upgrade)
            for step in steps
            if isinstance(step, RevisionStep)
        ]
        connection = ctx.connection
        named["using"] = bind_name(connection) if connection is not None else None
        named["connection"] = connection
        send(pre_migrate, SENDER, **named)
        return steps

    migration_context._migrations_fn = plan_then_signal
    try:
        context.run_migrations(**kw)
    finally:
        migration_context._migrations_fn = work
    if named:
        send(post_migrate, SENDER, **named)
