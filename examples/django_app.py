"""A single-file Django project, served as WSGI or ASGI, with its receivers connected
in ``AppConfig.ready()``.

Run it (from the repository root) under a WSGI or an ASGI server::

    gunicorn examples.django_app:wsgi_application
    uvicorn examples.django_app:asgi_application

then ``curl localhost:8000/`` a few times and read the counts at ``/metrics``. Every
request also logs a timing line.

The settings, the app config, the views and the URLconf are all in this module: the
app config is listed in ``INSTALLED_APPS`` by its dotted path
(``examples.django_app.ExampleConfig``), and Django imports this very module as the
app. Both entry points are wrapped with ``reqsignals.wrap``.

Django turns a view's exception into a 500 response itself, so the middleware alone
would see a 500, not the exception; ``reqsignals.contrib.django`` in ``INSTALLED_APPS``
forwards Django's own exception signal, so ``got_request_exception`` reports it.
"""

from __future__ import annotations

import logging
import os

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse
from django.urls import path

import reqsignals
from examples.receivers import timing
from examples.receivers.prometheus import RequestMetrics

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")


class ExampleConfig(AppConfig):
    name = "examples.django_app"
    label = "example"

    def ready(self) -> None:
        # Django calls ready() once per process, after every app is loaded: the place
        # to connect receivers. The app config keeps the metrics object alive.
        self.metrics = RequestMetrics()
        self.metrics.connect()
        timing.connect()


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello from Django\n", content_type="text/plain")


def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    body, content_type = apps.get_app_config("example").metrics.exposition()
    return HttpResponse(body, content_type=content_type)


urlpatterns = [
    path("", index),
    path("metrics", prometheus_metrics),
]

settings.configure(
    DEBUG=os.environ.get("DJANGO_DEBUG") == "1",
    SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "django-insecure-example-only"),
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["reqsignals.contrib.django", f"{__name__}.ExampleConfig"],
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    DATABASES={},
    USE_TZ=True,
)

# get_wsgi_application() sets Django up (the app config's ready() runs here);
# get_asgi_application() finds it set up already.
wsgi_application = reqsignals.wrap(get_wsgi_application())
asgi_application = reqsignals.wrap(get_asgi_application())
