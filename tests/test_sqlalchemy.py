"""Django's model signals from SQLAlchemy 2.x flushes, on a real SQLite database.

In the spirit of Django's own signal tests (tests/signals/tests.py): save, update,
delete, raw, update_fields, receivers that disconnect during a send, and receivers for
one model class through ``sender=``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import pytest
from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Table,
    create_engine,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    WriteOnlyMapped,
    configure_mappers,
    mapped_column,
    registry,
    relationship,
)

from reqsignals import signals
from reqsignals.contrib.sqlalchemy import bind_name, connect_engine, connect_models
from reqsignals.signals import (
    class_prepared,
    connection_created,
    m2m_changed,
    post_delete,
    post_init,
    post_save,
    pre_delete,
    pre_init,
    pre_save,
)
from reqsignals.testing import Capture, capture
from tests.helpers.sqlalchemy_models import (
    Audit,
    Author,
    Base,
    Comment,
    FeaturedPost,
    Post,
    Tag,
    post_tags,
)

MODEL_SIGNALS = (pre_save, post_save, pre_delete, post_delete)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = connect_engine(create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), using="default")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@pytest.fixture
def sent() -> Iterator[Capture]:
    with capture(*MODEL_SIGNALS) as cap:
        yield cap


def summary(cap: Capture) -> list[tuple[str | None, str, Any]]:
    """(signal, sender class name, the instance's title/name/text) of each send."""
    out = []
    for s in cap:
        instance = s.kwargs.get("instance")
        label = next(
            (
                getattr(instance, a)
                for a in ("title", "name", "text", "what")
                if hasattr(instance, a)
            ),
            None,
        )
        out.append((s.name, s.sender.__name__, label))
    return out


# -- save ------------------------------------------------------------------------------


def test_insert_sends_pre_save_then_post_save_with_created(session: Session, sent: Capture) -> None:
    post = Post(title="hello")
    session.add(post)
    assert len(sent) == 0  # nothing before the flush
    session.flush()

    assert sent.names == ["pre_save", "post_save"]
    pre, post_ = sent.sent
    assert pre.sender is Post
    assert post_.sender is Post
    assert pre.kwargs == {
        "instance": post,
        "created": True,
        "raw": False,
        "using": "default",
        "update_fields": None,
    }
    assert post_.kwargs == {
        "instance": post,
        "created": True,
        "raw": False,
        "using": "default",
        "update_fields": None,
    }


def test_update_sends_created_false_and_the_changed_fields(session: Session, sent: Capture) -> None:
    post = Post(title="hello", body="b")
    session.add(post)
    session.flush()
    sent.clear()

    post.title = "changed"
    post.body = "b"  # set to the value it had: not a change
    session.flush()

    assert sent.names == ["pre_save", "post_save"]
    assert sent.sent[0].kwargs["created"] is False
    assert sent.sent[0].kwargs["update_fields"] == frozenset({"title"})
    assert sent.sent[1].kwargs["created"] is False
    assert sent.sent[1].kwargs["update_fields"] == frozenset({"title"})
    assert isinstance(sent.sent[1].kwargs["update_fields"], frozenset)


def test_a_new_object_in_place_of_a_deleted_one_is_an_update_in_both_signals(
    session: Session, sent: Capture
) -> None:
    # SQLAlchemy's "row switch": delete an object, add another with its primary key,
    # and the flush writes one UPDATE (no DELETE, no INSERT).
    old = Post(id=7, title="old")
    session.add(old)
    session.commit()
    sent.clear()

    session.delete(old)
    new = Post(id=7, title="new")
    session.add(new)
    session.flush()

    assert sent.names == ["pre_save", "post_save"]
    assert all(s.kwargs["instance"] is new for s in sent)
    assert sent.sent[0].kwargs["update_fields"] == sent.sent[1].kwargs["update_fields"]
    assert sent.sent[0].kwargs["created"] is False
    assert sent.sent[1].kwargs["created"] is False
    assert "title" in sent.sent[0].kwargs["update_fields"]
    assert session.scalars(select(Post.title)).all() == ["new"]


def test_in_place_of_a_deleted_object_that_was_expired_or_whose_row_is_gone(
    session: Session, sent: Capture
) -> None:
    old = [Audit(id=1, what="old"), Audit(id=2, what="old")]
    session.add_all(old)
    session.commit()  # both expired now
    session.execute(text("DELETE FROM audit WHERE id = 2"))  # behind the session's back
    sent.clear()

    for obj in old:
        session.delete(obj)
    new = [Audit(id=1, what="new"), Audit(id=2, what="new")]
    session.add_all(new)
    session.flush()

    # Audit 1's row is updated in place (SQLAlchemy loads the expired object to know it
    # is there); audit 2's row is gone, so the new audit 2 is inserted.
    saves = {
        (s.name, new.index(s.kwargs["instance"]) + 1): s.kwargs
        for s in sent
        if s.name in ("pre_save", "post_save")
    }
    assert saves[("pre_save", 1)]["update_fields"] == frozenset({"id", "what"})
    assert saves[("post_save", 1)]["update_fields"] == frozenset({"id", "what"})
    assert saves[("pre_save", 1)]["created"] is False
    assert saves[("post_save", 1)]["created"] is False
    assert saves[("pre_save", 2)]["update_fields"] is None
    assert saves[("pre_save", 2)]["created"] is True
    assert saves[("post_save", 2)]["created"] is True


def test_merge_of_a_new_object_is_created_and_of_an_existing_one_is_not(
    session: Session, sent: Capture
) -> None:
    session.add(Post(id=1, title="there"))
    session.commit()
    sent.clear()

    with session.no_autoflush:  # the second merge's look-up would flush the first: one flush
        merged_new = session.merge(Post(id=2, title="new"))
        merged_old = session.merge(Post(id=1, title="changed"))
    session.flush()

    assert sent.names == ["pre_save", "pre_save", "post_save", "post_save"]
    created = {(s.name, s.kwargs["instance"].id): s.kwargs["created"] for s in sent}
    assert created == {
        ("pre_save", 2): True,
        ("post_save", 2): True,
        ("pre_save", 1): False,
        ("post_save", 1): False,
    }
    assert {id(s.kwargs["instance"]) for s in sent} == {id(merged_new), id(merged_old)}
    assert session.scalars(select(Post.title).order_by(Post.id)).all() == ["changed", "new"]


def test_pre_save_and_post_save_agree_on_created_for_every_object_of_a_mixed_flush(
    engine: Engine, session: Session, sent: Capture
) -> None:
    # One flush that inserts, updates, switches a row and inserts where a row is gone:
    # each object's created, in both signals, is the statement SQLAlchemy ran for it.
    kept, switched, gone = (Audit(id=i, what="old") for i in (1, 2, 3))
    post = Post(id=1, title="p")
    session.add_all([kept, switched, gone, post])
    session.commit()
    session.execute(text("DELETE FROM audit WHERE id = 3"))  # behind the session's back
    sent.clear()

    with session.no_autoflush:
        kept.what = "updated"
        post.title = "q"
        session.delete(switched)
        session.delete(gone)
        new = {i: Audit(id=i, what="new") for i in (2, 3, 4)}
        featured = FeaturedPost(id=5, title="f")
        session.add_all([*new.values(), featured])

    audit_rows: list[tuple[str, int]] = []

    def record(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        words = statement.split()  # INSERT INTO t, UPDATE t, DELETE FROM t
        verb, table = words[0], words[1 if words[0] == "UPDATE" else 2]
        if table == "audit":
            for row in params if many else [params]:
                audit_rows.append((verb, row[0] if verb == "INSERT" else row[-1]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        session.flush()
    finally:
        event.remove(engine, "before_cursor_execute", record)

    pre = {id(s.kwargs["instance"]): s.kwargs["created"] for s in sent.of(pre_save)}
    post_ = {id(s.kwargs["instance"]): s.kwargs["created"] for s in sent.of(post_save)}
    assert pre == post_
    saved_rows = [row for row in audit_rows if row[0] != "DELETE"]
    assert sorted(saved_rows) == [("INSERT", 3), ("INSERT", 4), ("UPDATE", 1), ("UPDATE", 2)]
    audits = {obj.id: pre[id(obj)] for obj in (kept, *new.values())}
    assert audits == {key: verb == "INSERT" for verb, key in saved_rows}
    assert audits == {1: False, 2: False, 3: True, 4: True}
    assert pre[id(post)] is False
    assert pre[id(featured)] is True
    assert len(pre) == 6
    # (Audit 3's new row is then deleted by the DELETE SQLAlchemy still runs for the
    # object whose row was gone: SQLAlchemy's own doing, with or without the bridge.)
    rows = select(Audit.id, Audit.what).where(Audit.id != 3).order_by(Audit.id)
    assert session.execute(rows).all() == [(1, "updated"), (2, "new"), (4, "new")]


def test_a_post_update_relationship_is_named_in_update_fields_without_its_column() -> None:
    # post_update writes the foreign key in a second UPDATE, after the row's signals.
    class LocalBase(DeclarativeBase):
        pass

    connect_models(LocalBase)

    class Node(LocalBase):
        __tablename__ = "node"
        id: Mapped[int] = mapped_column(primary_key=True)
        favorite_id: Mapped[int | None] = mapped_column(ForeignKey("node.id"))
        favorite: Mapped[Node | None] = relationship(remote_side=[id], post_update=True)

    engine = create_engine("sqlite://")
    LocalBase.metadata.create_all(engine)
    with Session(engine) as session, capture(pre_save, post_save) as sent:
        node, other = Node(), Node()
        session.add_all([node, other])
        session.flush()
        sent.clear()
        node.favorite = other
        session.flush()
        assert session.scalar(select(Node.favorite_id).where(Node.id == node.id)) == other.id
    assert [(s.name, s.kwargs["update_fields"]) for s in sent] == [
        ("pre_save", frozenset({"favorite"})),
        ("post_save", frozenset({"favorite"})),
    ]
    engine.dispose()


def test_a_flush_that_changes_nothing_sends_nothing(session: Session, sent: Capture) -> None:
    post = Post(title="hello")
    session.add(post)
    session.flush()
    sent.clear()

    post.title = "hello"  # dirty, but no net change: no UPDATE, no save
    session.flush()
    session.flush()
    assert len(sent) == 0


def test_a_many_to_one_change_is_in_update_fields(session: Session, sent: Capture) -> None:
    post = Post(title="hello")
    session.add_all([post, Author(name="ann")])
    session.flush()
    sent.clear()

    post.author = session.scalars(select(Author)).one()
    session.flush()
    saved = sent.assert_sent(post_save, sender=Post)
    assert saved.kwargs["update_fields"] == frozenset({"author", "author_id"})


def test_raw_is_always_false(session: Session, sent: Capture) -> None:
    # Django sends raw=True while loading fixtures; SQLAlchemy has no fixture loader.
    session.add(Post(title="a"))
    session.flush()
    session.scalars(select(Post)).one().title = "b"
    session.flush()
    assert [s.kwargs["raw"] for s in sent] == [False] * 4


def test_once_per_object_per_flush(session: Session, sent: Capture) -> None:
    post = Post(title="one")
    session.add(post)
    post.title = "two"
    post.title = "three"
    session.flush()
    assert summary(sent) == [("pre_save", "Post", "three"), ("post_save", "Post", "three")]

    post.title = "four"
    post.body = "x"
    session.flush()
    assert sent.names == ["pre_save", "post_save"] * 2
    assert sent.sent[-1].kwargs["update_fields"] == frozenset({"title", "body"})


def test_signals_follow_the_flush_order_of_the_statements(engine: Engine, session: Session) -> None:
    statements: list[str] = []

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO "):
            statements.append(statement.split()[2])

    # The program adds a comment before its post: the flush inserts the post first.
    author = Author(name="ann")
    post = Post(title="p", author=author)
    comment = Comment(text="c", post=post)
    session.add_all([comment, Tag(name="t1"), post, Tag(name="t2")])
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        with capture(pre_save, post_save) as sent:
            session.flush()
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)

    table = {"Author": "author", "Post": "post", "Comment": "comment", "Tag": "tag"}
    pre = [table[s.sender.__name__] for s in sent.of(pre_save)]
    post_saved = [table[s.sender.__name__] for s in sent.of(post_save)]
    # SQLite may batch a table's rows into one INSERT: compare table by table.
    assert pre == post_saved
    assert _runs(pre) == _runs(statements)
    assert pre.index("author") < pre.index("post") < pre.index("comment")
    tags = [s.kwargs["instance"].name for s in sent.of(pre_save) if s.sender is Tag]
    assert tags == ["t1", "t2"]  # within one table: the order they were added in


def _runs(tables: list[str]) -> list[str]:
    out: list[str] = []
    for t in tables:
        if not out or out[-1] != t:
            out.append(t)
    return out


def test_pre_save_can_change_the_instance_before_it_is_written(session: Session) -> None:
    def slugify(sender: Any, instance: Post, **kwargs: Any) -> None:
        instance.slug = instance.title.lower().replace(" ", "-")

    with pre_save.connected_to(slugify, sender=Post):
        post = Post(title="Hello World")
        session.add(post)
        session.flush()
        post.title = "Second Title"
        with capture(post_save) as sent:
            session.flush()

    stored = session.execute(text("SELECT title, slug FROM post")).one()
    assert tuple(stored) == ("Second Title", "second-title")
    # What the receiver changed was written, and post_save says so.
    assert sent.sent[0].kwargs["update_fields"] == frozenset({"title", "slug"})


def test_an_exception_in_pre_save_stops_the_flush(session: Session, sent: Capture) -> None:
    def refuse(sender: Any, instance: Post, **kwargs: Any) -> None:
        raise ValueError(f"no {instance.title}")

    session.add(Post(title="bad"))
    with pre_save.connected_to(refuse, sender=Post), pytest.raises(ValueError, match="no bad"):
        session.flush()
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Post)) == 0
    assert sent.names == ["pre_save"]


def test_a_failed_flush_sends_no_post_save_now_or_later(session: Session, sent: Capture) -> None:
    post = Post(title="p")
    session.add(post)
    session.commit()
    sent.clear()

    session.add_all([Comment(text="same", post=post), Comment(text="same", post=post)])
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    assert sent.names == ["pre_save", "pre_save"]  # written, then the second one failed

    sent.clear()
    session.add(Tag(name="t"))
    session.flush()
    assert summary(sent) == [("pre_save", "Tag", "t"), ("post_save", "Tag", "t")]


def test_a_rollback_after_the_flush_takes_no_signal_back_and_a_re_add_is_created_again(
    session: Session, sent: Capture
) -> None:
    # As Django sends post_save inside an atomic() block that is rolled back later.
    post = Post(title="p")
    session.add(post)
    session.flush()
    session.rollback()  # the row is gone, and post is transient again
    assert sent.names == ["pre_save", "post_save"]

    session.add(post)
    session.flush()  # so it is inserted again: created again
    assert sent.names == ["pre_save", "post_save"] * 2
    assert [s.kwargs["created"] for s in sent if s.name == "post_save"] == [True, True]
    assert all(s.kwargs["instance"] is post for s in sent)


# -- receivers that change other objects ------------------------------------------------


def test_post_save_receiver_writes_an_audit_row_in_the_next_flush_of_the_commit(
    engine: Engine, session: Session, sent: Capture
) -> None:
    def audit(sender: Any, instance: Post, created: bool, **kwargs: Any) -> None:
        Session.object_session(instance).add(  # type: ignore[union-attr]
            Audit(what=f"{'created' if created else 'changed'} {instance.title}")
        )

    with post_save.connected_to(audit, sender=Post):
        session.add(Post(title="p"))
        session.flush()
        # The flush is over; the audit row waits for the next one.
        assert [type(o).__name__ for o in session.new] == ["Audit"]
        session.commit()  # commit() flushes until nothing is left: one transaction

    with Session(engine) as other:
        assert other.scalars(select(Audit.what)).all() == ["created p"]
    # The audit row was saved by a flush of its own, which sent its signals too.
    assert summary(sent) == [
        ("pre_save", "Post", "p"),
        ("post_save", "Post", "p"),
        ("pre_save", "Audit", "created p"),
        ("post_save", "Audit", "created p"),
    ]


def test_post_save_receiver_can_change_an_object_saved_in_the_same_flush(session: Session) -> None:
    author = Author(name="ann")
    session.add(author)
    session.commit()

    def touch_author(sender: Any, instance: Post, **kwargs: Any) -> None:
        if instance.author is not None:
            instance.author.name = f"{instance.author.name}+"

    with post_save.connected_to(touch_author, sender=Post):
        session.add(Post(title="p", author=author))
        session.commit()
    assert session.execute(text("SELECT name FROM author")).scalar_one() == "ann+"


def test_an_exception_in_post_save_rolls_the_flush_back(session: Session) -> None:
    def fail(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("post_save failed")

    session.add(Post(title="p"))
    with post_save.connected_to(fail, sender=Post), pytest.raises(RuntimeError, match="failed"):
        session.commit()
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Post)) == 0


