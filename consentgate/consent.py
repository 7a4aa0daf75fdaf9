"""The visitor's consent state, as application code sees it."""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .policy import NECESSARY

SCOPE_KEY = "consentgate"


@dataclass(frozen=True, slots=True)
class Consent:
    """What a visitor has granted.

    ``decided`` is true only when a valid choice for the *current* policy revision exists.
    Without one, only required categories are granted (privacy fails closed); ``previous`` then
    holds a choice made for an older revision, for pre-filling the banner.
    """

    granted: frozenset[str] = frozenset({NECESSARY})
    #: Vendor ids granted one by one, without their whole category.
    services: frozenset[str] = frozenset()
    revision: str | None = None
    given_at: datetime | None = None
    consent_id: str | None = None
    decided: bool = False
    previous: Consent | None = field(default=None, compare=False)
    #: Stored only to remember that a browser signal's refusal was recorded: not a choice.
    implied: bool = False

    def allows(self, category: str, service: str | None = None) -> bool:
        """True when ``category`` is granted, or ``service`` (a vendor id) was granted alone."""
        return category in self.granted or (service is not None and service in self.services)

    def as_dict(self) -> dict[str, Any]:
        return {
            "decided": self.decided,
            "granted": sorted(self.granted),
            "services": sorted(self.services),
            "revision": self.revision,
            "given_at": self.given_at.isoformat() if self.given_at else None,
            "consent_id": self.consent_id,
        }


UNDECIDED = Consent()

_current: contextvars.ContextVar[Consent] = contextvars.ContextVar("consentgate", default=UNDECIDED)


def get_consent(request_or_scope: Any = None) -> Consent:
    """The consent of the request being served.

    Accepts a Starlette ``Request`` (anything with a ``.scope``), a raw ASGI scope, or nothing
    (then the request running in the current context). Outside ``ConsentMiddleware`` it answers
    "nothing granted but the required categories", never an error.
    """
    scope = getattr(request_or_scope, "scope", request_or_scope)
    if isinstance(scope, Mapping):
        state = scope.get("state")
        if isinstance(state, Mapping):
            consent = state.get(SCOPE_KEY)
            if isinstance(consent, Consent):
                return consent
        return UNDECIDED
    return _current.get()
