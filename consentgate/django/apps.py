from __future__ import annotations

from django.apps import AppConfig


class ConsentgateConfig(AppConfig):
    """The app that holds the ``consentgate`` template tag library (no models, no settings)."""

    name = "consentgate.django"
    label = "consentgate"
    verbose_name = "consentgate"
