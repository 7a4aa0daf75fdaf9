"""Instructions a uvicorn server executes per request, counted by valgrind: the steadier figure.

    python bench/instructions.py [--requests 2000] [--pages ../shared/bench-pages]

Requests/s on a shared or virtual machine swing by 15 % between two windows of the same server,
and CPU time per request moves with a busy neighbour. The number of instructions a server runs
per request does not move with the machine: callgrind counts them the same whatever else the
machine does. It is not exact either: the same code counts 1-2 % differently from run to run
(each run signs a fresh cookie, objects land at other addresses), and up to ~7 % differently
with what else the process has built and run (the interpreter's caches and allocator paths),
so every process here builds and warms every app, and only its kind is counted.

For each server (the bare app, consentgate, and peers: a no-op pure ASGI middleware and
Starlette's SessionMiddleware) it starts uvicorn under callgrind (with PYTHONHASHSEED=0), warms
it up, zeroes the counters (``callgrind_control -z``), sends the requests over one keep-alive
connection from a client outside valgrind, and reads the count (``callgrind_control -d``). It
prints instructions per request and the ratio bare / this (1.00x = same count). The same for
requests in process (the raw ASGI app, no server), where the bare app's own work is small.
What it does not see: the kernel's work (socket reads and writes, counted in the CPU time
throughput.py reads), and time itself: the same instructions take longer when they miss the
caches, and a middleware's Python code adds more code and data to keep in them. So this is
the steadier count of the work added, not a speed ratio; throughput.py's figures are the speed,
noisy as they are. Needs valgrind (Debian: ``apt-get install valgrind``); each server runs
~50x slower under it, so a run takes a few minutes.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from throughput import (  # noqa: E402
    DEFAULT_PAGES,
    NoOp,
    bare_app,
    cookie_for,
    corpus,
    free_port,
    peer_sessions,
    wrapped,
)

SERVER = """
import logging, sys, uvicorn
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
logging.disable(logging.WARNING)  # (consent_log=None says so once: not what is measured)
from pathlib import Path
from instructions import KINDS, app_for
apps = {{kind: app_for(kind, Path({pages!r})) for kind in KINDS}}  # (see IN_PROCESS)
uvicorn.run(apps[{kind!r}][0], host="127.0.0.1", port={port}, log_level="warning",
            access_log=False)
"""
KINDS = ("bare", "consentgate", "no-op", "SessionMiddleware")
# In process: every corpus page through the raw ASGI app (throughput.one_pass), for a visitor
# who granted everything; run with 0 and with ``count`` passes after a first one that fills the
# caches (the settings control's rendering, the cookie's verified reading), the difference is
# what the requests cost. Every process builds and warms every app, whichever one it counts:
# the count of the same code moves by up to ~7 % with what else the interpreter has loaded and
# run (its caches, its allocator), and this way the processes differ only in what is counted.
IN_PROCESS = """
import asyncio, logging, sys
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
logging.disable(logging.WARNING)
from pathlib import Path
from instructions import IN_PROCESS_KINDS, app_for
from throughput import corpus, one_pass
pages = corpus(Path({pages!r}))
apps = {{kind: app_for(kind, Path({pages!r})) for kind in IN_PROCESS_KINDS}}

async def main():
    for app, cookie in apps.values():
        await one_pass(app, pages, cookie, 1)
    app, cookie = apps[{kind!r}]
    if {rounds}:
        await one_pass(app, pages, cookie, {rounds})

