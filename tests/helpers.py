"""Tiny apps and clients shared by the tests."""

from __future__ import annotations

import warnings
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from consentgate import ConsentMiddleware, get_consent

SECRET = "test-secret-of-at-least-32-characters"
ORIGIN = {"origin": "http://testserver"}
PAGE = "<!doctype html><html><head><title>t</title></head><body><h1>Hello</h1></body></html>"


def make_app(page: str = PAGE, **options: Any) -> Starlette:
    async def home(request: Request) -> Response:
        return HTMLResponse(page)

    async def state(request: Request) -> Response:
        return JSONResponse(get_consent(request).as_dict())

    async def text(request: Request) -> Response:
        return PlainTextResponse("plain </body>")

    app = Starlette(
        routes=[Route("/", home), Route("/state", state), Route("/text", text)]
    )
    options.setdefault("secret_key", SECRET)
    app.add_middleware(ConsentMiddleware, **options)
    return app


def client(app: Any = None, **options: Any) -> TestClient:
    return TestClient(app if app is not None else make_app(**options))


def choose(c: TestClient, action: str, **fields: Any) -> Response:
    data: dict[str, Any] = {"action": action, **fields}
    return c.post("/consentgate/consent", data=data, headers=ORIGIN, follow_redirects=False)


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
