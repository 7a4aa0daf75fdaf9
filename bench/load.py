"""The demo site under load: no error, no live tracker without consent, flat memory.

    python bench/load.py [--seconds 30] [--requests 15000] [--clients 8] [--http h11 httptools]
                         [--warmup VISITORS] [--warmup-seconds 40] [--tolerance 5]

Runs the demo site (``demo_site.app.create_app``, as ``python -m demo_site`` does, with its
consent log in a temporary folder) under uvicorn on 127.0.0.1, on a free port, once per HTTP
implementation: h11 (uvicorn's default when httptools is not installed; with it installed,
"auto" picks httptools) and httptools (skipped with a note when it is not installed). This
process drives it with ``--clients`` concurrent visitors at a time over raw asyncio sockets
(HTTP/1.1, keep-alive, one connection a visitor), in two phases.

Warm-up: first, ``--warmup`` distinct visitors (by default 1.25 times the largest of the
consent cookie's caches, read from consentgate.cookie: ``CACHE_SIZE`` verified values, 4096,
and ``HEADER_CACHE_SIZE`` whole cookie headers, 1024; so 5120) each choose (accept_all,
reject_all or save with some categories: a new signed consent cookie each), fetch a page with
that cookie and, some of them, send the beacon or load the pixel they granted; bounded by
``--warmup-seconds``. This fills the server's bounded caches before memory is measured: the
cookie's caches of verified values and of whole headers (each emptied when full, so passing its
size once has made it as big as it gets), the parsed-header LRU (1024), the middleware's
snippet, head and placeholder renderings (keyed by language, nonce and choices: a few in the
demo, filled by the first visitors), the demo's hits (a deque of 500) and the consent log's
SQLite page cache (a bounded number of pages). Without it, those caches filling (~1.2 KB a
verified cookie, 4096 of them) make the server's RSS grow ~9 % over a default run: memory
that is bounded and reused, not a leak, which the measured run must not mistake for one.
Nothing of the warm-up is counted in the figures below except its errors and checks.

Measured run: then, until ``--requests`` requests or ``--seconds`` seconds, whichever comes
first, a mix of:
- new visitors fetching pages (/, /video, /theme, /consent, /privacy, /hits) and assets
  without a cookie;
- visitors who choose (``POST /consentgate/consent``, ``action`` accept_all, reject_all or save
  with some categories, an ``Origin`` of the site's own), then fetch pages with their cookie,
  send the fake analytics beacon or load the pixel when granted, and choose a theme;
- withdrawals: a visitor who accepted everything and carries trackers' cookies (``_ga``,
  ``_fbp``, ``_gcl_au``) rejects everything, must get those cookies expired, and fetches a page;
- visits to the preferences page and the demo's consent page.

Checked and printed for each server:
- errors: any 5xx, connection error or time-out (10 s a request); other unexpected statuses
  are counted apart;
- live trackers: every page a visitor without analytical or marketing consent gets is parsed
  (``live_references`` of tests/test_rewriter_pages.py, an HTML5 parser through selectolax)
  and must load or run nothing of a category the visitor did not grant: the demo's fake
  analytics script (analytical), its pixel and the YouTube player (marketing), and anything
  else the tests' tracker list knows. As a check on the check, the demo's trackers must be
  seen live for visitors who granted their category;
- requests/s and latency p50/p99 as the client sees them, the server's CPU time per request
  (/proc/<pid>/stat), and how busy the client was (a client near 100 % of its core bounds the
  rate; the server is pinned to one core and the client to the other, as in throughput.py);
- the server's resident memory (VmRSS from /proc/<pid>/status) at its start and after the
  warm-up, then every 0.1 s over the measured run only: the mean of its first tenth and of its
  last, their ratio, the last tenth's over the fifth's, and the mean of each tenth. Memory is
  judged "flat" when the last tenth exceeds the first by at most ``--tolerance`` percent (5):
  more, after a complete warm-up, fails the run. Without a complete warm-up (``--warmup 0``,
  or stopped by ``--warmup-seconds``) memory is reported, not judged.

Exits 1 when an error, an unexpected status or a live tracker was seen (in either phase), when
no tracker was seen live where it was granted, or when memory grew past the tolerance after a
complete warm-up. A default run (both servers) lasts ~75-85 s, of which the warm-up takes
~12-15 s a server (``--seconds 8 --requests 3000``: ~50 s). Talks to 127.0.0.1 only; the
servers are stopped and the temporary folder removed at the end, also on an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_rewriter_pages import live_references  # type: ignore[import-not-found]  # noqa: E402
from throughput import cpu_seconds, free_port, pin  # noqa: E402

from consentgate import cookie as cookie_module  # noqa: E402

# The consent cookie's caches that distinct visitors fill (each emptied when full).
CACHE_SIZE = int(getattr(cookie_module, "CACHE_SIZE", 4096))
HEADER_CACHE_SIZE = int(getattr(cookie_module, "HEADER_CACHE_SIZE", 1024))
WARMUP = -(-5 * max(CACHE_SIZE, HEADER_CACHE_SIZE) // 4)  # visitors: 1.25 x the largest

SERVER = """
import sys, uvicorn
sys.path.insert(0, {root!r})
from demo_site.app import create_app
app = create_app({secret!r}, consent_log={log!r})
uvicorn.run(app, host="127.0.0.1", port={port}, http={http!r}, log_level="warning",
            access_log=False)
