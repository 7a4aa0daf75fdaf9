"""Whether each input shape that once cost more than linear time now costs linear time.

    python bench/linear.py [--quick] [--repeat 3] [--budget SECONDS] [--only WORD ...]

Feeds every shape at 1x, 4x and 16x its size, in this process, through the real middleware or
the stage it concerns, and prints the CPU time (``time.process_time``, so time the scheduler
keeps this process off the CPU does not count) of one pass at each size and the ratio of each
step to the one before: linear cost makes each step ~4x, quadratic ~16x. A shape is "linear"
when every step's ratio is under ``--threshold`` (6 by default).

Shapes:
- a withdrawal (``POST /consentgate/consent``, ``action=reject_all``) from a visitor who had
  accepted everything, whose ``Cookie`` header carries ~12 KB / 49 KB / 195 KB of cookies: known
  trackers' (``_ga``, ``_ga_XXXX``, ``_fbp``, ``_gcl_au``, ``_hj…`` …) among many unknown
  ones; the middleware answers with an expired ``Set-Cookie`` for each tracker cookie it saw
  (up to its cap, ``MAX_EXPIRED`` names, where it has one);
- ``HtmlRewriter.feed`` in 4 KB chunks (a visitor who granted only "necessary") of a page that
  is mostly one long piece, 1 / 4 / 16 MB: one start tag whose attribute value holds many
  ``>``; a ``<noscript>`` full of tags; an inline ``<script>``, a ``<style>``, a comment, a
  ``<textarea>`` after an ``<svg>``, each with many ``<`` and ``>``; and plain text. Then the
  shapes ef879d9 made linear (4 MB in 4 KB chunks took 0.5-2.8 s before; 1 MB of many
  attributes ~5 s): a start tag whose single-quoted value holds many ``>``; a start tag of
  very many attributes (``a=b c='>' d=">"`` repeated); a huge end tag whose quoted value
  holds many ``>``: ``</script y='>>>…'>`` after a script, ``</iframe y='…'>`` after an
  iframe, ``</p y=">>>…">``; a ``<script>``, ``<style>`` and ``<noscript>`` whose start tag
  is half the size, full of ``>``, followed by content the other half; and, after an
  ``<svg>`` (from which the rewriter reads such elements' content as markup too), a
  ``<title>``, an ``<iframe>``'s content and a ``<style>``'s content full of ``<``, ``>`` and
  quotes (the last measured linear already before ef879d9, its end search having resumed
  since 0017d59: it stays as a guard). Each page must come out unchanged (nothing in it is a
  tracker);
- a response with 30 / 120 / 480 ``Set-Cookie`` headers (half of them trackers', dropped)
  through the middleware for a visitor who has not chosen yet;
- a streamed HTML page of 1 / 4 / 16 MB (a ~2 KB block with trackers in it, repeated) through
  the whole middleware in 4 KB messages, for a visitor who has not chosen yet.

Each figure is the minimum over ``--repeat`` passes (a pass of a small input is a batch of
runs long enough to time, divided back); one warm-up run comes first (a run over 0.5 s is a
sample itself). Every loop is bounded: a step's samples stop once they add up to ``--budget``
seconds (30), and ``--quick`` (two samples, budget 3 s) skips the steps expected to take
longer than the budget (the last time times the last ratio, or 4): such a shape is reported
"superlinear (stopped)" when a ratio already reached the threshold. Each shape runs in a fresh
process, so none inherits the allocator's state from the one before, and that process first
frees a 30 MB block, so that glibc serves every step's big buffers alike (see
``settle_allocator``). A quadratic shape takes 20-40 s at 16x (three did before ef879d9), so
a full run then lasted ~5.5 minutes; with every shape linear (21 shapes) it lasts ~85 s, a
quick one ~55 s.
No network, no files. Exits 1 when a shape fails (or, with ``--strict``, is not linear).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import logging
import math
import subprocess
import sys
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consentgate import ConsentMiddleware  # noqa: E402
from consentgate import middleware as middleware_module  # noqa: E402
from consentgate.consent import Consent  # noqa: E402
from consentgate.policy import Policy  # noqa: E402
from consentgate.vendors import BUILTIN_VENDORS  # noqa: E402

try:  # the HTML engine's package; consentgate/rewriter.py before it moved there
    from consentgate.html import Gate
except ImportError:
    from consentgate.rewriter import Gate  # type: ignore[no-redef,unused-ignore]

SECRET = "bench-secret-long-enough-to-be-accepted-0123456789"  # (>= 32 characters)
HOST = "shop.example.com"
ORIGIN = f"http://{HOST}"
CHUNK = 4096
FACTORS = (1, 4, 16)
MB = 1 << 20
BATCH = 0.2  # seconds: a run shorter than this is timed in a batch of runs
ALONE = 0.5  # seconds: a warm-up run this long is itself a sample
NOT_LINEAR = 3  # a one-shape process's exit code when the shape is not linear

Run = Callable[[int], Any]  # run(k): do the shape k times


@dataclass(frozen=True)
class Shape:
    name: str
    unit: str  # how its 1x size reads
    build: Callable[[int], Run]  # factor -> a run, with everything prepared outside it


# -- the middleware, in process --------------------------------------------------------------

LOOP = asyncio.new_event_loop()


async def _receive_nothing() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def scope_for(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": b"",
        "scheme": "http",
        "http_version": "1.1",
        "server": (HOST, 80),
        "client": ("127.0.0.1", 5000),
        "headers": [(b"host", HOST.encode()), *headers],
    }


class Sink:
    """The server's ``send``: counts what the middleware sends out."""

    def __init__(self) -> None:
        self.body = 0
        self.headers: list[tuple[bytes, bytes]] = []

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.headers = list(message.get("headers") or ())
        elif message["type"] == "http.response.body":
            self.body += len(message.get("body", b""))


