"""The demo that ``reqsignals run`` serves when given no app.

A small Starlette app with session auth on SQLite (a session store and a user table in
one data folder), seeded with a demo user. Its pages: ``/`` (who am I), ``/login``,
``/logout``, ``/sessions`` (the user's sessions, to end one or all others),
``/stream`` (a streamed response), ``/boom`` (raises), and ``/feed``, a page that shows
every signal as it fires, through server-sent events from ``/events``.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import secrets
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from ..auth import (
    LockedOut,
    Lockout,
    SessionAuth,
    SQLiteBackend,
    SQLiteStore,
    aauthenticate,
    alist_sessions,
    alogin,
    alogout,
    alogout_everywhere,
    arevoke_session,
)
from ..dispatch import Signal
from ..log import SignalLog
from ..signals import ALL_SIGNALS
from ._hosts import HostCheck

__all__ = ["DEMO_LOCKOUT_WINDOW", "DEMO_MAX_FAILURES", "DEMO_USERNAME", "SignalFeed", "build"]

DEMO_USERNAME = "demo"
#: The demo's lock-out: this many failed logins within the window lock a name out.
DEMO_MAX_FAILURES = 5
DEMO_LOCKOUT_WINDOW = 60
_FEED_PATHS = ("/events",)


class SignalFeed:
    """Fans every signal out to the browsers watching ``/events``.

    Receivers may run on the event loop (ASGI sends) or in worker threads (a store
    opening a connection); each event is handed to the loop thread-safely.
    """

    def __init__(self) -> None:
        self._formatter = SignalLog(as_json=True)
        self._queues: set[asyncio.Queue[str]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def receive(self, signal: Signal, sender: Any, **kwargs: Any) -> None:
        record = self._formatter.record(signal, sender, kwargs)
        if record.get("path") in _FEED_PATHS:
            return  # the feed's own connection is not news
        event = json.dumps(record, default=str)
        with self._lock:
            loop, queues = self._loop, list(self._queues)
        if loop is None or loop.is_closed():
            return
        for q in queues:
            loop.call_soon_threadsafe(q.put_nowait, event)

    def subscribe(self) -> asyncio.Queue[str]:
        q: asyncio.Queue[str] = asyncio.Queue()
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._queues.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[str]) -> None:
        with self._lock:
            self._queues.discard(q)


_DEMO_TITLE = "reqsignals demo"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{full_title}</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; }}
nav a, nav form {{ margin-right: 1rem; }} nav form {{ display: inline; }}
.error {{ color: #b00020; }}
#feed li {{ font-family: ui-monospace, monospace; font-size: 14px; }}
</style></head>
<body><nav><a href="/">Home</a>{account}<a href="/feed">Live feed</a>
<a href="/stream">Stream</a><a href="/boom">Raise</a></nav>
<h1>{title}</h1>
{body}
</body></html>"""


def _current_user(request: Request) -> Any:
    user = request.scope.get("user")
    return user if getattr(user, "is_authenticated", False) else None


def _page(request: Request, title: str, body: str, status: int = 200) -> HTMLResponse:
    """A page of the demo; its navigation offers to log in or out, whichever fits."""
    full_title = title if title == _DEMO_TITLE else f"{title} · {_DEMO_TITLE}"
    if _current_user(request) is None:
        account = '<a href="/login">Log in</a>'
    else:
        account = (
            '<a href="/sessions">Your sessions</a>'
            '<form method="post" action="/logout"><button id="nav-logout">Log out</button></form>'
        )
    page = _PAGE.format(
        full_title=html.escape(full_title), title=html.escape(title), account=account, body=body
    )
    return HTMLResponse(page, status_code=status)


def _logout_form() -> str:
    return '<form method="post" action="/logout"><button id="logout">Log out</button></form>'


async def home(request: Request) -> Response:
    user = _current_user(request)
    if user is not None:
        name = html.escape(str(user.username))
        body = f'<p>Logged in as <strong id="who">{name}</strong>.</p>{_logout_form()}'
    else:
        body = '<p id="who-anon">You are not logged in. <a href="/login">Log in</a>.</p>'
    return _page(request, _DEMO_TITLE, body)


