"""The visitor's receipt: their own records as a page and as JSON."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from consentgate.consentlog import ConsentEntry, StoredConsentLog, open_log
from consentgate.consentlog.receipt import receipt_response
from consentgate.i18n import texts_for
from consentgate.pages import Renderer
from consentgate.views import Urls

WHEN = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
TITLES = {"necessary": "Strictly necessary", "analytical": "Statistics", "youtube": "YouTube"}


def choice(consent_id: str, source: str = "banner", **fields: Any) -> ConsentEntry:
    values: dict[str, Any] = {
        "granted": ("necessary", "analytical"),
        "refused": ("marketing",),
        "services": (),
        **fields,
    }
    return ConsentEntry(
        consent_id=consent_id,
        time=WHEN,
        revision="r7",
        texts_hash="c" * 64,
        source=source,
        **values,
    )


def render(receipt: dict[str, Any]) -> str:
    _, texts = texts_for(None)
    urls = Urls("/cg/consent", "/cg/preferences", "/cg/banner", "/cg/receipt", "/cg/static", "/p")
    context = {"t": texts, "lang": "en", "urls": urls, "css_url": "/cg/static/c.css", "next": "/"}
    return Renderer().render("receipt.html", {**context, "receipt": receipt})


@pytest.fixture
def log_options() -> dict[str, Any]:
    """The ``log`` fixture (conftest.py) keeps visitors' IP addresses here."""
    return {"store_ip": True}


def answer(log: Any, consent_id: str | None, *, want_json: bool) -> tuple[int, str, Any]:
    response = asyncio.run(
        receipt_response(log, consent_id, want_json=want_json, render_html=render, titles=TITLES)
    )
    return response.status_code, bytes(response.body).decode(), response.headers


def test_json_receipt_lists_the_visitors_records_only(log: StoredConsentLog) -> None:
    log.append_sync(choice("me"))
    log.append_sync(choice("someone-else"))
    log.append_sync(choice("me", "withdrawal", granted=("necessary",), refused=("analytical",)))

    status, body, headers = answer(log, "me", want_json=True)

    assert status == 200
    assert headers["cache-control"] == "no-store"
    data = json.loads(body)
    assert data["consent_id"] == "me"
    assert [(r["seq"], r["source"]) for r in data["records"]] == [(1, "banner"), (3, "withdrawal")]
    assert data["records"][0]["granted"] == ["analytical", "necessary"]
    assert data["records"][0]["time"] == "2026-11-23T09:30:00.000000Z"
    assert len(data["records"][0]["hash"]) == 64


def test_html_receipt_shows_each_choice_newest_first(log: StoredConsentLog) -> None:
    log.append_sync(choice("me", services=("youtube",), ip="198.51.100.23"))
    log.append_sync(choice("me", "preferences", granted=("necessary",)))

    status, body, headers = answer(log, "me", want_json=False)

    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert headers["x-robots-tag"] == "noindex"
    assert body.index('id="record-1.2"') < body.index('id="record-1.1"')
    assert "#1.2, " in body
    assert "Cookie settings page" in body and "Cookie banner" in body
    assert "Statistics, Strictly necessary" in body  # titles, not internal names
    assert "YouTube" in body and "198.51.100.0" in body and "198.51.100.23" not in body
    assert 'href="/cg/receipt?format=json"' in body
    assert "<script" not in body  # nothing inline: strict CSP


def test_receipt_without_a_cookie_or_records_says_so(log: StoredConsentLog) -> None:
    for consent_id in (None, "unknown"):
        status, body, _ = answer(log, consent_id, want_json=False)
        assert status == 200
        assert "No choice made in this browser is on record." in body
        status, body, _ = answer(log, consent_id, want_json=True)
        assert json.loads(body) == {"consent_id": consent_id, "records": []}


def test_visitor_text_is_escaped(tmp_path: Path) -> None:
    with open_log(tmp_path / "log.sqlite3", store_user_agent=True) as log:
        log.append_sync(choice("<b>id</b>", user_agent='<img src=x onerror="alert(1)">'))
        _, body, _ = answer(log, "<b>id</b>", want_json=False)

    assert "<img" not in body and "<b>id" not in body
    assert "&lt;img src=x" in body and "&lt;b&gt;id&lt;/b&gt;" in body


def test_unreadable_log_answers_503_not_an_empty_receipt(tmp_path: Path) -> None:
    broken = open_log(tmp_path / "missing-dir" / "log.sqlite3")

    for want_json in (True, False):
        status, body, headers = answer(broken, "me", want_json=want_json)
        assert status == 503
        assert "cannot be read" in body
        assert headers["cache-control"] == "no-store"