def middleware(app: Any) -> ConsentMiddleware:
    logging.getLogger("consentgate").setLevel(logging.ERROR)  # (consent_log=None's warning)
    return ConsentMiddleware(app, secret_key=SECRET, consent_log=None)


async def _no_app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the consent endpoint is the middleware's own")


# Known trackers' cookies the built-in registry declares, by exact name, then by a prefix that
# a site's cookies extend (_ga_<stream id>, _hjSession_<site id> …).
TRACKER_EXACT = (
    "_ga",
    "_gid",
    "_gat",
    "_fbp",
    "_fbc",
    "_gcl_au",
    "_uetsid",
    "_uetvid",
    "_ttp",
    "IDE",
    "_clck",
    "_clsk",
    "__utma",
    "__utmz",
    "ajs_anonymous_id",
)
TRACKER_PREFIXES = ("_ga_", "_hjSession_", "_pk_id.", "mp_", "AMP_", "_gcl_", "_ym_", "ph_")
UNKNOWN_PREFIXES = ("sess_", "pref_", "cart", "ab_test_", "locale_", "csrf_", "seen_tip_")


def cookie_header(size: int) -> tuple[bytes, int]:
    """A ``Cookie`` header of ~``size`` bytes: one in four names a tracker's. Returns it and how
    many distinct tracker cookie names it holds."""
    parts = [f"{name}=GA1.1.{i}" for i, name in enumerate(TRACKER_EXACT)]
    trackers = len(TRACKER_EXACT)
    total = sum(len(p) + 2 for p in parts)
    i = 0
    while total < size:
        if i % 4 == 0:
            part = f"{TRACKER_PREFIXES[i // 4 % len(TRACKER_PREFIXES)]}{i:05X}=1.{i}"
            trackers += 1
        else:
            part = f"{UNKNOWN_PREFIXES[i % len(UNKNOWN_PREFIXES)]}{i:05d}=v{i}"
        parts.append(part)
        total += len(part) + 2
        i += 1
    return "; ".join(parts).encode(), trackers


