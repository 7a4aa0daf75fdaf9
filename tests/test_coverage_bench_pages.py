"""Coverage on 32 real pages (CONSENTGATE_BENCH_PAGES, by default ../shared/bench-pages):
built-in registry only, no consent.

Trackers are counted by the independent list and markers of test_rewriter_pages.py, read with an
HTML5 parser; bench/coverage.py prints the per-page table.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest
from helpers import BENCH_PAGES, ROOT, bench_pages_missing

PAGES = BENCH_PAGES

if (missing := bench_pages_missing()) is not None:
    pytest.skip(missing, allow_module_level=True)

_spec = importlib.util.spec_from_file_location("bench_coverage", ROOT / "bench" / "coverage.py")
assert _spec is not None and _spec.loader is not None
coverage = importlib.util.module_from_spec(_spec)
sys.modules["bench_coverage"] = coverage
_spec.loader.exec_module(coverage)


def test_trackers_are_made_inert_and_other_references_stay_live() -> None:
    rows = coverage.measure_all(PAGES)
    assert len(rows) >= 30
    trackers = sum(r.trackers for r in rows)
    others = sum(r.others for r in rows)
    assert trackers >= 300 and others >= 2000  # the measurement itself found what it should
    inert, kept = coverage.totals(rows)
    print(
        f"\ntracker references inert: {inert:.1f}% of {trackers}; "
        f"other live references untouched: {kept:.1f}% of {others}"
    )
    assert inert >= 95.0, [(r.name, r.leftovers) for r in rows if r.leftovers]
    assert kept >= 98.0, [(r.name, r.broken) for r in rows if r.broken]


def test_real_pages_give_the_same_output_for_any_chunking() -> None:
    import random

    from consentgate.html import Gate
    from consentgate.policy import Policy
    from consentgate.vendors import BUILTIN_VENDORS

    gate = Gate(Policy(vendors=BUILTIN_VENDORS))
    rng = random.Random(7)
    for path in sorted(PAGES.glob("*.html")):
        page = path.read_bytes()
        whole = gate.rewriter(frozenset())
        assert whole is not None
        expected = whole.feed(page) + whole.close()
        assert len(expected) >= len(page)
        rewriter = gate.rewriter(frozenset())
        assert rewriter is not None
        out, pos = [], 0
        while pos < len(page):
            size = rng.choice((1, 2, 3, 7, 64, 1000, 4096, 20000))
            out.append(rewriter.feed(page[pos : pos + size]))
            pos += size
        out.append(rewriter.close())
        assert b"".join(out) == expected, path.name


def test_large_inline_scripts_gated_are_the_ones_the_readme_justifies() -> None:
    # The README lists every gated inline script over 8 KB on these pages and why: a new one
    # (a site's bundle gated for a URL it holds as data) fails here until it is looked at.
    rows = coverage.measure_all(PAGES)
    large = [script for r in rows for script in r.large]
    gated = sorted((s.page, s.service) for s in large if s.service is not None)
    assert gated == [
        ("guardian-1.html", "lotame"),  # createElement + src = "https://tags.crwdcntrl.net/…"
        ("salon-1.html", "new-relic"),  # the NREUM agent snippet
        ("seattletimes-1.html", "new-relic"),
        ("synth-big.html", "lotame"),  # (guardian-1's head script, copied)
    ], [(s.page, s.label, s.signatures) for s in large]
    for script in large:
        assert script.size > coverage.LARGE
        if script.service is not None:
            assert any(": data" not in signature for signature, _ in script.signatures)
    # The Guardian's 321 KB bootstrap names gpt.js as a config value only: it runs.
    (bootstrap,) = [s for s in large if s.label == "<script id=gu>"]
    assert bootstrap.page == "guardian-1.html" and bootstrap.service is None
    assert bootstrap.size > 300_000
    assert bootstrap.signatures == [("'googletagservices.com/tag/js/gpt.js': data", 1)]