_LOGIN_FORM = """{error}
<form method="post" action="/login">
<p><label>User name <input name="username" id="username" autocomplete="username"></label></p>
<p><label>Password <input name="password" id="password" type="password"
 autocomplete="current-password"></label></p>
<p><button id="login">Log in</button></p></form>
<p><small>Posted from a page of another site, this form is refused (403) before the app
runs: the session middleware's CSRF check reads the browser's Sec-Fetch-Site and Origin
headers. Try it: the feed shows csrf_failed.</small></p>"""


async def login_page(request: Request) -> Response:
    if request.method == "GET":
        return _page(request, "Log in", _LOGIN_FORM.format(error=""))
    form = await request.form()
    username, password = form.get("username"), form.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        return _page(
            request, "Log in", _LOGIN_FORM.format(error=_error("Fill in both fields.")), 400
        )
    try:
        user = await aauthenticate(request, username=username, password=password)
    except LockedOut as locked:
        what = "this user name" if locked.reason == "username" else "your address"
        error = _error(
            f"Too many failed logins for {what}: try again in {locked.retry_after} seconds."
        )
        page = _page(request, "Log in", _LOGIN_FORM.format(error=error), 429)
        page.headers["Retry-After"] = str(locked.retry_after)
        return page
    if user is None:
        error = _error("Wrong user name or password.")
        return _page(request, "Log in", _LOGIN_FORM.format(error=error), 401)
    await alogin(request, user)
    return RedirectResponse("/", status_code=303)


def _error(message: str) -> str:
    return f'<p class="error" id="error">{html.escape(message)}</p>'


async def logout(request: Request) -> Response:
    await alogout(request)
    return RedirectResponse("/", status_code=303)


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "?"


async def sessions_page(request: Request) -> Response:
    """The user's sessions, each with a button that ends it, and "log out everywhere"."""
    if _current_user(request) is None:
        return RedirectResponse("/login", status_code=303)
    rows = []
    for info in await alist_sessions(request):
        label = " (this browser)" if info.current else ""
        rows.append(
            f'<tr class="session" data-current="{str(info.current).lower()}">'
            f"<td>{html.escape(info.user_agent or '?')}{label}</td>"
            f"<td>{html.escape(info.client or '?')}</td>"
            f"<td>{_when(info.created)}</td><td>{_when(info.last_seen)}</td>"
            '<td><form method="post" action="/sessions/revoke">'
            f'<input type="hidden" name="id" value="{html.escape(info.id)}">'
            '<button class="revoke">End</button></form></td></tr>'
        )
    body = (
        "<table><thead><tr><th>Browser</th><th>Address</th><th>Logged in</th>"
        '<th>Last seen</th><th></th></tr></thead><tbody id="sessions">'
        + "".join(rows)
        + "</tbody></table>"
        '<form method="post" action="/sessions/everywhere">'
        '<button id="everywhere">Log out everywhere else</button></form>'
    )
    return _page(request, "Your sessions", body)


async def revoke_page(request: Request) -> Response:
    form = await request.form()
    session_id = form.get("id")
    if isinstance(session_id, str):
        await arevoke_session(request, session_id)
    return RedirectResponse("/sessions", status_code=303)


async def everywhere_page(request: Request) -> Response:
    await alogout_everywhere(request)
    return RedirectResponse("/sessions", status_code=303)


async def stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(1, 6):
            yield f"chunk {i} of 5\n".encode()
            await asyncio.sleep(0.2)

    return StreamingResponse(chunks(), media_type="text/plain")


async def boom(request: Request) -> Response:
    raise RuntimeError("the demo's /boom endpoint raised this on purpose")


_FEED_PAGE = """<p>Every signal, as it fires. Open <a href="/login" target="_blank">the login
page</a> in another tab and watch.</p>
<ol id="feed"></ol>
<script>
const feed = document.getElementById("feed");
const source = new EventSource("/events");
source.onmessage = (e) => {
  const r = JSON.parse(e.data);
  const li = document.createElement("li");
  li.dataset.signal = r.signal;
  const extra = ["method", "path", "status", "duration_ms", "user", "exception", "credentials",
    "reason"]
    .filter((k) => k in r).map((k) => k + "=" + JSON.stringify(r[k])).join(" ");
  li.textContent = r.time.slice(11) + " " + r.signal + " " + extra;
  feed.appendChild(li);
};
source.onopen = () => document.body.dataset.feed = "open";
</script>"""


