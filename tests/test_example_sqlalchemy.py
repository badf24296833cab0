"""examples/sqlalchemy_app.py: a FastAPI endpoint saves a note, a post_save receiver
writes the audit row, in the same commit; in-process through httpx and under uvicorn."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from examples import sqlalchemy_app
from reqsignals.signals import ALL_SIGNALS
from tests.helpers.support import run_server


async def exercise(client: httpx.AsyncClient) -> list[dict[str, object]]:
    created = await client.post("/notes", json={"text": "hello"})
    assert created.status_code == 201
    note = created.json()
    assert note["text"] == "hello"
    changed = await client.patch(f"/notes/{note['id']}", json={"text": "hello, world"})
    assert changed.json() == {"id": note["id"], "text": "hello, world"}
    assert (await client.delete(f"/notes/{note['id']}")).status_code == 204
    assert (await client.delete(f"/notes/{note['id']}")).status_code == 404
    response = await client.get("/audit")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


EXPECTED = [
    {"note": 1, "action": "created"},
    {"note": 1, "action": "changed text"},
    {"note": 1, "action": "deleted"},
]


def test_saving_a_note_writes_its_audit_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTES_DATABASE", str(tmp_path / "notes.db"))
    before = [s.has_listeners() for s in ALL_SIGNALS]
    app = sqlalchemy_app.app

    async def main() -> list[dict[str, object]]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await exercise(client)

    assert asyncio.run(main()) == EXPECTED
    # The lifespan disconnected what it connected.
    assert [s.has_listeners() for s in ALL_SIGNALS] == before


@pytest.mark.server
def test_under_uvicorn(tmp_path: Path) -> None:
    argv = ["python", "-m", "uvicorn", "--port", "{port}", "examples.sqlalchemy_app:app"]
    with run_server(argv, env={"NOTES_DATABASE": str(tmp_path / "notes.db")}) as server:

        async def main() -> list[dict[str, object]]:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                return await exercise(client)

        assert asyncio.run(main()) == EXPECTED