# -- delete ----------------------------------------------------------------------------


def test_delete_sends_pre_delete_then_post_delete(session: Session, sent: Capture) -> None:
    post = Post(title="p")
    session.add(post)
    session.flush()
    sent.clear()
    rows_at_post_delete: list[int] = []

    def count_rows(sender: Any, instance: Post, using: str, **kwargs: Any) -> None:
        rows_at_post_delete.append(session.execute(text("SELECT count(*) FROM post")).scalar_one())

    with post_delete.connected_to(count_rows):
        session.delete(post)
        session.flush()
    assert sent.names == ["pre_delete", "post_delete"]
    for s in sent:
        assert s.sender is Post
        assert s.kwargs == {"instance": post, "using": "default"}
    assert rows_at_post_delete == [0]  # the row is gone when post_delete is sent


def test_delete_cascade_sends_for_each_child_first(session: Session, sent: Capture) -> None:
    post = Post(title="p", comments=[Comment(text="c1"), Comment(text="c2")])
    session.add(post)
    session.commit()
    sent.clear()

    session.delete(post)
    session.commit()
    assert summary(sent) == [
        ("pre_delete", "Comment", "c1"),
        ("pre_delete", "Comment", "c2"),
        ("pre_delete", "Post", "p"),
        ("post_delete", "Comment", "c1"),
        ("post_delete", "Comment", "c2"),
        ("post_delete", "Post", "p"),
    ]


