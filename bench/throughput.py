"""The middleware's cost as a whole: in process, and over HTTP under real uvicorn.

    python bench/throughput.py [--seconds 10] [--window 4] [--rounds 5] [--http-only]
                               [--pages ../shared/bench-pages]

Prints ratios against the bare app measured in the same run:
- in process (no network, no server): each corpus page through the raw ASGI app, bare vs wrapped,
  for a visitor who granted everything and for one who granted nothing, and peers, in batches of
  ~10 ms taken in turn for ``--seconds``; each ratio is the median of the ratios between
  neighbouring batches, so a slow moment hits both sides of it (skipped with ``--http-only``);
- over HTTP on loopback, under uvicorn (one worker each), for an HTML page and a JSON response,
  two figures per case, each the median of interleaved rounds:
  - requests/s, as a client sees it;
  - the server's CPU time per request (utime + stime of the server process, all its threads,
    from /proc/<pid>/stat around each load window, over the requests the client completed in
    it), with the speed ratio bare / consentgate (1.00x = same cost per request). It is the
    steadier figure on a shared VM: CPU time leaves out the time the hypervisor or the scheduler
    keeps the server off the CPU, which moves requests/s by up to 15 % between two windows of
    the same server. It still moves when the CPU itself runs slower (a busy neighbour on the
    other core or the host), so read both over several runs. /proc counts in clock ticks
    (10 ms), so keep windows at 2 s or more.
Each figure is shown with its spread, (max - min) / median over the rounds.
Every loop is bounded in time; the servers listen on 127.0.0.1 only and stop at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_pages import bench_pages  # noqa: E402
from itsdangerous import TimestampSigner  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.middleware.sessions import SessionMiddleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import HTMLResponse, JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from consentgate import ConsentMiddleware  # noqa: E402
from consentgate.consent import Consent  # noqa: E402

SECRET = "bench-secret-not-for-production-use"
ROUNDS = 5
DEFAULT_PAGES = bench_pages()


def corpus(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.html"))}


def bare_app(pages: dict[str, bytes]) -> Any:
    """The app a site would have anyway: Starlette routing a JSON endpoint and the pages."""

    async def json_endpoint(request: Request) -> Response:
        return JSONResponse({"ok": True, "items": [1, 2, 3]})

    async def page(request: Request) -> Response:
        return HTMLResponse(pages.get(request.path_params["name"], b"<p>missing</p>"))

    return Starlette(routes=[Route("/json", json_endpoint), Route("/{name}", page)])


class NoOp:
    """The floor for any pure ASGI middleware: wrap ``send``, forward every message."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def forward(message: Any) -> None:
            await send(message)

        await self.app(scope, receive, forward)


def peer_sessions(pages: dict[str, bytes]) -> tuple[Any, bytes]:
    """Starlette's SessionMiddleware with a signed session cookie like a logged-in visitor's."""
    app = SessionMiddleware(bare_app(pages), secret_key=SECRET)
    data = base64.b64encode(json.dumps({"user": "bench", "theme": "dark"}).encode())
    return app, b"session=" + TimestampSigner(SECRET).sign(data)


def wrapped(pages: dict[str, bytes], *, inject_settings: bool = True) -> ConsentMiddleware:
    return ConsentMiddleware(
        bare_app(pages), secret_key=SECRET, consent_log=None, inject_settings=inject_settings
    )


def cookie_for(mw: ConsentMiddleware, everything: bool) -> bytes:
    consent = Consent(
        granted=mw.policy.names if everything else mw.policy.required,
        revision=mw.policy.revision,
        decided=True,
        consent_id="bench",
    )
    return f"{mw.cookie.full_name}={mw.codec.dumps(consent)}".encode()


