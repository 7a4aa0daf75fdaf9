"""FastAPI: the visitor's consent as an endpoint's parameter.

``from consentgate.fastapi import VisitorConsent`` and ``async def page(consent: VisitorConsent)``;
or ``consent: Consent = Depends(consent_of)``. Imported only by FastAPI sites: the rest of
consentgate imports no framework.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from .consent import Consent, get_consent


def consent_of(connection: HTTPConnection) -> Consent:
    """The consent ``ConsentMiddleware`` read for this request (or websocket); "only necessary"
    without the middleware, never an error."""
    return get_consent(connection)


#: An endpoint parameter annotated with it gets the visitor's consent.
VisitorConsent = Annotated[Consent, Depends(consent_of)]