def test_delete_orphan_sends_delete_signals(session: Session, sent: Capture) -> None:
    post = Post(title="p", comments=[Comment(text="c1"), Comment(text="c2")])
    session.add(post)
    session.commit()
    sent.clear()

    post.comments.pop(0)
    session.commit()
    assert summary(sent) == [("pre_delete", "Comment", "c1"), ("post_delete", "Comment", "c1")]


def test_bulk_update_and_delete_statements_send_nothing(session: Session, sent: Capture) -> None:
    # As Django's QuerySet.update(); Django's QuerySet.delete() does send (docs/models.md).
    session.add_all([Post(title="a"), Post(title="b")])
    session.flush()
    sent.clear()
    session.execute(update(Post).values(body="x"))
    session.execute(delete(Post).where(Post.title == "a"))
    session.flush()
    assert len(sent) == 0
    assert session.scalars(select(Post.title)).all() == ["b"]


# -- receivers: sender=, disconnecting during a send ------------------------------------


def test_receiver_for_one_model_class_only(session: Session) -> None:
    heard: list[str] = []

    def posts_only(sender: Any, instance: Post, **kwargs: Any) -> None:
        heard.append(instance.title)

    with post_save.connected_to(posts_only, sender=Post):
        session.add_all([Post(title="p"), Tag(name="t"), Author(name="a")])
        session.flush()
    assert heard == ["p"]


