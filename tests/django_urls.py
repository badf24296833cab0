"""The URLconf of tests/django_project.py: every test Django view, by prefix."""

from __future__ import annotations

from tests.asgi_django import urlpatterns as asgi_patterns
from tests.wsgi_apps_django import urlpatterns as wsgi_patterns

urlpatterns = [*wsgi_patterns, *asgi_patterns]