asyncio.run(main())
"""
IN_PROCESS_KINDS = (
    "bare",
    "consentgate",
    "consentgate, inject_settings=False",
    "no-op",
    "SessionMiddleware",
)
WARM_UP = 50


def app_for(kind: str, pages_dir: Path) -> tuple[Any, bytes]:
    """The app of one kind over the corpus, and the cookie of a visitor who granted everything
    (a session cookie for SessionMiddleware)."""
    pages = corpus(pages_dir)
    if kind == "SessionMiddleware":
        return peer_sessions(pages)
    everything = cookie_for(wrapped(pages), True)
    makers: dict[str, Callable[[], Any]] = {
        "bare": lambda: bare_app(pages),
        "consentgate": lambda: wrapped(pages),
        "consentgate, inject_settings=False": lambda: wrapped(pages, inject_settings=False),
        "no-op": lambda: NoOp(bare_app(pages)),
    }
    return makers[kind](), everything


def fetch(conn: socket.socket, request: bytes, count: int) -> None:
    """Sends ``request`` ``count`` times, reading each whole response (Content-Length or
    chunked) before the next."""
    buf = b""
    for _ in range(count):
        conn.sendall(request)
        while (head_end := buf.find(b"\r\n\r\n")) < 0:
            buf += conn.recv(65536)
        head = buf[:head_end].lower()
        buf = buf[head_end + 4 :]
        length = re.search(rb"\ncontent-length:\s*(\d+)", head)
        if length is not None:
            while len(buf) < int(length.group(1)):
                buf += conn.recv(65536)
            buf = buf[int(length.group(1)) :]
            continue
        while True:  # chunked
            while (line_end := buf.find(b"\r\n")) < 0:
                buf += conn.recv(65536)
            size = int(buf[:line_end].split(b";")[0], 16)
            while len(buf) < line_end + 2 + size + 2:
                buf += conn.recv(65536)
            buf = buf[line_end + 2 + size + 2 :]
            if size == 0:
                break


def counted(callgrind_control: str, pid: int, folder: Path) -> int:
    """Instructions since the counters were last zeroed: dumps them and reads the dump."""
    before = set(folder.iterdir())
    subprocess.run([callgrind_control, "-d", str(pid)], check=True, capture_output=True)
    for _ in range(100):
        dumps = set(folder.iterdir()) - before
        if dumps:
            text = max(dumps, key=lambda p: p.stat().st_mtime).read_text(errors="replace")
            total = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
            if total is not None:
                return int(total.group(1))
        time.sleep(0.1)
    raise RuntimeError("callgrind wrote no dump")


def measure(
    kind: str,
    pages_dir: Path,
    cases: dict[str, tuple[str, bytes, int]],
    valgrind: str,
    callgrind_control: str,
) -> dict[str, float]:
    """Instructions per request of one server, for each case (path, cookie, requests)."""
    port = free_port()
    code = SERVER.format(
        root=str(BENCH.parent), bench=str(BENCH), pages=str(pages_dir), kind=kind, port=port
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        proc = subprocess.Popen(
            [
                valgrind,
                "--tool=callgrind",
                f"--callgrind-out-file={folder}/cg.out",
                f"--log-file={folder}/valgrind.log",
                sys.executable,
                "-c",
                code,
            ],
            env={**os.environ, "PYTHONHASHSEED": "0"},
            cwd=str(BENCH),
        )
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    conn = socket.create_connection(("127.0.0.1", port), timeout=120)
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the {kind} server did not start") from None
                    time.sleep(0.5)
            result = {}
            with conn:
                for name, (path, cookie, count) in cases.items():
                    request = (
                        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
                        + b"Cookie: "
                        + cookie
                        + b"\r\n\r\n"
                    )
                    fetch(conn, request, WARM_UP)
                    subprocess.run(
                        [callgrind_control, "-z", str(proc.pid)], check=True, capture_output=True
                    )
                    fetch(conn, request, count)
                    result[name] = counted(callgrind_control, proc.pid, folder) / count
            return result
        finally:
            proc.terminate()
            proc.wait(60)


def in_process(kind: str, pages_dir: Path, rounds: int, valgrind: str) -> int:
    """Instructions of ``rounds`` passes over the corpus pages through one app, in process."""
    totals = []
    for count in (0, rounds):
        code = IN_PROCESS.format(
            root=str(BENCH.parent), bench=str(BENCH), pages=str(pages_dir), kind=kind, rounds=count
        )
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "valgrind.log"
            subprocess.run(
                [
                    valgrind,
                    "--tool=callgrind",
                    "--callgrind-out-file=/dev/null",
                    f"--log-file={log}",
                    sys.executable,
                    "-c",
                    code,
                ],
                env={**os.environ, "PYTHONHASHSEED": "0"},
                check=True,
            )
            found = re.search(r"Collected\s*:\s*(\d+)", log.read_text())
            if found is None:
                raise RuntimeError("callgrind reported no count")
            totals.append(int(found.group(1)))
    return totals[1] - totals[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="JSON requests per server")
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES)
    args = parser.parse_args()
    valgrind, control = shutil.which("valgrind"), shutil.which("callgrind_control")
    if valgrind is None or control is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    if not args.pages.is_dir():
        sys.exit(f"no bench pages at {args.pages}")
    pages = corpus(args.pages)
    logging.disable(logging.WARNING)  # (consent_log=None says so: not what is measured)
    mw = wrapped(pages)
    everything, nothing = cookie_for(mw, True), cookie_for(mw, False)
    page = "/" + min(pages, key=lambda n: abs(len(pages[n]) - 190_000))  # a median-size page
    html = max(20, args.requests // 10)
    cases = {
        "JSON": ("/json", everything, args.requests),
        f"HTML {page}, all granted": (page, everything, html),
        f"HTML {page}, nothing granted": (page, nothing, html),
    }
    print(
        f"instructions per request under uvicorn (callgrind), one keep-alive connection, "
        f"{args.requests} JSON / {html} HTML requests after {WARM_UP}:"
    )
    counts = {}
    for kind in KINDS:
        wanted = cases if kind in ("bare", "consentgate") else {"JSON": cases["JSON"]}
        if kind != "consentgate":
            wanted = {k: v for k, v in wanted.items() if not k.endswith("nothing granted")}
        counts[kind] = measure(kind, args.pages, wanted, valgrind, control)
    for name in cases:
        base = counts["bare"][name.replace("nothing granted", "all granted")]
        print(f"  {name}")
        for kind in KINDS:
            if name in counts[kind]:
                value = counts[kind][name]
                target = "  (target >= 0.97x)" if (kind, name) == ("consentgate", "JSON") else ""
                print(f"    {kind:36} {value / 1000:7.1f}k   {base / value:.3f}x bare{target}")

    rounds = max(1, args.requests // 200)
    print(
        f"in process, all granted: instructions per request over {rounds} passes of the "
        f"{len(pages)} pages through the raw ASGI app"
    )
    totals = {kind: in_process(kind, args.pages, rounds, valgrind) for kind in IN_PROCESS_KINDS}
    for kind, total in totals.items():
        target = "  (target >= 0.8x)" if kind == "consentgate" else ""
        print(
            f"    {kind:36} {total / rounds / len(pages) / 1000:7.1f}k   "
            f"{totals['bare'] / total:.3f}x bare{target}"
        )


if __name__ == "__main__":
    main()
