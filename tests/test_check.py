"""``consentgate check``: a failing and a passing configuration for each rule, the middleware
found in an app's wrapper chain, and the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jinja2
import pytest
from helpers import SECRET
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentgate import ConsentMiddleware, CookieSettings, Policy, Vendor
from consentgate.check import (
    BANNER_KEYS,
    RULES,
    CheckReport,
    Severity,
    check_app,
    check_middleware,
    find_middleware,
    format_report,
)
from consentgate.cli import main
from consentgate.i18n import TEXTS

PAGE = "<!doctype html><html><head><title>t</title></head><body><p>Hello</p>{}</body></html>"
OWN_LINK = '<a href="/consentgate/preferences" data-consentgate-open>Cookie settings</a>'


def page_app(extra: str = "") -> Starlette:
    async def home(request: Request) -> Response:
        return HTMLResponse(PAGE.format(extra))

    return Starlette(routes=[Route("/", home)])


def middleware(app: Any = None, **options: Any) -> ConsentMiddleware:
    options.setdefault("consent_log", None)
    return ConsentMiddleware(app or page_app(), secret_key=SECRET, **options)


def banner(
    *,
    reject: str = '<button type="submit" name="action" value="reject_all">{{ t.reject_all }}'
    "</button>",
    link: bool = True,
    extra: str = "",
) -> list[jinja2.BaseLoader]:
    """A banner of the site's own: the purposes, a link, accept and reject as given."""
    privacy = '<a href="{{ urls.privacy }}">{{ t.privacy_policy }}</a>' if link else ""
    template = (
        '{% set optional = categories | rejectattr("required") | map(attribute="title") '
        '| join(", ") %}'
        '<div id="consentgate-banner"><form method="post" action="{{ urls.consent }}">'
        '<p>{{ t.banner_text.replace("{purposes}", optional) }} ' + privacy + "</p>"
        '<button type="submit" name="action" value="accept_all">{{ t.accept_all }}</button>'
        + reject
        + extra
        + "</form></div>"
    )
    return [jinja2.DictLoader({"consentgate/banner.html": template})]


def run(**options: Any) -> CheckReport:
    paths = options.pop("paths", ())
    mw = middleware(options.pop("app", None), **options)
    return check_middleware(mw, paths=paths)


def errors(report: CheckReport, rule: str) -> list[str]:
    return [f.message for f in report.failed(rule) if f.severity is Severity.ERROR]


def test_the_default_configuration_passes_every_rule() -> None:
    report = run(paths=["/"])
    assert report.ok, format_report(report)
    assert [f.rule for f in report.findings] == ["privacy-link"]  # (no /privacy page: a warning)


# -- one failing and one passing configuration per rule --------------------------------------


@pytest.mark.parametrize(
    "reject",
    [
        # a link styled down, not a button
        '<a href="/consentgate/preferences" class="quiet">{{ t.reject_all }}</a>',
        # a button of another class than accept-all's
        '<button type="submit" name="action" value="reject_all" class="secondary">x</button>',
        # only on the second layer
        '<details><summary>More</summary><button type="submit" name="action" '
        'value="reject_all">x</button></details>',
        # hidden until something else is clicked
        '<div hidden><button type="submit" name="action" value="reject_all">x</button></div>',
    ],
)
def test_reject_first_layer_fails(reject: str) -> None:
    report = run(templates=banner(reject=reject), language="en")
    assert errors(report, "reject-first-layer"), format_report(report)


def test_reject_first_layer_passes_with_the_same_element() -> None:
    report = run(templates=banner(), language="en")
    assert report.failed("reject-first-layer") == []
    assert report.ok, format_report(report)


def test_a_pre_ticked_toggle_fails() -> None:
    ticked = '<input type="checkbox" name="category" value="analytical" checked>'
    report = run(templates=banner(extra=ticked), language="en")
    [message] = errors(report, "no-pre-ticked")
    assert "'analytical'" in message


