"""Coverage of the built-in registry on ../shared/bench-pages: what a visitor without consent gets.

A *tracker reference* is a live script (src or inline snippet), iframe, image, source or resource
hint that the independent list in tests/pages/tracker-hosts.txt (and the snippet markers of
tests/test_rewriter_pages.py) calls a tracker; every other live reference (the page's own
scripts, images, styles, iframes) must stay untouched. Both sides are read with an HTML5 parser
(lexbor, via selectolax), not with consentgate's tokenizer.

Run: .venv/bin/python bench/coverage.py [pages-dir]
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench_pages import bench_pages  # noqa: E402
from test_rewriter_pages import live_references  # noqa: E402

from consentgate.html import Gate  # noqa: E402
from consentgate.policy import Policy  # noqa: E402
from consentgate.vendors import BUILTIN_VENDORS  # noqa: E402

PAGES = bench_pages()


@dataclass
class PageCoverage:
    name: str
    trackers: int
    trackers_left: int
    others: int
    others_kept: int
    leftovers: list[tuple[str, str]]
    broken: list[tuple[str, str]]


def measure(path: Path, gate: Gate) -> PageCoverage:
    html = path.read_bytes()
    rewriter = gate.rewriter(frozenset())
    assert rewriter is not None
    out = rewriter.feed(html) + rewriter.close()
    before, after = live_references(html), Counter(live_references(out))
    trackers = [(t, u) for t, u, is_tracker in before if is_tracker]
    others = [(t, u) for t, u, is_tracker in before if not is_tracker]
    left = Counter(trackers) & Counter((t, u) for (t, u, x), n in after.items() for _ in range(n))
    kept = Counter(others) & Counter((t, u) for (t, u, x), n in after.items() for _ in range(n))
    return PageCoverage(
        path.name,
        len(trackers),
        sum(left.values()),
        len(others),
        sum(kept.values()),
        sorted(left),
        sorted(set(others) - set(kept)),
    )


def measure_all(pages: Path = PAGES) -> list[PageCoverage]:
    gate = Gate(Policy(vendors=BUILTIN_VENDORS))
    return [measure(p, gate) for p in sorted(pages.glob("*.html"))]


def totals(rows: list[PageCoverage]) -> tuple[float, float]:
    trackers = sum(r.trackers for r in rows)
    inert = trackers - sum(r.trackers_left for r in rows)
    others = sum(r.others for r in rows)
    kept = sum(r.others_kept for r in rows)
    return inert / trackers * 100, kept / others * 100


def main() -> None:
    pages = Path(sys.argv[1]) if len(sys.argv) > 1 else PAGES
    if not pages.is_dir():
        sys.exit(f"no bench pages at {pages}")
    rows = measure_all(pages)
    print(f"{'page':28} {'trackers':>8} {'inert':>6} {'others':>7} {'kept':>6}")
    for r in rows:
        inert = r.trackers - r.trackers_left
        print(f"{r.name:28} {r.trackers:8} {inert:6} {r.others:7} {r.others_kept:6}")
    inert_pct, kept_pct = totals(rows)
    trackers = sum(r.trackers for r in rows)
    others = sum(r.others for r in rows)
    print(f"\ntracker references made inert: {inert_pct:.1f}% of {trackers} (target >= 95%)")
    print(f"other live references untouched: {kept_pct:.1f}% of {others} (target >= 98%)")
    if "-v" in sys.argv:
        for r in rows:
            for tag, url in r.leftovers:
                print(f"  left live  {r.name}: {tag} {url[:100]!r}")
            for tag, url in r.broken:
                print(f"  gated other {r.name}: {tag} {url[:100]!r}")


if __name__ == "__main__":
    main()
