"""What consentgate's own templates are given: the categories and services as the banner and
the preferences page show them, and the URLs they link to. Plain data, built per request."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from .consent import Consent
from .policy import Policy, Vendor


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


def category_views(
    policy: Policy,
    consent: Consent,
    listed: Callable[[str], Sequence[Vendor]] | None = None,
) -> list[CategoryView]:
    """The categories as the banner shows them: pre-filled from the current or previous choice,
    each with its services: those ``listed`` gives (the middleware's ``listed_services``;
    by default the policy's), and any the visitor allowed on their own (from a placeholder),
    so that saving the form does not drop it unseen."""
    previous = consent.previous
    # An implied refusal (a recorded browser signal) was no choice: it pre-fills nothing.
    shown = previous if not consent.decided and previous and not previous.implied else consent
    services = listed or policy.listed_services
    return [
        CategoryView(
            c.name,
            c.title,
            c.description,
            c.required,
            c.required or c.name in shown.granted,
            tuple(
                ServiceView(v.id, v.name, v.privacy_url, v.id in shown.services)
                for v in _with_granted(policy, services(c.name), shown.services, c.name)
            ),
        )
        for c in policy.categories
    ]


def _with_granted(
    policy: Policy, listed: Sequence[Vendor], granted: frozenset[str], category: str
) -> Sequence[Vendor]:
    extra = [
        v for v in policy.vendors if v.id in granted and v.category == category and v not in listed
    ]
    return [*listed, *extra] if extra else listed


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
