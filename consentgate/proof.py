"""Proof of consent (GDPR Art. 7(1)): every choice is appended to the consent log before it is
confirmed, the refusal a browser signal implies is recorded once per browser, and a visitor can
read their own records (the receipt)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from .consent import Consent
from .consentlog import ConsentEntry, ConsentLog, ConsentLogError, StoredConsentLog
from .consentlog.receipt import receipt_response
from .cookie import new_consent_id
from .policy import Policy

logger = logging.getLogger("consentgate")

#: Seconds a consent log of the site's own may take to store a choice before it is refused.
CUSTOM_LOG_TIMEOUT = 10.0


class NotRecorded(Exception):
    """The log could not store the choice in time: it must not be confirmed."""


class Proof:
    """Writes and reads one consent log for one policy."""

    def __init__(
        self, log: ConsentLog, policy: Policy, texts_hash: Callable[[Headers], str]
    ) -> None:
        self.log = log
        self.policy = policy
        self.texts_hash = texts_hash
        self._failing = False  # (logged once per outage)

    async def record(self, request: Request, consent: Consent, source: str) -> None:
        """Store proof of the choice; a choice that cannot be proven is not confirmed."""
        assert consent.consent_id and consent.given_at
        entry = ConsentEntry(
            consent_id=consent.consent_id,
            time=consent.given_at,
            granted=tuple(sorted(consent.granted)),
            refused=tuple(sorted(self.policy.names - consent.granted)),
            services=tuple(sorted(consent.services)),
            revision=self.policy.revision,
            texts_hash=self.texts_hash(request.headers),
            source=source,
            user_agent=request.headers.get("user-agent"),
            ip=request.client.host if request.client else None,
        )
        try:
            # (The built-in logs bound every wait themselves; a log of the site's own gets this.)
            bound = None if isinstance(self.log, StoredConsentLog) else CUSTOM_LOG_TIMEOUT
            with anyio.fail_after(bound):
                await self.log.append(entry)
        except (ConsentLogError, TimeoutError) as exc:
            # Once per outage: a dead database must not flood the logs with one line a click.
            if not self._failing:
                logger.error(
                    "consentgate: the consent log cannot store choices: %s", exc, exc_info=exc
                )
            self._failing = True
            raise NotRecorded(str(exc)) from exc
        if self._failing:
            logger.warning("consentgate: the consent log stores choices again")
            self._failing = False

    async def record_signal_refusal(
        self, scope: Scope, consent: Consent, honoured: Callable[[Scope], bool]
    ) -> Consent | None:
        """Record, once per browser, the refusal a GPC/DNT signal implies.

        Only for page navigations (not the assets they pull in parallel), and only when the
        signal refused something (``honoured``). Returns the implied consent to store in the
        cookie, so the record is not made again; None when there is nothing to record or it
        failed.
        """
        for name, value in scope["headers"]:  # (no header object for API requests)
            if name == b"accept":
                if value.find(b"text/html") >= 0:
                    break
                return None
        else:
            return None
        if not honoured(scope):
            return None
        implied = Consent(
            granted=consent.granted,
            revision=self.policy.revision,
            given_at=datetime.now(UTC).replace(microsecond=0),
            consent_id=new_consent_id(),
            implied=True,
        )
        try:
            await self.record(Request(scope), implied, source="gpc")
        except NotRecorded:  # already logged; the next page tries again
            return None
        return implied

    async def receipt(
        self, request: Request, consent: Consent, render_html: Callable[[dict[str, Any]], str]
    ) -> Response:
        """The visitor's own consent records, as a page or (``?format=json``) as JSON."""
        shown = consent if consent.consent_id or consent.previous is None else consent.previous
        want_json = request.query_params.get("format") == "json" or (
            "application/json" in request.headers.get("accept", "")
        )
        titles = {c.name: c.title for c in self.policy.categories}
        titles.update({v.id: v.name for v in self.policy.vendors})
        return await receipt_response(
            self.log,
            shown.consent_id,
            want_json=want_json,
            render_html=render_html,
            titles=titles,
        )