def test_subclass_is_its_own_sender(session: Session, sent: Capture) -> None:
    heard: list[str] = []

    def posts_only(sender: Any, instance: Post, **kwargs: Any) -> None:
        heard.append(instance.title)

    with post_save.connected_to(posts_only, sender=Post):
        session.add_all([FeaturedPost(title="f", reason="r"), Post(title="p")])
        session.flush()
    assert heard == ["p"]  # as in Django: a subclass is a sender of its own
    assert {(s.name, s.sender) for s in sent} >= {("post_save", FeaturedPost)}


def test_receiver_disconnected_during_a_send_is_called_once_more(session: Session) -> None:
    calls: list[str] = []

    def second(sender: Any, instance: Post, **kwargs: Any) -> None:
        calls.append(f"second {instance.title}")

    def first(sender: Any, instance: Post, **kwargs: Any) -> None:
        calls.append(f"first {instance.title}")
        post_save.disconnect(second)

    post_save.connect(first, weak=False)
    post_save.connect(second, weak=False)
    try:
        session.add(Post(title="a"))
        session.flush()
        session.add(Post(title="b"))
        session.flush()
    finally:
        post_save.disconnect(first)
        post_save.disconnect(second)
    # The send that disconnected it still calls it (it started with it); later ones do not.
    assert calls == ["first a", "second a", "first b"]


def test_weak_receiver_is_dropped_with_its_owner(session: Session) -> None:
    calls: list[str] = []

    class Handler:
        def on_save(self, sender: Any, **kwargs: Any) -> None:
            calls.append("called")

    handler = Handler()
    post_save.connect(handler.on_save, sender=Post)
    session.add(Post(title="a"))
    session.flush()
    del handler
    session.add(Post(title="b"))
    session.flush()
    assert calls == ["called"]


def test_muted_signal_sends_nothing(session: Session, sent: Capture) -> None:
    with post_save.muted():
        session.add(Post(title="a"))
        session.flush()
    assert sent.names == ["pre_save"]


# -- m2m_changed -----------------------------------------------------------------------


@pytest.fixture
def m2m() -> Iterator[Capture]:
    with capture(m2m_changed) as cap:
        yield cap


