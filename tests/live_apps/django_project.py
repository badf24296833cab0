"""The one Django configuration of a test process or of a test server subprocess.

Every test module that serves a Django app calls :func:`configure`, so whichever runs
first, Django is configured the same way: the URLconf below routes the WSGI tests',
the ASGI tests' and the integration tests' views.
"""

from __future__ import annotations

import django
from django.conf import settings

URLCONF = "tests.live_apps.django_urls"


def configure() -> None:
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="reqsignals-tests-only",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=URLCONF,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={},
        USE_TZ=True,
        LOGGING_CONFIG=None,
    )
    django.setup()
