"""The demo's "Your sessions" page, driven in headless Chromium."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers.servers import chromium, serve_demo


@pytest.mark.browser
@pytest.mark.server
def test_demo_lists_revokes_and_logs_out_everywhere_in_a_real_browser(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with serve_demo(tmp_path) as (server, password):
        credentials = {"username": "demo", "password": password}
        with (
            httpx.Client(base_url=server.url, headers={"user-agent": "phone-app"}) as phone,
            chromium() as browser,
        ):
            assert phone.post("/login", data=credentials).status_code == 303
            laptop = browser.new_context(user_agent="laptop-browser").new_page()
            tablet = browser.new_context(user_agent="tablet-browser").new_page()
            feed = browser.new_context().new_page()
            feed.goto(f"{server.url}/feed")
            expect(feed.locator("body")).to_have_attribute("data-feed", "open")
            for page in (laptop, tablet):
                page.goto(f"{server.url}/login")
                page.fill("#username", "demo")
                page.fill("#password", password)
                page.click("#login")
                expect(page.locator("#who")).to_have_text("demo")

            laptop.goto(f"{server.url}/sessions")
            rows = laptop.locator("tr.session")
            expect(rows).to_have_count(3)
            expect(laptop.locator('tr.session[data-current="true"]')).to_have_count(1)
            expect(laptop.locator('tr.session[data-current="true"]')).to_contain_text(
                "laptop-browser (this browser)"
            )
            # End the phone's session: its next request is anonymous.
            laptop.locator("tr.session", has_text="phone-app").locator("button").click()
            expect(rows).to_have_count(2)
            assert "You are not logged in" in phone.get("/").text
            revoked = feed.locator('#feed li[data-signal="session_revoked"]')
            expect(revoked).to_have_count(1)
            expect(revoked).to_contain_text('reason="revoked"')

            # Log out everywhere else: the tablet is logged out, the laptop is not.
            laptop.click("#everywhere")
            expect(rows).to_have_count(1)
            tablet.goto(f"{server.url}/")
            expect(tablet.locator("#who-anon")).to_be_visible()
            laptop.goto(f"{server.url}/")
            expect(laptop.locator("#who")).to_have_text("demo")
            expect(revoked).to_have_count(2)
            expect(revoked.nth(1)).to_contain_text('reason="logout_everywhere"')


@pytest.mark.server
def test_demo_sessions_page_needs_a_login(tmp_path: Path) -> None:
    with serve_demo(tmp_path) as (server, _), httpx.Client(base_url=server.url) as client:
        page = client.get("/sessions")
        assert (page.status_code, page.headers["location"]) == (303, "/login")
        revoke = client.post("/sessions/revoke", data={"id": "anything"})
        assert (revoke.status_code, revoke.headers["location"]) == (303, "/sessions")
