"""Peak memory of the rewriter streaming a big page in small chunks.

    .venv/bin/python bench/memory.py [pages-dir]

Streams synth-big.html (~2 MB) in 1 KB chunks, then the same page repeated to ~50 MB, for a
visitor without consent, and prints the peak traced memory (tracemalloc) of the rewriting alone:
it should stay near the size of the page's largest element, not grow with the page.
"""

from __future__ import annotations

import re
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_pages import bench_pages  # noqa: E402

from consentgate.html import Gate  # noqa: E402
from consentgate.policy import Policy  # noqa: E402
from consentgate.vendors import BUILTIN_VENDORS  # noqa: E402

DEFAULT_PAGES = bench_pages()
CHUNK = 1024


def chunks(page: bytes, repeat: int) -> Iterator[bytes]:
    for _ in range(repeat):
        for i in range(0, len(page), CHUNK):
            yield page[i : i + CHUNK]


def peak_streaming(gate: Gate, page: bytes, repeat: int) -> tuple[int, int]:
    """(peak traced bytes while streaming, bytes emitted)."""
    rewriter = gate.rewriter(frozenset())
    assert rewriter is not None
    emitted = 0
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        for chunk in chunks(page, repeat):
            emitted += len(rewriter.feed(chunk))
        emitted += len(rewriter.close())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, emitted


def largest_script(page: bytes) -> int:
    return max(
        (len(m.group()) for m in re.finditer(rb"<script\b.*?</script\s*>", page, re.S | re.I)),
        default=0,
    )


def main() -> None:
    pages = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PAGES
    page = (pages / "synth-big.html").read_bytes()
    gate = Gate(Policy(vendors=BUILTIN_VENDORS))
    largest = largest_script(page)
    print(
        f"synth-big.html: {len(page) / 1e6:.2f} MB, largest <script> element "
        f"{largest / 1e3:.0f} KB, fed in {CHUNK} B chunks"
    )
    for repeat in (1, 25):
        peak, emitted = peak_streaming(gate, page, repeat)
        print(
            f"  {len(page) * repeat / 1e6:6.1f} MB streamed -> {emitted / 1e6:6.1f} MB out, "
            f"peak traced memory {peak / 1e3:8.0f} KB "
            f"({peak / largest:.1f}x the largest element)"
        )


if __name__ == "__main__":
    main()
