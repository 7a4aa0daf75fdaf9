"""consentgate's Jinja2 helpers as Chromium reads what they emit."""

from __future__ import annotations

from .conftest import VisitFactory


def test_consent_script_code_cannot_end_its_script_early(visit: VisitFactory) -> None:
    v = visit()
    v.goto("/consent-script")
    page = v.page
    assert page.evaluate("window.__xss") is None  # the <img onerror> never became markup
    # The code ran whole, as written, and the markup after the script is markup again.
    assert page.evaluate("window.__ran") == "</Script><img src=x onerror='window.__xss=1'>"
    assert page.evaluate("window.__after") == "<!--<script>"
    assert page.text_content("#after") == "after the script"
