"""Login CSRF against the demo, in headless Chromium: a page on another 127.0.0.1 port
auto-submits the demo's login form with the attacker's credentials."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers.servers import chromium, serve_demo, wait_for_output

FORGED_PAGE = """<!doctype html><html><body>
<h1>You won a prize!</h1>
<form id="forged" method="post" action="{action}">
<input name="username" value="demo"><input name="password" value="{password}">
</form>
<script>document.getElementById("forged").submit();</script>
</body></html>"""


@contextmanager
def attacker_site(page: str) -> Iterator[str]:
    """Serve *page* at ``/`` on a free 127.0.0.1 port of its own; yield its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.browser
@pytest.mark.server
def test_forged_login_from_another_port_is_refused_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    # The attacker knows credentials of their own: here, the demo user's.
    with serve_demo(tmp_path) as (demo, password):
        forged = FORGED_PAGE.format(
            action=f"{demo.url}/login", password=html.escape(password, quote=True)
        )
        with attacker_site(forged) as evil, chromium() as browser:
            assert evil.split(":")[2] != str(demo.port)
            context = browser.new_context()
            feed = context.new_page()
            feed.goto(f"{demo.url}/feed")
            expect(feed.locator("body")).to_have_attribute("data-feed", "open")
            page = context.new_page()
            with page.expect_response(
                lambda r: r.url == f"{demo.url}/login" and r.request.method == "POST"
            ) as posted:
                page.goto(evil)
            response = posted.value
            # 127.0.0.1 on another port: same site, another origin.
            assert response.request.all_headers().get("sec-fetch-site") == "same-site"
            assert response.status == 403
            assert "set-cookie" not in response.all_headers()
            expect(page.locator("body")).to_contain_text("Forbidden")
            refused = feed.locator('#feed li[data-signal="csrf_failed"]')
            expect(refused).to_have_count(1)
            expect(refused).to_contain_text("Sec-Fetch-Site: same-site")
            assert not [c for c in context.cookies(demo.url) if c["name"] == "session"]
            page.goto(f"{demo.url}/")
            expect(page.locator("#who-anon")).to_be_visible()
            # The demo's own form still logs in, in the same browser.
            page.goto(f"{demo.url}/login")
            page.fill("#username", "demo")
            page.fill("#password", password)
            page.click("#login")
            expect(page.locator("#who")).to_have_text("demo")
        out = wait_for_output(demo, r"csrf_failed\s+POST /login")
    assert "user_logged_in" in out.split("csrf_failed", 1)[1]
