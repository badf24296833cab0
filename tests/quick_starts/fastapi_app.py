"""The README's FastAPI quick start (``uvicorn module:app``)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, StreamingResponse

from reqsignals.asgi import SignalsMiddleware
from tests.quick_starts import recording  # noqa: F401 - connects the recording receivers
from tests.quick_starts.starlette_app import chunks

app = FastAPI()
app.add_middleware(SignalsMiddleware)


@app.get("/ok")
async def ok() -> PlainTextResponse:
    return PlainTextResponse("hello")


@app.get("/boom")
async def boom() -> PlainTextResponse:
    raise RuntimeError("boom")


@app.get("/stream")
async def stream() -> StreamingResponse:
    return StreamingResponse(chunks())