def actions(cap: Capture) -> list[tuple[Any, ...]]:
    return [
        (
            s.kwargs["action"],
            type(s.kwargs["instance"]).__name__,
            s.kwargs["reverse"],
            s.kwargs["model"].__name__,
            s.kwargs["pk_set"],
        )
        for s in cap
    ]


def test_m2m_add_from_the_forward_side(session: Session, m2m: Capture) -> None:
    post = Post(title="p")
    old = Tag(name="old")
    session.add_all([post, old])
    session.flush()

    new = Tag(name="new")  # inserted by the same flush: its primary key is known
    post.tags.extend([old, new])
    session.flush()

    assert actions(m2m) == [
        ("pre_add", "Post", False, "Tag", {old.id, new.id}),
        ("post_add", "Post", False, "Tag", {old.id, new.id}),
    ]
    for s in m2m:
        assert s.sender is post_tags
        assert s.kwargs["instance"] is post
        assert s.kwargs["using"] == "default"


def test_m2m_from_the_reverse_side_is_reverse_and_sent_once(session: Session, m2m: Capture) -> None:
    post, tag = Post(title="p"), Tag(name="t")
    session.add_all([post, tag])
    session.flush()
    assert post.tags == []  # both collections loaded: the backref changes both

    tag.posts.append(post)
    session.flush()
    assert actions(m2m) == [
        ("pre_add", "Tag", True, "Post", {post.id}),
        ("post_add", "Tag", True, "Post", {post.id}),
    ]
    assert session.execute(select(post_tags)).all() == [(post.id, tag.id)]


def test_m2m_remove_clear_and_replace(session: Session, m2m: Capture) -> None:
    a, b, c = Tag(name="a"), Tag(name="b"), Tag(name="c")
    post = Post(title="p", tags=[a, b])
    session.add_all([post, c])
    session.flush()
    m2m.clear()

    post.tags.remove(a)
    session.flush()
    assert actions(m2m) == [
        ("pre_remove", "Post", False, "Tag", {a.id}),
        ("post_remove", "Post", False, "Tag", {a.id}),
    ]
    m2m.clear()

    post.tags = [c]  # Django's set(): remove what goes, then add what comes
    session.flush()
    assert actions(m2m) == [
        ("pre_remove", "Post", False, "Tag", {b.id}),
        ("post_remove", "Post", False, "Tag", {b.id}),
        ("pre_add", "Post", False, "Tag", {c.id}),
        ("post_add", "Post", False, "Tag", {c.id}),
    ]
    m2m.clear()

    post.tags.append(a)
    session.flush()
    m2m.clear()
    post.tags.clear()
    session.flush()
    assert actions(m2m) == [
        ("pre_clear", "Post", False, "Tag", None),
        ("post_clear", "Post", False, "Tag", None),
    ]
    assert session.execute(select(post_tags)).all() == []


def test_m2m_change_undone_before_the_flush_sends_nothing(session: Session, m2m: Capture) -> None:
    post, tag = Post(title="p"), Tag(name="t")
    session.add_all([post, tag])
    session.flush()
    post.tags.append(tag)
    post.tags.remove(tag)
    session.flush()
    assert len(m2m) == 0


def test_m2m_row_changed_from_both_sides_is_reported_once(session: Session, m2m: Capture) -> None:
    p1, p2, tag = Post(title="p1"), Post(title="p2"), Tag(name="t")
    session.add_all([p1, p2, tag])
    session.flush()
    assert tag.posts == []

    p1.tags.append(tag)  # also puts p1 into tag.posts
    tag.posts.append(p2)
    session.flush()
    pk_sets = sorted(
        (type(s.kwargs["instance"]).__name__, sorted(s.kwargs["pk_set"]))
        for s in m2m.of(m2m_changed)
        if s.kwargs["action"] == "post_add"
    )
    assert pk_sets == [("Post", [tag.id]), ("Tag", [p2.id])]


def test_m2m_receiver_for_one_association_only(session: Session) -> None:
    heard: list[str] = []

    def on_tags(sender: Any, action: str, **kwargs: Any) -> None:
        heard.append(action)

    with m2m_changed.connected_to(on_tags, sender=Post.tags.property.secondary):
        session.add(Post(title="p", tags=[Tag(name="t")]))
        session.flush()
    assert heard == ["pre_add", "post_add"]


def test_m2m_pre_add_receiver_that_raises_rolls_the_flush_back(session: Session) -> None:
    def refuse(sender: Any, action: str, **kwargs: Any) -> None:
        if action == "pre_add":
            raise PermissionError("no tags")

    session.add(Post(title="p", tags=[Tag(name="t")]))
    with m2m_changed.connected_to(refuse), pytest.raises(PermissionError):
        session.commit()
    session.rollback()
    assert session.execute(select(post_tags)).all() == []


# -- pre_init / post_init --------------------------------------------------------------


def test_pre_init_and_post_init_around_the_constructor() -> None:
    seen: list[tuple[str, Any]] = []

    def before(sender: Any, args: tuple[Any, ...], kwargs: dict[str, Any], **extra: Any) -> None:
        seen.append(("pre_init", (sender, args, dict(kwargs))))
        kwargs["body"] = "from pre_init"  # the constructor receives the dict the receiver got

    def after(sender: Any, instance: Post, **kwargs: Any) -> None:
        seen.append(("post_init", (sender, instance.title, instance.body)))

    with pre_init.connected_to(before, sender=Post), post_init.connected_to(after, sender=Post):
        post = Post(title="t")
        Tag(name="not heard")
    assert seen == [
        ("pre_init", (Post, (), {"title": "t"})),
        ("post_init", (Post, "t", "from pre_init")),
    ]
    assert post.body == "from pre_init"


