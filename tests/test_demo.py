"""The demo's pages, in process: titles and the navigation for each visitor."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx

from reqsignals.demo import DEMO_LOCKOUT_WINDOW, DEMO_MAX_FAILURES, DEMO_USERNAME, build
from reqsignals.scrub import MASK


def title(page: str) -> str:
    match = re.search(r"<title>(.*?)</title>", page)
    assert match, page
    return match.group(1)


def nav(page: str) -> str:
    match = re.search(r"<nav>(.*?)</nav>", page, re.S)
    assert match, page
    return match.group(1)


def test_titles_name_the_demo_once_and_the_navigation_fits_the_visitor(tmp_path: Path) -> None:
    app, banner = build(tmp_path / "demo")
    match = re.search(r"password '([^']+)'", "\n".join(banner))
    assert match
    password = match.group(1)

    async def visit() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            home = (await client.get("/")).text
            assert title(home) == "reqsignals demo"
            assert title((await client.get("/login")).text) == "Log in · reqsignals demo"
            assert title((await client.get("/feed")).text) == "Live signal feed · reqsignals demo"
            assert '<a href="/login">Log in</a>' in nav(home)
            assert "Log out" not in nav(home)
            form = {"username": DEMO_USERNAME, "password": password}
            assert (await client.post("/login", data=form)).status_code == 303
            for path in ("/", "/feed", "/login"):
                logged_in = nav((await client.get(path)).text)
                assert "Log in" not in logged_in, path
                assert '<button id="nav-logout">Log out</button>' in logged_in, path
            assert (await client.post("/logout")).status_code == 303
            assert '<a href="/login">Log in</a>' in nav((await client.get("/")).text)

    asyncio.run(visit())


def test_failed_logins_lock_the_name_out_and_the_feed_shows_it(tmp_path: Path) -> None:
    app, banner = build(tmp_path / "demo")
    assert f"{DEMO_MAX_FAILURES} failed logins lock a user name" in "\n".join(banner)
    starlette = app
    while not hasattr(starlette, "state"):  # inside the Host check and the session middleware
        starlette = starlette.app
    feed = starlette.state.feed

    async def visit() -> list[dict[str, Any]]:
        async with starlette.router.lifespan_context(starlette):  # connects the feed
            queue = feed.subscribe()
            transport = httpx.ASGITransport(app=app)
            base = "http://127.0.0.1"
            async with httpx.AsyncClient(transport=transport, base_url=base) as client:
                form = {"username": DEMO_USERNAME, "password": "wrong"}
                statuses = [
                    (await client.post("/login", data=form)).status_code
                    for _ in range(DEMO_MAX_FAILURES)
                ]
                assert statuses == [401] * DEMO_MAX_FAILURES
                locked = await client.post("/login", data=form)
                assert locked.status_code == 429
                assert 0 < int(locked.headers["retry-after"]) <= DEMO_LOCKOUT_WINDOW
                assert "Too many failed logins for this user name" in locked.text
            events = []
            while not queue.empty():
                events.append(json.loads(queue.get_nowait()))
            return events

    events = asyncio.run(visit())
    locks = [e for e in events if e["signal"] == "user_locked_out"]
    assert len(locks) == 2  # the name and the address, both at their fifth failure
    assert {e["reason"] for e in locks} == {"username", "client"}
    assert all(e["credentials"]["password"] == MASK for e in locks)
    assert all(0 < e["retry_after"] <= DEMO_LOCKOUT_WINDOW for e in locks)
