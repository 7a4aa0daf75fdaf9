"""Rewriter throughput on ../shared/bench-pages, against a byte-scan floor and a C HTML parser.

    .venv/bin/python bench/rewrite.py [pages-dir] [--repeat N]

For a visitor who granted nothing (the rewriter's full work) it prints MB/s of:
- the rewriter, fed each page whole and in 4 KB chunks (output identical either way);
- ``bytes.count(b"<")`` over the same bytes: the floor any HTML scan must pay;
- selectolax (lexbor, C) parse + serialize: a full parser as the peer;
and the ratios between them. Best of N runs each, in process CPU time (the figures stay stable
when other work shares the machine); no assertions: CI does not time anything.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consentgate.policy import Policy  # noqa: E402
from consentgate.rewriter import Gate  # noqa: E402
from consentgate.vendors import BUILTIN_VENDORS  # noqa: E402

DEFAULT_PAGES = ROOT.parent / "shared" / "bench-pages"
NOTHING: frozenset[str] = frozenset()
FLOOR = 'bytes.count(b"<") floor'


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

    mbs = {
        "rewriter (whole pages)": total / best_of(repeat, rewrite_whole) / 1e6,
        "rewriter (4 KB chunks)": total / best_of(repeat, rewrite_chunked) / 1e6,
        FLOOR: total / best_of(repeat, floor) / 1e6,
    }
    try:
        from selectolax.lexbor import LexborHTMLParser
    except ImportError:
        print("note: selectolax is not installed (pip install selectolax): no parser peer figure")
    else:

        def selectolax() -> None:
            for page in pages:
                LexborHTMLParser(page).html  # noqa: B018 - serializing is the measured work

        mbs["selectolax parse+serialize"] = total / best_of(repeat, selectolax) / 1e6
    fast = best_of(repeat, granted_all) / len(pages) * 1e6

    print(f"corpus: {len(pages)} pages, {total / 1e6:.1f} MB, visitor without consent, "
          f"best of {repeat}")
    for name, value in mbs.items():
        print(f"  {name:28} {value:9.0f} MB/s")
    ours = mbs["rewriter (whole pages)"]
    print(f"  rewriter / floor:            {ours / mbs[FLOOR]:.3f}")
    if "selectolax parse+serialize" in mbs:
        print(f"  rewriter / selectolax:       {ours / mbs['selectolax parse+serialize']:.2f}x")
    print(f"  everything granted: rewriter() returns None in {fast:.2f} us (no parsing)")
    print(f"  target: >= 200 MB/s -> {'met' if ours >= 200 else 'NOT met'}")


if __name__ == "__main__":
    main()
