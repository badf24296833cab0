"""What the uvicorn and hypercorn subprocesses serve in tests/test_asgi_servers.py.

Importing this module connects counting receivers to the three request signals, so
import it only in a server process.
"""

from __future__ import annotations

from reqsignals.asgi import SignalsMiddleware
from reqsignals.types import ASGIApp
from tests.helpers.asgi_stats import connect_counters, with_stats
from tests.live_apps import asgi_apps
from tests.live_apps.asgi_django import application as django_application

apps: dict[str, ASGIApp] = {
    "bare": SignalsMiddleware(asgi_apps.bare),
    "smw": asgi_apps.starlette_with_middleware(),
    "sadd": asgi_apps.starlette_add_middleware(),
    "fastapi": asgi_apps.fastapi_app(),
    "django": SignalsMiddleware(django_application),
    "ws": SignalsMiddleware(asgi_apps.ws_ticker),
}

connect_counters()
app = with_stats(apps)
