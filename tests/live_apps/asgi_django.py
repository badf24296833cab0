"""A minimal Django project as an ASGI app, under the ``/django/`` prefix.

Importing this module configures Django (tests/live_apps/django_project.py) if nothing has
yet; its views are routed by tests/live_apps/django_urls.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from tests.live_apps.django_project import configure

configure()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

from tests.live_apps.asgi_apps import CHUNKS  # noqa: E402


async def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


async def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


async def stream(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in CHUNKS:
            yield chunk

    return StreamingHttpResponse(chunks(), content_type="text/plain")


urlpatterns = [
    path("django/ok", ok),
    path("django/boom", boom),
    path("django/stream", stream),
]

#: Django's own ASGI handler, unwrapped.
application = get_asgi_application()
