"""Framework integrations: got_request_exception exactly once for exceptions that Flask
and Django turn into a 500 themselves (and when they re-raise), and nothing needed for
Starlette and FastAPI."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reqsignals import got_request_exception, request_finished, request_started, wrap
from reqsignals.contrib import report_handled_exception
from reqsignals.testing import Capture
from reqsignals.wsgi import SignalsMiddleware
from tests.helpers.support import ROOT

# -- Flask ---------------------------------------------------------------------------


def make_flask(*, testing: bool = False, forward: bool = True) -> Any:
    from flask import Flask

    from reqsignals.contrib.flask import init_app

    app = Flask("contrib_test")
    app.config["TESTING"] = testing

    @app.route("/boom")
    def boom() -> str:
        raise LookupError("raised by a Flask view")

    @app.route("/ok")
    def ok() -> str:
        return "ok"

    if forward:
        init_app(app)
    else:
        app.wsgi_app = SignalsMiddleware(app.wsgi_app, sender=app)  # type: ignore[method-assign]
    return app


def get(app: Any, path: str, *, raise_app_exceptions: bool = True) -> httpx.Response:
    transport = httpx.WSGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    with httpx.Client(transport=transport, base_url="http://testserver") as client:
        return client.get(path)


def assert_one_exception(recorder: Capture, exc_type: type[BaseException], message: str) -> Any:
    sent = recorder.of(got_request_exception)
    assert len(sent) == 1, recorder.names
    exc = sent[0].kwargs["exception"]
    assert type(exc) is exc_type
    assert exc.args == (message,)
    return sent[0]


def test_flask_500_sends_got_request_exception_once(recorder: Capture) -> None:
    app = make_flask()
    response = get(app, "/boom")
    assert response.status_code == 500
    sent = assert_one_exception(recorder, LookupError, "raised by a Flask view")
    assert sent.sender is app
    assert "environ" in sent.kwargs
    recorder.assert_order(request_started, got_request_exception, request_finished)
    recorder.assert_sent(request_finished, status=500)


def test_flask_testing_mode_reraises_and_still_sends_once(recorder: Capture) -> None:
    app = make_flask(testing=True)
    with pytest.raises(LookupError, match="raised by a Flask view"):
        get(app, "/boom")
    assert_one_exception(recorder, LookupError, "raised by a Flask view")
    recorder.assert_order(request_started, got_request_exception, request_finished)


def test_flask_without_the_integration_never_hears_the_500(recorder: Capture) -> None:
    # Why the integration exists: Flask swallows the exception.
    response = get(make_flask(forward=False), "/boom")
    assert response.status_code == 500
    recorder.assert_not_sent(got_request_exception)
    recorder.assert_sent(request_finished, status=500)


def test_flask_ok_request_sends_no_exception(recorder: Capture) -> None:
    assert get(make_flask(), "/ok").text == "ok"
    recorder.assert_order(request_started, request_finished)


def test_flask_forwarding_without_the_middleware_uses_the_app_as_sender(
    recorder: Capture,
) -> None:
    from flask import Flask

    from reqsignals.contrib.flask import init_app

    app = Flask("bare_contrib")

    @app.route("/boom")
    def boom() -> str:
        raise KeyError("no middleware")

    init_app(app, wrap=False)
    assert get(app, "/boom").status_code == 500
    [sent] = recorder.of(got_request_exception)
    assert sent.sender is app
    assert isinstance(sent.kwargs["exception"], KeyError)
    recorder.assert_not_sent(request_started)


# -- Django --------------------------------------------------------------------------


@pytest.fixture
def django_forwarding() -> Iterator[None]:
    from tests.live_apps.django_project import configure

    configure()
    from reqsignals.contrib.django import connect, disconnect

    connect()
    connect()  # idempotent
    try:
        yield
    finally:
        disconnect()


@pytest.mark.usefixtures("django_forwarding")
@pytest.mark.parametrize("propagate", [False, True], ids=["500", "propagate"])
def test_django_wsgi_view_exception_sent_once(recorder: Capture, propagate: bool) -> None:
    from django.core.wsgi import get_wsgi_application
    from django.test import override_settings

    app = wrap(get_wsgi_application())
    with override_settings(DEBUG_PROPAGATE_EXCEPTIONS=propagate):
        if propagate:
            with pytest.raises(LookupError, match="raised by a Django view"):
                get(app, "/contrib/boom")
        else:
            assert get(app, "/contrib/boom").status_code == 500
    sent = assert_one_exception(recorder, LookupError, "raised by a Django view")
    assert sent.sender is app.app
    recorder.assert_order(request_started, got_request_exception, request_finished)


async def aget(app: Any, path: str, *, raise_app_exceptions: bool = True) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path)


# With DEBUG_PROPAGATE_EXCEPTIONS, Django's ASGI handler lets the exception out before
# closing its request-body temporary file; it is collected (and warned about) here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.usefixtures("django_forwarding")
@pytest.mark.parametrize("propagate", [False, True], ids=["500", "propagate"])
def test_django_asgi_view_exception_sent_once(recorder: Capture, propagate: bool) -> None:
    from django.core.asgi import get_asgi_application
    from django.test import override_settings

    app = wrap(get_asgi_application())
    heard_on: list[Any] = []

    async def on_exception(sender: Any, **kwargs: Any) -> None:
        heard_on.append(asyncio.get_running_loop())

    got_request_exception.connect(on_exception)

    async def scenario() -> None:
        with override_settings(DEBUG_PROPAGATE_EXCEPTIONS=propagate):
            if propagate:
                with pytest.raises(LookupError):
                    await aget(app, "/contrib/boom")
            else:
                assert (await aget(app, "/contrib/boom")).status_code == 500
        heard_on.append(asyncio.get_running_loop())

    try:
        asyncio.run(scenario())
    finally:
        got_request_exception.disconnect(on_exception)
    sent = assert_one_exception(recorder, LookupError, "raised by a Django view")
    assert sent.sender is app.app
    recorder.assert_order(request_started, got_request_exception, request_finished)
    # The async receiver ran on the app's own event loop, in the request's task.
    assert len(heard_on) == 2
    assert heard_on[0] is heard_on[1]
    # Let Django's frames (and the file they hold) go now, not at interpreter exit.
    sent.kwargs["exception"].__traceback__ = None
    recorder.clear()
    gc.collect()


@pytest.mark.usefixtures("django_forwarding")
def test_django_ok_request_sends_no_exception(recorder: Capture) -> None:
    from django.core.wsgi import get_wsgi_application

    assert get(wrap(get_wsgi_application()), "/contrib/ok").text == "ok"
    recorder.assert_order(request_started, request_finished)


def test_django_app_config_connects_the_forwarder() -> None:
    code = """
