"""A Starlette app that connects its receivers in lifespan startup, for a real server.

Nothing is connected at import: the counters of ``tests.helpers.asgi_stats`` are connected by
the app's lifespan, the way users subscribe receivers when their app starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from reqsignals.asgi import SignalsMiddleware
from tests.helpers import asgi_stats


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    asgi_stats.connect_counters()
    yield


async def ok(request: Request) -> Response:
    return PlainTextResponse("ok")


starlette_app = Starlette(
    routes=[Route("/life/ok", ok)],
    middleware=[Middleware(SignalsMiddleware)],
    lifespan=lifespan,
)
app = asgi_stats.with_stats({"bare": starlette_app}, own_lifespan=False)