async def one_pass(app: Any, pages: dict[str, bytes], cookie: bytes, passes: int) -> float:
    """Seconds per request of ``passes`` passes over the pages through ``app``."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    start = time.perf_counter()
    for _ in range(passes):
        for name in pages:
            scope = {
                "type": "http",
                "method": "GET",
                "path": f"/{name}",
                "root_path": "",
                "query_string": b"",
                "scheme": "http",
                "http_version": "1.1",
                "headers": [(b"host", b"bench"), (b"cookie", cookie)],
            }
            await app(scope, receive, send)
    return (time.perf_counter() - start) / (passes * len(pages))


async def in_process(
    variants: dict[str, tuple[Any, bytes]], pages: dict[str, bytes], seconds: float
) -> dict[str, list[float]]:
    """Seconds per request of each variant, in batches of ~10 ms taken in turn until
    ``seconds`` pass: a slow moment of the machine hits the batches next to each other alike,
    so ratios of neighbouring batches are steadier than those of long runs one after another."""
    passes = {}
    for name, (app, cookie) in variants.items():  # (also warms the caches)
        passes[name] = max(1, round(0.01 / (await one_pass(app, pages, cookie, 1) * len(pages))))
    times: dict[str, list[float]] = {name: [] for name in variants}
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for name, (app, cookie) in variants.items():
            times[name].append(await one_pass(app, pages, cookie, passes[name]))
    return times


# -- over HTTP -------------------------------------------------------------------------------

SERVER = """
import sys, uvicorn
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
from throughput import bare_app, wrapped, corpus
from pathlib import Path
pages = corpus(Path({pages!r}))
app = wrapped(pages) if {wrap!r} else bare_app(pages)
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning", access_log=False)
"""


def pin(core: int) -> list[str]:
    """Servers on one core, the load generator on the other: without it, two identical servers
    measured one after the other differ by up to 17 % on a 2-core machine, by scheduling alone."""
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(core % (os.cpu_count() or 1))] if taskset else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    port: int
    pid: int  # the uvicorn process itself: taskset execs, so Popen's pid is the python server


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid``, all its threads, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # from field 3 on: comm may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # fields 14, 15


@contextlib.contextmanager
def server(pages_dir: Path, wrap: bool) -> Iterator[Server]:
    port = free_port()
    code = SERVER.format(
        root=str(ROOT), bench=str(ROOT / "bench"), pages=str(pages_dir), wrap=wrap, port=port
    )
    proc = subprocess.Popen([*pin(1), sys.executable, "-c", code], cwd=str(ROOT / "bench"))
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
                break
            time.sleep(0.05)
        if Path(f"/proc/{proc.pid}/exe").resolve() != Path(sys.executable).resolve():
            raise RuntimeError(f"pid {proc.pid} is not the python server")
        yield Server(port, proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)


def load(
    srv: Server, path: str, cookie: bytes, seconds: float, clients: int = 8
) -> tuple[float, float]:
    """Requests per second from ``clients`` keep-alive connections for ``seconds``, and the
    server's CPU microseconds per request over that window.

    wrk (Debian's ``wrk``), when installed, leaves more of the two cores to the server than a
    Python client can; both are bounded in time and talk to 127.0.0.1 only.
    """
    wrk = shutil.which("wrk")
    cpu = cpu_seconds(srv.pid)
    if wrk is None:
        rate, count = asyncio.run(python_load(srv.port, path, cookie, seconds, clients))
    else:
        out = subprocess.run(
            [
                *pin(0),
                wrk,
                "-t1",
                f"-c{clients}",
                f"-d{max(1, round(seconds))}s",
                "-H",
                f"Cookie: {cookie.decode()}",
                f"http://127.0.0.1:{srv.port}{path}",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        ).stdout
        rate = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))  # type: ignore[union-attr]
        count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rate, (cpu_seconds(srv.pid) - cpu) / max(count, 1) * 1e6


async def python_load(
    port: int, path: str, cookie: bytes, seconds: float, clients: int
) -> tuple[float, int]:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + b"Cookie: " + cookie + b"\r\n\r\n"
    )
    count = 0
    deadline = time.perf_counter() + seconds

    async def one() -> None:
        nonlocal count
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = None
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length is not None:
                    await reader.readexactly(length)
                else:  # chunked
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                        await reader.readexactly(size + 2)
                        if size == 0:
                            break
                count += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(clients)))
    return count / (time.perf_counter() - start), count


def spread(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values)


def report_in_process(
    pages: dict[str, bytes],
    mw: ConsentMiddleware,
    everything: bytes,
    nothing: bytes,
    seconds: float,
) -> None:
    sessions, session_cookie = peer_sessions(pages)
    variants = {
        "bare app": (bare_app(pages), everything),
        "consentgate, all granted": (mw, everything),
        "consentgate, nothing granted": (mw, nothing),
        "all granted, inject_settings=False": (wrapped(pages, inject_settings=False), everything),
        "peer: a no-op pure ASGI middleware": (NoOp(bare_app(pages)), everything),
        "peer: Starlette SessionMiddleware": (sessions, session_cookie),
    }
    times = asyncio.run(in_process(variants, pages, seconds))
    bare = times["bare app"]
    print(
        f"in process, µs per request (median of {len(bare)} interleaved batches) and the "
        "median ratio to the bare app's batch of the same turn:"
    )
    for name, mine in times.items():
        ratio = statistics.median(b / m for b, m in zip(bare, mine, strict=True))
        target = " (target >= 0.8x)" if name == "consentgate, all granted" else ""
        print(f"  {name:36} {statistics.median(mine) * 1e6:9.1f} us   {ratio:.2f}x bare{target}")


def report(samples: dict[str, list[float]], page: str, unit: str, *, cost: bool) -> None:
    """Median, spread and speed ratio against the bare app of each case; for a cost (lower is
    better) the ratio is bare / case, so that on both figures 1.00x is par and higher is faster."""
    median = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in median.items():
        base = median["JSON, bare"] if name.startswith("JSON") else median[f"HTML {page}, bare"]
        target = f"  (target >= 0.97x, by {unit})" if name == "JSON, consentgate" else ""
        figure = f"{value:6.1f} us" if cost else f"{value:9.0f}"
        print(
            f"  {name:55s} {figure}  spread {spread(samples[name]):4.0%}"
            f"   {base / value if cost else value / base:.2f}x bare{target}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="in-process time per variant, spread over the rounds",
    )
    parser.add_argument(
        "--window",
        type=float,
        default=4.0,
        help="seconds per HTTP load round (shorter rounds are noisier; "
        ">= 2 s for the CPU figure, which counts 10 ms clock ticks)",
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved HTTP rounds")
    parser.add_argument("--http-only", action="store_true", help="skip the in-process part")
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES)
    args = parser.parse_args()
    if not args.pages.is_dir():
        sys.exit(f"no bench pages at {args.pages}")
    pages = corpus(args.pages)
    mw = wrapped(pages)
    everything, nothing = cookie_for(mw, True), cookie_for(mw, False)
    print(f"corpus: {len(pages)} pages, {sum(map(len, pages.values())) / 1e6:.1f} MB")
    if not args.http_only:
        report_in_process(pages, mw, everything, nothing, args.seconds)

    page = "/" + min(pages, key=lambda n: abs(len(pages[n]) - 190_000))  # a median-size page
    rounds = args.rounds
    window = args.window
    client = "wrk" if shutil.which("wrk") else "a Python client (install wrk for steadier figures)"
    print(
        f"over HTTP, uvicorn, {client}, 8 keep-alive connections, {rounds} interleaved "
        f"rounds of {window:.1f}s, medians (spread = (max - min) / median):"
    )
    cases = {
        "JSON, bare": (False, "/json", everything),
        "JSON, consentgate": (True, "/json", everything),
        f"HTML {page}, bare": (False, page, everything),
        f"HTML {page}, consentgate, all granted": (True, page, everything),
        f"HTML {page}, consentgate, nothing granted": (True, page, nothing),
    }
    rates: dict[str, list[float]] = {name: [] for name in cases}
    costs: dict[str, list[float]] = {name: [] for name in cases}
    with server(args.pages, False) as bare_srv, server(args.pages, True) as wrapped_srv:
        for _ in range(rounds):  # interleaved, so drift on a shared machine hits all cases alike
            for name, (wrap, path, cookie) in cases.items():
                rate, cost = load(wrapped_srv if wrap else bare_srv, path, cookie, window)
                rates[name].append(rate)
                costs[name].append(cost)
    print(" requests/s:")
    report(rates, page, "req/s", cost=False)
    print(" server CPU per request (speed ratio bare / this: 1.00x = same cost):")
    report(costs, page, "CPU/request", cost=True)


if __name__ == "__main__":
    main()
