"""The cookie declaration: GET /consentgate/cookies (HTML and JSON) and cookie_declaration()."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path
from typing import Any

import jinja2
import pytest
from helpers import SECRET
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.testclient import TestClient

import consentgate
from consentgate import ConsentMiddleware, Policy, Vendor
from consentgate.declaration import cookie_declaration, lifetime_text
from consentgate.i18n import TEXTS, texts_for
from consentgate.vendors import BUILTIN_VENDORS, COOKIE_FACTS

SITE_COOKIES = {"theme": "preference", "sessionid": "necessary", "_exp_*": "analytical"}
# Services the site lists (under the built-in ids, which they replace): the banner names the
# services a site uses, and so does the declaration.
SITE_VENDORS = [
    Vendor(
        "google-analytics",
        "Google Analytics",
        "analytical",
        "https://policies.google.com/privacy",
        urls=("googletagmanager.com/gtag/js",),
        cookies=("_ga", "_ga_*", "_gid"),
    ),
    Vendor(
        "meta-pixel",
        "Meta Pixel",
        "marketing",
        "https://www.facebook.com/privacy/policy/",
        urls=("connect.facebook.net",),
        cookies=("_fbp",),
    ),
]


def _client(**options: Any) -> TestClient:
    options.setdefault("secret_key", SECRET)
    options.setdefault("consent_log", None)
    options.setdefault("policy", Policy(vendors=SITE_VENDORS, cookies=SITE_COOKIES))
    return TestClient(ConsentMiddleware(Starlette(), **options))


def _json(c: TestClient, **headers: str) -> dict[str, Any]:
    r = c.get("/consentgate/cookies", params={"format": "json"}, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    return dict(r.json())


def _rows(data: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each cookie listed: (its category, its row)."""
    return {k["name"]: (c["name"], k) for c in data["categories"] for k in c["cookies"]}


def test_the_json_lists_the_consent_cookie_the_services_and_the_sites_cookies() -> None:
    data = _json(_client())
    assert data["language"] == "en"
    assert [c["name"] for c in data["categories"]] == [
        "necessary",
        "analytical",
        "preference",
        "marketing",
    ]
    assert [c["gated"] for c in data["categories"]] == [False, True, True, True]
    rows = _rows(data)
    assert rows["consentgate"][0] == "necessary"
    assert rows["consentgate"][1]["lifetime"] == "180 days"
    assert rows["sessionid"][0] == "necessary" and rows["sessionid"][1]["provider"] == "This site"
    assert rows["theme"][0] == "preference"
    assert rows["_exp_*"][0] == "analytical"
    ga = rows["_ga"][1]
    assert rows["_ga"][0] == "analytical"
    assert (ga["provider"], ga["service"], ga["party"]) == (
        "Google Analytics",
        "google-analytics",
        "first",
    )
    assert ga["lifetime"] == "2 years" and ga["lifetime_source"].startswith(
        "https://support.google"
    )
    assert ga["purpose"] == TEXTS["en"]["purpose.visitor_id"]
    # A lifetime the registry does not document comes from the database, which is named.
    fbp = rows["_fbp"][1]
    assert rows["_fbp"][0] == "marketing" and fbp["lifetime"] == "90 days"
    assert fbp["lifetime_source"] == "https://www.facebook.com/policies/cookies/"
    assert fbp["purpose"] == TEXTS["en"]["purpose.marketing"]  # (its category's)
    # One the registry does not document: the database's retention, which is named.
    assert rows["FPID"][1]["lifetime_source"] == "Open Cookie Database"
    assert "open_cookie_database" in data["sources"]


def test_every_row_is_in_the_category_it_is_gated_as() -> None:
    c = _client()
    policy = c.app.policy  # type: ignore[attr-defined]
    for name, (category, _) in _rows(_json(c)).items():
        found = policy.cookie_category(name.rstrip("*"))
        assert (found[0] if found else "necessary") == category, name


def test_a_site_override_moves_a_cookie_in_the_declaration_too() -> None:
    c = _client(
        policy=Policy(vendors=SITE_VENDORS, cookies={"_ga": "necessary", "_fbp": "analytical"})
    )
    rows = _rows(_json(c))
    assert rows["_ga"][0] == "necessary" and rows["_ga"][1]["provider"] == "This site"
    assert rows["_fbp"][0] == "analytical"
    # And the database's categories, remapped by the middleware's option: nothing listed moves
    # unless the database decides it (the registry's cookies stay where the registry puts them).
    rows = _rows(_json(_client(cookie_categories={"Marketing": None})))
    assert rows["_fbp"][0] == "marketing"


