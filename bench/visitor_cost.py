"""What the middleware adds, for a visitor without a choice, to the rewriter's own work on the
bench pages: in process, a Starlette app, in the same run.

    python bench/visitor_cost.py [--rounds 7] [--pages N]

For each bench page, three things are timed in turn, round after round:

- ``bare``: a Starlette app answering the page's bytes (``Response``), driven in process;
- ``rewriter``: the engine alone on the same bytes (``Gate.rewriter(nothing granted)``,
  ``feed`` + ``close``), as the middleware runs it;
- ``middleware``: the same Starlette app inside ``ConsentMiddleware``, for a visitor without
  the consent cookie (the banner is added, the page gated), with ``Accept-Language`` and
  ``Host`` as browsers send them; each request asks for another path (``/p/<name>?n=…``), as a
  site's visitors do, so that nothing is won by asking for one page again and again.

Each round times every page once on each side (its pages in the same order); the figure of a
side is its fastest round (a shared machine's other work only ever adds time). Printed: the
three totals, the extra work ``middleware - bare``, and its ratio to the rewriter's own
(goal: 1.10× at most, i.e. the middleware's other work within 10 % of the rewriter's).
``--profile`` prints where the extra time goes (cProfile of the middleware side, by own time).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import pstats
import sys
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

from consentgate import ConsentMiddleware  # noqa: E402

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


async def serve(app: App, names: list[str], counter: list[int]) -> float:
    start = time.perf_counter()
    for name in names:
        counter[0] += 1
        await app(scope_for(name, counter[0]), receive, drain)
    return time.perf_counter() - start


def rewrite(middleware: ConsentMiddleware, pages: dict[str, bytes], names: list[str]) -> float:
    gate = middleware.gate
    start = time.perf_counter()
    for name in names:
        rewriter = gate.rewriter(frozenset(), host="www.example.com")
        assert rewriter is not None
        rewriter.feed(pages[name])
        rewriter.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pages", type=int, default=0, help="only the first N pages")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if (why := missing()) is not None:
        sys.exit(why)
    logging.getLogger("consentgate").setLevel(logging.ERROR)  # (consent_log=None warns)
    paths = sorted(bench_pages().glob("*.html"))
    if args.pages:
        paths = paths[: args.pages]
    pages = {p.name: p.read_bytes() for p in paths}
    names = list(pages)
    bare = site(pages)
    middleware = ConsentMiddleware(site(pages), secret_key=SECRET, consent_log=None)
    counter = [0]
    loop = asyncio.new_event_loop()
    # Warm-up: templates compiled, caches as a running site has them.
    loop.run_until_complete(serve(middleware, names, counter))
    loop.run_until_complete(serve(bare, names, counter))
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        loop.run_until_complete(serve(middleware, names, counter))
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    best = {"bare": float("inf"), "rewriter": float("inf"), "middleware": float("inf")}
    for _ in range(args.rounds):
        best["bare"] = min(best["bare"], loop.run_until_complete(serve(bare, names, counter)))
        best["rewriter"] = min(best["rewriter"], rewrite(middleware, pages, names))
        took = loop.run_until_complete(serve(middleware, names, counter))
        best["middleware"] = min(best["middleware"], took)
    loop.close()
    extra = best["middleware"] - best["bare"]
    size = sum(map(len, pages.values())) / 1e6
    print(f"{len(names)} pages, {size:.1f} MB, fastest of {args.rounds} rounds")
    for side, took in best.items():
        print(f"  {side:<11} {took * 1e3:8.1f} ms")
    print(f"  extra work (middleware - bare): {extra * 1e3:.1f} ms")
    print(f"  extra / rewriter's own: {extra / best['rewriter']:.3f}x (goal: 1.10x at most)")
    print(f"  middleware / bare: {best['middleware'] / best['bare']:.2f}x")


if __name__ == "__main__":
    main()