def test_post_init_is_sent_once_for_a_subclass_and_for_loaded_objects(session: Session) -> None:
    session.add(FeaturedPost(title="f"))
    session.commit()
    session.expunge_all()
    with capture(pre_init, post_init) as sent:
        FeaturedPost(title="g")
        assert [(s.name, s.sender) for s in sent] == [
            ("pre_init", FeaturedPost),
            ("post_init", FeaturedPost),
        ]
        sent.clear()
        loaded = session.scalars(select(FeaturedPost)).one()
    # Loaded from the database: SQLAlchemy does not call __init__, so no pre_init.
    assert [(s.name, s.sender, s.kwargs) for s in sent] == [
        ("post_init", FeaturedPost, {"instance": loaded})
    ]


def test_a_failing_constructor_sends_no_post_init() -> None:
    with capture(pre_init, post_init) as sent, pytest.raises(TypeError):
        Post(nonsense=1)
    assert sent.names == ["pre_init"]


# -- class_prepared, targets -----------------------------------------------------------


def test_class_prepared_for_classes_mapped_after_connect_models() -> None:
    class LocalBase(DeclarativeBase):
        pass

    class Before(LocalBase):
        __tablename__ = "before"
        id: Mapped[int] = mapped_column(primary_key=True)

    with capture(class_prepared) as sent:
        connect_models(LocalBase)
        assert len(sent) == 0  # as in Django: sent while a class is created

        class After(LocalBase):
            __tablename__ = "after"
            id: Mapped[int] = mapped_column(primary_key=True)

    assert [(s.sender, s.kwargs) for s in sent] == [(After, {})]
    # Both classes, the one mapped before and the one after, send model signals.
    engine = create_engine("sqlite://")
    LocalBase.metadata.create_all(engine)
    with Session(engine) as session, capture(post_save) as saved:
        session.add_all([Before(), After()])
        session.flush()
    assert {s.sender for s in saved} == {Before, After}
    engine.dispose()


@pytest.mark.parametrize("kind", ["registry", "mapped-class"])
def test_connect_models_takes_a_registry_or_one_mapped_class(kind: str) -> None:
    reg = registry()

    class LocalBase(DeclarativeBase):
        registry = reg

    class Parent(LocalBase):
        __tablename__ = "parent"
        id: Mapped[int] = mapped_column(primary_key=True)
        kind: Mapped[str] = mapped_column(default="parent")
        __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "parent"}

    class Other(LocalBase):
        __tablename__ = "other"
        id: Mapped[int] = mapped_column(primary_key=True)

    connect_models(reg if kind == "registry" else Parent)

    class Child(Parent):  # mapped later, under the target
        __mapper_args__ = {"polymorphic_identity": "child"}

    engine = create_engine("sqlite://")
    LocalBase.metadata.create_all(engine)
    with Session(engine) as session, capture(post_save) as saved:
        session.add_all([Parent(), Child(), Other()])
        session.flush()
    expected = [Parent, Child, Other] if kind == "registry" else [Parent, Child]
    assert sorted((s.sender for s in saved), key=expected.index) == expected
    assert len(saved) == len(expected)
    engine.dispose()


def test_connect_models_twice_connects_once(session: Session, sent: Capture) -> None:
    connect_models(Base)
    connect_models(Post)
    session.add(Post(title="p"))
    session.flush()
    assert sent.names == ["pre_save", "post_save"]


@pytest.mark.parametrize("target", [object(), int, "Base", None])
def test_connect_models_refuses_what_is_not_a_model(target: Any) -> None:
    with pytest.raises(TypeError, match=r"a sqlalchemy\.orm\.registry or a mapped"):
        connect_models(target)


# -- connection_created, using ---------------------------------------------------------


def test_connection_created_once_per_new_pool_connection(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'c.sqlite'}", pool_size=2)
    pragmas: list[int] = []

    def foreign_keys_on(sender: Any, connection: Any, **kwargs: Any) -> None:
        connection.execute("PRAGMA foreign_keys=ON")

    with capture(connection_created) as sent, connection_created.connected_to(foreign_keys_on):
        assert connect_engine(engine) is engine
        connect_engine(engine)  # twice: still one send per connection
        with engine.connect() as c1, engine.connect() as c2:
            pragmas += [c.execute(text("PRAGMA foreign_keys")).scalar_one() for c in (c1, c2)]
        with engine.connect() as c3:  # from the pool: not new
            pragmas.append(c3.execute(text("PRAGMA foreign_keys")).scalar_one())
    assert pragmas == [1, 1, 1]
    assert len(sent) == 2
    assert {s.sender for s in sent} == {type(engine.dialect)}
    assert all(s.kwargs["connection"] is not None for s in sent)
    engine.dispose()


def test_an_engine_and_its_execution_options_copies_send_once_per_connection(
    tmp_path: Path,
) -> None:
    # engine.execution_options() makes an engine that shares the pool: still one send.
    engine = create_engine(f"sqlite:///{tmp_path / 'o.sqlite'}")
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    with capture(connection_created) as sent:
        connect_engine(engine)
        connect_engine(autocommit)
        with autocommit.connect():
            pass
        engine.dispose()  # a new pool, the same listeners
        connect_engine(engine)
        with engine.connect():
            pass
    assert len(sent) == 2
    engine.dispose()


