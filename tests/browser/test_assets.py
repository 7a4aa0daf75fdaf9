"""The client's weight: JS + CSS as served at most 7 KB gzipped together (issue 17's budget;
vanilla-cookieconsent's are ~15.5 KB)."""

from __future__ import annotations

import gzip

from consentgate.pages import load_assets

from .conftest import ROOT

BUDGET = 7 * 1024


def test_script_and_styles_fit_the_size_budget() -> None:
    served = load_assets()  # what visitors download: without comments and indentation
    total = sum(
        len(gzip.compress(served[name].body, compresslevel=9))
        for name in ("consentgate.js", "consentgate.css")
    )
    assert total <= BUDGET, f"{total} bytes gzipped, budget {BUDGET}"
    # The comments go; every line of code stays.
    for name in ("consentgate.js", "consentgate.css"):
        source = (ROOT / "static" / name).read_bytes()
        assert len(served[name].body) < len(source)
        assert b"/*" not in served[name].body


def test_consent_mode_script_is_small_and_standalone() -> None:
    body = (ROOT / "static" / "consent-mode.js").read_bytes()
    assert len(gzip.compress(body, compresslevel=9)) <= 1024
    # It runs before anything else on the page, so it may not depend on consentgate.js.
    assert b"window.consentgate" not in body
