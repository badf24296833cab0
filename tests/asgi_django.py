"""A minimal Django project as an ASGI app, under the ``/django/`` prefix.

Importing this module configures Django only if nothing has yet (a server
subprocess); in the test process, use the ``django_urls`` fixture of
``tests/test_asgi.py``, which points ``ROOT_URLCONF`` here with ``override_settings``
whatever another test configured.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="reqsignals-tests-only",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={},
        LOGGING_CONFIG=None,
    )
    django.setup()

from django.core.asgi import get_asgi_application
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path

from tests.asgi_apps import CHUNKS


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
