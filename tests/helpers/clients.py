"""A sync client of one app in this process, WSGI or ASGI alike."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from reqsignals.auth import SessionAuth


class InProcessClient:
    """A sync httpx client of *app*, whose session auth is *auth*: a WSGI app through
    httpx's WSGI transport, an ASGI app (*asgi*) through its ASGI transport on an event
    loop of the client's own (``loop``). *raise_app_exceptions* goes to the transport."""

    def __init__(
        self,
        app: Any,
        auth: SessionAuth,
        *,
        asgi: bool,
        base_url: str = "http://testserver",
        raise_app_exceptions: bool = True,
    ) -> None:
        self.app = app
        self.auth = auth
        self.is_asgi = asgi
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        self._client: httpx.Client | httpx.AsyncClient
        if asgi:
            self.loop = asyncio.new_event_loop()
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
            self._client = httpx.AsyncClient(transport=transport, base_url=base_url)
        else:
            wsgi = httpx.WSGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
            self._client = httpx.Client(transport=wsgi, base_url=base_url)

    @property
    def cookies(self) -> httpx.Cookies:
        return self._client.cookies

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if self.loop is not None:
            assert isinstance(self._client, httpx.AsyncClient)
            return self.loop.run_until_complete(self._client.request(method, url, **kwargs))
        assert isinstance(self._client, httpx.Client)
        return self._client.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self, *, store: bool = True) -> None:
        """Close the client (once), and the store too unless *store* is false (shared)."""
        if self.closed:
            return
        self.closed = True
        if self.loop is not None:
            assert isinstance(self._client, httpx.AsyncClient)
            self.loop.run_until_complete(self._client.aclose())
            if store:
                self.loop.run_until_complete(self.auth.store.aclose())
            self.loop.close()
        else:
            assert isinstance(self._client, httpx.Client)
            self._client.close()
            if store:
                self.auth.store.close()
