"""Every benchmark in one run, on ../shared/bench-pages (or the folder given), one after another:

    .venv/bin/python bench/run.py [--pages DIR] [--quick] [--load]

1. rewrite.py    - the rewriter's MB/s against a byte-scan floor and selectolax (the C peer);
2. memory.py     - peak memory streaming synth-big.html (and ~50 MB of it) in small chunks;
3. coverage.py   - trackers made inert / other references untouched, built-in registry only;
4. throughput.py - the middleware in process and under uvicorn over loopback, against the bare
                   app and peer middlewares;
5. instructions.py - instructions per request under uvicorn, counted by valgrind's callgrind
                   (the steady figure; skipped with a note when valgrind is not installed);
6. linear.py     - CPU time of the inputs that once cost more than linear time, at 1x, 4x and 16x
                   their size: each step's ratio should be ~4x (needs no bench pages);
6b. setcookie.py - a response with 30 Set-Cookie headers against the bare app (needs no pages);
6c. visitor_cost.py - for a visitor without a choice, the middleware's extra work on the bench
                   pages over the rewriter's own (goal: 1.10x at most);
7. load.py       - with ``--load`` only (~80 s, ~50 s with ``--quick``): the demo site under
                   uvicorn (h11, then httptools) driven by concurrent visitors: no error, no live
                   tracker without consent, requests/s, latency, the server's memory over the run.

Each script prints its own ratios; every loop in them is bounded in time. ``--quick`` shortens
the timed parts (fewer repeats, shorter rounds) for a smoke run; the README's figures come from
full runs. Exits non-zero when a script fails.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench_pages import bench_pages

BENCH = Path(__file__).resolve().parent
DEFAULT_PAGES = bench_pages()


def steps(pages: Path, quick: bool, load: bool) -> list[list[str]]:
    return [
        ["rewrite.py", str(pages), "--repeat", "2" if quick else "7"],
        ["memory.py", str(pages)],
        ["coverage.py", str(pages)],
        [
            "throughput.py",
            "--pages",
            str(pages),
            *(["--seconds", "2", "--window", "1"] if quick else []),
        ],
        ["instructions.py", "--pages", str(pages), *(["--requests", "100"] if quick else [])],
        ["linear.py", *(["--quick"] if quick else [])],
        ["setcookie.py", "--seconds", "2" if quick else "6"],
        ["visitor_cost.py", str(pages), "--rounds", "2" if quick else "12"],
        *(
            [["load.py", *(["--seconds", "8", "--requests", "3000"] if quick else [])]]
            if load
            else []
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES)
    parser.add_argument("--quick", action="store_true", help="short rounds, for a smoke run")
    parser.add_argument(
        "--load",
        action="store_true",
        help="also run load.py: the demo site under load (about a minute)",
    )
    args = parser.parse_args()
    if not args.pages.is_dir():
        sys.exit(f"no bench pages at {args.pages}")
    failed = []
    for script, *rest in steps(args.pages, args.quick, args.load):
        if script == "instructions.py" and shutil.which("valgrind") is None:
            print(
                "== instructions.py: skipped, valgrind is not installed "
                "(Debian: apt-get install valgrind)\n",
                flush=True,
            )
            continue
        print(f"== {script} {' '.join(rest)}", flush=True)
        began = time.perf_counter()
        code = subprocess.call([sys.executable, str(BENCH / script), *rest], cwd=BENCH.parent)
        print(
            f"== {script}: {'ok' if code == 0 else f'exit {code}'} "
            f"in {time.perf_counter() - began:.0f} s\n",
            flush=True,
        )
        if code:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
