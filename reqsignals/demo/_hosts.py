"""The demo answers only requests addressed to it: a guard against DNS rebinding.

A page on another site can make the browser's address for its own domain point at
127.0.0.1 and then read the demo's pages, the live feed included, as same-origin. The
``Host`` header still names the attacker's domain, so the demo accepts only
``localhost``, IP addresses (which no one can rebind) and the host it was told to
serve on; anything else gets ``400``.
"""

from __future__ import annotations

import ipaddress

from ..types import ASGIApp, Receive, Scope, Send

__all__ = ["HostCheck"]


def _host_name(header: str) -> str:
    """The host of a ``Host`` header, without the port, in lower case."""
    header = header.strip().lower()
    if header.startswith("["):  # an IPv6 literal: [::1]:8000
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostCheck:
    """Pure ASGI middleware: refuse requests whose ``Host`` is not one of ours.

    Args:
        app: the app to guard.
        host: the host the server listens on (``--host``); a name given there is
            accepted too.
    """

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1") -> None:
        self.app = app
        self.names = frozenset({"localhost", _host_name(host)})

    def allowed(self, header: str | None) -> bool:
        """Whether a request with this ``Host`` header is addressed to the demo."""
        if not header:
            return False
        name = _host_name(header)
        return name in self.names or name.endswith(".localhost") or _is_ip(name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            header = None
            for key, value in scope.get("headers", ()):
                if key == b"host":
                    header = value.decode("latin-1")
                    break
            if not self.allowed(header):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                body = b"Invalid Host header: the demo answers only localhost and IP addresses.\n"
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [
                            (b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