def withdrawal(factor: int) -> Run:
    mw = middleware(_no_app)
    accepted = Consent(
        granted=mw.policy.names,
        revision=mw.policy.revision,
        decided=True,
        consent_id="bench",
        given_at=datetime.now(UTC).replace(microsecond=0),
    )
    cookies, trackers = cookie_header(12_000 * factor)
    own = f"{mw.cookie.full_name}={mw.codec.dumps(accepted)}".encode()
    headers = [
        (b"cookie", cookies + b"; " + own),
        (b"origin", ORIGIN.encode()),
        (b"content-type", b"application/x-www-form-urlencoded"),
    ]
    body = b"action=reject_all"

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def many(k: int) -> Sink:
        sink = Sink()
        for _ in range(k):
            await mw(scope_for("POST", "/consentgate/consent", headers), receive, sink)
        return sink

    sink = LOOP.run_until_complete(many(1))
    expired = sum(
        1 for key, value in sink.headers if key == b"set-cookie" and b"Max-Age=0" in value
    )
    # Each tracker cookie is expired on the host and on each parent domain (3 variants here),
    # up to the middleware's cap on the names one answer expires, where it has one.
    cap = getattr(middleware_module, "MAX_EXPIRED", None)
    expected = 3 * (min(trackers, cap) if isinstance(cap, int) else trackers)
    if expired != expected:
        raise AssertionError(f"withdrawal expired {expired} cookies, expected {expected}")
    return lambda k: LOOP.run_until_complete(many(k))


def set_cookies(factor: int) -> Run:
    n = 30 * factor
    cookies = [
        (b"set-cookie", f"_ga_{i:05X}=GA1.1.{i}; Max-Age=63072000; Path=/; Domain=.{HOST}".encode())
        if i % 2 == 0
        else (b"set-cookie", f"app_{i}=v{i}; Path=/; HttpOnly; SameSite=Lax".encode())
        for i in range(n)
    ]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", b"/account"), (b"content-length", b"0"), *cookies],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    mw = middleware(app)

    async def many(k: int) -> Sink:
        sink = Sink()
        for _ in range(k):
            await mw(scope_for("GET", "/login", []), _receive_nothing, sink)
        return sink

    sink = LOOP.run_until_complete(many(1))
    kept = sum(1 for key, _ in sink.headers if key == b"set-cookie")
    if kept != n // 2:
        raise AssertionError(f"{kept} Set-Cookie headers left of {n}, expected {n // 2}")
    return lambda k: LOOP.run_until_complete(many(k))


BLOCK = b"""<article class="post"><h2><a href="/post/1">A headline &amp; more</a></h2>
<p>Some text with <em>markup</em>, a <a href="https://example.org/x?a=1&amp;b=2">link</a> and
an image <img src="/img/photo.jpg" srcset="/img/photo-2x.jpg 2x" alt="photo" loading="lazy">.</p>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-ABC123"></script>
<script>window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);}
gtag('js', new Date()); gtag('config', 'G-ABC123'); if (a > b && c < d) { run(); }</script>
<img height="1" width="1" style="display:none" src="https://www.facebook.com/tr?id=1&ev=PageView">
<iframe src="https://www.youtube.com/embed/aqz-KE-bpKQ" width="560" height="315"></iframe>
<div class="share" onclick="share(this)" style="background: url(/img/bg.png)">Share</div>
<ul><li><a href="/a">One</a></li><li><a href="/b">Two</a></li><li><a href="/c">Three</a></li></ul>
<p>Paragraph text again, plain words only, long enough to look like an article body.</p>
<!-- a comment between posts -->
<link rel="preconnect" href="https://connect.facebook.net">
<p>More text &gt; less text, with a <code>&lt;tag&gt;</code> written out.</p></article>
"""


def chunked(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def streamed_page(factor: int) -> Run:
    head = b"<!doctype html><html><head><title>big</title></head><body>\n"
    tail = b"</body></html>\n"
    page = head + BLOCK * ((MB * factor - len(head) - len(tail)) // len(BLOCK) + 1) + tail
    chunks = chunked(page)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8")],
            }
        )
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    mw = middleware(app)

    async def many(k: int) -> Sink:
        sink = Sink()
        for _ in range(k):
            await mw(scope_for("GET", "/", []), _receive_nothing, sink)
        return sink

    sink = LOOP.run_until_complete(many(1))
    if sink.body < len(page):  # inert trackers and the banner make it longer, never shorter
        raise AssertionError(f"{sink.body} bytes out of a {len(page)}-byte page")
    return lambda k: LOOP.run_until_complete(many(k))


# -- the rewriter alone ----------------------------------------------------------------------

GATE = Gate(Policy(vendors=BUILTIN_VENDORS))