def test_a_required_toggle_on_and_disabled_passes() -> None:
    necessary = '<input type="checkbox" name="category" value="necessary" checked disabled>'
    report = run(templates=banner(extra=necessary), language="en")
    assert report.failed("no-pre-ticked") == []


def test_purposes_missing_before_the_options_fails() -> None:
    report = run(texts={"en": {"banner_text": "We use cookies. Fine?"}}, language="en")
    [message] = errors(report, "purposes-first")
    assert "Analytics" in message and "Marketing" in message


def test_purposes_after_the_buttons_fail() -> None:
    after = "<p>Analytics, Preferences and Marketing</p>"
    report = run(
        templates=banner(extra=after),
        texts={"en": {"banner_text": "We use cookies."}},
        language="en",
    )
    assert errors(report, "purposes-first")


def test_purposes_named_before_the_options_pass() -> None:
    report = run(language="de")
    assert report.failed("purposes-first") == []


def test_no_privacy_link_fails_and_a_link_passes() -> None:
    report = run(templates=banner(link=False), language="en")
    assert errors(report, "privacy-link") == ["no link to /privacy on the first layer"]
    assert errors(run(templates=banner(), language="en"), "privacy-link") == []


def test_a_privacy_policy_page_that_is_not_there_warns() -> None:
    [finding] = run().failed("privacy-link")  # (the test app has no /privacy)
    assert finding.severity is Severity.WARNING and finding.message == "/privacy answers 404"

    async def privacy(request: Request) -> Response:
        return HTMLResponse(PAGE.format("<h1>Privacy</h1>"))

    there = Starlette(routes=[Route("/privacy", privacy)])
    assert run(app=there).failed("privacy-link") == []


def test_consent_lifetime() -> None:
    too_long = run(cookie=CookieSettings(max_age=400 * 86400))
    assert errors(too_long, "consent-lifetime")
    assert run(cookie=CookieSettings(max_age=395 * 86400)).failed("consent-lifetime") == []


def test_withdraw_control_missing_from_a_page_fails() -> None:
    report = run(inject_settings=False, paths=["/"])
    assert errors(report, "withdraw-everywhere") == [
        "/ has no control to change the choice (cookie_settings_link())"
    ]


def test_withdraw_control_rendered_by_the_site_passes() -> None:
    report = run(app=page_app(OWN_LINK), inject_settings=False, paths=["/"])
    assert report.failed("withdraw-everywhere") == []


def test_withdraw_unverified_without_pages_is_a_warning() -> None:
    report = run(inject_settings=False)
    [finding] = report.failed("withdraw-everywhere")
    assert finding.severity is Severity.WARNING and report.ok


@pytest.mark.parametrize(
    "policy",
    [
        Policy(allow=["www.google-analytics.com"]),
        Policy(vendors=[Vendor("hotjar", "Hotjar", "necessary", urls=("hotjar.com",))]),
        Policy(cookies={"_ga": "necessary"}),
        Policy(cookies={"_clck": "necessary", "_fbp": "necessary"}),
    ],
)
def test_a_non_essential_vendor_declared_necessary_fails(policy: Policy) -> None:
    assert errors(run(policy=policy), "vendors-necessary")


def test_a_name_only_the_cookie_database_knows_is_a_warning() -> None:
    # Django's session cookie shares its name with an Instagram cookie in the database.
    report = run(policy=Policy(cookies={"sessionid": "necessary"}))
    [finding] = report.failed("vendors-necessary")
    assert finding.severity is Severity.WARNING and "Instagram" in finding.message
    assert report.ok


def test_necessary_declarations_of_the_sites_own_pass() -> None:
    policy = Policy(
        allow=["cdn.example.com", "www.google.com/recaptcha"],
        cookies={"csrftoken": "necessary", "theme": "preference"},
    )
    report = run(policy=policy)
    assert report.failed("vendors-necessary") == []


