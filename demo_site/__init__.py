"""A small Starlette site for trying consentgate by hand: ``python -m demo_site``."""

from .app import create_app

__all__ = ["create_app"]
