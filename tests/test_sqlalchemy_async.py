"""The same model and database signals through AsyncSession and AsyncEngine (aiosqlite).

Under AsyncSession SQLAlchemy runs each flush in a greenlet of the event loop, where
async receivers can be awaited; a constructor called from async code cannot await, and
an async receiver there is refused with a clear error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from reqsignals.contrib.sqlalchemy import connect_engine
from reqsignals.signals import (
    connection_created,
    m2m_changed,
    post_delete,
    post_init,
    post_save,
    pre_delete,
    pre_init,
    pre_save,
)
from reqsignals.testing import capture
from tests.helpers.sqlalchemy_models import Audit, Base, Post, Tag

pytestmark = pytest.mark.timeout(30)


def run(test: Callable[[AsyncEngine], Coroutine[Any, Any, None]], path: Path) -> None:
    """Run *test* on its own loop with a fresh aiosqlite engine (named "async")."""

    async def main() -> None:
        engine = connect_engine(
            create_async_engine(f"sqlite+aiosqlite:///{path / 'db.sqlite'}"), using="async"
        )
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            await test(engine)
        finally:
            await engine.dispose()

    asyncio.run(main())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path


def test_async_session_sends_the_same_signals(db: Path) -> None:
    async def test(engine: AsyncEngine) -> None:
        with capture(pre_save, post_save, pre_delete, post_delete) as sent:
            async with AsyncSession(engine) as session:
                post = Post(title="p")
                session.add(post)
                await session.commit()
                post.title = "q"
                await session.commit()
                await session.delete(post)
                await session.commit()
        assert sent.names == [
            "pre_save",
            "post_save",
            "pre_save",
            "post_save",
            "pre_delete",
            "post_delete",
        ]
        assert [s.kwargs["created"] for s in sent.of(pre_save)] == [True, False]
        assert [s.kwargs.get("created") for s in sent.of(post_save)] == [True, False]
        assert sent.of(post_save)[1].kwargs["update_fields"] == frozenset({"title"})
        assert {s.kwargs["using"] for s in sent} == {"async"}

    run(test, db)


def test_async_receivers_are_awaited_in_connection_order_with_sync_ones(db: Path) -> None:
    order: list[str] = []

    async def async_pre(sender: Any, instance: Post, **kwargs: Any) -> None:
        await asyncio.sleep(0.001)  # really suspends: the flush waits for it
        order.append(f"async pre_save {instance.title}")
        instance.slug = "set-by-async-receiver"

    def sync_pre(sender: Any, instance: Post, **kwargs: Any) -> None:
        order.append(f"sync pre_save {instance.title}")

    async def async_post(sender: Any, instance: Post, created: bool, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        order.append(f"async post_save {created}")

    async def test(engine: AsyncEngine) -> None:
        async with AsyncSession(engine) as session:
            session.add(Post(title="p"))
            await session.commit()
            slug = (await session.execute(text("SELECT slug FROM post"))).scalar_one()
        assert slug == "set-by-async-receiver"

    with (
        pre_save.connected_to(async_pre, sender=Post),
        pre_save.connected_to(sync_pre, sender=Post),
        post_save.connected_to(async_post, sender=Post),
    ):
        run(test, db)
    assert order == ["async pre_save p", "sync pre_save p", "async post_save True"]


def test_async_post_save_receiver_writes_an_audit_row(db: Path) -> None:
    async def audit(sender: Any, instance: Post, created: bool, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        # The receiver gets the flushing (sync) session: add to it, never await it.
        session = Session.object_session(instance)
        assert session is not None
        session.add(Audit(what=f"saved {instance.title}"))

    async def test(engine: AsyncEngine) -> None:
        async with AsyncSession(engine) as session:
            session.add(Post(title="p"))
            await session.commit()
        async with AsyncSession(engine) as session:
            assert (await session.scalars(select(Audit.what))).all() == ["saved p"]

    with post_save.connected_to(audit, sender=Post):
        run(test, db)


def test_async_m2m_changed_and_post_init_on_load_are_awaited(db: Path) -> None:
    heard: list[Any] = []

    async def on_m2m(sender: Any, action: str, pk_set: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        heard.append((action, pk_set))

    async def on_load(sender: Any, instance: Tag, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        heard.append(("loaded", instance.name))

    async def test(engine: AsyncEngine) -> None:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            tag = Tag(name="t")
            session.add(Post(title="p", tags=[tag]))
            await session.commit()
            tag_id = tag.id
        with post_init.connected_to(on_load, sender=Tag):
            async with AsyncSession(engine) as session:
                await session.scalars(select(Tag))
        assert heard == [("pre_add", {tag_id}), ("post_add", {tag_id}), ("loaded", "t")]

    with m2m_changed.connected_to(on_m2m):
        run(test, db)


def test_async_receiver_of_pre_init_is_refused_clearly(db: Path) -> None:
    called: list[str] = []

    async def on_init(sender: Any, **kwargs: Any) -> None:
        called.append("called")

    async def test(engine: AsyncEngine) -> None:
        with pytest.raises(RuntimeError) as info:
            Post(title="p")  # a constructor in async code: nothing can await here
        message = str(info.value)
        assert (
            "pre_init has async receivers for <class 'tests.helpers.sqlalchemy_models.Post'>"
            in message
        )
        assert "Connect sync receivers" in message
        Tag(name="t")  # no async receiver for Tag: fine

    with pre_init.connected_to(on_init, sender=Post):
        run(test, db)
    assert called == []


def test_connection_created_under_an_async_engine(db: Path) -> None:
    seen: list[Any] = []

    def sync_pragma(sender: Any, connection: Any, **kwargs: Any) -> None:
        # The DBAPI adapter: usable synchronously in SQLAlchemy's greenlet.
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        seen.append(("sync", sender.__name__))

    async def async_pragma(sender: Any, connection: Any, **kwargs: Any) -> None:
        # The driver's own connection: awaited.
        await connection.driver_connection.execute("PRAGMA recursive_triggers=ON")
        seen.append(("async", sender.__name__))

    async def test(engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            fks = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
            rec = (await conn.execute(text("PRAGMA recursive_triggers"))).scalar_one()
        assert (fks, rec) == (1, 1)

    async def fresh(engine: AsyncEngine) -> None:
        await engine.dispose()  # the set-up connection is gone: the next one is new
        await test(engine)

    with (
        connection_created.connected_to(sync_pragma),
        connection_created.connected_to(async_pragma),
    ):
        run(fresh, db)
    # One pair for the connection that created the tables, one for the new one.
    pair = [("sync", "SQLiteDialect_aiosqlite"), ("async", "SQLiteDialect_aiosqlite")]
    assert seen == pair * 2


def test_async_receivers_exception_rolls_the_flush_back(db: Path) -> None:
    async def refuse(sender: Any, instance: Post, **kwargs: Any) -> None:
        await asyncio.sleep(0.001)
        raise PermissionError(f"not {instance.title}")

    async def test(engine: AsyncEngine) -> None:
        async with AsyncSession(engine) as session:
            session.add(Post(title="p"))
            with pytest.raises(PermissionError, match="not p"):
                await session.commit()
            await session.rollback()
            assert (await session.execute(text("SELECT count(*) FROM post"))).scalar_one() == 0

    with pre_save.connected_to(refuse, sender=Post):
        run(test, db)


def test_sync_receiver_does_sync_io_beside_an_async_one(db: Path) -> None:
    counts: list[int] = []

    def count_posts(sender: Any, instance: Post, **kwargs: Any) -> None:
        # Sync SQLAlchemy IO in a sync receiver, while an async receiver is connected.
        session = Session.object_session(instance)
        assert session is not None
        counts.append(session.execute(text("SELECT count(*) FROM post")).scalar_one())

    async def also_async(sender: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0)

    async def test(engine: AsyncEngine) -> None:
        async with AsyncSession(engine) as session:
            session.add_all([Post(title="a"), Post(title="b")])
            await session.commit()

    with (
        post_save.connected_to(also_async, sender=Post),
        post_save.connected_to(count_posts, sender=Post),
    ):
        run(test, db)
    assert counts == [2, 2]


def test_a_flush_cancelled_while_an_async_receiver_waits_cancels_the_receiver(
    db: Path,
) -> None:
    seen: list[str] = []
    waiting = asyncio.Event()

    async def slow(sender: Any, **kwargs: Any) -> None:
        waiting.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def test(engine: AsyncEngine) -> None:
        async with AsyncSession(engine) as session:
            session.add(Post(title="p"))
            commit = asyncio.ensure_future(session.commit())
            await asyncio.wait_for(waiting.wait(), 10)
            commit.cancel()
            with pytest.raises(asyncio.CancelledError):
                await commit
            await session.rollback()
            assert (await session.execute(text("SELECT count(*) FROM post"))).scalar_one() == 0

    with pre_save.connected_to(slow, sender=Post):
        run(test, db)
    assert seen == ["cancelled"]


def test_an_async_receiver_awaiting_something_asyncio_cannot_wait_for(db: Path) -> None:
    class NotAFuture:
        def __await__(self) -> Any:
            yield "not a future"

    async def odd(sender: Any, **kwargs: Any) -> None:
        await NotAFuture()

    async def test(engine: AsyncEngine) -> None:
        async with AsyncSession(engine) as session:
            session.add(Post(title="p"))
            with pytest.raises(RuntimeError, match="yielded 'not a future', not an asyncio"):
                await session.commit()

    with pre_save.connected_to(odd, sender=Post):
        run(test, db)