"""
PAGES = ("/", "/video", "/theme", "/consent", "/privacy", "/hits")
ASSETS = ("/static/demo.css", "/static/fake-analytics.js")
OPTIONAL = ("preference", "analytical", "marketing")
# The demo's own trackers, by what a live reference to them holds, and their category.
DEMO_TRACKERS = (
    ("/static/fake-analytics.js", "analytical"),
    ("/pixel.gif", "marketing"),
    ("youtube", "marketing"),
)
TRACKER_COOKIES = "_ga=GA1.1.123.456; _fbp=fb.1.123.456; _gcl_au=1.1.123.456"
TIMEOUT = 10.0  # seconds a request may take
SAMPLE = 0.1  # seconds between two RSS samples
TOLERANCE = 5.0  # percent: the last tenth's RSS over the first's up to which memory is flat


class Failed(Exception):
    """A request that failed: connection error, time-out or a 5xx."""


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def cookies(self) -> list[tuple[str, str, bool]]:
        """(name, value, expired) of each ``Set-Cookie``."""
        found = []
        for key, value in self.headers:
            if key == "set-cookie":
                pair, _, attrs = value.partition(";")
                name, _, val = pair.partition("=")
                found.append((name.strip(), val.strip(), "max-age=0" in attrs.lower()))
        return found


@dataclass
class Tally:
    port: int
    deadline: float
    budget: int  # requests left
    requests: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    live: list[str] = field(default_factory=list)  # live trackers the visitor did not grant
    granted_live: int = 0  # demo trackers seen live where granted (the check's own check)
    pages_checked: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def more(self) -> bool:
        return self.requests < self.budget and time.perf_counter() < self.deadline


class Visitor:
    """One browser: a keep-alive connection and a cookie jar."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.jar: dict[str, str] = {}
        self.granted: frozenset[str] = frozenset({"necessary"})
        self.conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def close(self) -> None:
        if self.conn is not None:
            self.conn[1].close()
            with contextlib.suppress(OSError):
                await self.conn[1].wait_closed()
            self.conn = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: tuple[str, ...] = (),
        expect: tuple[int, ...] = (200,),
    ) -> Response | None:
        """One exchange; None when the run is over. Raises Failed on an error."""
        tally = self.tally
        if not tally.more():
            return None
        tally.requests += 1
        began = time.perf_counter()
        try:
            response = await asyncio.wait_for(self._exchange(method, path, body, headers), TIMEOUT)
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
            TimeoutError,
        ) as exc:
            await self.close()
            tally.errors.append(f"{method} {path}: {type(exc).__name__} {exc}")
            raise Failed from exc
        tally.latencies.append(time.perf_counter() - began)
        if response.status >= 500:
            tally.errors.append(f"{method} {path}: {response.status}")
            raise Failed
        if response.status not in expect:
            tally.unexpected.append(f"{method} {path}: {response.status}, expected {expect}")
        for name, value, expired in response.cookies():
            if expired:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        return response

    async def _exchange(
        self, method: str, path: str, body: bytes, headers: tuple[str, ...]
    ) -> Response:
        if self.conn is None:
            self.conn = await asyncio.open_connection("127.0.0.1", self.tally.port)
        reader, writer = self.conn
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: 127.0.0.1:{self.tally.port}",
            "User-Agent: consentgate-bench-load",
            *headers,
        ]
        if self.jar:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.jar.items()))
        if method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = []
        for line in head[1:]:
            if line:
                key, _, value = line.partition(":")
                fields.append((key.strip().lower(), value.strip()))
        found = dict(fields)
        if method == "HEAD" or status in (204, 304):
            data = b""
        elif "content-length" in found:
            data = await reader.readexactly(int(found["content-length"]))
        elif found.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
                parts.append(await reader.readexactly(size + 2))
                if size == 0:
                    break
            data = b"".join(p[:-2] for p in parts)
        else:
            data = await reader.read()
            await self.close()
        if found.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, fields, data)

    async def page(self, path: str) -> None:
        response = await self.request("GET", path)
        if response is None or response.status != 200:
            return
        self.tally.pages_checked += 1
        for tag, url, flagged in live_references(response.body):
            category = next((c for marker, c in DEMO_TRACKERS if marker in url), None)
            if category is not None:
                if category in self.granted:
                    self.tally.granted_live += 1
                    continue
            elif not flagged or {"analytical", "marketing"} <= self.granted:
                continue
            self.tally.live.append(f"{path} for {sorted(self.granted)}: <{tag}> {url[:80]}")

    async def choose(self, action: str, categories: tuple[str, ...] = ()) -> bool:
        form = "&".join([f"action={action}", *(f"category={c}" for c in categories)])
        origin = f"Origin: http://127.0.0.1:{self.tally.port}"
        response = await self.request(
            "POST",
            "/consentgate/consent",
            body=form.encode(),
            expect=(303,),
            headers=(origin, "Content-Type: application/x-www-form-urlencoded"),
        )
        if response is None or response.status != 303:
            return False
        if "consentgate" not in self.jar:
            self.tally.unexpected.append(f"POST {action}: no consent cookie in the answer")
            return False
        self.granted = frozenset({"necessary"}) | {
            "accept_all": frozenset(OPTIONAL),
            "reject_all": frozenset(),
        }.get(action, frozenset(categories))
        return True


