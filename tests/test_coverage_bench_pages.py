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