def test_a_language_with_missing_texts_fails() -> None:
    report = run(texts={"it": {"accept_all": "Accetta tutto"}})
    [message] = errors(report, "texts-complete")
    assert message.startswith("texts={'it': …} lacks title, banner_text")
    # A language fixed to one without texts shows English: the same finding.
    assert errors(run(language="it"), "texts-complete")


def test_a_language_with_its_texts_passes() -> None:
    italian = {key: f"[it] {TEXTS['en'][key]}" for key in BANNER_KEYS}
    italian["banner_text"] = "Usiamo i cookie per: {purposes}."
    report = run(texts={"it": italian})
    assert report.failed("texts-complete") == []


def test_site_worded_categories_without_translation_warn() -> None:
    from consentgate import Category

    categories = [
        Category("necessary", "Needed", "Always on.", required=True),
        Category("stats", "Statistics", "Counting visits."),
    ]
    report = run(policy=Policy(categories=categories), builtin_vendors=False, language="de")
    warned = report.failed("texts-complete")
    assert warned and all(f.severity is Severity.WARNING for f in warned)


# -- finding the middleware, the command line ------------------------------------------------


def test_find_middleware_in_wrapper_chains() -> None:
    direct = middleware()
    assert find_middleware(direct) is direct
    assert find_middleware(GZipMiddleware(direct)) is direct
    added = page_app()
    added.add_middleware(ConsentMiddleware, secret_key=SECRET, consent_log=None)
    found = find_middleware(added)
    assert isinstance(found, ConsentMiddleware)
    assert find_middleware(added) is found  # (the stack is built once, as a request would)
    assert find_middleware(page_app()) is None
    with pytest.raises(ValueError, match="no ConsentMiddleware"):
        check_app(page_app())


SITE = """
from starlette.applications import Starlette
from consentgate import ConsentMiddleware, CookieSettings

app = Starlette()
app.add_middleware(
    ConsentMiddleware,
    secret_key="test-secret-of-at-least-32-characters",
    consent_log=None,
    cookie=CookieSettings(max_age={max_age}),
)
"""


@pytest.mark.parametrize(("max_age", "code"), [(180 * 86400, 0), (800 * 86400, 1)])
def test_the_command(
    tmp_path: Path,
    max_age: int,
    code: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"cg_site_{code}"
    (tmp_path / f"{name}.py").write_text(SITE.format(max_age=max_age))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, name, raising=False)
    try:
        assert main(["check", f"{name}:app"]) == code
        text = capsys.readouterr().out
        assert main(["check", "--json", f"{name}:app"]) == code
        report = json.loads(capsys.readouterr().out)
    finally:
        sys.modules.pop(name, None)
    assert len(text.splitlines()) >= len(RULES) + 1
    assert report["schema"] == "consentgate-check" and report["ok"] is (code == 0)
    lifetime = next(r for r in report["rules"] if r["rule"] == "consent-lifetime")
    assert lifetime["ok"] is (code == 0)
    if code:
        assert "FAIL consent-lifetime" in text and "source: CNIL" in text
        [finding] = [f for f in report["findings"] if f["severity"] == "error"]
        assert finding["sources"] == list(RULES["consent-lifetime"].sources)


def test_the_command_names_what_it_cannot_load(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "no_such_module_here:app"]) == 2
    assert "no_such_module_here" in capsys.readouterr().err
    assert main(["check", "nocolon"]) == 2
    assert "MODULE:ATTRIBUTE" in capsys.readouterr().err


def test_find_middleware_in_a_litestar_plugin() -> None:
    from litestar import Litestar, get

    from consentgate.litestar import ConsentPlugin

    @get("/")
    async def home() -> str:
        return "hello"

    plugin = ConsentPlugin(secret_key=SECRET, consent_log=None)
    app = Litestar([home], plugins=[plugin])
    assert find_middleware(app) is plugin.middleware
    assert check_app(app).ok