async def feed_page(request: Request) -> Response:
    return _page(request, "Live signal feed", _FEED_PAGE)


def _events(feed: SignalFeed) -> Any:
    async def events(request: Request) -> Response:
        q = feed.subscribe()

        async def messages() -> AsyncIterator[str]:
            try:
                yield ": connected\n\n"
                while True:
                    try:
                        event = await asyncio.wait_for(q.get(), timeout=15)
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"data: {event}\n\n"
            finally:
                feed.unsubscribe(q)

        return StreamingResponse(
            messages(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return events


def _private_file(path: Path) -> int:
    """Open *path* for writing, created readable by this user only from the start (no
    window in which the umask's mode lets others read it); an existing file is made
    private too. Returns the file descriptor."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def _demo_secrets(data_dir: Path) -> dict[str, str]:
    """The demo's secret key and user password, made once and kept in the data folder."""
    path = data_dir / "demo-secrets.json"
    if path.exists():
        saved: dict[str, str] = json.loads(path.read_text())
        return saved
    values = {
        "secret_key": secrets.token_urlsafe(32),
        "password": secrets.token_urlsafe(9),
    }
    with os.fdopen(_private_file(path), "w") as out:
        out.write(json.dumps(values))
    return values


def build(data_dir: Path, *, host: str = "127.0.0.1") -> tuple[Any, list[str]]:
    """Create the demo app, its data folder and its user; return the app and a banner.

    The returned app is wrapped in the session middleware, with its CSRF check on (a
    login or logout form posted from another site's page is refused), and in a
    ``Host`` check that answers only ``localhost``, IP addresses and *host* (against
    DNS rebinding); not in the signals middleware: ``reqsignals run`` adds that, as it
    does for any app. The data folder and its files are readable by this user only.
    """
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    values = _demo_secrets(data_dir)
    # The databases hold password hashes and session keys: private before SQLite
    # opens them (it gives its -wal and -shm files the database's mode).
    for name in ("users.db", "sessions.db"):
        os.close(_private_file(data_dir / name))
    backend = SQLiteBackend(str(data_dir / "users.db"))
    try:
        backend.set_password(DEMO_USERNAME, values["password"])
    except LookupError:
        backend.create_user(DEMO_USERNAME, values["password"])
    auth = SessionAuth(
        secret_key=values["secret_key"],
        store=SQLiteStore(str(data_dir / "sessions.db")),
        backends=[backend],
        # Counted in sessions.db beside the sessions; a short window, to try it out.
        lockout=Lockout(max_failures=DEMO_MAX_FAILURES, window=DEMO_LOCKOUT_WINDOW),
    )
    feed = SignalFeed()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for sig in ALL_SIGNALS:
            sig.connect(feed.receive, weak=False)
        try:
            yield
        finally:
            for sig in ALL_SIGNALS:
                sig.disconnect(feed.receive)

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/login", login_page, methods=["GET", "POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/sessions", sessions_page),
            Route("/sessions/revoke", revoke_page, methods=["POST"]),
            Route("/sessions/everywhere", everywhere_page, methods=["POST"]),
            Route("/stream", stream),
            Route("/boom", boom),
            Route("/feed", feed_page),
            Route("/events", _events(feed)),
        ],
        lifespan=lifespan,
    )
    app.state.feed = feed
    banner = [
        "reqsignals demo",
        f"  data folder: {data_dir.resolve()}",
        f"  log in as {DEMO_USERNAME!r} with password {values['password']!r}",
        "  pages: /  /login  /sessions  /feed (live signals)  /stream  /boom",
        f"  {DEMO_MAX_FAILURES} failed logins lock a user name (or an address) out for "
        f"{DEMO_LOCKOUT_WINDOW} seconds: watch user_locked_out in the feed",
    ]
    return HostCheck(auth.wrap(app), host=host), banner
