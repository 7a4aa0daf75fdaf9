"""Tiny apps and clients shared by the tests."""

from __future__ import annotations

import importlib.util
import socket
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from consentgate import ConsentMiddleware, get_consent

ROOT = Path(__file__).resolve().parent.parent


def _bench_pages_setting() -> Any:
    """bench/bench_pages.py, the one place the bench pages' folder is found, loaded by its path
    and kept as ``bench_pages`` (what the scripts of bench/ import, when a test loads one)."""
    if "bench_pages" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "bench_pages", ROOT / "bench" / "bench_pages.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_pages"] = module
        spec.loader.exec_module(module)
    return sys.modules["bench_pages"]


#: The bench pages' folder: CONSENTGATE_BENCH_PAGES, by default ../shared/bench-pages.
BENCH_PAGES: Path = _bench_pages_setting().bench_pages()


def bench_pages_missing() -> str | None:
    """Why a test of the bench pages is skipped (naming the setting), or None."""
    why: str | None = _bench_pages_setting().missing()
    return why


SECRET = "test-secret-of-at-least-32-characters"
ORIGIN = {"origin": "http://testserver"}
PAGE = "<!doctype html><html><head><title>t</title></head><body><h1>Hello</h1></body></html>"
BANNER = 'id="consentgate-banner"'
BANNER_BYTES = BANNER.encode()
SETTINGS = 'id="consentgate-settings"'


def make_app(page: str = PAGE, **options: Any) -> Starlette:
    async def home(request: Request) -> Response:
        return HTMLResponse(page)

    async def state(request: Request) -> Response:
        return JSONResponse(get_consent(request).as_dict())

    async def text(request: Request) -> Response:
        return PlainTextResponse("plain </body>")

    app = Starlette(routes=[Route("/", home), Route("/state", state), Route("/text", text)])
    options.setdefault("secret_key", SECRET)
    app.add_middleware(ConsentMiddleware, **options)
    return app


def client(app: Any = None, **options: Any) -> TestClient:
    return TestClient(app if app is not None else make_app(**options))


def choose(c: TestClient, action: str, **fields: Any) -> Response:
    data: dict[str, Any] = {"action": action, **fields}
    return c.post("/consentgate/consent", data=data, headers=ORIGIN, follow_redirects=False)


def state(c: Any, **headers: str) -> dict[str, Any]:
    """What ``get_consent`` says for the visitor of ``c`` (the /state route of ``make_app``)."""
    return dict(c.get("/state", headers=headers).json())


def checkbox(html: str, name: str, value: str) -> str:
    """The ``<input>`` tag of a checkbox, whatever the attribute order."""
    import re

    for tag in re.findall(r"<input\b[^>]*>", html):
        if f'name="{name}"' in tag and f'value="{value}"' in tag:
            return str(tag)
    raise AssertionError(f"no checkbox {name}={value} in the page")


def is_checked(html: str, value: str, name: str = "category") -> bool:
    import re

    return re.search(r"\schecked[\s>=]", checkbox(html, name, value)) is not None


# -- a raw ASGI harness, where message order matters -------------------------------------------


class Recorder:
    """The ``send`` of a request: every message the app sent, in order."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(
            m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"
        )

    @property
    def status(self) -> int:
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        assert len(starts) == 1, self.messages
        return int(starts[0]["status"])

    def ended(self) -> bool:
        last = self.messages[-1]
        return last["type"] == "http.response.body" and not last.get("more_body", False)


async def run(
    app: Any,
    scope_extra: dict[str, Any] | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    method: str = "GET",
    path: str = "/",
    request_body: bytes = b"",
) -> Recorder:
    """One HTTP request through ``app``; ``scope_extra`` overrides the scope's keys."""
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers or [(b"host", b"testserver")],
        "scheme": "http",
        "http_version": "1.1",
        "extensions": {},
    }
    scope.update(scope_extra or {})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": request_body, "more_body": False}

    recorder = Recorder()
    await app(scope, receive, recorder)
    return recorder


def raw_app(*messages: dict[str, Any]) -> Any:
    """An app that sends ``messages`` as they are."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        for message in messages:
            await send(dict(message))

    return app


def start(
    content_type: bytes = b"text/html; charset=utf-8",
    extra: list[tuple[bytes, bytes]] | None = None,
    status: int = 200,
) -> dict[str, Any]:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", content_type), *(extra or [])],
    }


def body(data: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}


# -- live servers --------------------------------------------------------------------------------


class LiveServer:
    """uvicorn serving ``app`` on a free port of 127.0.0.1, in a thread."""

    def __init__(self, app: Any, **config: Any) -> None:
        self.app = app
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.sock = sock
        self.port = sock.getsockname()[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        config = {"log_level": "warning", "lifespan": "off", "access_log": False, **config}
        self.server = uvicorn.Server(uvicorn.Config(app, **config))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)
        self.sock.close()

    def url(self, path: str) -> str:
        return self.origin + path


@dataclass(frozen=True)
class Demo:
    """The demo site (``python -m demo_site``) running at ``url``: the ``demo`` fixture."""

    url: str
    stderr: Path

    def client(self) -> httpx.Client:
        """A visitor of their own: a fresh cookie jar."""
        return httpx.Client(base_url=self.url, timeout=5, follow_redirects=False)

    def choose(self, visitor: httpx.Client, action: str, **fields: str) -> httpx.Response:
        return visitor.post(
            "/consentgate/consent",
            data={"action": action, **fields},
            headers={"origin": self.url},
        )


def demo_hits(visitor: httpx.Client) -> list[dict[str, object]]:
    """The demo's record of tracker hits, newest first."""
    response = visitor.get("/hits", params={"format": "json"})
    assert response.status_code == 200
    hits: list[dict[str, object]] = response.json()["hits"]
    return hits


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