async def new_visitor(v: Visitor, rng: random.Random) -> None:
    for path in rng.sample(PAGES, rng.randint(1, 3)):
        await v.page(path)
    if rng.random() < 0.3:
        await v.request("GET", rng.choice(ASSETS))


async def consenting(v: Visitor, rng: random.Random) -> None:
    await v.page("/")
    action = rng.choice(("accept_all", "reject_all", "save", "save"))
    categories = tuple(c for c in OPTIONAL if rng.random() < 0.5) if action == "save" else ()
    if not await v.choose(action, categories):
        return
    for path in rng.sample(PAGES, rng.randint(2, 3)):
        await v.page(path)
    if "analytical" in v.granted:  # what the fake analytics script then sends
        await v.request(
            "POST",
            "/collect",
            body=b'{"page": "/"}',
            expect=(204,),
            headers=("Content-Type: application/json",),
        )
    if "marketing" in v.granted:
        await v.request("GET", "/pixel.gif?page=/")
    if rng.random() < 0.3:
        await v.request(
            "POST",
            "/theme",
            body=b"theme=dark",
            expect=(303,),
            headers=("Content-Type: application/x-www-form-urlencoded",),
        )


async def withdrawal(v: Visitor, rng: random.Random) -> None:
    if not await v.choose("accept_all"):
        return
    await v.page("/")
    for pair in TRACKER_COOKIES.split("; "):  # what the trackers set meanwhile
        name, _, value = pair.partition("=")
        v.jar[name] = value
    if not await v.choose("reject_all"):
        return
    left = [
        p.partition("=")[0] for p in TRACKER_COOKIES.split("; ") if p.partition("=")[0] in v.jar
    ]
    if left:
        v.tally.unexpected.append(f"withdrawal: {', '.join(left)} not expired")
    await v.page(rng.choice(PAGES))


async def preferences(v: Visitor, rng: random.Random) -> None:
    if rng.random() < 0.5:
        await v.choose("save", ("preference",))
    await v.page("/consentgate/preferences")
    await v.page("/consent")


Flow = Callable[[Visitor, random.Random], Awaitable[None]]
FLOWS: tuple[Flow, ...] = (new_visitor, consenting, withdrawal, preferences)
WEIGHTS = (4, 3, 1, 1)


async def warming(v: Visitor, rng: random.Random) -> None:
    """One warm-up visitor: a new consent cookie, verified once by fetching a page with it."""
    action = rng.choice(("accept_all", "reject_all", "save", "save"))
    categories = tuple(c for c in OPTIONAL if rng.random() < 0.5) if action == "save" else ()
    if not await v.choose(action, categories):
        return
    await v.page(rng.choice(PAGES))
    if "analytical" in v.granted and rng.random() < 0.25:  # the demo's hits (500 kept)
        await v.request(
            "POST",
            "/collect",
            body=b'{"page": "/"}',
            expect=(204,),
            headers=("Content-Type: application/json",),
        )
    if "marketing" in v.granted and rng.random() < 0.25:
        await v.request("GET", "/pixel.gif?page=/")


