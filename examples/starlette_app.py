"""A Starlette app with session login, an audit log and a brute-force lock-out.

Run it (from the repository root)::

    uvicorn examples.starlette_app:app

then open http://127.0.0.1:8000/ and log in as ``ada`` with the password
``correct horse battery staple``. The terminal shows the audit log (logins, logouts,
failed logins with their credentials scrubbed) and a timing line per request. After
five failed logins within fifteen minutes, for one username or from one address,
``/login`` answers 429 until the window has passed.

The lock-out is reqsignals' own (``SessionAuth(lockout=Lockout(...))``): ``aauthenticate``
refuses a locked username or address before any password is hashed, and the login view
turns that ``LockedOut`` into its page. The receivers (the audit log, the timing line
and an alert per lock) are connected in the lifespan and disconnected at shutdown.

The forms are protected against cross-site request forgery by the session middleware:
its CSRF check (on by default) refuses, with a 403 and before any view runs, a login or
logout posted from another site's page, by the browser's ``Sec-Fetch-Site`` and
``Origin`` headers. To require a token as well, pass ``csrf=CSRF(require_token=True)``
and put ``csrf_input(request)`` in each form.

This is a demo: the users live in memory with deliberately cheap password hashing and
the secret key has a development default. A real app uses ``SQLiteBackend`` (or its own
backend) with the default ``Argon2Hasher()`` and a secret from its configuration.
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from examples.receivers import audit, lockout, timing
from reqsignals.asgi import SignalsMiddleware
from reqsignals.auth import (
    Argon2Hasher,
    ASGISessionMiddleware,
    LockedOut,
    Lockout,
    MemoryBackend,
    MemoryStore,
    SessionAuth,
    aauthenticate,
    alogin,
    alogout,
)

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

DEMO_USER = ("ada", "correct horse battery staple")

# Cheap hashing keeps the demo snappy; in production drop hasher= for the defaults.
users = MemoryBackend(hasher=Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1))
users.create_user(*DEMO_USER)
auth = SessionAuth(
    secret_key=os.environ.get("SECRET_KEY", "dev-only-not-secret-set-SECRET_KEY-to-deploy"),
    store=MemoryStore(),
    backends=[users],
    # Counted beside the sessions (here in memory; SQLiteStore or RedisStore share the
    # counts between processes). Behind a reverse proxy, add trusted_proxies=[...].
    lockout=Lockout(max_failures=5, window=15 * 60),
)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    audit.connect()
    timing.connect()
    lockout.connect()
    try:
        yield
    finally:
        lockout.disconnect()
        timing.disconnect()
        audit.disconnect()


def page(body: str, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return HTMLResponse(
        f"<!doctype html><title>reqsignals example</title>{body}",
        status_code=status_code,
        headers=headers,
    )


LOGIN_FORM = """
<form method="post" action="/login">
  <label>Username <input name="username" autocomplete="username"></label>
  <label>Password <input name="password" type="password" autocomplete="current-password">
  </label>
  <button>Log in</button>
</form>
"""


async def home(request: Request) -> Response:
    if request.user.is_authenticated:
        name = html.escape(request.user.username)
        return page(
            f'<p>Hello, {name}.</p><form method="post" action="/logout"><button>Log out</button>'
            "</form>"
        )
    return page('<p>Hello, anonymous.</p><p><a href="/login">Log in</a></p>')


async def login_form(request: Request) -> Response:
    return page(LOGIN_FORM)


async def login(request: Request) -> Response:
    form = await request.form()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    try:
        user = await aauthenticate(request, username=username, password=password)
    except LockedOut as locked:  # refused before any hashing; not counted again
        what = "this account" if locked.reason == "username" else "your address"
        message = f"Too many failed logins for {what}. Try again in {locked.retry_after} seconds."
        headers = {"Retry-After": str(locked.retry_after)}
        return page(f"<p>{html.escape(message)}</p>", status_code=429, headers=headers)
    if user is None:  # user_login_failed was sent: audited; the lock-out counted it
        return page("<p>Invalid username or password.</p>" + LOGIN_FORM, status_code=401)
    await alogin(request, user)  # user_logged_in: audited (the username's count was cleared)
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    await alogout(request)  # user_logged_out: audited
    return RedirectResponse("/", status_code=303)


app = Starlette(
    routes=[
        Route("/", home),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ],
    middleware=[
        # Outermost first: the signals see the whole request, session loading included.
        Middleware(SignalsMiddleware),
        Middleware(ASGISessionMiddleware, auth=auth),
    ],
    lifespan=lifespan,
)
