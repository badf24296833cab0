"""The URLconf of tests/live_apps/django_project.py: every test Django view, by prefix."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from tests.live_apps.asgi_django import urlpatterns as asgi_patterns
from tests.live_apps.wsgi_apps_django import urlpatterns as wsgi_patterns


def contrib_boom(request: HttpRequest) -> HttpResponse:
    raise LookupError("raised by a Django view")


def contrib_ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok")


urlpatterns = [
    *wsgi_patterns,
    *asgi_patterns,
    path("contrib/boom", contrib_boom),
    path("contrib/ok", contrib_ok),
]
