"""The client's weight: JS + CSS at most 6 KB gzipped together."""

from __future__ import annotations

import gzip

from .conftest import ROOT

BUDGET = 6 * 1024


def test_script_and_styles_fit_the_size_budget() -> None:
    total = sum(
        len(gzip.compress((ROOT / "static" / name).read_bytes(), compresslevel=9))
        for name in ("consentgate.js", "consentgate.css")
    )
    assert total <= BUDGET, f"{total} bytes gzipped, budget {BUDGET}"


def test_consent_mode_script_is_small_and_standalone() -> None:
    body = (ROOT / "static" / "consent-mode.js").read_bytes()
    assert len(gzip.compress(body, compresslevel=9)) <= 1024
    # It runs before anything else on the page, so it may not depend on consentgate.js.
    assert b"window.consentgate" not in body
