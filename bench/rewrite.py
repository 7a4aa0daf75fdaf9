"""Rewriter throughput on ../shared/bench-pages, against a byte-scan floor and a C HTML parser.

    .venv/bin/python bench/rewrite.py [pages-dir] [--repeat N]   (N rounds, 7 by default)

For a visitor who granted nothing (the rewriter's full work) it prints MB/s of:
- the rewriter, fed each page whole and in 4 KB chunks (output identical either way);
- ``bytes.count(b"<")`` over the same bytes: the floor any HTML scan must pay;
- selectolax (lexbor, C) parse + serialize: a full parser as the peer;
and the ratios between them: best of N rounds, in process CPU time, each round running every
contender in turn; the ratio to selectolax also as the median of the ratios within a round
(steadier: this machine's speed moves between rounds). No assertions: CI does not time anything.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_pages import bench_pages  # noqa: E402

from consentgate.html import Gate  # noqa: E402
from consentgate.policy import Policy  # noqa: E402
from consentgate.vendors import BUILTIN_VENDORS  # noqa: E402

DEFAULT_PAGES = bench_pages()
NOTHING: frozenset[str] = frozenset()
FLOOR = 'bytes.count(b"<") floor'
PEER = "selectolax parse+serialize"


def best_of(repeat: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 7
    if "--repeat" in sys.argv:
        args.remove(str(repeat))
    pages_dir = Path(args[0]) if args else DEFAULT_PAGES
    pages = [p.read_bytes() for p in sorted(pages_dir.glob("*.html"))]
    if not pages:
        sys.exit(f"no pages in {pages_dir}")
    total = sum(map(len, pages))
    gate = Gate(Policy(vendors=BUILTIN_VENDORS))

    def rewrite_whole() -> list[bytes]:
        outs = []
        for page in pages:
            rewriter = gate.rewriter(NOTHING)
            assert rewriter is not None
            outs.append(rewriter.feed(page) + rewriter.close())
        return outs

    def rewrite_chunked() -> list[bytes]:
        outs = []
        for page in pages:
            rewriter = gate.rewriter(NOTHING)
            assert rewriter is not None
            parts = [rewriter.feed(page[i : i + 4096]) for i in range(0, len(page), 4096)]
            outs.append(b"".join(parts) + rewriter.close())
        return outs

    def granted_all() -> None:
        for _ in pages:
            gate.rewriter(frozenset({"analytical", "preference", "marketing"}))

    def floor() -> None:
        for page in pages:
            page.count(b"<")

    if rewrite_whole() != rewrite_chunked():
        sys.exit("BUG: chunked output differs from whole-page output")

    work: dict[str, Callable[[], object]] = {
        "rewriter (whole pages)": rewrite_whole,
        "rewriter (4 KB chunks)": rewrite_chunked,
        FLOOR: floor,
    }
    try:
        from selectolax.lexbor import LexborHTMLParser
    except ImportError:
        print("note: selectolax is not installed (pip install selectolax): no parser peer figure")
    else:

        def selectolax() -> None:
            for page in pages:
                LexborHTMLParser(page).html  # noqa: B018 - serializing is the measured work

        work[PEER] = selectolax
    # Rounds take each contender in turn: a slow moment of the machine (its speed moves by a
    # quarter here) hits the neighbours in a round alike, so the ratio between two contenders'
    # times in the same round is steadier than the ratio of their bests.
    seconds: dict[str, list[float]] = {name: [] for name in work}
    for _ in range(repeat):
        for name, run in work.items():
            seconds[name].append(best_of(1, run))
    mbs = {name: total / min(times) / 1e6 for name, times in seconds.items()}
    fast = best_of(repeat, granted_all) / len(pages) * 1e6

    print(
        f"corpus: {len(pages)} pages, {total / 1e6:.1f} MB, visitor without consent, "
        f"best of {repeat} rounds"
    )
    for name, value in mbs.items():
        print(f"  {name:28} {value:9.0f} MB/s")
    ours = "rewriter (whole pages)"
    print(f"  rewriter / floor:            {mbs[ours] / mbs[FLOOR]:.3f}")
    if PEER in mbs:
        ratios = sorted(p / o for o, p in zip(seconds[ours], seconds[PEER], strict=True))
        print(
            f"  rewriter / selectolax:       {mbs[ours] / mbs[PEER]:.2f}x by bests, "
            f"{statistics.median(ratios):.2f}x by the median of same-round ratios "
            f"({ratios[0]:.2f}-{ratios[-1]:.2f})"
        )
    print(f"  everything granted: rewriter() returns None in {fast:.2f} us (no parsing)")
    print(f"  target: >= 200 MB/s -> {'met' if mbs[ours] >= 200 else 'NOT met'}")


if __name__ == "__main__":
    main()
