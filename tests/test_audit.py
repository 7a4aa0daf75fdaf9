"""``consentgate audit``: a real site under uvicorn with a deliberately ungated tracker and a
deliberately over-gated first-party script, and the same checks in process (``audit_app``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import SECRET, LiveServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentgate import ConsentMiddleware, Policy
from consentgate.audit import (
    LARGE_INLINE,
    SCHEMA_VERSION,
    AuditReport,
    Bounds,
    audit_app,
    audit_urls,
    elements,
    format_table,
)
from consentgate.cli import main

#: The site's own code: big, and it happens to call Matomo's queue when Matomo is there, so the
#: engine gates it by Matomo's signature (over-gated).
APP_CODE = (
    "<script>function boot(){ if (window._paq) { window._paq.push(['trackPageView']); } }"
    + "var filler = 1;" * 300
    + "</script>"
)
GTAG_INLINE = (
    "<script>window.dataLayer=window.dataLayer||[];"
    "function gtag(){dataLayer.push(arguments)}gtag('js', new Date());</script>"
)
HOME = f"""<!doctype html><html><head><title>Home</title>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>
{GTAG_INLINE}
<script data-consent="necessary" src="https://www.google-analytics.com/analytics.js"></script>
<script data-consent="analytical" src="/static/stats.js"></script>
{APP_CODE}
<script src="https://cdn.unknown-stats.example/t.js"></script>
</head><body><h1>Home</h1>
<img src="https://px.unknown-ads.example/p.gif" width="1" height="1" alt="">
<iframe src="https://www.youtube.com/embed/abc"></iframe>
</body></html>"""
CLEAN = """<!doctype html><html><head><title>Clean</title>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>
</head><body><h1>Clean</h1>
<div data-consent="marketing"><p>A container the site tagged: it loads nothing.</p></div>
</body></html>"""


async def home(request: Request) -> Response:
    response = HTMLResponse(HOME)
    response.set_cookie("_fbp", "fb.1.2.3")  # declared necessary below: sent before consent
    response.set_cookie("mystery", "1")
    return response


async def clean(request: Request) -> Response:
    return HTMLResponse(CLEAN)


async def sitemap(request: Request) -> Response:
    base = str(request.base_url).rstrip("/")
    body = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}/</loc></url><url><loc>{base}/clean</loc></url>"
        "<url><loc>https://elsewhere.example/page</loc></url></urlset>"
    )
    return Response(body, media_type="application/xml")


def site(**options: Any) -> Any:
    app = Starlette(
        routes=[Route("/", home), Route("/clean", clean), Route("/sitemap.xml", sitemap)]
    )
    app.add_middleware(
        ConsentMiddleware,
        secret_key=SECRET,
        policy=Policy(cookies={"_fbp": "necessary"}),
        **options,
    )
    return app


def bare_site() -> Any:
    return Starlette(routes=[Route("/", home), Route("/clean", clean)])


FAST = Bounds(max_pages=10, time_limit=30, rate=100, timeout=5)


def by_url(report: AuditReport, suffix: str) -> Any:
    return next(p for p in report.pages if p.url.endswith(suffix))


def check_home(report: AuditReport) -> None:
    page = by_url(report, "/")
    assert page.banner is True
    trackers = {(t.service, t.how if t.gated else "UNGATED") for t in page.trackers}
    # The deliberately ungated tracker: tagged necessary by the site, it runs for everyone.
    assert ("universal-analytics", "UNGATED") in trackers
    [ungated] = page.ungated
    assert ungated.url == "https://www.google-analytics.com/analytics.js"
    assert ungated.category == "analytical"
    # Gated by the engine, by src and by inline signature (with the signature and size).
    assert ("google-analytics", "src") in trackers or ("gtag", "src") in trackers
    inline = [t for t in page.trackers if t.how == "inline" and t.size < LARGE_INLINE]
    assert inline and inline[0].signature and inline[0].signature in GTAG_INLINE
    assert inline[0].size == len(GTAG_INLINE) - len("<script></script>")
    assert ("youtube", "src") in trackers
    # The site's own tag, and the deliberately over-gated first-party code.
    assert any(t.how == "site-tag" and t.url == "/static/stats.js" for t in page.trackers)
    reasons = {(f.reason, f.url) for f in page.first_party_gated}
    assert ("own-host", "/static/stats.js") in reasons
    [large] = [f for f in page.first_party_gated if f.reason == "large-inline"]
    assert large.service == "matomo" and large.size >= LARGE_INLINE
    # Third-party resources no rule covers, and cookies sent before consent.
    assert {(u.kind, u.host) for u in page.unclassified} == {
        ("script", "cdn.unknown-stats.example"),
        ("pixel", "px.unknown-ads.example"),
    }
    assert [(c.name, c.category) for c in page.cookies_before_consent] == [("_fbp", "marketing")]
    assert page.unknown_cookies == ["mystery"]
    assert not page.ok


def test_audit_over_http_reports_the_ungated_tracker_and_the_over_gated_script() -> None:
    with LiveServer(site()) as server:
        report = audit_urls([server.url("/"), server.url("/clean")], bounds=FAST)
    check_home(report)
    clean_page = by_url(report, "/clean")
    assert clean_page.ok and clean_page.banner is True
    assert [(t.service, t.gated) for t in clean_page.trackers] == [("google-analytics", True)]
    assert not report.ok
    assert report.hosts()[0]["host"] in ("cdn.unknown-stats.example", "px.unknown-ads.example")
    table = format_table(report)
    assert "UNGATED" in table and "FAILED" in table and "large-inline" in table


def test_audit_app_in_process() -> None:
    report = audit_app(site(), ["/", "/clean"])
    check_home(report)
    assert by_url(report, "/clean").ok


def test_a_clean_site_passes() -> None:
    report = audit_app(site(), ["/clean"])
    assert report.ok, report.as_dict()


def test_a_site_without_the_middleware_has_no_banner_and_live_trackers() -> None:
    report = audit_app(bare_site(), ["/clean"])
    page = report.pages[0]
    assert page.banner is False
    assert [(t.service, t.gated) for t in page.ungated] == [("google-analytics", False)]
    assert report.errors  # the consent endpoint is not there
    assert not report.ok


def test_remove_mode_counts_removed_trackers_as_gated() -> None:
    report = audit_app(_remove_site(), ["/clean"])
    [tracker] = report.pages[0].trackers
    assert tracker.gated and tracker.how == "removed" and tracker.service == "google-analytics"


def _remove_site() -> Any:
    app = Starlette(routes=[Route("/clean", clean)])
    app.add_middleware(ConsentMiddleware, secret_key=SECRET, policy=Policy(mode="remove"))
    return app


def test_sitemap_only_names_hosts_and_bounds_pages() -> None:
    with LiveServer(site()) as server:
        report = audit_urls(sitemap=server.url("/sitemap.xml"), bounds=FAST)
        assert [p.url for p in report.pages] == [server.url("/"), server.url("/clean")]
        assert report.skipped == ["https://elsewhere.example/page"]
        one = audit_urls(
            [server.url("/"), server.url("/clean")],
            bounds=Bounds(max_pages=1, rate=100, timeout=5),
        )
    assert [p.url for p in one.pages] == [server.url("/")]
    assert one.skipped == [server.url("/clean")]
    assert any("page limit" in e for e in one.errors)


def test_rate_is_a_bound() -> None:
    with LiveServer(site()) as server:
        import time

        started = time.monotonic()
        audit_urls([server.url("/clean")], bounds=Bounds(rate=5, timeout=5))
        # A POST for the cookie and two GETs: two pauses of 1/5 s at least.
        assert time.monotonic() - started >= 0.4


def test_bad_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="not an http"):
        audit_urls(["ftp://example.com/"])
    with pytest.raises(ValueError, match="max_pages"):
        Bounds(max_pages=0)


def test_json_schema_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with LiveServer(site()) as server:
        failed = main(["audit", "--json", "--rate", "100", server.url("/")])
        out = json.loads(capsys.readouterr().out)
        passed = main(["audit", "--rate", "100", "--no-progress", server.url("/clean")])
        table = capsys.readouterr().out
    assert failed == 1 and passed == 0
    assert "OK" in table.splitlines()[-1]
    assert out["schema"] == "consentgate-audit" and out["version"] == SCHEMA_VERSION == 1
    assert set(out) == {"schema", "version", "ok", "summary", "pages", "hosts", "skipped", "errors"}
    assert set(out["summary"]) == {
        "pages",
        "trackers",
        "ungated",
        "missing_banner",
        "cookies_before_consent",
        "unclassified",
        "first_party_gated",
        "errors",
    }
    page = out["pages"][0]
    assert set(page) == {
        "url",
        "status",
        "html",
        "banner",
        "ok",
        "trackers",
        "cookies_before_consent",
        "unknown_cookies",
        "unclassified",
        "first_party_gated",
        "errors",
    }
    assert set(page["trackers"][0]) == {
        "element",
        "service",
        "category",
        "gated",
        "how",
        "url",
        "signature",
        "size",
    }
    assert out["summary"]["ungated"] == 1 and out["ok"] is False


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["audit"])
    assert exit_info.value.code == 2
    assert "URL or --sitemap" in capsys.readouterr().err


def test_elements_reads_scripts_and_noscript_pixels() -> None:
    found = elements(
        "<script src=a.js></script><script>var s = '<img src=x>';</script>"
        '<noscript><img src="https://t.example/p"></noscript><p>'
    )
    assert [(e.tag, e.source(), e.noscript) for e in found] == [
        ("script", "a.js", False),
        ("script", "", False),
        ("img", "https://t.example/p", True),
        ("p", "", False),
    ]
    assert found[1].text == "var s = '<img src=x>';"


def test_a_redirect_is_reported_not_followed() -> None:
    from starlette.responses import RedirectResponse

    async def moved(request: Request) -> Response:
        return RedirectResponse("https://elsewhere.example/", status_code=301)

    app = Starlette(routes=[Route("/old", moved)])
    app.add_middleware(ConsentMiddleware, secret_key=SECRET)
    [page] = audit_app(app, ["/old"]).pages
    assert page.status == 301 and not page.ok
    assert page.errors == ["status 301: redirects to https://elsewhere.example/; audit that"]


def test_progress_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with LiveServer(site()) as server:
        code = main(["audit", "--progress", "--rate", "100", server.url("/clean")])
    captured = capsys.readouterr()
    assert code == 0
    assert f"audit: 0/1 pages {server.url('/clean')}" in captured.err
    assert "audit: 1/1 pages" in captured.err
    assert "audit:" not in captured.out


def test_a_cookie_the_site_declares_necessary_is_its_call_unless_the_registry_knows() -> None:
    async def login(request: Request) -> Response:
        response = HTMLResponse(CLEAN)
        response.set_cookie("sessionid", "s")  # Django's (an Instagram cookie to the database)
        response.set_cookie("_ga", "GA1.2.3")  # Google Analytics', whatever the site says
        return response

    app = Starlette(routes=[Route("/login", login)])
    policy = Policy(cookies={"sessionid": "necessary", "_ga": "necessary"})
    app.add_middleware(ConsentMiddleware, secret_key=SECRET, policy=policy)
    [page] = audit_app(app, ["/login"]).pages
    assert [(c.name, c.source) for c in page.cookies_before_consent] == [("_ga", "vendor")]
    assert page.unknown_cookies == []
