"""Django app config: add ``"reqsignals.contrib.django"`` to ``INSTALLED_APPS``."""

from __future__ import annotations

from django.apps import AppConfig


class ReqsignalsConfig(AppConfig):  # type: ignore[misc]
    """Connects the exception forwarder when Django starts."""

    name = "reqsignals.contrib.django"
    label = "reqsignals"
    verbose_name = "reqsignals"

    def ready(self) -> None:
        from . import connect

        connect()
