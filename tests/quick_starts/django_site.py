"""The README's Django quick start (``gunicorn module:application``): settings, URLs, wsgi.py."""

from __future__ import annotations

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path

import reqsignals
from tests.quick_starts import recording  # noqa: F401 - connects the recording receivers

settings.configure(
    DEBUG=False,
    SECRET_KEY="reqsignals-tests-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["reqsignals.contrib.django"],
    MIDDLEWARE=[],
    DATABASES={},
    LOGGING_CONFIG=None,
)
django.setup()


def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"hello")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(iter([b"chunk"] * 3))


urlpatterns = [path("ok", ok), path("boom", boom), path("stream", stream)]

from django.core.wsgi import get_wsgi_application  # noqa: E402 - after settings, as wsgi.py

application = reqsignals.wrap(get_wsgi_application())
