"""What the receivers need to know about a request, whatever form it arrives in.

Request signals carry the WSGI ``environ`` or the ASGI ``scope``; the auth signals carry
the request object the app passed to ``authenticate``/``login``: a Starlette or FastAPI
``Request``, a Werkzeug or Flask request, a scope or an environ. Both kinds of request
object keep the server's mapping at ``.scope`` or ``.environ``, so reading that mapping
covers all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def server_mapping(request: Any) -> Mapping[str, Any]:
    """The ASGI scope or WSGI environ behind *request* (which may be one already);
    an empty mapping for anything else."""
    for attr in ("scope", "environ"):
        mapping = getattr(request, attr, None)
        if isinstance(mapping, Mapping):
            return mapping
    return request if isinstance(request, Mapping) else {}


def method_and_path(mapping: Mapping[str, Any]) -> tuple[str, str]:
    """``(method, path)`` of a scope or an environ; websockets have the method ``"WS"``."""
    if "type" in mapping:  # an ASGI scope
        method = mapping.get("method", "WS" if mapping["type"] == "websocket" else "-")
        return method, mapping.get("path", "")
    return mapping.get("REQUEST_METHOD", "-"), (
        mapping.get("SCRIPT_NAME", "") + mapping.get("PATH_INFO", "")
    )


def client_ip(request: Any) -> str | None:
    """The address of the peer that sent *request*, or ``None`` if the server gave none.

    This is the direct peer: behind a reverse proxy it is the proxy's address. Have the
    server rewrite it from trusted ``X-Forwarded-For`` headers first (uvicorn's
    ``--proxy-headers --forwarded-allow-ips``, Werkzeug's ``ProxyFix``, gunicorn's
    ``--forwarded-allow-ips``); never read those headers here, since any client can send
    them.
    """
    mapping = server_mapping(request)
    if "type" in mapping:
        client = mapping.get("client")
        return str(client[0]) if client else None
    return mapping.get("REMOTE_ADDR") or None
