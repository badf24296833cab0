"""A FastAPI app whose receivers are connected in its lifespan.

Run it (from the repository root)::

    uvicorn examples.fastapi_app:app

then ``curl localhost:8000/items/1`` a few times and read the counts at ``/metrics``.
Every request also logs a timing line; ``/boom`` raises, which
``got_request_exception`` reports (FastAPI re-raises a view's exception after
answering 500, so the middleware sees it: nothing else is needed).

The receivers live as long as the lifespan: connected at start-up, disconnected at
shutdown, and the metrics object is kept in the lifespan state (``request.state``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response

from examples.receivers import timing
from examples.receivers.prometheus import RequestMetrics
from reqsignals import got_request_exception
from reqsignals.asgi import SignalsMiddleware
from reqsignals.types import ASGIGotRequestExceptionArgs

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack on Python 3.11+

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
logger = logging.getLogger(__name__)


def log_exception(sender: object, **kwargs: Unpack[ASGIGotRequestExceptionArgs]) -> None:
    scope = kwargs["scope"]
    logger.error("%s %s failed: %r", scope.get("method", "WS"), scope["path"], kwargs["exception"])


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    metrics = RequestMetrics()
    metrics.connect()
    timing.connect()
    got_request_exception.connect(log_exception)
    try:
        # The state holds the metrics object, and so keeps its weak receiver alive.
        yield {"metrics": metrics}
    finally:
        got_request_exception.disconnect(log_exception)
        timing.disconnect()
        metrics.disconnect()


app = FastAPI(lifespan=lifespan)
app.add_middleware(SignalsMiddleware)


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}


@app.get("/boom")
async def boom() -> None:
    raise RuntimeError("boom")


@app.get("/metrics")
def prometheus_metrics(request: Request) -> Response:
    body, content_type = request.state.metrics.exposition()
    return Response(body, media_type=content_type)
