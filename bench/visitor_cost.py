"""What the middleware adds, for a visitor without a choice, to the rewriter's own work on the
bench pages: in process, a Starlette app, in the same run.

    python bench/visitor_cost.py [FOLDER] [--rounds 12] [--first N] [--list-all] [--profile]

For each bench page, three things are timed in turn, round after round:

- ``bare``: a Starlette app answering the page's bytes (``Response``), driven in process;
- ``rewriter``: the engine alone on the same bytes (``Gate.rewriter(nothing granted)``,
  ``feed`` + ``close``), as the middleware runs it;
- ``middleware``: the same Starlette app inside ``ConsentMiddleware``, for a visitor without
  the consent cookie (the banner is added, the page gated), with ``Accept-Language`` and
  ``Host`` as browsers send them; each request asks for another path (``/p/<name>?n=…``), as a
  site's visitors do, so that nothing is won by asking for one page again and again.

Each round takes every page in turn and times it on the three sides one right after the other;
a side's figure is the sum over the pages of each page's fastest time on it (a shared machine's
other work only ever adds time, and comes in bursts: neighbouring timings see the same load).
Printed: the
three totals, the extra work ``middleware - bare``, and its ratio to the rewriter's own
(goal: 1.10x at most, i.e. the middleware's other work within 10 % of the rewriter's).
``--count`` counts instructions instead (valgrind's callgrind; the steadier figure on a busy
machine, where timings swing by 20 %): each side in a process of its own that builds and warms
all three, counted with 0 and with ``--count N`` passes over the pages; the difference is N
passes' work. ``--profile`` prints where the extra time goes (cProfile of the middleware side,
by own time);
``--list-all`` declares every built-in service (``Policy(services=[all 81])``, the banner of
before issue 17: ~35 KB more a page), to show that the listing's size costs little once the
banner is rendered once per language and state.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_pages import bench_pages, missing  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from consentgate import ConsentMiddleware, Policy  # noqa: E402
from consentgate.vendors import BUILTIN_VENDORS  # noqa: E402

SECRET = "bench-secret-not-for-production-use"
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def site(pages: dict[str, bytes]) -> Starlette:
    async def page(request: Request) -> Response:
        return Response(pages[request.path_params["name"]], media_type="text/html; charset=utf-8")

    return Starlette(routes=[Route("/p/{name}", page)])


def scope_for(name: str, n: int) -> dict[str, Any]:
    query = f"n={n}".encode()
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": f"/p/{name}",
        "raw_path": f"/p/{name}".encode(),
        "query_string": query,
        "root_path": "",
        "headers": [
            (b"host", b"www.example.com"),
            (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36"),
            (b"accept", b"text/html,application/xhtml+xml,*/*;q=0.8"),
            (b"accept-language", b"en-US,en;q=0.9"),
            (b"accept-encoding", b"identity"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("www.example.com", 443),
    }


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def drain(message: dict[str, Any]) -> None:
    pass


async def request(app: App, name: str, n: int) -> float:
    start = time.perf_counter()
    await app(scope_for(name, n), receive, drain)
    return time.perf_counter() - start


def rewrite(middleware: ConsentMiddleware, page: bytes) -> float:
    start = time.perf_counter()
    rewriter = middleware.gate.rewriter(frozenset(), host="www.example.com")
    assert rewriter is not None
    rewriter.feed(page)
    rewriter.close()
    return time.perf_counter() - start


def measure(
    bare: App, middleware: ConsentMiddleware, pages: dict[str, bytes], rounds: int
) -> dict[str, float]:
    """Each side's total: per page, its fastest time of ``rounds``."""
    loop = asyncio.new_event_loop()
    best: dict[str, dict[str, float]] = {side: {} for side in ("bare", "rewriter", "middleware")}
    n = 0
    for _ in range(rounds):
        for name, page in pages.items():
            n += 1
            took = {
                "bare": loop.run_until_complete(request(bare, name, n)),
                "rewriter": rewrite(middleware, page),
                "middleware": loop.run_until_complete(request(middleware, name, n)),
            }
            for side, seconds in took.items():
                best[side][name] = min(best[side].get(name, seconds), seconds)
    loop.close()
    return {side: sum(times.values()) for side, times in best.items()}