HEAD = b"<!doctype html><html><head><title>t</title></head><body>\n"
TAIL = b"\n<p>after</p></body></html>\n"


def filled(open_: bytes, unit: bytes, close: bytes, size: int) -> bytes:
    """A page that is one element of ~``size`` bytes: ``open_``, ``unit`` repeated, ``close``."""
    head = HEAD + open_
    tail = close + TAIL
    return head + unit * ((size - len(head) - len(tail)) // len(unit) + 1) + tail


def rewriter_shape(open_: bytes, unit: bytes, close: bytes) -> Callable[[int], Run]:
    """A page that is one element of 1 / 4 / 16 MB (see ``filled``)."""
    return rewriter_page(lambda size: filled(open_, unit, close, size))


def tag_then_content(
    open_: bytes, tag_unit: bytes, middle: bytes, unit: bytes, close: bytes
) -> Callable[[int], Run]:
    """A page that is one element whose start tag is half of its ~1 / 4 / 16 MB and its
    content the other half: ``open_``, ``tag_unit`` repeated, ``middle`` (which ends the
    start tag), ``unit`` repeated, ``close``."""

    def page(size: int) -> bytes:
        half = (size - len(HEAD) - len(open_) - len(middle) - len(close) - len(TAIL)) // 2
        return (
            HEAD
            + open_
            + tag_unit * (half // len(tag_unit) + 1)
            + middle
            + unit * (half // len(unit) + 1)
            + close
            + TAIL
        )

    return rewriter_page(page)


def rewriter_page(page_of: Callable[[int], bytes]) -> Callable[[int], Run]:
    def build(factor: int) -> Run:
        page = page_of(MB * factor)
        chunks = chunked(page)

        def rewriter() -> Any:  # (an HtmlRewriter)
            made = GATE.rewriter(frozenset({"necessary"}))
            assert made is not None
            return made

        once = rewriter()
        out = b"".join([once.feed(chunk) for chunk in chunks]) + once.close()
        if out != page:  # nothing in these pages is a tracker: they must pass unchanged
            raise AssertionError(f"the rewriter changed the page ({len(out)} of {len(page)} B)")
        del out

        def run(k: int) -> None:
            for _ in range(k):  # (what comes out is counted, as a server would send it on)
                sent, rewriting = 0, rewriter()
                for chunk in chunks:
                    sent += len(rewriting.feed(chunk))
                sent += len(rewriting.close())
                assert sent == len(page)

        return run

    return build


SHAPES = [
    Shape("withdrawal, Cookie header of many names", "12 KB", withdrawal),
    Shape(
        "one start tag, attribute value full of '>'",
        "1 MB",
        rewriter_shape(b'<div data-config="', b"a > b, c -> d >> e; ", b'">x</div>'),
    ),
    Shape(
        "<noscript> full of tags",
        "1 MB",
        rewriter_shape(b"<noscript>", b'<img src="/img/a.png" alt="a"><p>b</p> ', b"</noscript>"),
    ),
    Shape(
        "inline <script>",
        "1 MB",
        rewriter_shape(
            b"<script>", b'if (a > b && c < d) { s = "<div>" + x + "</div>"; }\n', b"</script>"
        ),
    ),
    Shape(
        "<style>",
        "1 MB",
        rewriter_shape(
            b"<style>", b"ul > li > a:hover { color: #123; content: '<b>'; }\n", b"</style>"
        ),
    ),
    Shape("comment", "1 MB", rewriter_shape(b"<!--", b"<p>old markup</p> a > b <br> ", b"-->")),
    Shape(
        "<textarea> after an <svg>",
        "1 MB",
        rewriter_shape(
            b"<svg width='1' height='1'></svg><textarea>",
            b"<b>x</b> a > b <i>y</i>\n",
            b"</textarea>",
        ),
    ),
    Shape(
        "plain text",
        "1 MB",
        rewriter_shape(b"<p>", b"Plain words of an article, a > b, nothing else. ", b"</p>"),
    ),
    # Fixed from quadratic to linear in ef879d9 (4 MB in 4 KB chunks took 0.5-2.8 s before):
    Shape(
        "one start tag, single-quoted value of '>'",
        "1 MB",
        rewriter_shape(b"<div data-config='", b'a > b, "c" -> d >> e; ', b"'>x</div>"),
    ),
    Shape(
        "one start tag of very many attributes",
        "1 MB",
        rewriter_shape(b"<div", b" a=b c='>' d=\">\"", b">x</div>"),
    ),
    Shape(
        "end tag </script y='>>>'> after a script",
        "1 MB",
        rewriter_shape(b"<script>x</script y='", b'>>> a>b "c" <i> ', b"'>"),
    ),
    Shape(
        "end tag </iframe y='>>>'> after an iframe",
        "1 MB",
        rewriter_shape(b"<iframe>x</iframe y='", b'>>> a>b "c" <i> ', b"'>"),
    ),
    Shape(
        'end tag </p y=">>>">', "1 MB", rewriter_shape(b'<p>x</p y="', b">>> a>b 'c' <i> ", b'">')
    ),
    Shape(
        "<script>: huge start tag, then content",
        "1 MB",
        tag_then_content(
            b'<script data-x="',
            b"a>b <i> ",
            b'">',
            b"if (a > b && c < d) { s = \"<div>\" + x + '</p>'; }\n",
            b"</script>",
        ),
    ),
    Shape(
        "<style>: huge start tag, then content",
        "1 MB",
        tag_then_content(
            b'<style media="',
            b"a>b <i> ",
            b'">',
            b"ul > li > a:hover { color: #123; content: '<b>'; }\n",
            b"</style>",
        ),
    ),
    Shape(
        "<noscript>: huge start tag, then content",
        "1 MB",
        tag_then_content(
            b'<noscript data-x="',
            b"a>b <i> ",
            b'">',
            b'<img src="/img/a.png" alt="a"><p>b</p> a>b ',
            b"</noscript>",
        ),
    ),
    Shape(
        "<title> after an <svg>",
        "1 MB",
        rewriter_shape(
            b"<svg width='1' height='1'></svg><title>", b"a>b </p> <i> x=' y=\" ", b"</title>"
        ),
    ),
    Shape(
        "<iframe> content after an <svg>",
        "1 MB",
        rewriter_shape(
            b"<svg width='1' height='1'></svg><iframe>", b"a>b </p> <i> x=' y=\" ", b"</iframe>"
        ),
    ),
    Shape(
        "<style> content after an <svg>",
        "1 MB",
        rewriter_shape(
            b"<svg width='1' height='1'></svg><style>", b"a>b </p> <i> x=' y=\" ", b"</style>"
        ),
    ),
    Shape("response with many Set-Cookie headers", "30 headers", set_cookies),
    Shape("streamed page through the middleware", "1 MB", streamed_page),
]


# -- timing ----------------------------------------------------------------------------------


def seconds_per_run(run: Run, repeat: int, budget: float) -> float:
    """CPU seconds of one run: the minimum over ``repeat`` samples, fewer past ``budget``."""
    gc.collect()
    began = time.process_time()
    run(1)
    first = time.process_time() - began
    if first >= ALONE:  # long enough to be a sample itself (its warm-up part is noise)
        samples = [first]
        spent = first
        while len(samples) < repeat and spent + samples[-1] <= budget:
            gc.collect()
            began = time.process_time()
            run(1)
            samples.append(time.process_time() - began)
            spent += samples[-1]
        return min(samples)
    batch = max(1, math.ceil(BATCH / max(first, 1e-6)))
    samples = []
    for _ in range(repeat):
        gc.collect()
        began = time.process_time()
        run(batch)
        samples.append((time.process_time() - began) / batch)
    return min(samples)


def verdict(ratios: list[float], threshold: float, stopped: bool) -> str:
    worst = max(ratios, default=0.0)
    if stopped:
        return "superlinear (stopped)" if worst >= threshold else "over budget (stopped)"
    if len(ratios) < len(FACTORS) - 1:
        return "incomplete"
    if worst < threshold:
        return "linear"
    exponent = math.log(worst) / math.log(4)
    return f"superlinear (~n^{exponent:.1f})"


def settle_allocator() -> None:
    """glibc's malloc serves a block over its mmap threshold with fresh pages (faulted in and
    zeroed on every run) and raises that threshold to the largest such block freed, up to 32
    MB. Without this, a 4 MB step run before any 16 MB block was freed paid ~2 ms of page faults
    a run that it does not pay after one (a fast shape's 4x step measured 7.5x, then 4.2x). One
    30 MB block freed first puts every step on the same footing, where a server that has sent
    one big response stands anyway."""
    block = bytearray(30 * MB)
    del block


def measure(
    shape: Shape, repeat: int, budget: float, quick: bool, threshold: float
) -> tuple[str, bool]:
    """The shape's table row, and whether it is linear."""
    times: list[float] = []
    ratios: list[float] = []
    stopped = False
    for factor in FACTORS:
        run = shape.build(factor)
        times.append(seconds_per_run(run, repeat, budget))
        del run
        ratios = [b / a for a, b in itertools.pairwise(times)]
        # --quick: no step that would take longer than the budget, judging by the last step's
        # ratio (4x, linear, before there is one).
        if quick and factor != FACTORS[-1] and times[-1] * max([4.0, *ratios[-1:]]) > budget:
            stopped = True
            break
    said = verdict(ratios, threshold, stopped)
    cells = [f"{t:9.4f}" for t in times] + ["        -"] * (len(FACTORS) - len(times))
    ratio_text = " ".join(f"{r:5.1f}x" for r in ratios) or "-"
    return (
        f"{shape.name:44} {shape.unit:>10} {' '.join(cells)} {ratio_text:>13}  {said}",
        said == "linear",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="two samples a step, and no step expected to take over --budget",
    )
    parser.add_argument("--repeat", type=int, default=None, help="samples a step (default 3)")
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds: a step's samples stop at this (default 30; 3 with "
        "--quick, which also skips a step expected to take longer)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=6.0,
        help="a step's ratio from which the cost is called superlinear",
    )
    parser.add_argument(
        "--only", nargs="*", default=[], help="run the shapes whose name holds one of these words"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when a shape is not linear (by default only a failure does)",
    )
    parser.add_argument("--shape", help=argparse.SUPPRESS)  # one shape, in this process
    args = parser.parse_args()
    repeat = args.repeat or (2 if args.quick else 3)
    budget = args.budget if args.budget is not None else (3.0 if args.quick else 30.0)
    if args.shape is not None:
        settle_allocator()
        try:
            row, is_linear = measure(
                next(s for s in SHAPES if s.name == args.shape),
                repeat,
                budget,
                args.quick,
                args.threshold,
            )
        finally:
            LOOP.close()
        print(row, flush=True)
        return 0 if is_linear else NOT_LINEAR
    LOOP.close()
    shapes = [s for s in SHAPES if not args.only or any(w in s.name for w in args.only)]
    print(
        f"CPU seconds of one run at 1x / 4x / 16x the size (min of {repeat}), and each "
        f"step's ratio (linear ~4x, quadratic ~16x; linear = every ratio < {args.threshold:g});"
        " each shape in a fresh process"
    )
    print(
        f"{'shape':44} {'1x':>10} {'1x s':>9} {'4x s':>9} {'16x s':>9} {'ratios':>13}  verdict",
        flush=True,
    )
    passed = [
        f"--repeat={repeat}",
        f"--budget={budget}",
        f"--threshold={args.threshold}",
        *(["--quick"] if args.quick else []),
    ]
    linear, failed = 0, []
    began = time.perf_counter()
    for shape in shapes:
        # A fresh process each: what the allocator kept from the shape before (a 16 MB buffer,
        # a raised mmap threshold) moved the next one's 16x step by up to 2x.
        try:
            code = subprocess.call(
                [sys.executable, __file__, "--shape", shape.name, *passed],
                timeout=len(FACTORS) * (budget + 60) + 60,
            )
        except subprocess.TimeoutExpired:  # (call() kills the child first)
            code = None
        if code == 0:
            linear += 1
        elif code != NOT_LINEAR:
            print(
                f"{shape.name:44} failed ({'timed out' if code is None else f'exit {code}'})",
                flush=True,
            )
            failed.append(shape.name)
    print(f"{linear} of {len(shapes)} shapes linear ({time.perf_counter() - began:.0f} s)")
    return 1 if failed or (args.strict and linear < len(shapes)) else 0


if __name__ == "__main__":
    sys.exit(main())
