"""What ``ConsentMiddleware(debug=…)`` costs a request, in process, against the bare app.

    python bench/debug.py [--seconds 6] [--tree PATH]

``--tree`` imports consentgate from another checkout (``git archive <commit> | tar -x -C
PATH``): a tree from before ``debug`` existed runs the ``debug=False`` rows only, for a before
and after taken in turn on the same machine.

A raw ASGI app answers a small JSON body (with one ``Set-Cookie``) and a small HTML page that
loads a vendor's script and a third-party one no rule covers, to a visitor without a choice.
Each goes through ``ConsentMiddleware(debug=False)`` and ``ConsentMiddleware(debug=True)`` (the
inventory's observer, whose logging is silenced here: only the first request of a process logs
anything). Batches of ~10 ms are taken in turn, bare and wrapped, for ``--seconds``; each
figure is the median of the ratios between neighbouring batches (wrapped / bare: 1.00x = no
cost) and the microseconds the middleware adds to a request. ``debug=False`` runs the same
code a request ran before the option existed (the middleware calls the app itself:
``middleware.app is app``), so its figures are the middleware's usual cost.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TREE = sys.argv[sys.argv.index("--tree") + 1] if "--tree" in sys.argv else str(ROOT)
sys.path.insert(0, TREE)

from consentgate import ConsentMiddleware  # noqa: E402

HAS_DEBUG = "debug" in inspect.signature(ConsentMiddleware.__init__).parameters

SECRET = "bench-secret-not-for-production-use"
PAGE = (
    b"<!doctype html><html><head><title>Shop</title>"
    b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
    b'<script src="https://cdn.unknown-stats.example/t.js"></script></head>'
    b"<body>" + b"<p>Some text of the page, and more of it.</p>" * 40 + b"</body></html>"
)
JSON = b'{"ok": true}'

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def make_app(body: bytes, kind: bytes) -> App:
    headers = [
        (b"content-type", kind),
        (b"content-length", str(len(body)).encode()),
        (b"set-cookie", b"basket=1; Path=/"),
    ]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})

    return app


SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "https",
    "path": "/shop",
    "raw_path": b"/shop",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"host", b"example.com"), (b"accept", b"*/*")],
    "client": ("127.0.0.1", 1),
    "server": ("example.com", 443),
}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    return None


async def batch(app: App, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        await app(dict(SCOPE), _receive, _send)
    return time.perf_counter() - start


def cases() -> dict[str, tuple[App, App]]:
    found: dict[str, tuple[App, App]] = {}
    for name, body, kind in (
        ("JSON", JSON, b"application/json"),
        ("HTML", PAGE, b"text/html; charset=utf-8"),
    ):
        bare = make_app(body, kind)
        for debug in (False, True) if HAS_DEBUG else (False,):
            options = {"debug": debug} if HAS_DEBUG else {}
            wrapped = ConsentMiddleware(bare, secret_key=SECRET, consent_log=None, **options)
            found[f"{name}, debug={debug}"] = (bare, wrapped)
    return found


async def measure(seconds: float) -> None:
    table = cases()
    for label, (bare, wrapped) in table.items():
        count = 1
        while await batch(wrapped, count) < 0.01:  # batches of ~10 ms
            count *= 2
        ratios, added = [], []
        deadline = time.perf_counter() + seconds / len(table)
        while time.perf_counter() < deadline:
            b = await batch(bare, count)
            w = await batch(wrapped, count)
            ratios.append(w / b)
            added.append((w - b) / count * 1e6)
        print(
            f"{label:22} {statistics.median(ratios):6.2f}x the bare app, "
            f"+{statistics.median(added):7.1f} µs a request ({len(ratios)} batch pairs)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--tree", help="import consentgate from this directory")
    args = parser.parse_args()
    logging.getLogger("consentgate").setLevel(logging.ERROR)  # (the inventory's lines too)
    asyncio.run(measure(args.seconds))


if __name__ == "__main__":
    main()
