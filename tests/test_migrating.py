"""What docs/migrating.md says differs from Django's and blinker's dispatchers, and the
one-line equivalent it gives for each: checked here, against Django and blinker
themselves where the page makes a claim about them, so the page cannot drift."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import blinker
import django.dispatch
import httpx
import pytest
from asgiref.wsgi import WsgiToAsgi

from reqsignals import Signal, request_finished, request_started
from reqsignals.asgi import SignalsMiddleware as ASGISignals
from reqsignals.testing import capture
from reqsignals.wsgi import SignalsMiddleware as WSGISignals
from tests.helpers.support import ROOT

PAGE = (ROOT / "docs" / "migrating.md").read_text()


class Model:
    pass


class Other:
    pass


def listener(sender: Any, **kwargs: Any) -> None:
    pass


def test_has_listeners_with_no_argument_means_any_receiver() -> None:
    sig = Signal("saved")
    dj = django.dispatch.Signal()
    sig.connect(listener, sender=Model)
    dj.connect(listener, sender=Model)
    assert sig.has_listeners() is True  # any receiver at all
    assert dj.has_listeners() is False  # Django: only receivers for every sender
    assert sig.has_listeners(None) is False  # the one-line equivalent of Django's
    assert "`sig.has_listeners(None)`" in PAGE


def test_a_receiver_without_kwargs_is_a_type_error_at_connect() -> None:
    def no_kwargs(sender: Any) -> None:
        pass  # pragma: no cover - never connected

    with pytest.raises(TypeError, match=r"add \*\*kwargs to its parameters"):
        Signal("saved").connect(no_kwargs)
    assert "def no_kwargs(sender, **kwargs)" in PAGE


def test_the_first_argument_of_signal_is_its_name_not_its_doc() -> None:
    text = "Sent when a model is saved."
    assert blinker.Signal(text).__doc__ == text
    sig = Signal(text)
    assert sig.name == text
    assert sig.__doc__ != text
    assert Signal(doc=text).__doc__ == text  # the equivalent
    assert '`Signal(doc="...")`' in PAGE


def test_disconnect_without_a_sender_removes_only_the_every_sender_connection() -> None:
    sig = Signal("saved")
    bl = blinker.Signal()
    for connect in (sig.connect, bl.connect):
        connect(listener)
        connect(listener, sender=Model)
    sig.disconnect(listener)
    bl.disconnect(listener)
    assert sig.has_listeners(Model)  # still connected for Model
    assert not sig.has_listeners(Other)
    assert not bl.has_receivers_for(Model)  # blinker: every connection is gone
    for sender in (None, Model):  # the equivalent, as the page writes it
        sig.disconnect(listener, sender=sender)
    assert not sig.has_listeners()
    assert "for sender in (None, Model):" in PAGE


def test_a_receiver_connected_for_every_sender_and_for_one_is_called_twice() -> None:
    calls: list[str] = []

    def heard(sender: Any, **kwargs: Any) -> None:
        calls.append("heard")

    sig = Signal("saved")
    dj = django.dispatch.Signal()
    bl = blinker.Signal()
    for connect in (sig.connect, dj.connect, bl.connect):
        connect(heard)
        connect(heard, sender=Model)
    sig.send(Model)
    assert calls == ["heard", "heard"]
    calls.clear()
    dj.send(Model)
    assert calls == ["heard", "heard"]  # as Django
    calls.clear()
    bl.send(Model)
    assert calls == ["heard"]  # blinker: once
    calls.clear()
    sig.send(Other)
    assert calls == ["heard"]


# -- WSGI apps behind an ASGI adapter ------------------------------------------------------


class Body:
    """A WSGI response body that notes when the server closes it."""

    def __init__(self, closed: list[bool]) -> None:
        self.closed = closed

    def __iter__(self) -> Iterator[bytes]:
        yield b"hello"

    def close(self) -> None:
        self.closed.append(True)


def closing_app(closed: list[bool]) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body(closed)

    return app


def starlette_wsgi_middleware(app: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette deprecates it in favour of a2wsgi
        from starlette.middleware.wsgi import WSGIMiddleware
    return WSGIMiddleware(app)


def get(app: Any) -> str:
    async def go() -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return (await client.get("/")).text

    return asyncio.run(go())


ADAPTERS = [
    pytest.param(WsgiToAsgi, id="asgiref-WsgiToAsgi"),
    pytest.param(starlette_wsgi_middleware, id="starlette-WSGIMiddleware"),
]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_asgi_adapters_never_close_the_wsgi_response(adapter: Any) -> None:
    closed: list[bool] = []
    inner = WSGISignals(closing_app(closed))
    with capture(request_started, request_finished) as sent:
        assert get(adapter(inner)) == "hello"
    assert closed == []
    assert sent.names == ["request_started"]  # so the WSGI middleware never finishes
    assert "Wrap the ASGI side of the adapter" in PAGE


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_wrapping_the_asgi_side_of_an_adapter_finishes_every_request(adapter: Any) -> None:
    closed: list[bool] = []
    with capture(request_started, request_finished) as sent:
        assert get(ASGISignals(adapter(closing_app(closed)))) == "hello"
    sent.assert_order(request_started, request_finished)
    sent.assert_sent(request_finished, status=200)
    assert "SignalsMiddleware(WsgiToAsgi(wsgi_app))" in PAGE
