"""The cost of a response carrying 30 ``Set-Cookie`` headers, in process, against the bare app.

    python bench/setcookie.py [--seconds 6]

A raw ASGI app answers a small JSON body with 30 ``Set-Cookie`` headers: 10 of the built-in
registry's cookies (``_ga``, ``_fbp`` …), 10 the Open Cookie Database alone knows (``_gcl_au``,
``ABTasty`` …, a prefix pattern among them) and 10 of the site's own that nobody lists
(``session``, ``csrftoken`` …). Three visitors, each through ``ConsentMiddleware`` and the bare
app: one without a choice (everything optional dropped), one who granted everything, and one
whose request carries no consent cookie at all and whose response has no cookie to gate (the
floor: a JSON response without ``Set-Cookie``). Batches of ~10 ms are taken in turn for
``--seconds``; each figure compares the fastest batch of each side (a shared machine's other
work only ever adds time): wrapped time / bare time (1.00x = no cost), and the microseconds the
middleware adds to a request.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consentgate import ConsentMiddleware  # noqa: E402
from consentgate.consent import Consent  # noqa: E402

SECRET = "bench-secret-not-for-production-use"
REGISTRY = ["_ga", "_ga_ABC123", "_gid", "_fbp", "_ym_uid", "_hjSessionUser_1", "_clck", "IDE"]
REGISTRY += ["__utma", "_gcl_aw"]
DATABASE = ["_gcl_au", "1P_JAR", "ABTasty", "_pk_id.1.1fff", "AMCV_ABC", "mp_123_mixpanel"]
DATABASE += ["_uetsid", "s_vi", "TDID", "_cs_id"]
OWN = ["session", "csrftoken", "theme", "lang", "cart", "sid", "remember_me", "ab", "xsrf"]
OWN += ["flash"]
NAMES = REGISTRY + DATABASE + OWN
BODY = b'{"ok": true}'

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def make_app(cookies: int) -> App:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"12")]
    headers += [
        (b"set-cookie", f"{n}=v{i}; Path=/; Max-Age=3600; SameSite=Lax".encode())
        for i, n in enumerate(NAMES[:cookies])
    ]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": BODY})

    return app


def scope_for(cookie: bytes | None) -> dict[str, Any]:
    headers = [(b"host", b"example.com"), (b"accept", b"*/*")]
    if cookie:
        headers.append((b"cookie", cookie))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": "/api",
        "raw_path": b"/api",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("example.com", 443),
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    return None


async def batch(app: App, scope: dict[str, Any], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        await app(dict(scope), _receive, _send)
    return time.perf_counter() - start


def cases() -> dict[str, tuple[App, App, dict[str, Any]]]:
    wrapped = ConsentMiddleware(make_app(30), secret_key=SECRET, consent_log=None)
    everything = wrapped.codec.dumps(
        Consent(granted=wrapped.policy.names, decided=True, revision=wrapped.policy.revision)
    )
    granted_cookie = f"{wrapped.cookie.full_name}={everything}".encode()
    bare_json = make_app(0)
    floor = ConsentMiddleware(bare_json, secret_key=SECRET, consent_log=None)
    return {
        "30 Set-Cookie, visitor without a choice": (make_app(30), wrapped, scope_for(None)),
        "30 Set-Cookie, everything granted": (make_app(30), wrapped, scope_for(granted_cookie)),
        "no Set-Cookie (floor)": (bare_json, floor, scope_for(None)),
    }


async def measure(seconds: float) -> None:
    for label, (bare, wrapped, scope) in cases().items():
        count = 1
        while await batch(wrapped, scope, count) < 0.01:  # batches of ~10 ms
            count *= 2
        bare_times, wrapped_times = [], []
        deadline = time.perf_counter() + seconds / 3
        while time.perf_counter() < deadline:
            bare_times.append(await batch(bare, scope, count) / count)
            wrapped_times.append(await batch(wrapped, scope, count) / count)
        # The fastest batch of each: on a shared machine other work only ever adds time.
        b, w = min(bare_times), min(wrapped_times)
        print(
            f"{label:45} {w / b:6.2f}x the bare app, +{(w - b) * 1e6:6.1f} µs a request "
            f"(bare {b * 1e6:.2f} µs; fastest of {len(bare_times)} batch pairs)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    logging.getLogger("consentgate").setLevel(logging.ERROR)  # (consent_log=None's warning)
    asyncio.run(measure(args.seconds))


if __name__ == "__main__":
    main()
