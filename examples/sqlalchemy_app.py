"""A FastAPI app on SQLAlchemy's AsyncSession whose model receivers keep an audit trail.

Run it (from the repository root)::

    uvicorn examples.sqlalchemy_app:app

then ``curl -X POST localhost:8000/notes -H 'content-type: application/json'
-d '{"text": "hello"}'`` and read the trail at ``/audit``. The database is the SQLite
file named by ``NOTES_DATABASE`` (default ``notes.db``).

The endpoints only save notes. ``post_save`` and ``post_delete`` receivers, written as
they would be for Django, add an audit row for every change: to the session that is
flushing the note, so the row is committed by the same ``commit()``, in the same
transaction. A ``connection_created`` receiver turns SQLite's foreign keys on for every
new connection. The receivers are connected in the lifespan and disconnected at
shutdown.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import Body, FastAPI, HTTPException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from reqsignals import connection_created, post_delete, post_save
from reqsignals.contrib.sqlalchemy import connect_engine, connect_models
from reqsignals.types import ConnectionCreatedArgs, PostDeleteArgs, PostSaveArgs

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack on Python 3.11+


class Base(DeclarativeBase):
    pass


connect_models(Base)


class Note(Base):
    __tablename__ = "note"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str]


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int]
    action: Mapped[str]


# -- receivers: Django's, with SQLAlchemy's session in place of Model.objects ----------


def audit_save(sender: object, **kwargs: Unpack[PostSaveArgs]) -> None:
    note = kwargs["instance"]
    fields = kwargs["update_fields"] or ()
    action = "created" if kwargs["created"] else "changed " + ",".join(sorted(fields))
    # The flushing session: the entry is written by the same commit, in its next flush.
    session = Session.object_session(note)
    assert session is not None
    session.add(AuditEntry(note_id=note.id, action=action))


def audit_delete(sender: object, **kwargs: Unpack[PostDeleteArgs]) -> None:
    note = kwargs["instance"]
    session = Session.object_session(note)
    assert session is not None
    session.add(AuditEntry(note_id=note.id, action="deleted"))


def foreign_keys_on(sender: object, **kwargs: Unpack[ConnectionCreatedArgs]) -> None:
    cursor = kwargs["connection"].cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# -- the app ---------------------------------------------------------------------------


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    post_save.connect(audit_save, sender=Note)
    post_delete.connect(audit_delete, sender=Note)
    connection_created.connect(foreign_keys_on)
    url = f"sqlite+aiosqlite:///{os.environ.get('NOTES_DATABASE', 'notes.db')}"
    engine = connect_engine(create_async_engine(url), using="default")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
        yield
    finally:
        await engine.dispose()
        connection_created.disconnect(foreign_keys_on)
        post_delete.disconnect(audit_delete, sender=Note)
        post_save.disconnect(audit_save, sender=Note)


app = FastAPI(lifespan=lifespan)


@app.post("/notes", status_code=201)
async def create_note(text: str = Body(embed=True)) -> dict[str, Any]:
    async with app.state.sessions() as session:
        row = Note(text=text)
        session.add(row)
        await session.commit()
        return {"id": row.id, "text": row.text}


@app.patch("/notes/{note_id}")
async def change_note(note_id: int, text: str = Body(embed=True)) -> dict[str, Any]:
    async with app.state.sessions() as session:
        row = await session.get(Note, note_id)
        if row is None:
            raise HTTPException(404, "no such note")
        row.text = text
        await session.commit()
        return {"id": row.id, "text": row.text}


@app.delete("/notes/{note_id}", status_code=204)
async def delete_note(note_id: int) -> None:
    async with app.state.sessions() as session:
        row = await session.get(Note, note_id)
        if row is None:
            raise HTTPException(404, "no such note")
        await session.delete(row)
        await session.commit()


@app.get("/audit")
async def audit() -> list[dict[str, Any]]:
    async with app.state.sessions() as session:
        entries = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [{"note": e.note_id, "action": e.action} for e in entries]
