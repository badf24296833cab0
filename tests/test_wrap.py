"""reqsignals.wrap picks the WSGI or the ASGI middleware, for every framework we name."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import httpx
import pytest

import reqsignals
from reqsignals import request_finished, request_started
from reqsignals._wrap import guess_interface
from reqsignals.asgi import SignalsMiddleware as ASGIMiddleware
from reqsignals.testing import Capture
from reqsignals.wsgi import SignalsMiddleware as WSGIMiddleware


def bare_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"wsgi"]


async def bare_asgi(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"asgi"})


class AsyncCallableApp:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await bare_asgi(scope, receive, send)


def flask_app() -> Any:
    from flask import Flask

    app = Flask("wrap_test")
    app.route("/")(lambda: "flask")
    return app


def django_wsgi() -> Any:
    from tests.live_apps.django_project import configure

    configure()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def django_asgi() -> Any:
    from tests.live_apps.django_project import configure

    configure()
    from django.core.asgi import get_asgi_application

    return get_asgi_application()


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    return Starlette(routes=[Route("/", lambda request: PlainTextResponse("starlette"))])


def fastapi_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI()
    app.get("/")(lambda: "fastapi")
    return app


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(lambda: bare_wsgi, WSGIMiddleware, id="bare-wsgi"),
        pytest.param(flask_app, WSGIMiddleware, id="flask"),
        pytest.param(django_wsgi, WSGIMiddleware, id="django-wsgi"),
        pytest.param(lambda: bare_asgi, ASGIMiddleware, id="bare-asgi"),
        pytest.param(AsyncCallableApp, ASGIMiddleware, id="async-__call__"),
        pytest.param(lambda: functools.partial(bare_asgi), ASGIMiddleware, id="partial-asgi"),
        pytest.param(django_asgi, ASGIMiddleware, id="django-asgi"),
        pytest.param(starlette_app, ASGIMiddleware, id="starlette"),
        pytest.param(fastapi_app, ASGIMiddleware, id="fastapi"),
    ],
)
def test_wrap_picks_the_middleware(make: Any, expected: type) -> None:
    app = make()
    wrapped = reqsignals.wrap(app, sender="mine")
    assert type(wrapped) is expected
    assert isinstance(wrapped, (WSGIMiddleware, ASGIMiddleware))
    assert wrapped.app is app
    assert wrapped.sender == "mine"


@pytest.mark.parametrize(
    ("make", "path", "body"),
    [
        pytest.param(lambda: bare_wsgi, "/", b"wsgi", id="bare-wsgi"),
        pytest.param(flask_app, "/", b"flask", id="flask"),
        pytest.param(django_wsgi, "/contrib/ok", b"ok", id="django-wsgi"),
        pytest.param(lambda: bare_asgi, "/", b"asgi", id="bare-asgi"),
        pytest.param(django_asgi, "/contrib/ok", b"ok", id="django-asgi"),
        pytest.param(starlette_app, "/", b"starlette", id="starlette"),
        pytest.param(fastapi_app, "/", b'"fastapi"', id="fastapi"),
    ],
)
def test_wrapped_apps_send_the_request_signals(
    recorder: Capture, make: Any, path: str, body: bytes
) -> None:
    wrapped = reqsignals.wrap(make())
    if isinstance(wrapped, ASGIMiddleware):

        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=wrapped)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.get(path)

        response = asyncio.run(call())
    else:
        with httpx.Client(transport=httpx.WSGITransport(app=wrapped), base_url="http://t") as c:
            response = c.get(path)
    assert response.status_code == 200
    assert response.content == body
    recorder.assert_order(request_started, request_finished)
    recorder.assert_sent(request_finished, sender=wrapped.app, status=200)


def asgi_behind_a_sync_wrapper(*args: Any) -> Any:
    """An ASGI app the guess cannot see: a `*args` function returning a coroutine."""
    return bare_asgi(*args)


def asgi_without_async_def(scope: Any, receive: Any, send: Any) -> Any:
    """A plain function returning a coroutine: its signature says ASGI."""
    return bare_asgi(scope, receive, send)


def test_the_signature_decides_not_coroutine_ness() -> None:
    assert guess_interface(asgi_without_async_def) == "asgi"
    assert type(reqsignals.wrap(asgi_without_async_def)) is ASGIMiddleware


def test_interface_overrides_the_guess() -> None:
    assert guess_interface(asgi_behind_a_sync_wrapper) == "wsgi"
    wrapped = reqsignals.wrap(asgi_behind_a_sync_wrapper, interface="asgi")
    assert type(wrapped) is ASGIMiddleware
    assert type(reqsignals.wrap(bare_wsgi, interface="wsgi")) is WSGIMiddleware


def test_a_signals_middleware_behind_a_proxy_fix_keeps_its_sender(recorder: Capture) -> None:
    # The README's set-up, then a proxy fix around it, then wrapped again (as
    # `reqsignals run` does): the app still reports its own sender, so receivers
    # connected for it still hear its requests.
    from werkzeug.middleware.proxy_fix import ProxyFix

    app = flask_app()
    outer = reqsignals.wrap(ProxyFix(reqsignals.wrap(app)))
    assert outer.sender is app
    heard: list[int] = []
    with (
        request_finished.connected_to(
            lambda sender, status, **kw: heard.append(status), sender=app
        ),
        httpx.Client(transport=httpx.WSGITransport(app=outer), base_url="http://t") as client,
    ):
        assert client.get("/").status_code == 200
    assert heard == [200]
    recorder.assert_sent(request_started, times=1, sender=app)


def test_an_asgi_signals_middleware_behind_proxy_headers_keeps_its_sender() -> None:
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    app = starlette_app()
    outer = reqsignals.wrap(ProxyHeadersMiddleware(reqsignals.wrap(app)))
    assert type(outer) is ASGIMiddleware
    assert outer.sender is app


def test_a_middleware_around_a_plain_app_is_the_sender() -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    fixed = ProxyFix(bare_wsgi)
    assert reqsignals.wrap(fixed).sender is fixed


def test_a_middleware_whose_app_is_itself_is_the_sender() -> None:
    # The walk down `.app` is bounded: a loop ends it, and the wrapped object is the sender.
    class Looping:
        def __init__(self) -> None:
            self.app = self

        def __call__(self, environ: Any, start_response: Any) -> list[bytes]:
            return bare_wsgi(environ, start_response)  # pragma: no cover - never served

    looping = Looping()
    assert reqsignals.wrap(looping).sender is looping


def test_asgi_options_pass_through() -> None:
    wrapped = reqsignals.wrap(bare_asgi, strict=True, websocket=False)
    assert wrapped.strict is True
    assert wrapped.websocket is False


@pytest.mark.parametrize(
    ("app", "interface", "error", "match"),
    [
        pytest.param(42, None, TypeError, "not a WSGI or ASGI application", id="not-callable"),
        pytest.param(
            42, "wsgi", TypeError, "not a WSGI or ASGI application", id="not-callable-forced"
        ),
        pytest.param(bare_wsgi, "rsgi", ValueError, "must be 'wsgi' or 'asgi'", id="bad-interface"),
    ],
)
def test_bad_input_is_a_clear_error(
    app: Any, interface: str | None, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        reqsignals.wrap(app, interface=interface)


@pytest.mark.parametrize(
    ("app", "interface", "options", "match"),
    [
        pytest.param(
            asgi_behind_a_sync_wrapper,
            None,
            {"websocket": False},
            r"'websocket'.* is wrapped as a WSGI app \(as reqsignals guessed\), whose "
            r"middleware takes only sender=, strict=; pass interface='asgi'",
            id="asgi-option-for-a-wsgi-guess",
        ),
        pytest.param(
            bare_asgi,
            "asgi",
            {"sendr": "typo"},
            r"'sendr'.* is wrapped as an ASGI app \(as interface= says\), whose middleware "
            r"takes only sender=, strict=, websocket=",
            id="misspelt-option",
        ),
    ],
)
def test_an_option_the_chosen_middleware_lacks_says_which_was_chosen(
    app: Any, interface: str | None, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(TypeError, match=match):
        reqsignals.wrap(app, interface=interface, **options)


def test_an_asgi2_app_forced_to_asgi_is_refused_by_the_middleware() -> None:
    def asgi2(scope: Any) -> Any:
        return bare_asgi

    with pytest.raises(TypeError, match="guarantee_single_callable"):
        reqsignals.wrap(asgi2, interface="asgi")
