"""The services listed (pages.Services, Policy.services, ConsentMiddleware.listed_services): only
those the site declares (and, with debug, those met on its pages); and the banner rendered once
per language and state (pages.Pages.snippet)."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest
from helpers import PAGE, SECRET, body, choose, client, make_app, raw_app, run, start
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consentgate import ConsentMiddleware, Policy, Vendor
from consentgate.pages import Renderer
from consentgate.vendors import BUILTIN_VENDORS

GA4_AND_YOUTUBE = Policy(services=["google-analytics", "youtube"])
OWN = Vendor("abtest", "Our A/B tests", "analytical", "/privacy#ab", urls=("ab.example.com",))
VIMEO_PAGE = (
    "<!doctype html><html><body><p>Hi</p>"
    '<iframe src="https://player.vimeo.com/video/1" width="640" height="360"></iframe>'
    "</body></html>"
)
GA_PAGE = (
    "<!doctype html><html><head>"
    '<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
    "</head><body><p>Hi</p></body></html>"
)


def service_switches(html: str) -> list[str]:
    """The service ids the page offers a switch for, in order."""
    return re.findall(r'<input type="checkbox"[^>]*name="service" value="([^"]+)"', html)


def middleware_of(**options: Any) -> ConsentMiddleware:
    options.setdefault("secret_key", SECRET)
    options.setdefault("consent_log", None)
    return ConsentMiddleware(Starlette(), **options)


def test_a_site_using_ga4_and_youtube_lists_exactly_those_two() -> None:
    site = middleware_of(policy=GA4_AND_YOUTUBE)
    assert [v.id for v in site.listed_services()] == ["google-analytics", "youtube"]
    assert [v.id for v in site.listed_services("analytical")] == ["google-analytics"]
    assert [v.id for v in site.listed_services("marketing")] == ["youtube"]
    assert site.listed_services("preference") == ()
    c = client(policy=GA4_AND_YOUTUBE)
    banner = c.get("/").text
    assert sorted(service_switches(banner)) == ["google-analytics", "youtube"]
    assert "Hotjar" not in banner and "Programmatic ad exchanges" not in banner
    preferences = c.get("/consentgate/preferences").text
    assert sorted(service_switches(preferences)) == ["google-analytics", "youtube"]


def test_nothing_declared_lists_only_the_sites_own_vendors() -> None:
    assert service_switches(client().get("/").text) == []
    html = client(policy=Policy(vendors=[OWN])).get("/").text
    assert service_switches(html) == ["abtest"]
    site = middleware_of(policy=Policy(vendors=[OWN], services=["youtube"]))
    assert [v.id for v in site.listed_services()] == ["youtube", "abtest"]  # the policy's order


def test_without_builtin_vendors_the_sites_own_are_listed() -> None:
    site = middleware_of(policy=Policy(vendors=[OWN]), builtin_vendors=False)
    assert [v.id for v in site.listed_services()] == ["abtest"]


@pytest.mark.parametrize(
    ("services", "message"),
    [
        (["youtub"], "'youtub', which is no vendor"),
        (["youtube", "nope"], "'nope', which is no vendor"),
        (["a", "youtube", "b"], "'a', 'b', which are no vendors"),
    ],
)
def test_an_unknown_service_fails_at_start_naming_it(services: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        middleware_of(policy=Policy(services=services))
    with pytest.raises(ValueError, match="no vendor id"):
        Policy(services=["Not an id!"])


def test_listing_is_not_gating_an_undeclared_tracker_is_still_gated() -> None:
    html = client(page=GA_PAGE, policy=GA4_AND_YOUTUBE.__class__(services=["youtube"])).get("/")
    assert 'data-consent-src="https://www.googletagmanager.com/gtag/js?id=G-1"' in html.text
    assert ' src="https://www.googletagmanager.com' not in html.text


def test_a_service_allowed_from_a_placeholder_stays_on_the_preferences_page() -> None:
    c = client(page=VIMEO_PAGE)
    choose(c, "allow", service="vimeo")
    preferences = c.get("/consentgate/preferences").text
    assert service_switches(preferences) == ["vimeo"]
    assert re.search(r'value="vimeo" checked', preferences)


def test_the_consent_record_fingerprints_what_was_listed() -> None:
    from starlette.datastructures import Headers

    listed = middleware_of(policy=GA4_AND_YOUTUBE).pages.texts_hash(Headers())
    other = middleware_of(policy=Policy(services=["youtube"])).pages.texts_hash(Headers())
    assert listed != other
    assert listed == middleware_of(policy=GA4_AND_YOUTUBE).pages.texts_hash(Headers())


def test_debug_lists_services_met_on_pages_and_says_what_to_declare(
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = middleware_of(policy=Policy(services=["youtube"]), debug=True)
    app = make_app(page=VIMEO_PAGE, policy=Policy(services=["youtube"]), debug=True)
    c = TestClient(app)
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        first = c.get("/").text
        second = c.get("/").text
    assert service_switches(first) == ["youtube"]  # (the page is read after its banner)
    assert service_switches(second) == ["vimeo", "youtube"]
    said = [r.getMessage() for r in caplog.records if "not declared" in r.getMessage()]
    assert len(said) == 1 and "vimeo gated on /" in said[0]
    assert "Policy(services=['vimeo', 'youtube'])" in said[0]
    assert [v.id for v in site.listed_services()] == ["youtube"]  # per process: not that one


def test_without_debug_nothing_is_learnt() -> None:
    c = client(page=VIMEO_PAGE, policy=Policy(services=["youtube"]))
    c.get("/")
    assert service_switches(c.get("/").text) == ["youtube"]


# -- the banner, rendered once per language and state -------------------------------------


def counting_renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    rendered: list[str] = []
    original = Renderer.render

    def render(self: Renderer, name: str, context: Any) -> str:
        rendered.append(name)
        return original(self, name, context)

    monkeypatch.setattr(Renderer, "render", render)
    return rendered


def test_the_banner_is_rendered_once_per_language_and_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered = counting_renders(monkeypatch)
    c = client(policy=GA4_AND_YOUTUBE)
    for n in range(20):
        html = c.get(f"/?page={n}", headers={"accept-language": "en"}).text
        assert f'name="next" value="/?page={n}"' in html
    assert rendered.count("banner.html") == 1
    german = c.get("/", headers={"accept-language": "de"}).text
    assert rendered.count("banner.html") == 2 and "Alle ablehnen" in german
    c.get("/", headers={"accept-language": "de", "sec-gpc": "1"})  # another state: GPC shown
    assert rendered.count("banner.html") == 3
    choose(c, "reject_all")
    for _ in range(3):
        c.get("/", headers={"accept-language": "en"})
    assert rendered.count("settings_link.html") == 1


def test_each_request_gets_its_own_page_to_come_back_to_escaped() -> None:
    app = ConsentMiddleware(
        raw_app(start(), body(PAGE.encode())), secret_key=SECRET, consent_log=None
    )

    def next_of(path: str, query: bytes) -> list[str]:
        recorder = asyncio.run(run(app, {"query_string": query}, path=path))
        return re.findall(r'name="next" value="([^"]*)"', recorder.body.decode("ascii"))

    assert next_of("/a", b"") == ["/a", "/a"]  # (the first layer's form and the dialog's)
    raw = next_of("/b", b'q="><script>alert(1)</script>&x=1')
    assert raw == ["/b?q=&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;x=1"] * 2
    assert next_of("/caf\u00e9", b"") == ["/caf&#233;"] * 2  # (ASCII, as the page's charset may be)


def test_each_response_gets_its_own_nonce() -> None:
    nonces = iter(["n0nceA", "n0nceB", 'bad"nonce'])

    async def page(request: Request) -> Response:
        csp = f"script-src 'nonce-{next(nonces)}'"
        return HTMLResponse(PAGE, headers={"content-security-policy": csp})

    app = ConsentMiddleware(Starlette(routes=[Route("/", page)]), secret_key=SECRET)
    c = TestClient(app)
    assert 'nonce="n0nceA"' in c.get("/").text
    second = c.get("/").text
    assert 'nonce="n0nceB"' in second and "n0nceA" not in second
    assert 'bad"nonce' not in c.get("/").text


def test_the_demo_lists_exactly_what_it_uses(tmp_path: Any) -> None:
    from demo_site.app import create_app

    c = TestClient(create_app(secret_key=SECRET, consent_log=str(tmp_path / "log.sqlite3")))
    assert service_switches(c.get("/").text) == ["youtube"]
    assert service_switches(c.get("/consentgate/preferences").text) == ["youtube"]


def test_the_audit_says_which_services_to_declare() -> None:
    from consentgate.audit import audit_app, format_table

    page = GA_PAGE.replace("</body>", VIMEO_PAGE.split("<body>")[1].split("</body>")[0] + "</body>")
    report = audit_app(make_app(page=page, consent_log=None, policy=Policy(services=["youtube"])))
    assert report.services() == ["google-analytics", "vimeo"]
    assert "Policy(services=['google-analytics', 'vimeo'])" in format_table(report)


def test_accept_language_headers_share_the_rendering_of_their_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered = counting_renders(monkeypatch)
    c = client()
    for header in ("en-US,en;q=0.9", "en-GB", "xx, en;q=0.5", "", "EN"):
        assert "Reject all" in c.get("/", headers={"accept-language": header}).text
    assert rendered.count("banner.html") == 1


def test_the_kept_renderings_are_bounded_by_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    import consentgate.pages as pages_module

    monkeypatch.setattr(pages_module, "_SNIPPET_BYTES", 100_000)
    every = Policy(services=[v.id for v in BUILTIN_VENDORS])
    site = middleware_of(policy=every)
    scope: dict[str, Any] = {"type": "http", "path": "/", "root_path": "", "query_string": b""}
    sizes = []
    for n in range(40):  # a flood of Host headers, each its own origin
        scope["headers"] = [(b"host", f"h{n}.example".encode())]
        snippet = site.pages.snippet(scope, site.undecided(scope, None), None)
        assert f"//h{n}.example/consentgate/consent".encode() in snippet
        sizes.append(len(snippet))
    assert min(sizes) > 20_000  # (81 services listed: a heavy banner)
    assert site.pages._snippet_bytes <= 100_000
    assert len(site.pages._snippets) <= 100_000 // min(sizes) + 1


def test_the_inventory_drafts_the_services_met_with_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from consentgate.inventory import draft, read_log

    page = GA_PAGE.replace("</body>", VIMEO_PAGE.split("<body>")[1].split("</body>")[0] + "</body>")
    c = TestClient(make_app(page=page, policy=Policy(services=["youtube"]), debug=True))
    with caplog.at_level(logging.WARNING, logger="consentgate.inventory"):
        c.get("/")
        c.get("/")  # (each once per process)
    lines = [r.getMessage() for r in caplog.records if r.name == "consentgate.inventory"]
    services = [line for line in lines if '"kind": "service"' in line]
    assert len(services) == 2
    text = draft(read_log(lines))
    assert "services=['google-analytics', 'vimeo']," in text
    assert "#   vimeo on /" in text
