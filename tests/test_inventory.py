"""Inventory in development: ``debug=True`` logs what the app sets and serves that no rule
covers, once each; ``consentgate inventory`` turns that log into declarations to paste."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from helpers import SECRET, TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from consentgate import Category, ConsentMiddleware, Policy, Vendor
from consentgate.cli import main
from consentgate.inventory import MARK, Observer, draft, read_log, site_domain, vendor_id

PAGE = """<!doctype html><html><head><title>Shop</title>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>
<script src="https://cdn.unknown-stats.example/t.js?v=3"></script>
<script src="/static/app.js"></script>
<link rel="stylesheet" href="https://fonts.example-cdn.net/css?family=x">
</head><body>
<img src="https://px.unknown-ads.example/p.gif" width="1" height="1" alt="">
<img src="https://images.example-cdn.net/logo.png" alt="logo">
<iframe src="https://widgets.unknown-maps.example/embed?q=1"></iframe>
<img src="https://cdn.allowed.example/a.png" alt="">
</body></html>"""


async def page(request: Request) -> Response:
    response = HTMLResponse(PAGE)
    response.set_cookie("theme", "dark")  # declared below
    response.set_cookie("_ga", "GA1.2.3")  # a built-in vendor's
    response.set_cookie("__stripe_mid", "x")  # known to the Open Cookie Database only
    response.set_cookie("basket_token", "x")  # known to nobody
    return response


async def api(request: Request) -> Response:
    response = JSONResponse({"ok": True})
    response.set_cookie("basket_token", "y")
    return response


def app(debug: bool = True) -> ConsentMiddleware:
    inner = Starlette(routes=[Route("/shop", page), Route("/api", api)])
    return ConsentMiddleware(
        inner,
        secret_key=SECRET,
        consent_log=None,
        policy=Policy(cookies={"theme": "preference"}, allow=["cdn.allowed.example"]),
        debug=debug,
    )


def records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "consentgate.inventory"]


def test_debug_logs_each_cookie_and_unclassified_resource_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="consentgate.inventory")
    client = TestClient(app())
    for _ in range(3):
        assert client.get("/shop").status_code == 200
        assert client.get("/api").status_code == 200
    lines = records(caplog)
    assert all(line.startswith(MARK + " {") for line in lines)
    inventory = read_log(lines)
    assert inventory.records == len(lines)  # once each, however many requests
    assert {name: declared for name, (declared, _) in inventory.cookies.items()} == {
        "theme": "preference",
        "_ga": "analytical",
        "__stripe_mid": None,
        "basket_token": None,
    }
    assert inventory.cookies["basket_token"][1] == ["/shop"]  # (where it was first set)
    found = {(kind, host) for (kind, _), (host, _) in inventory.resources.items()}
    # The vendor's script, the site's own and the allow-listed host are covered by rules.
    assert found == {
        ("script", "cdn.unknown-stats.example"),
        ("pixel", "px.unknown-ads.example"),
        ("image", "images.example-cdn.net"),
        ("stylesheet", "fonts.example-cdn.net"),
        ("iframe", "widgets.unknown-maps.example"),
    }


def test_the_page_is_still_gated_and_whole_with_debug() -> None:
    with_debug = TestClient(app()).get("/shop").text
    without = TestClient(app(debug=False)).get("/shop").text
    assert with_debug == without
    assert 'data-consent-src="https://www.googletagmanager.com' in with_debug


def test_without_debug_the_app_is_called_directly() -> None:
    inner = Starlette()
    assert ConsentMiddleware(inner, secret_key=SECRET, consent_log=None).app is inner
    watched = ConsentMiddleware(inner, secret_key=SECRET, consent_log=None, debug=True).app
    assert isinstance(watched, Observer) and watched.app is inner


def test_the_draft_pastes_into_a_policy(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="consentgate.inventory")
    TestClient(app()).get("/shop")
    text = draft(read_log(records(caplog)))
    namespace: dict[str, Any] = {"Policy": Policy, "Vendor": Vendor, "Category": Category}
    exec(f"policy = Policy(\n{text}\n)", namespace)
    policy: Policy = namespace["policy"]
    vendors = {v.id: v for v in policy.vendors}
    assert set(vendors) == {"unknown-stats-example", "unknown-ads-example", "unknown-maps-example"}
    assert vendors["unknown-stats-example"].urls == ("cdn.unknown-stats.example",)
    # Declared cookies are left out; a database one gets its category, an unknown the strictest.
    assert dict(policy.cookie_pairs) == {"__stripe_mid": "necessary", "basket_token": "marketing"}
    assert "Open Cookie Database: Stripe" in text
    assert "#   fonts.example-cdn.net (stylesheet)" in text
    assert "#   images.example-cdn.net (image)" in text


def test_the_command_reads_any_log_format(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.WARNING, logger="consentgate.inventory")
    TestClient(app()).get("/shop")
    formatter = logging.Formatter("%(asctime)s %(levelname)s [%(name)s] %(message)s")
    log = tmp_path / "app.log"
    noise = ["INFO:     127.0.0.1 - GET /shop 200", "Traceback (most recent call last): {bad"]
    lines = [formatter.format(r) for r in caplog.records if r.name == "consentgate.inventory"]
    log.write_text("\n".join(noise[:1] + lines + noise[1:]) + "\n")
    jsonl = tmp_path / "inventory.jsonl"
    jsonl.write_text("\n".join(line.split(MARK, 1)[1].strip() for line in lines) + "\n")
    assert main(["inventory", str(log)]) == 0
    from_log = capsys.readouterr().out
    assert main(["inventory", str(jsonl)]) == 0
    assert capsys.readouterr().out == from_log
    assert 'Vendor("unknown-stats-example", "unknown-stats.example", "marketing"' in from_log
    empty = tmp_path / "empty.log"
    empty.write_text("nothing here\n")
    assert main(["inventory", str(empty)]) == 1
    assert main(["inventory", str(tmp_path / "missing.log")]) == 2


def test_names() -> None:
    assert site_domain("a.b.cdn.example.com") == "example.com"
    assert site_domain("www.shop.co.uk") == "shop.co.uk"
    assert vendor_id("1st-party.example") == "v-1st-party-example"
    assert len(vendor_id("x" * 80 + ".example")) <= 32


def test_a_failure_of_the_observer_never_breaks_the_page(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("observer bug")

    middleware = app()
    assert isinstance(middleware.app, Observer)
    monkeypatch.setattr(middleware.app, "page", broken)
    monkeypatch.setattr(middleware.app, "cookie", broken)
    client = TestClient(middleware)
    for _ in range(2):
        response = client.get("/shop")
        assert response.status_code == 200
        assert 'data-consent-src="https://www.googletagmanager.com' in response.text
    failures = [r for r in caplog.records if "could not read a response" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None


def test_odd_markup_is_read_without_failing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="consentgate.inventory")

    async def odd(request: Request) -> Response:
        return HTMLResponse(
            "<![if x]><![pc'r ><script src='https://t.odd.example/x.js'></script>"
            "<img src=https://px.odd.example/p width=1 height=1><![CDATA[",
        )

    middleware = ConsentMiddleware(
        Starlette(routes=[Route("/", odd)]), secret_key=SECRET, consent_log=None, debug=True
    )
    assert TestClient(middleware).get("/").status_code == 200
    hosts = {host for (_, _), (host, _) in read_log(records(caplog)).resources.items()}
    assert hosts == {"t.odd.example", "px.odd.example"}
