"""The visitor's copy of the proof: their own records, as a page or as JSON."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.responses import HTMLResponse, JSONResponse, Response

from .records import ConsentRecord
from .store import ConsentLog, ConsentLogError

SOURCE_LABELS: Mapping[str, str] = {
    "banner": "Cookie banner",
    "preferences": "Cookie settings page",
    "withdrawal": "Withdrawal of consent",
    "gpc": "Global Privacy Control signal of your browser",
    "placeholder": "Allowed on a blocked embed",
    "api": "Site script",
}

# Private to one visitor, and stale as soon as they choose again.
_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def receipt_json(consent_id: str | None, records: Sequence[ConsentRecord]) -> dict[str, Any]:
    return {"consent_id": consent_id, "records": [r.as_dict() for r in records]}


def receipt_context(
    consent_id: str | None,
    records: Sequence[ConsentRecord],
    *,
    titles: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What ``templates/consentgate/receipt.html`` shows, as its ``receipt`` variable.

    ``titles`` maps category names and vendor ids to the names the banner shows.
    """
    named = titles or {}

    def names(values: tuple[str, ...]) -> list[str]:
        return [named.get(v, v) for v in values]

    rows = []
    for record in records:
        rows.append(
            {
                # The record's name, chain.seq: a number alone repeats from chain to chain.
                "seq": record.ref,
                "chain": record.chain,
                "time": record.as_dict()["time"],
                "when": record.time.strftime("%Y-%m-%d %H:%M:%S UTC"),
                "source": record.source,
                "source_label": SOURCE_LABELS.get(record.source, record.source),
                "granted": names(record.granted),
                "refused": names(record.refused),
                "services": names(record.services),
                "revision": record.revision,
                "texts_hash": record.texts_hash,
                "user_agent": record.user_agent,
                "ip": record.ip,
                "hash": record.hash,
            }
        )
    return {"consent_id": consent_id, "records": rows}


async def receipt_response(
    log: ConsentLog,
    consent_id: str | None,
    *,
    want_json: bool,
    render_html: Callable[[dict[str, Any]], str],
    titles: Mapping[str, str] | None = None,
) -> Response:
    """The receipt of ``consent_id`` (the one in the visitor's cookie; ``None`` without one).

    ``render_html`` turns :func:`receipt_context`'s result into the page. A failing log answers
    503: saying "no records" then would be false.
    """
    try:
        records = await log.records_for(consent_id) if consent_id else []
    except ConsentLogError:
        message = "The consent records cannot be read right now. Please try again later."
        if want_json:
            return JSONResponse({"error": message}, status_code=503, headers=_HEADERS)
        return Response(message, status_code=503, media_type="text/plain", headers=_HEADERS)
    if want_json:
        return JSONResponse(receipt_json(consent_id, records), headers=_HEADERS)
    html = render_html(receipt_context(consent_id, records, titles=titles))
    return HTMLResponse(html, headers=_HEADERS)