import django
from django.conf import settings
settings.configure(INSTALLED_APPS=["reqsignals.contrib.django"], DATABASES={})
django.setup()
from django.apps import apps
from django.core.signals import got_request_exception
from reqsignals.contrib.django import _forward
config = apps.get_app_config("reqsignals")
assert type(config).__name__ == "ReqsignalsConfig", config
live = [r() for _, r, *_ in got_request_exception.receivers]
assert _forward in live, live
print("connected")
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "connected"


def test_django_forwarder_ignores_a_signal_without_an_exception_or_request(
    recorder: Capture,
) -> None:
    from reqsignals.contrib.django import _forward

    _forward(None, request=None)
    _forward(None, request=object())
    recorder.assert_not_sent(got_request_exception)


# -- Starlette and FastAPI need nothing ----------------------------------------------


def make_starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from reqsignals.asgi import SignalsMiddleware as ASGIMiddleware

    async def boom(request: Request) -> Response:
        raise LookupError("raised by a Starlette endpoint")

    return Starlette(routes=[Route("/boom", boom)], middleware=[Middleware(ASGIMiddleware)])


def make_fastapi() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/boom")
    async def boom() -> None:
        raise LookupError("raised by a FastAPI endpoint")

    return wrap(app)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(make_starlette, "raised by a Starlette endpoint", id="starlette"),
        pytest.param(make_fastapi, "raised by a FastAPI endpoint", id="fastapi"),
    ],
)
def test_starlette_and_fastapi_need_no_integration(
    recorder: Capture, make: Any, message: str
) -> None:
    response = asyncio.run(aget(make(), "/boom", raise_app_exceptions=False))
    assert response.status_code == 500
    assert_one_exception(recorder, LookupError, message)
    recorder.assert_order(request_started, got_request_exception, request_finished)


# -- the hand-off itself -------------------------------------------------------------


def test_report_handled_exception_is_once_per_request(recorder: Capture) -> None:
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET"}
    first, second = ValueError("first"), ValueError("second")
    report_handled_exception(environ, first, sender="app")
    report_handled_exception(environ, second, sender="app")
    [sent] = recorder.of(got_request_exception)
    assert sent.kwargs == {"environ": environ, "exception": first}
    assert sent.sender == "app"


def test_report_handled_exception_without_middleware_on_a_scope(recorder: Capture) -> None:
    scope: dict[str, Any] = {"type": "http"}
    exc = ValueError("no middleware")
    report_handled_exception(scope, exc, sender="fallback")
    recorder.assert_sent(got_request_exception, sender="fallback", scope=scope, exception=exc)


def test_report_handled_exception_strict_middleware_propagates_receiver_errors() -> None:
    def failing(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver failed")

    mw = SignalsMiddleware(lambda e, s: [], sender="strict-app", strict=True)
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "reqsignals.signals_sent": mw}
    with got_request_exception.connected_to(failing), pytest.raises(RuntimeError):
        report_handled_exception(environ, ValueError("x"), sender="ignored")


def test_report_handled_exception_logs_when_async_receivers_cannot_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def async_receiver(sender: Any, **kwargs: Any) -> None:
        pass

    async def inside_a_loop() -> None:
        report_handled_exception({"type": "http"}, ValueError("x"), sender="app")

    with got_request_exception.connected_to(async_receiver):
        asyncio.run(inside_a_loop())
    assert "got_request_exception not sent" in caplog.text
