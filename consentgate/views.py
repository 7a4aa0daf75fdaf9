"""What consentgate's own templates are given: the categories and services as the banner and
the preferences page show them, and the URLs they link to. Plain data, built per request."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .consent import Consent
from .policy import Policy


@dataclass(frozen=True, slots=True)
class Urls:
    consent: str
    preferences: str
    banner: str
    receipt: str
    static: str
    privacy: str


@dataclass(frozen=True, slots=True)
class ServiceView:
    id: str
    name: str
    privacy_url: str
    checked: bool


@dataclass(frozen=True, slots=True)
class CategoryView:
    name: str
    title: str
    description: str
    required: bool
    checked: bool
    services: tuple[ServiceView, ...]


def category_views(policy: Policy, consent: Consent) -> list[CategoryView]:
    """The categories as the banner shows them: pre-filled from the current or previous choice."""
    previous = consent.previous
    # An implied refusal (a recorded browser signal) was no choice: it pre-fills nothing.
    shown = previous if not consent.decided and previous and not previous.implied else consent
    return [
        CategoryView(
            c.name,
            c.title,
            c.description,
            c.required,
            c.required or c.name in shown.granted,
            tuple(
                ServiceView(v.id, v.name, v.privacy_url, v.id in shown.services)
                for v in policy.services(c.name)
            ),
        )
        for c in policy.categories
    ]


def safe_next(candidate: str | None, host: str) -> str:
    """A same-site path to go back to; anything else falls back to ``/``."""
    if not candidate or len(candidate) > 2048 or any(ord(ch) < 32 for ch in candidate):
        return "/"
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return "/"
    foreign = parts.scheme not in ("http", "https") or parts.netloc.lower() != host.lower()
    if (parts.scheme or parts.netloc) and foreign:
        return "/"
    path = parts.path or "/"
    # "//evil.example" and "/\evil.example" are protocol-relative to browsers.
    if not path.startswith("/") or path.startswith("//") or path.startswith("/\\"):
        return "/"
    return path + (f"?{parts.query}" if parts.query else "")
