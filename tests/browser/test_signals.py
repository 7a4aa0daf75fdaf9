"""Consent Mode v2, GPC, jurisdiction, strict CSP, languages and the page API, in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import LiveServer

from consentgate import Policy, SignalSettings
from consentgate.signals import country_header

from .conftest import Visit, VisitFactory, consent_log
from .site import EXAMPLE_LIB, build_app
from .test_gating import ANALYTICAL_COOKIES, ANALYTICAL_HOSTS, MARKETING_HOSTS

DENIED = {
    "ad_storage": "denied",
    "ad_user_data": "denied",
    "ad_personalization": "denied",
    "analytics_storage": "denied",
    "functionality_storage": "denied",
    "personalization_storage": "denied",
    "security_storage": "granted",
}
GRANTED = {key: "granted" for key in DENIED}


@pytest.fixture(scope="module")
def signals_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    signals = SignalSettings(consent_mode=True, jurisdiction=country_header("CF-IPCountry", ["US"]))
    app = build_app(consent_log=consent_log(tmp_path_factory), signals=signals)
    with LiveServer(app) as live:
        yield live


def test_consent_mode_defaults_come_first_and_choices_update_them(
    visit: VisitFactory, signals_server: LiveServer
) -> None:
    v = visit(live=signals_server)
    v.goto("/")
    assert v.net.contacted() == []
    # Before anything else on the page ran: everything denied, waiting for the banner.
    first = v.page.evaluate("Array.from(dataLayer[0])")
    assert first == ["consent", "default", {**DENIED, "wait_for_update": 500}]
    assert v.page.evaluate("dataLayer.length") == 1  # the page's own gtag calls stay inert

    v.page.click("#consentgate-banner button[value=accept_all]")
    v.page.wait_for_function("window.__gcm !== undefined")
    # gtag.js, once activated, finds the update already queued after the defaults.
    assert v.page.evaluate("window.__gcm") == [
        ["default", {**DENIED, "wait_for_update": 500}],
        ["update", GRANTED],
    ]

    v.goto("/plain")
    assert v.page.evaluate("Array.from(dataLayer[0])") == ["consent", "default", GRANTED]


def test_consent_mode_update_follows_a_partial_choice(
    visit: VisitFactory, signals_server: LiveServer
) -> None:
    v = visit(live=signals_server)
    v.goto("/")
    v.page.click("#consentgate-banner [data-consentgate-customise]")
    v.page.check("#consentgate-dialog input[name=category][value=analytical]")
    v.page.click("#consentgate-dialog button[value=save]")
    v.page.wait_for_function("window.__gcm !== undefined")
    assert v.page.evaluate("window.__gcm")[-1] == [
        "update",
        {**DENIED, "analytics_storage": "granted"},
    ]


def test_opt_out_jurisdiction_runs_trackers_until_refused(
    visit: VisitFactory, signals_server: LiveServer
) -> None:
    v = visit(live=signals_server, extra_http_headers={"CF-IPCountry": "US"})
    v.goto("/")
    v.net.wait_for(v.page, ANALYTICAL_HOSTS | MARKETING_HOSTS)
    assert v.page.is_visible("#consentgate-banner")
    assert v.page.evaluate("window.consentgate.get().decided") is False

    # Refusing what already ran reloads the page; the server has expired the cookies.
    with v.page.expect_navigation(wait_until="networkidle"):
        v.page.click("#consentgate-banner button[value=reject_all]")
    v.net.clear()
    v.goto("/")
    v.settle(300)
    assert v.net.contacted() == []
    assert v.tracker_cookies() == set()


def test_gpc_refuses_marketing_under_opt_out_and_the_banner_says_so(
    visit: VisitFactory, signals_server: LiveServer
) -> None:
    v = visit(live=signals_server, extra_http_headers={"CF-IPCountry": "US", "Sec-GPC": "1"})
    v.goto("/")
    v.net.wait_for(v.page, ANALYTICAL_HOSTS)
    v.settle(300)
    assert v.net.hosts == ANALYTICAL_HOSTS
    assert v.tracker_cookies() == ANALYTICAL_COOKIES
    notice = v.page.locator("#consentgate-banner .consentgate-notice")
    assert notice.inner_text() == "Your browser's Global Privacy Control signal is honoured."


def test_other_countries_stay_opt_in(visit: VisitFactory, signals_server: LiveServer) -> None:
    v = visit(live=signals_server, extra_http_headers={"CF-IPCountry": "DE"})
    v.goto("/")
    v.settle(300)
    assert v.net.contacted() == []


@pytest.mark.parametrize("path", ["/csp", "/csp-nonce"])
def test_activated_scripts_keep_the_page_nonce_under_strict_csp(
    visit: VisitFactory, path: str
) -> None:
    v = visit()
    v.goto(path)
    assert v.page.evaluate("typeof window.consentgate") == "object"  # our script was allowed
    assert v.net.contacted() == []
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.net.wait_for(v.page, {"www.google-analytics.com"})  # gtag.js ran (no eval under this CSP)
    # The re-created inline config ran: it was allowed by the nonce it kept.
    assert v.page.evaluate("dataLayer.some(a => a[0] === 'config' && a[1] === 'G-TEST123')")
    assert [m for m in v.console if "Content Security Policy" in m] == []
    assert v.errors == []


def test_banner_speaks_the_visitors_language(visit: VisitFactory) -> None:
    v = visit(locale="de-DE")
    v.goto("/")
    banner = v.page.locator("#consentgate-banner")
    assert v.page.locator("#consentgate-root").get_attribute("lang") == "de"  # banner and dialog
    assert banner.locator("button[value=accept_all]").inner_text() == "Alle akzeptieren"
    assert banner.locator("button[value=reject_all]").inner_text() == "Alle ablehnen"
    v.page.click("#consentgate-banner [data-consentgate-customise]")
    assert v.page.is_visible("#consentgate-dialog label:text-is('Statistik')")
    v.page.click("#consentgate-dialog button[value=reject_all]")
    # The control that replaces the banner speaks German too.
    assert v.page.locator("#consentgate-settings").text_content() == "Cookie-Einstellungen"


def test_page_api_show_get_and_change_event(visit: VisitFactory) -> None:
    v: Visit = visit()
    v.goto("/plain")
    assert v.page.evaluate("window.consentgate.get()")["decided"] is False
    v.page.evaluate("window.consentgate.save('save', ['preference'], [])")
    v.page.wait_for_selector("#consentgate-banner", state="hidden")
    assert v.page.evaluate("window.__changes.map(c => c.granted)") == [["necessary", "preference"]]
    v.page.evaluate("window.consentgate.show()")
    v.page.wait_for_selector("#consentgate-dialog", state="visible")
    assert v.page.is_checked("#consentgate-dialog input[value=preference]")
    assert not v.page.is_checked("#consentgate-dialog input[value=marketing]")


def test_google_tags_may_run_in_denied_mode_when_the_site_allows_them(
    visit: VisitFactory,
    tmp_path: Path,
) -> None:
    app = build_app(
        consent_log=str(tmp_path / "log.sqlite3"),
        signals=SignalSettings(consent_mode=True),
        policy=Policy(vendors=[EXAMPLE_LIB], allow=["googletagmanager.com/gtag/js"]),
    )
    with LiveServer(app) as live:
        v = visit(live=live)
        v.goto("/denied-mode")
        v.net.wait_for(v.page, {"www.googletagmanager.com"})
        v.page.wait_for_function("window.__gcm !== undefined")
        # The defaults were in place before gtag.js ran: it starts denied, as documented.
        assert v.page.evaluate("window.__gcm") == [["default", {**DENIED, "wait_for_update": 500}]]
        assert v.tracker_cookies() <= {"_ga", "_ga_TEST123"}  # our fake ignores the denial
        assert v.net.hosts <= {"www.googletagmanager.com", "www.google-analytics.com"}