def profile(middleware: ConsentMiddleware, pages: dict[str, bytes]) -> None:
    loop = asyncio.new_event_loop()
    profiler = cProfile.Profile()
    profiler.enable()
    for n, name in enumerate(pages):
        loop.run_until_complete(request(middleware, name, -n))
    profiler.disable()
    loop.close()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def child(
    side: str, passes: int, middleware: ConsentMiddleware, bare: App, pages: dict[str, bytes]
) -> None:
    """Runs in a process of its own under callgrind: warms every side, then ``passes``
    passes of ``side``."""
    measure(bare, middleware, pages, 1)
    loop = asyncio.new_event_loop()
    for n in range(passes):
        for i, (name, page) in enumerate(pages.items()):
            if side == "rewriter":
                rewrite(middleware, page)
            else:
                app = middleware if side == "middleware" else bare
                loop.run_until_complete(request(app, name, 1_000_000 * (n + 1) + i))
    loop.close()


def count(argv: list[str], passes: int) -> dict[str, float]:
    """Instructions per pass of each side (callgrind, with 0 and ``passes`` passes)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("--count needs valgrind (Debian: apt-get install valgrind)")
    found: dict[str, float] = {}
    for side in ("bare", "rewriter", "middleware"):
        totals = []
        for n in (0, passes):
            with tempfile.TemporaryDirectory() as tmp:
                log = Path(tmp) / "valgrind.log"
                subprocess.run(
                    [
                        valgrind,
                        "--tool=callgrind",
                        "--callgrind-out-file=/dev/null",
                        f"--log-file={log}",
                        sys.executable,
                        __file__,
                        *argv,
                        "--child",
                        side,
                        "--passes",
                        str(n),
                    ],
                    env={**os.environ, "PYTHONHASHSEED": "0"},
                    check=True,
                )
                match = re.search(r"Collected\s*:\s*(\d+)", log.read_text())
                if match is None:
                    sys.exit("callgrind reported no count")
                totals.append(int(match.group(1)))
        found[side] = (totals[1] - totals[0]) / passes
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, help="the bench pages folder")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--first", type=int, default=0, help="only the first N pages")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--list-all", action="store_true")
    parser.add_argument("--count", type=int, default=0, metavar="N")
    parser.add_argument(
        "--child", choices=("bare", "rewriter", "middleware"), help=argparse.SUPPRESS
    )
    parser.add_argument("--passes", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.folder is None and (why := missing()) is not None:
        sys.exit(why)
    logging.getLogger("consentgate").setLevel(logging.ERROR)  # (consent_log=None warns)
    paths = sorted((args.folder or bench_pages()).glob("*.html"))
    if args.first:
        paths = paths[: args.first]
    pages = {p.name: p.read_bytes() for p in paths}
    bare = site(pages)
    listed = [v.id for v in BUILTIN_VENDORS] if args.list_all else []
    middleware = ConsentMiddleware(
        site(pages), secret_key=SECRET, consent_log=None, policy=Policy(services=listed)
    )
    if args.child:
        child(args.child, args.passes, middleware, bare, pages)
        return
    if args.count:
        argv = [
            str(args.folder or bench_pages()),
            *(["--first", str(args.first)] if args.first else []),
        ]
        best = count(argv + (["--list-all"] if args.list_all else []), args.count)
        unit, scale, how = (
            "M instructions",
            1e-6,
            f"instructions per pass (callgrind, {args.count} passes)",
        )
    else:
        measure(bare, middleware, pages, 1)  # warm-up: templates compiled, caches as a site's
        if args.profile:
            profile(middleware, pages)
        best = measure(bare, middleware, pages, args.rounds)
        unit, scale, how = "ms", 1e3, f"fastest of {args.rounds} rounds"
    extra = best["middleware"] - best["bare"]
    size = sum(map(len, pages.values())) / 1e6
    print(f"{len(pages)} pages, {size:.1f} MB, {how}, ", end="")
    print(f"{len(middleware.listed_services())} services listed")
    for side, took in best.items():
        print(f"  {side:<11} {took * scale:8.1f} {unit}")
    print(f"  extra work (middleware - bare): {extra * scale:.1f} {unit}")
    print(f"  extra / rewriter's own: {extra / best['rewriter']:.3f}x (goal: 1.10x at most)")
    print(f"  middleware / bare: {best['middleware'] / best['bare']:.2f}x")


if __name__ == "__main__":
    main()
