"""Coverage of the built-in registry on ../shared/bench-pages: what a visitor without consent gets.

A *tracker reference* is a live script (src or inline snippet), iframe, image, source or resource
hint that the independent list in tests/pages/tracker-hosts.txt (and the snippet markers of
tests/test_rewriter_pages.py) calls a tracker; every other live reference (the page's own
scripts, images, styles, iframes) must stay untouched. Both sides are read with an HTML5 parser
(lexbor, via selectolax), not with consentgate's tokenizer.

It also lists every inline script over 8 KB that the rewriter gated, with its size and the
signatures that decided it (a large script is a site's bundle or config more often than a
snippet: each one on this list is justified in the README).

Run: .venv/bin/python bench/coverage.py [pages-dir] [-v]
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench_pages import bench_pages  # noqa: E402
from selectolax.lexbor import LexborHTMLParser  # noqa: E402
from test_rewriter_pages import JS_TYPES, live_references  # noqa: E402

from consentgate.html import Gate  # noqa: E402
from consentgate.html.loaders import why_counted  # noqa: E402
from consentgate.policy import Policy  # noqa: E402
from consentgate.vendors import BUILTIN_VENDORS  # noqa: E402

PAGES = bench_pages()
#: The size over which an inline script is listed: the rewriter's own line between a snippet
#: (any shape of loader counts) and a bundle (URLs as data do not; html/loaders.py).
LARGE = 8 * 1024


@dataclass
class LargeScript:
    """An inline script over LARGE bytes that names a vendor: where, how big, which service
    (None: left live, every URL it names set aside as data), and each signature with why it
    decided (counted) or was set aside, and how often."""

    page: str
    label: str
    size: int
    service: str | None
    signatures: list[tuple[str, int]]


@dataclass
class PageCoverage:
    name: str
    trackers: int
    trackers_left: int
    others: int
    others_kept: int
    leftovers: list[tuple[str, str]]
    broken: list[tuple[str, str]]
    large: list[LargeScript]


def large_scripts(name: str, out: bytes, gate: Gate) -> list[LargeScript]:
    """The inline scripts over LARGE bytes in ``out`` that the rewriter made inert, and those
    left live though they name a vendor's URL (as data)."""
    found = []
    for number, node in enumerate(LexborHTMLParser(out).css("script"), 1):
        attrs = node.attributes
        if "src" in attrs or "data-consent-src" in attrs:
            continue
        gated = "data-consent" in attrs
        if not gated and (attrs.get("type") or "").strip().lower() not in JS_TYPES:
            continue
        code = node.text(deep=True).encode("utf-8")
        if len(code) <= LARGE:
            continue
        counted: Counter[str] = Counter()
        for start, end, url, _ in gate.index.signature_hits(code):
            why = why_counted(code, start, end) if url else "a call or a name"
            counted[f"{code[start:end].decode('utf-8', 'replace')!r}: {why or 'data'}"] += 1
        if not gated and not counted:
            continue
        label = f"<script id={attrs['id']}>" if attrs.get("id") else f"script #{number}"
        service = attrs.get("data-consent-service") or attrs.get("data-consent") or "?"
        found.append(
            LargeScript(name, label, len(code), service if gated else None, sorted(counted.items()))
        )
    return found


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
        large_scripts(path.name, out, gate),
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
    named = [a for a in sys.argv[1:] if not a.startswith("-")]
    pages = Path(named[0]) if named else PAGES
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
    large = [script for r in rows for script in r.large]
    for gated in (True, False):
        chosen = [script for script in large if (script.service is not None) == gated]
        what = "gated" if gated else "left live, naming a vendor's URL as data only"
        print(f"\ninline scripts over {LARGE // 1024} KB {what}: {len(chosen)}")
        for script in chosen:
            service = f", {script.service}" if script.service else ""
            print(f"  {script.page} {script.label}: {script.size / 1024:.1f} KB{service}")
            for signature, n in script.signatures or [("its start tag", 1)]:
                print(f"      {signature} (x{n})")
    if "-v" in sys.argv:
        for r in rows:
            for tag, url in r.leftovers:
                print(f"  left live  {r.name}: {tag} {url[:100]!r}")
            for tag, url in r.broken:
                print(f"  gated other {r.name}: {tag} {url[:100]!r}")


if __name__ == "__main__":
    main()
