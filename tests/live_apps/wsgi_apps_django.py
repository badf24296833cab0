"""URLconf of the Django app in tests/live_apps/wsgi_apps.py (Django imports it by name)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path

from tests.live_apps.wsgi_apps import _stream


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello from django")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(_stream(int(request.GET.get("chunks", "4"))))


urlpatterns = [path("hello", hello), path("stream", stream)]
