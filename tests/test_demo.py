"""The demo's pages, in process: titles and the navigation for each visitor."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from reqsignals.demo import DEMO_USERNAME, build


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
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
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
