"""A Starlette app with a session websocket, under the session middleware's CSRF check.

Served by uvicorn in tests/auth/test_csrf_websocket.py (``--factory``
``tests.live_apps.auth_ws_app:make_app``). ``GET /login-as?user=NAME``
logs *NAME* in (a plain session key: what is checked here is the handshake, not the
login); the websocket ``/ws`` sends the session's user (``anonymous`` without one) and
closes; ``GET /`` is a page that opens ``/ws`` and writes what it heard into
``<body data-got=... data-closed=...>``, as :data:`WS_PAGE` does from any origin. In
the server, every ``csrf_failed`` is printed, so the test reads the refusals from its
output (only :func:`make_app` connects that receiver: importing the module does not).
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from reqsignals.auth import MemoryStore, SessionAuth
from reqsignals.signals import csrf_failed
from reqsignals.types import ASGIApp
from tests.live_apps.auth_apps import SECRET

#: A page that opens the websocket at ``{url}`` and shows what came of it.
WS_PAGE = """<!doctype html><html><body data-got="" data-closed="">
<script>
const ws = new WebSocket("{url}");
ws.onmessage = (e) => {{ document.body.dataset.got = e.data; }};
ws.onclose = (e) => {{ document.body.dataset.closed = String(e.code); }};
</script>
</body></html>"""


async def login_as(request: Request) -> Response:
    request.session["user"] = request.query_params["user"]
    return PlainTextResponse("ok")


async def page(request: Request) -> Response:
    return HTMLResponse(WS_PAGE.format(url=f"ws://{request.headers['host']}/ws"))


async def whoami(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(str(websocket.session.get("user", "anonymous")))
    await websocket.close()


def print_refusal(sender: Any, request: Any, reason: str, **kwargs: Any) -> None:
    print(f"csrf_failed {request['type']} {request['path']}: {reason}", flush=True)


def make_app() -> ASGIApp:
    """The app, in the server process: refusals printed."""
    csrf_failed.connect(print_refusal)
    routes = [Route("/", page), Route("/login-as", login_as), WebSocketRoute("/ws", whoami)]
    app: ASGIApp = SessionAuth(SECRET, MemoryStore()).wrap(Starlette(routes=routes))
    return app
