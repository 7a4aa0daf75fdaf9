"""Litestar: ``plugins=[ConsentPlugin(...)]``, or its own middleware list with the route of
consentgate's paths; Litestar's Jinja templates, streams, files and static files."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
from helpers import BANNER, ORIGIN
from litestar import Litestar, MediaType, Request, get
from litestar.middleware import DefineMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import File, Stream, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from matrix import CHUNKS, OPTIONS, PAGE, check_site, gated

import consentgate
from consentgate import ConsentMiddleware
from consentgate.litestar import ConsentPlugin, consentgate_route

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TEMPLATE = PAGE.replace(
    "<h1>Welcome</h1>",
    "<h1>Welcome</h1>{% consent 'analytical' %}<p>with stats</p>{% else %}<p>no stats</p>"
    "{% endconsent %}{{ cookie_settings_link() }}",
)


def handlers(folder: Path) -> list[Any]:
    (folder / "page.html").write_text(PAGE)
    (folder / "site").mkdir()
    (folder / "site" / "index.html").write_text(PAGE)

    @get("/", media_type=MediaType.HTML)
    async def home(request: Request[Any, Any, Any]) -> Template:
        return Template(template_name="home.html")

    async def chunks() -> AsyncIterator[str]:
        for chunk in CHUNKS:
            yield chunk

    @get("/stream")
    async def stream() -> Stream:
        return Stream(chunks(), media_type=MediaType.HTML)

    @get("/file")
    async def file() -> File:
        return File(folder / "page.html", content_disposition_type="inline", media_type="text/html")

    @get("/api")
    async def api() -> dict[str, bool]:
        return {"ok": True}

    static = create_static_files_router(path="/site", directories=[folder / "site"], html_mode=True)
    return [home, stream, file, api, static]


def templates() -> TemplateConfig[JinjaTemplateEngine]:
    env = jinja2.Environment(loader=jinja2.DictLoader({"home.html": TEMPLATE}), autoescape=True)
    consentgate.install_jinja2(env)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


def test_the_plugin_gates_and_serves_consentgates_paths(tmp_path: Path) -> None:
    app = Litestar(
        handlers(tmp_path), plugins=[ConsentPlugin(**OPTIONS)], template_config=templates()
    )
    with TestClient(app) as client:
        check_site(client, ("/", "/stream", "/file", "/site/"))


def test_litestars_own_middleware_list_works_with_the_route(tmp_path: Path) -> None:
    app = Litestar(
        [*handlers(tmp_path), consentgate_route()],
        middleware=[DefineMiddleware(ConsentMiddleware, **OPTIONS)],
        template_config=templates(),
        # (Litestar builds this middleware once per route handler, its OpenAPI pages too:
        # without them the test builds 21 instead of 41.)
        openapi_config=None,
    )
    with TestClient(app) as client:
        check_site(client)


def test_templates_follow_the_visitors_choice(tmp_path: Path) -> None:
    app = Litestar(
        handlers(tmp_path), plugins=[ConsentPlugin(**OPTIONS)], template_config=templates()
    )
    with TestClient(app) as client:
        before = client.get("/").text
        assert "no stats" in before and 'href="/consentgate/preferences"' in before
        client.post("/consentgate/consent", data={"action": "accept_all"}, headers=ORIGIN)
        assert "with stats" in client.get("/").text


def test_the_plugin_builds_one_middleware_and_checks_it_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[object] = []
    original = ConsentMiddleware.__init__

    def counting(self: ConsentMiddleware, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ConsentMiddleware, "__init__", counting)
    app = Litestar(
        handlers(tmp_path), plugins=[ConsentPlugin(**OPTIONS)], template_config=templates()
    )
    with TestClient(app) as client:
        assert gated(client.get("/stream").text) and gated(client.get("/file").text)
    assert len(built) == 1
    with pytest.raises(ValueError, match="secret_key"):
        ConsentPlugin(secret_key="short", consent_log=None)


def test_a_custom_prefix_gets_its_route(tmp_path: Path) -> None:
    plugin = ConsentPlugin(**OPTIONS, prefix="/privacy-choices")
    with TestClient(
        Litestar(handlers(tmp_path), plugins=[plugin], template_config=templates())
    ) as client:
        page = client.get("/stream").text
        assert BANNER in page and "/privacy-choices/static/" in page
        assert client.get("/privacy-choices/preferences").status_code == 200


def test_the_route_without_the_middleware_answers_404(tmp_path: Path) -> None:
    with TestClient(Litestar([consentgate_route()])) as client:
        assert client.get("/consentgate/preferences").status_code == 404
        assert client.post("/consentgate/consent").status_code == 404


def test_wrapping_the_whole_app_works_too(tmp_path: Path) -> None:
    app = Litestar(handlers(tmp_path), template_config=templates())
    with TestClient(ConsentMiddleware(app, **OPTIONS)) as client:
        check_site(client, ("/", "/stream", "/file", "/site/"))


def test_the_plugin_keeps_the_inventory_of_debug_mode(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unknown = '<script src="https://cdn.unknown-stats.example/s.js"></script>'

    @get("/", media_type=MediaType.HTML)
    async def home() -> str:
        return PAGE.replace("</body>", unknown + "</body>")

    @get("/again", media_type=MediaType.HTML)
    async def again() -> str:
        return PAGE.replace("</body>", unknown + "</body>")

    plugin = ConsentPlugin(**OPTIONS, debug=True)
    with (
        caplog.at_level("WARNING", "consentgate.inventory"),
        # (Litestar configures logging itself by default, which takes pytest's handler away.)
        TestClient(Litestar([home, again], plugins=[plugin], logging_config=None)) as client,
    ):
        assert gated(client.get("/").text) and gated(client.get("/again").text)
    lines = [
        r.getMessage() for r in caplog.records if "cdn.unknown-stats.example" in r.getMessage()
    ]
    assert len(lines) == 1 and lines[0].startswith("consentgate-inventory")