async def warm_up(tally: Tally, clients: int, visitors: int, seed: int) -> int:
    """``visitors`` warm-up visitors, ``clients`` at a time, within the tally's deadline;
    returns how many completed."""
    started = 0
    completed = 0

    async def client(number: int) -> None:
        nonlocal started, completed
        rng = random.Random(seed * 1000 + 500 + number)
        while started < visitors and tally.more():
            started += 1
            visitor = Visitor(tally)
            try:
                await warming(visitor, rng)
                if tally.more():  # (a visitor cut short by the deadline is not counted)
                    completed += 1
            except Failed:
                pass
            finally:
                await visitor.close()

    await asyncio.gather(*(client(n) for n in range(clients)))
    return completed


async def drive(tally: Tally, clients: int, seed: int) -> None:
    async def client(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        while tally.more():
            flow = rng.choices(FLOWS, WEIGHTS)[0]
            tally.kinds[flow.__name__] = tally.kinds.get(flow.__name__, 0) + 1
            visitor = Visitor(tally)
            try:
                await flow(visitor, rng)
            except Failed:
                pass
            finally:
                await visitor.close()

    await asyncio.gather(*(client(n) for n in range(clients)))


# -- the server ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    port: int
    pid: int


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def demo_server(folder: Path, http: str) -> Iterator[Server]:
    port = free_port()
    code = SERVER.format(
        root=str(ROOT),
        secret=secrets.token_urlsafe(32),
        log=str(folder / f"consent-{http}.sqlite3"),
        port=port,
        http=http,
    )
    with open(folder / f"server-{http}.log", "w+b") as log:
        proc = subprocess.Popen(
            [*pin(1), sys.executable, "-c", code],
            cwd=str(folder),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            for _ in range(300):  # up to ~15 s to start
                if proc.poll() is not None:
                    break
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), 0.1),
                ):
                    break
                time.sleep(0.05)
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(
                    f"the {http} server exited with {proc.returncode}:\n"
                    + log.read().decode(errors="replace")[-2000:]
                )
            if Path(f"/proc/{proc.pid}/exe").resolve() != Path(sys.executable).resolve():
                raise RuntimeError(f"pid {proc.pid} is not the python server")
            yield Server(port, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            log.seek(0)
            errors = [
                line
                for line in log.read().decode(errors="replace").splitlines()
                if "Traceback" in line or "ERROR" in line
            ]
            if errors:
                print(f"  server log ({http}): {len(errors)} error lines, first: {errors[0]}")


class Sampler(threading.Thread):
    """The server's RSS every ``SAMPLE`` seconds, with the time of each sample."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(OSError):
                self.samples.append((time.perf_counter(), rss_bytes(self.pid)))
            self.stop.wait(SAMPLE)

    def tenths(self) -> list[float]:
        """Mean RSS over each tenth of the run (a tenth without a sample: the one before's)."""
        start, end = self.samples[0][0], self.samples[-1][0]
        width = (end - start) / 10 or 1.0
        means: list[float] = []
        for i in range(10):
            inside = [
                r
                for t, r in self.samples
                if start + i * width <= t < start + (i + 1) * width or (i == 9 and t == end)
            ]
            means.append(statistics.mean(inside) if inside else means[-1] if means else 0.0)
        return means


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run_one(folder: Path, http: str, args: argparse.Namespace) -> bool:
    """Warms one server up, then loads it; prints its figures; True when every check passed."""
    with demo_server(folder, http) as srv:
        at_start = rss_bytes(srv.pid)
        began = time.perf_counter()
        warm = Tally(srv.port, began + args.warmup_seconds, 1 << 62)
        warmed = 0
        if args.warmup > 0:
            warmed = asyncio.run(warm_up(warm, args.clients, args.warmup, args.seed))
        warm_elapsed = time.perf_counter() - began
        after_warmup = rss_bytes(srv.pid)
        sampler = Sampler(srv.pid)
        sampler.start()
        cpu, client_cpu = cpu_seconds(srv.pid), time.process_time()
        began = time.perf_counter()
        tally = Tally(srv.port, began + args.seconds, args.requests)
        try:
            asyncio.run(drive(tally, args.clients, args.seed))
        finally:
            elapsed = time.perf_counter() - began
            server_cpu = cpu_seconds(srv.pid) - cpu
            client_cpu = time.process_time() - client_cpu
            sampler.stop.set()
            sampler.join()
    lat = tally.latencies or [0.0]
    tenths = sampler.tenths()
    first, last = tenths[0], tenths[-1]
    flat = last / first
    per_request = server_cpu / max(tally.requests, 1) * 1e6
    warm_complete = args.warmup > 0 and warmed >= args.warmup
    grew = flat > 1 + args.tolerance / 100
    if args.warmup > 0:
        print(
            f"  warm-up: {warmed} of {args.warmup} distinct visitors chose and fetched a page "
            f"({warm.requests} requests, {warm_elapsed:.1f} s) to fill the bounded caches "
            f"(cookie: {CACHE_SIZE} verified values, {HEADER_CACHE_SIZE} headers) before "
            f"memory is measured{'' if warm_complete else ': STOPPED by --warmup-seconds'}; "
            f"server RSS {at_start / 2**20:.1f} MB at start, {after_warmup / 2**20:.1f} MB "
            f"after it"
        )
    else:
        print(f"  no warm-up (--warmup 0): server RSS {at_start / 2**20:.1f} MB at start")
    print(
        f"  {tally.requests} requests in {elapsed:.1f} s, {tally.requests / elapsed:.0f} "
        f"requests/s; latency p50 {percentile(lat, 0.5) * 1e3:.1f} ms, p99 "
        f"{percentile(lat, 0.99) * 1e3:.1f} ms; server CPU {per_request:.0f} us/request; "
        f"client busy {client_cpu / elapsed:.0%} of a core"
    )
    print("  visitors: " + ", ".join(f"{k} {n}" for k, n in sorted(tally.kinds.items())))
    print(
        f"  errors (5xx, connection, time-out): {len(tally.errors)}; unexpected statuses: "
        f"{len(tally.unexpected)}"
    )
    print(
        f"  pages parsed: {tally.pages_checked}; live trackers not granted: {len(tally.live)};"
        f" demo trackers live where granted: {tally.granted_live} (must be > 0)"
    )
    judged = (
        ("GREW: fails the run" if grew else "flat")
        if warm_complete
        else (f"{'grew' if grew else 'flat'}, not judged without a complete warm-up")
    )
    print(
        f"  server RSS over the measured run{' (after the warm-up)' if args.warmup else ''}: "
        f"first tenth {first / 2**20:.1f} MB, last tenth {last / 2**20:.1f} MB, ratio "
        f"{flat:.3f} ({judged}; tolerance +{args.tolerance:g} %), last half "
        f"{last / tenths[4]:.3f}; by tenth ({len(sampler.samples)} samples): "
        f"{' '.join(f'{r / 2**20:.1f}' for r in tenths)} MB"
    )
    if args.warmup > 0 and (warm.errors or warm.unexpected or warm.live):
        print(
            f"  warm-up: errors {len(warm.errors)}, unexpected statuses "
            f"{len(warm.unexpected)}, live trackers not granted {len(warm.live)}"
        )
    for kind, found in (
        ("error", warm.errors + tally.errors),
        ("unexpected", warm.unexpected + tally.unexpected),
        ("live tracker", warm.live + tally.live),
    ):
        for line in found[:5]:
            print(f"    {kind}: {line}")
    checks = not (tally.errors or tally.unexpected or tally.live) and tally.granted_live > 0
    warm_checks = not (warm.errors or warm.unexpected or warm.live)
    return checks and warm_checks and not (warm_complete and grew)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per server")
    parser.add_argument("--requests", type=int, default=15000, help="request limit per server")
    parser.add_argument("--clients", type=int, default=8, help="concurrent visitors")
    parser.add_argument(
        "--http",
        nargs="+",
        default=["h11", "httptools"],
        choices=["h11", "httptools"],
        help="uvicorn HTTP implementations",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=WARMUP,
        help="distinct consenting visitors before the measured run, to fill "
        f"the bounded caches (default {WARMUP}: 1.25 x the cookie's "
        "largest cache; 0: none, memory then not judged)",
    )
    parser.add_argument(
        "--warmup-seconds", type=float, default=40.0, help="time limit of the warm-up per server"
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=TOLERANCE,
        help="percent: after a complete warm-up, RSS in the last tenth of the "
        "measured run over the first tenth's past this fails the run",
    )
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {0})  # the client on core 0, the server on core 1 (pin(1))
    ok = True
    with tempfile.TemporaryDirectory(prefix="consentgate-load-") as tmp:
        for http in args.http:
            if importlib.util.find_spec(http) is None:
                print(f"{http}: skipped, not installed (pip install {http})\n")
                continue
            print(
                f"demo site under uvicorn --http {http}, {args.clients} concurrent visitors, "
                f"warm-up of {args.warmup} visitors, then up to {args.requests} requests or "
                f"{args.seconds:.0f} s:",
                flush=True,
            )
            passed = run_one(Path(tmp), http, args)
            print(f"  {'ok' if passed else 'FAILED'}\n", flush=True)
            ok = ok and passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