def test_it_lists_the_services_the_banner_lists() -> None:
    own = Vendor("abtest", "Our A/B tests", "analytical", "/privacy#ab", cookies=("ab_*",))
    plain = Vendor("maps", "Maps", "preference", urls=("maps.example.com",))
    c = _client(policy=Policy(vendors=[own, plain]), builtin_vendors=False)
    rows = _rows(_json(c))
    assert set(rows) == {"consentgate", "ab_*"}
    assert rows["ab_*"][1]["provider"] == "Our A/B tests"
    assert rows["ab_*"][1]["lifetime"] == "Not stated"
    banner = c.get("/consentgate/banner").text
    assert "Our A/B tests" in banner and "Maps" in banner


def test_the_page_is_html_in_the_visitors_language() -> None:
    c = _client()
    r = c.get("/consentgate/cookies", headers={"accept-language": "de-DE,de;q=0.9"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    assert "Accept-Language" in r.headers["vary"]
    page = r.text
    assert '<html lang="de"' in page
    assert '<h1 id="consentgate-title">Cookies auf dieser Website</h1>' in page
    assert '<th scope="col">Speicherdauer</th>' in page
    assert re.search(r'<tr data-cookie="_ga">.*?<td>2 Jahre</td>', page)
    # Grouped by category: the necessary section comes first and holds the consent cookie.
    necessary = page.index('id="consentgate-cookies-necessary"')
    analytical = page.index('id="consentgate-cookies-analytical"')
    assert necessary < page.index('data-cookie="consentgate"') < analytical
    assert analytical < page.index('data-cookie="_ga"')
    # JSON also by Accept.
    r = c.get("/consentgate/cookies", headers={"accept": "application/json"})
    assert r.json()["language"] == "en"
    assert c.post("/consentgate/cookies").status_code == 405


@pytest.mark.parametrize("lang", sorted(TEXTS))
def test_every_language_has_the_declarations_texts(lang: str) -> None:
    keys = [k for k in TEXTS["en"] if k.startswith(("col_", "purpose.", "lifetime.", "party_"))]
    keys += ["cookies_title", "cookies_intro", "this_site", "no_cookies", "pattern_note"]
    missing = [k for k in keys if k not in TEXTS[lang]]
    assert missing == []
    data = _json(_client(), **{"accept-language": lang})
    assert data["language"] == lang
    assert _rows(data)["consentgate"][1]["provider"] == TEXTS[lang]["this_site"]


@pytest.mark.parametrize(
    ("retention", "lang", "shown"),
    [
        ("2 years", "en", "2 years"),
        ("1 Year", "en", "1 year"),
        ("24 hours", "de", "24 Stunden"),
        ("1 day", "fr", "1 jour"),
        ("13 months after last activity", "es", "13 meses"),
        ("1 year", "ru", "1 год"),
        ("3 years", "ru", "3 года"),
        ("5 years", "ru", "5 лет"),
        ("11 months", "ru", "11 месяцев"),
        ("21 days", "ru", "21 день"),
        ("Session", "en", "Session"),
        ("End of session (browser)", "de", "Sitzung"),
        ("forever", "en", "No expiry"),
        ("Varies", "en", "Not stated"),
        ("", "fr", "Non précisée"),
    ],
)
def test_lifetimes_are_worded_in_the_visitors_language(
    retention: str, lang: str, shown: str
) -> None:
    _, texts = texts_for(None, language=lang)
    assert lifetime_text(retention, lang, texts) == shown


def test_values_are_escaped() -> None:
    evil = Vendor(
        "evil",
        'Evil <script>alert(1)</script> & "Co"',
        "marketing",
        "https://evil.example/p?a=1&b=2",
        cookies=("x<img src=y>",),
    )
    c = _client(
        policy=Policy(vendors=[evil], cookies={'a"b<c>': "preference"}),
        texts={"en": {"this_site": "Us & <them>"}},
    )
    page = c.get("/consentgate/cookies").text
    assert "<script>alert(1)</script>" not in page and "<img src=y>" not in page
    assert "Evil &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Co&#34;" in page
    assert "<code>x&lt;img src=y&gt;</code>" in page
    assert 'data-cookie="a&#34;b&lt;c&gt;"' in page
    assert 'href="https://evil.example/p?a=1&amp;b=2"' in page
    assert "Us &amp; &lt;them&gt;" in page
    rows = _rows(_json(c))
    assert rows["x<img src=y>"][1]["provider"] == 'Evil <script>alert(1)</script> & "Co"'


def _template_app(tmp_path: Path, **options: Any) -> Starlette:
    (tmp_path / "policy.html").write_text(
        "<!doctype html><html><body><h1>Cookie policy</h1>{{ cookie_declaration() }}</body></html>",
        encoding="utf-8",
    )
    templates = Jinja2Templates(directory=str(tmp_path))
    consentgate.install_jinja2(templates.env)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "policy.html")

    app = Starlette(routes=[Route("/cookie-policy", page)])
    options.setdefault("secret_key", SECRET)
    options.setdefault("consent_log", None)
    app.add_middleware(ConsentMiddleware, **options)
    return app


def test_cookie_declaration_in_a_jinja_template(tmp_path: Path) -> None:
    policy = Policy(vendors=SITE_VENDORS, cookies=SITE_COOKIES)
    c = TestClient(_template_app(tmp_path, policy=policy))
    page = c.get("/cookie-policy", headers={"accept-language": "fr"}).text
    assert '<div class="consentgate-declaration" lang="fr">' in page
    assert '<tr data-cookie="theme">' in page
    assert "Durée de conservation" in page
    # The same tables as the endpoint's page, for the same visitor.
    own = c.get("/consentgate/cookies", headers={"accept-language": "fr"}).text
    start = '<div class="consentgate-declaration"'
    assert (
        page[page.index(start) :].split("</div>")[0] == own[own.index(start) :].split("</div>")[0]
    )


def test_cookie_declaration_outside_the_middleware_renders_nothing() -> None:
    env = consentgate.install_jinja2(jinja2.Environment(autoescape=True))
    assert env.from_string("[{{ cookie_declaration() }}]").render() == "[]"
    assert str(cookie_declaration({"type": "http", "headers": []})) == ""


def test_the_registrys_documented_facts_name_their_source() -> None:
    patterns = {p for v in BUILTIN_VENDORS for p in v.cookies}
    assert COOKIE_FACTS
    for pattern, facts in COOKIE_FACTS.items():
        assert pattern in patterns, pattern
        assert facts.source.startswith("https://")
        assert facts.purpose == "" or f"purpose.{facts.purpose}" in TEXTS["en"]
        _, texts = texts_for(None)
        assert lifetime_text(facts.lifetime, "en", texts) != texts["lifetime.unknown"]


def test_unescaped_text_never_reaches_the_json_as_markup() -> None:
    data = _json(_client())
    for _, row in _rows(data).values():
        assert htmllib.unescape(row["purpose"]) == row["purpose"]


def test_the_databases_cookies_of_a_listed_service_are_declared_as_its_own() -> None:
    # The database lists FPID and _gali under the "Google Analytics" platform: the policy gates
    # them as that service's, and the declaration lists them with it.
    c = _client()
    policy = c.app.policy  # type: ignore[attr-defined]
    rows = _rows(_json(c))
    for name in ("FPID", "_gali"):
        rule = policy.cookie_rule(name)
        assert rule is not None and (rule.source, rule.service) == ("database", "google-analytics")
        category, row = rows[name]
        assert category == "analytical" and row["service"] == "google-analytics"
        assert row["provider"] == "Google Analytics"
    assert rows["FPID"][1]["lifetime_source"] == "Open Cookie Database"
    # A service the banner does not list brings none of them.
    unlisted = _rows(_json(_client(policy=Policy(cookies=SITE_COOKIES), builtin_vendors=False)))
    assert "FPID" not in unlisted


def test_it_follows_the_services_the_banner_lists_as_they_are_met() -> None:
    # With debug the banner also lists the built-in services met on the site's pages: the
    # declaration lists them from then on, through the banner's own accessor.
    page = (
        "<!doctype html><html><head>"
        '<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
        "</head><body>hi</body></html>"
    )

    async def home(request: Request) -> Response:
        return HTMLResponse(page)

    app = ConsentMiddleware(
        Starlette(routes=[Route("/", home)]),
        secret_key=SECRET,
        consent_log=None,
        policy=Policy(cookies=SITE_COOKIES),
        debug=True,
    )
    c = TestClient(app)
    assert "_ga" not in _rows(_json(c))
    banner_before = c.get("/consentgate/banner").text
    assert "Google Analytics" not in banner_before
    assert c.get("/").status_code == 200
    assert "Google Analytics" in c.get("/consentgate/banner").text
    rows = _rows(_json(c))
    assert rows["_ga"][0] == "analytical" and rows["_ga"][1]["service"] == "google-analytics"