def test_an_execution_options_copy_keeps_the_engines_name(tmp_path: Path) -> None:
    engine = connect_engine(create_engine(f"sqlite:///{tmp_path / 'n.sqlite'}"), using="primary")
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    with autocommit.connect() as conn:
        assert bind_name(conn) == "primary"
    connect_engine(autocommit, using="primary-autocommit")  # its own name wins
    with autocommit.connect() as conn, engine.connect() as conn2:
        assert (bind_name(conn), bind_name(conn2)) == ("primary-autocommit", "primary")
    # Unnamed, then named: the name given later is the one used.
    later = create_engine(f"sqlite:///{tmp_path / 'l.sqlite'}")
    later_copy = later.execution_options(isolation_level="AUTOCOMMIT")
    assert bind_name(later_copy) == f"sqlite:///{tmp_path / 'l.sqlite'}"
    connect_engine(later, using="later")
    assert bind_name(later_copy) == "later"
    for e in (engine, later):
        e.dispose()


def test_a_connection_created_receiver_that_raises_fails_that_connect_only(
    tmp_path: Path,
) -> None:
    engine = connect_engine(create_engine(f"sqlite:///{tmp_path / 'r.sqlite'}"))
    opened: list[Any] = []

    def refuse_the_first(sender: Any, connection: Any, **kwargs: Any) -> None:
        opened.append(connection)
        if len(opened) == 1:
            raise RuntimeError("set-up failed")

    with connection_created.connected_to(refuse_the_first):
        with pytest.raises(RuntimeError, match="set-up failed"):
            engine.connect()
        with engine.connect() as conn:  # the next connect opens a new connection
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    assert len(opened) == 2
    with pytest.raises(sqlite3.ProgrammingError):  # SQLAlchemy closed the refused one
        opened[0].execute("SELECT 1")
    engine.dispose()


def test_connect_engine_refuses_what_is_not_an_engine() -> None:
    with pytest.raises(TypeError, match="takes an Engine or an AsyncEngine"):
        connect_engine("sqlite://")  # type: ignore[type-var]
    engine = create_engine("sqlite://")
    with pytest.raises(TypeError, match="using= is a name"):
        connect_engine(engine, using=1)  # type: ignore[arg-type]
    assert bind_name(engine) == "sqlite://"  # nothing named


def test_using_is_the_engines_url_without_its_password_when_not_named(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'u.sqlite'}")
    with engine.connect() as conn:
        assert bind_name(conn) == f"sqlite:///{tmp_path / 'u.sqlite'}"
    engine.dispose()
    # Never connected (no PostgreSQL here): naming it needs only its URL.
    driver = SimpleNamespace(paramstyle="format", __version__="1.30.0")
    secret = create_engine("postgresql+pg8000://user:s3cr3t@127.0.0.1/db", module=driver)
    assert bind_name(secret) == "postgresql+pg8000://user:***@127.0.0.1/db"
    connect_engine(secret, using="primary")
    assert bind_name(secret) == "primary"


# -- async receivers with the sync Session ---------------------------------------------


def test_async_receivers_run_when_no_event_loop_runs(session: Session) -> None:
    calls: list[str] = []

    async def on_save(sender: Any, instance: Post, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        calls.append(instance.title)

    with post_save.connected_to(on_save, sender=Post):
        session.add(Post(title="p"))
        session.flush()
    assert calls == ["p"]


def test_async_receivers_are_refused_by_a_sync_session_on_a_running_loop(engine: Engine) -> None:
    calls: list[str] = []

    async def on_save(sender: Any, **kwargs: Any) -> None:
        calls.append("called")

    def sync_on_save(sender: Any, **kwargs: Any) -> None:
        calls.append("sync")

    async def main() -> None:
        with Session(engine) as session:
            session.add(Tag(name="t"))  # no async receiver for Tag: fine on the loop
            session.flush()
            session.add(Post(title="p"))
            with pytest.raises(RuntimeError, match="post_save has async receivers for <class"):
                session.flush()

    with post_save.connected_to(sync_on_save), post_save.connected_to(on_save, sender=Post):
        asyncio.run(main())
    assert calls == ["sync"]  # refused before any receiver of that send ran


def test_a_receivers_own_runtime_error_is_not_reworded(session: Session) -> None:
    def fails(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("the receiver's own")

    session.add(Tag(name="t"))
    with pre_save.connected_to(fails), pytest.raises(RuntimeError, match=r"^the receiver's own$"):
        session.flush()


def test_flushes_in_threads_keep_their_own_signals(engine: Engine) -> None:
    heard: dict[str, list[str]] = {}
    lock = threading.Lock()

    def on_save(sender: Any, instance: Tag, **kwargs: Any) -> None:
        with lock:
            heard.setdefault(threading.current_thread().name, []).append(instance.name)

    def work(n: int) -> None:
        with Session(engine) as session:
            for i in range(5):
                session.add(Tag(name=f"{n}-{i}"))
                session.commit()

    with post_save.connected_to(on_save, sender=Tag):
        threads = [threading.Thread(target=work, args=(n,), name=f"t{n}") for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert heard == {f"t{n}": [f"{n}-{i}" for i in range(5)] for n in range(3)}


def test_every_model_signal_is_a_builtin_signal() -> None:
    for signal in (pre_init, post_init, pre_save, post_save, pre_delete, post_delete):
        assert signal in signals.ALL_SIGNALS


def test_m2m_of_a_subclass_and_with_no_m2m_receiver(session: Session, m2m: Capture) -> None:
    featured, tag = FeaturedPost(title="f"), Tag(name="t")
    session.add_all([featured, tag])
    session.flush()
    featured.tags.append(tag)
    session.flush()
    assert actions(m2m) == [
        ("pre_add", "FeaturedPost", False, "Tag", {tag.id}),
        ("post_add", "FeaturedPost", False, "Tag", {tag.id}),
    ]
    m2m.clear()
    with m2m_changed.muted():  # no receiver: nothing is computed, nothing is kept for later
        featured.tags.remove(tag)
        session.flush()
    session.flush()
    assert len(m2m) == 0
    assert session.execute(select(post_tags)).all() == []


def test_connect_models_after_the_mappers_are_configured() -> None:
    class LocalBase(DeclarativeBase):
        pass

    class Thing(LocalBase):
        __tablename__ = "thing"
        id: Mapped[int] = mapped_column(primary_key=True)

    configure_mappers()
    connect_models(Thing)
    engine = create_engine("sqlite://")
    LocalBase.metadata.create_all(engine)
    with Session(engine) as session, capture(post_save) as saved:
        session.add(Thing())
        session.flush()
    assert [s.sender for s in saved] == [Thing]
    engine.dispose()


def test_model_signals_send_exactly_their_typed_keys(engine: Engine) -> None:
    from tests.test_types import assert_sent_keys

    engine.dispose()  # the next connection is new: connection_created too
    with capture() as sent:
        with Session(engine) as session:
            post = Post(title="p", tags=[Tag(name="t")])
            session.add(post)
            session.commit()
            post.title = "q"
            post.tags.clear()
            session.commit()
            session.delete(post)
            session.commit()
            session.scalars(select(Tag)).all()

        class LocalBase(DeclarativeBase):
            pass

        connect_models(LocalBase)

        class Prepared(LocalBase):
            __tablename__ = "prepared"
            id: Mapped[int] = mapped_column(primary_key=True)

    names = set(sent.names)
    assert names >= {
        "pre_init",
        "post_init",
        "pre_save",
        "post_save",
        "pre_delete",
        "post_delete",
        "m2m_changed",
        "class_prepared",
        "connection_created",
    }
    assert_sent_keys(sent, "wsgi")


def test_m2m_removing_the_last_item_is_a_clear(session: Session, m2m: Capture) -> None:
    tag = Tag(name="t")
    post = Post(title="p", tags=[tag])
    session.add(post)
    session.flush()
    m2m.clear()
    post.tags.remove(tag)
    session.flush()
    assert actions(m2m) == [
        ("pre_clear", "Post", False, "Tag", None),
        ("post_clear", "Post", False, "Tag", None),
    ]


@pytest.mark.parametrize("lazy", ["write_only", "dynamic"])
def test_m2m_remove_from_a_collection_never_loaded_is_a_remove_not_a_clear(
    lazy: Literal["write_only", "dynamic"],
) -> None:
    # Write-only and dynamic collections are never loaded: the flush knows what was
    # removed, not what is left, so a removal cannot be told from a clear.
    class LocalBase(DeclarativeBase):
        pass

    connect_models(LocalBase)
    shelved = Table(
        "shelved",
        LocalBase.metadata,
        Column("shelf_id", ForeignKey("shelf.id"), primary_key=True),
        Column("book_id", ForeignKey("book.id"), primary_key=True),
    )

    class Book(LocalBase):
        __tablename__ = "book"
        id: Mapped[int] = mapped_column(primary_key=True)

    class Shelf(LocalBase):
        __tablename__ = "shelf"
        id: Mapped[int] = mapped_column(primary_key=True)
        books: WriteOnlyMapped[Book] = relationship(secondary=shelved, lazy=lazy)

    engine = create_engine("sqlite://")
    LocalBase.metadata.create_all(engine)
    with Session(engine) as session, capture(m2m_changed) as m2m:
        shelf, first, second = Shelf(), Book(), Book()
        session.add_all([shelf, first, second])
        session.flush()
        shelf.books.add(first)
        shelf.books.add(second)
        session.flush()
        shelf.books.remove(first)
        session.flush()
        left = session.scalars(select(shelved.c.book_id)).all()
    assert left == [second.id]
    assert [(s.kwargs["action"], s.kwargs["pk_set"]) for s in m2m] == [
        ("pre_add", {first.id, second.id}),
        ("post_add", {first.id, second.id}),
        ("pre_remove", {first.id}),
        ("post_remove", {first.id}),
    ]
    engine.dispose()


def test_bulk_save_objects_sends_nothing(session: Session, sent: Capture) -> None:
    session.bulk_save_objects([Tag(name="a"), Tag(name="b")])
    session.flush()
    assert len(sent) == 0
    assert session.scalar(select(func.count()).select_from(Tag)) == 2


def test_a_post_save_receiver_cannot_flush_the_session_itself(session: Session) -> None:
    def flush_again(sender: Any, instance: Post, **kwargs: Any) -> None:
        Session.object_session(instance).flush()  # type: ignore[union-attr]

    session.add(Post(title="p"))
    with (
        post_save.connected_to(flush_again, sender=Post),
        pytest.raises(InvalidRequestError, match="already flushing"),
    ):
        session.flush()


def test_a_parents_pre_delete_comes_after_its_childrens_rows_are_deleted(
    session: Session,
) -> None:
    post = Post(title="p", comments=[Comment(text="c1")])
    session.add(post)
    session.commit()
    comments_left: list[int] = []

    def count_comments(sender: Any, **kwargs: Any) -> None:
        comments_left.append(session.execute(text("SELECT count(*) FROM comment")).scalar_one())

    with pre_delete.connected_to(count_comments, sender=Post):
        session.delete(post)
        session.commit()
    assert comments_left == [0]  # SQLAlchemy deletes table by table (docs/models.md)
