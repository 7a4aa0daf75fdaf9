"""The Open Cookie Database module: its conversion, its lookups."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any

import pytest
from helpers import BENCH_PAGES, SECRET, choose
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consentgate import ConsentMiddleware, Policy, cookiedb
from consentgate.cookiedb import KnownCookie, build, lookup
from consentgate.vendors import BUILTIN_VENDORS

# The snapshot lives beside the bench pages (../shared by default, CONSENTGATE_BENCH_PAGES moves
# both), as in CI, where ../shared is checked out beside the clone.
SNAPSHOT = BENCH_PAGES.parent / "data" / "open-cookie-database" / "open-cookie-database.csv"


def _snapshot() -> str:
    assert SNAPSHOT.is_file(), (
        f"the Open Cookie Database snapshot is not at {SNAPSHOT}: it is read from the shared "
        "data beside the bench pages (set CONSENTGATE_BENCH_PAGES to <shared>/bench-pages)"
    )
    return SNAPSHOT.read_text(encoding="utf-8-sig")


def _without_checksum(module: str) -> str:
    return "\n".join(line for line in module.splitlines() if "sha256" not in line.lower())


def test_the_committed_module_is_a_fresh_conversion_of_the_snapshot() -> None:
    assert build.DATA_FILE.read_text(encoding="utf-8") == build.convert(_snapshot())


def test_conversion_does_not_depend_on_row_order_and_drops_descriptions() -> None:
    text = _snapshot()
    header, *rows = text.splitlines(keepends=True)
    shuffled = build.convert(header + "".join(reversed(rows)))
    # (Only the CSV's own checksum, named in the module, differs.)
    assert _without_checksum(shuffled) == _without_checksum(build.convert(text))
    records = list(csv.DictReader(io.StringIO(text, newline="")))
    module = build.convert(text)
    # No description reaches the package (a long, distinctive one is a fair probe of all).
    longest = max((r["Description"] for r in records), key=len)
    assert len(longest) > 80 and longest not in module
    assert "Description" not in module


def test_every_row_of_the_snapshot_is_found() -> None:
    records = list(csv.DictReader(io.StringIO(_snapshot(), newline="")))
    assert len(records) == len(list(cookiedb.entries())) == 2264
    for record in records:
        name = record["Cookie / Data Key name"].strip().rstrip("*")
        probe = name + "x1" if record["Wildcard match"] == "1" else name
        found = lookup(probe)
        assert found is not None, name
        assert probe.startswith(found.name)


def test_a_csv_without_the_columns_is_refused() -> None:
    with pytest.raises(ValueError, match="not an Open Cookie Database CSV"):
        build.convert("a,b\n1,2\n")


def test_exact_names_and_prefix_patterns() -> None:
    gcl = lookup("_gcl_au")
    assert isinstance(gcl, KnownCookie)
    assert (gcl.platform, gcl.ocd_category, gcl.category, gcl.prefix) == (
        "Google",
        "Marketing",
        "marketing",
        False,
    )
    assert gcl.retention == "3 months" and gcl.privacy_url.startswith("https://")
    session_user = lookup("_hjSessionUser_123")
    assert session_user is not None and session_user.prefix
    assert session_user.name == "_hjSessionUser_" and session_user.platform == "Hotjar"
    # A prefix pattern matches nothing shorter than itself, and names are case-sensitive.
    assert lookup("_hjSessionUser") is None
    assert lookup("_GCL_AU") is None
    assert lookup("my_own_session") is None
    assert lookup("") is None


def test_the_longest_prefix_wins() -> None:
    # "_gac_" and "_gac_gb_" are both patterns of the database.
    assert lookup("_gac_gb_1234") is not None
    assert lookup("_gac_gb_1234").name == "_gac_gb_"  # type: ignore[union-attr]
    assert lookup("_gac_UA-1").name == "_gac_"  # type: ignore[union-attr]


def test_a_name_listed_twice_answers_with_its_most_restrictive_category() -> None:
    # "token" is Functional for one platform (Xandr) and Marketing for another (Adform):
    # privacy fails closed.
    rows = [e for e in cookiedb.entries() if e.name == "token" and not e.prefix]
    assert {e.ocd_category for e in rows} == {"Functional", "Marketing"}
    assert lookup("token").ocd_category == "Marketing"  # type: ignore[union-attr]


def test_category_mapping() -> None:
    assert dict(cookiedb.DEFAULT_CATEGORIES) == {
        "Analytics": "analytical",
        "Marketing": "marketing",
        "Personalization": "preference",
        "Functional": None,
        "Security": None,
        "Necessary": None,
    }
    for entry in cookiedb.entries():
        assert entry.category == cookiedb.DEFAULT_CATEGORIES[entry.ocd_category]
        assert entry.third_party == bool(entry.domain)


def test_the_licence_and_notice_are_beside_the_data() -> None:
    folder = Path(cookiedb.__file__).parent
    assert "Apache License" in (folder / "LICENSE").read_text(encoding="utf-8")
    assert "Open Cookie Database" in (folder / "NOTICE").read_text(encoding="utf-8")


# -- gating: Set-Cookie, withdrawal, overrides ------------------------------------------------


def _cookie_app(names: list[str], **options: Any) -> Starlette:
    async def setter(request: Request) -> Response:
        response = PlainTextResponse("ok")
        for name in request.query_params.getlist("name") or names:
            # (Raw: http.cookies refuses some of the database's names, as "pagead/conv/".)
            response.raw_headers.append((b"set-cookie", f"{name}=1; Path=/".encode()))
        return response

    app = Starlette(routes=[Route("/set", setter)])
    options.setdefault("secret_key", SECRET)
    options.setdefault("consent_log", None)
    app.add_middleware(ConsentMiddleware, **options)
    return app


def _set(c: TestClient, names: list[str]) -> set[str]:
    """The names of the cookies that reached the browser."""
    r = c.get("/set", params=[("name", n) for n in names])
    return {v.split("=", 1)[0] for v in r.headers.get_list("set-cookie")}


DEFAULT = Policy(vendors=BUILTIN_VENDORS)


def _database_only(category: str | None, prefix: bool = False, count: int = 6) -> list[str]:
    """A spread sample of the cookies the database alone decides (not the registry's) whose
    category maps to ``category``."""
    exact, prefixes = cookiedb.patterns()
    pool = []
    for entry in (prefixes if prefix else exact).values():
        name = entry.name + "q9" if prefix else entry.name
        rule = DEFAULT.cookie_rule(name)
        if entry.category != category or not name.isascii() or " " in name or "," in name:
            continue
        if (rule is None and category is None) or (rule and rule.source == "database"):
            pool.append(name)
    step = max(1, len(pool) // count)
    return pool[::step][:count]


@pytest.mark.parametrize("category", ["analytical", "marketing", "preference"])
def test_database_cookies_are_dropped_until_granted_and_expired_on_withdrawal(
    category: str,
) -> None:
    names = _database_only(category) + _database_only(category, prefix=True, count=3)
    assert len(names) >= 3  # (the database has 3 Personalization cookies, no pattern)
    c = TestClient(_cookie_app(names))
    assert _set(c, names) == set()  # a visitor without a choice
    choose(c, "save", category=[category])
    assert _set(c, names) == set(names)  # granted: all kept
    # The browser sends them back; withdrawing expires each (on the host and parent domains).
    for name in names:
        c.cookies.set(name, "1")
    r = choose(c, "reject_all")
    expired = [v for v in r.headers.get_list("set-cookie") if "Max-Age=0" in v]
    assert {v.split("=", 1)[0] for v in expired} == set(names)
    assert _set(c, names) == set()


def test_the_databases_other_categories_are_not_gated() -> None:
    names = _database_only(None) + _database_only(None, prefix=True, count=3)
    assert len(names) == 9
    c = TestClient(_cookie_app(names))
    assert _set(c, names) == set(names)
    for name in names:
        c.cookies.set(name, "1")
    r = choose(c, "reject_all")
    expired = {v.split("=", 1)[0] for v in r.headers.get_list("set-cookie") if "Max-Age=0" in v}
    assert not expired & set(names)


def test_every_analytics_and_marketing_cookie_of_the_database_is_gated() -> None:
    # The measure: each of them set for a visitor without consent (11.7 % got through),
    # but for the shared names (a site's own "token", "locale", "s"), tested below.
    tracking = [e for e in cookiedb.entries() if e.ocd_category in ("Analytics", "Marketing")]
    gated = [e for e in tracking if not e.shared]
    assert len(tracking) > 1200
    assert len(gated) > 0.85 * len(tracking)
    kept = []
    for entry in gated:
        name = entry.name + "x" if entry.prefix else entry.name
        if DEFAULT.cookie_rule(name) is None:
            kept.append(name)
    assert kept == []
    # And through a response (a sample: one header a cookie).
    sample = [e.name + ("_1" if e.prefix else "") for e in gated[::25]]
    sample = [n for n in sample if n.isascii() and " " not in n]
    assert _set(TestClient(_cookie_app(sample)), sample) == set()


def test_shared_names_are_known_but_not_gated_on_the_databases_word() -> None:
    # Names sites give their own cookies: the database lists them on a tracker's own domain.
    shared = ["token", "locale", "sessionid", "visitor", "s", "ID", "uid", "_session_id", "CTA"]
    for name in shared:
        entry = lookup(name)
        assert entry is not None and entry.shared and entry.category is not None, name
        assert DEFAULT.cookie_rule(name) is None, name
    c = TestClient(_cookie_app([]))
    assert _set(c, [*shared, "1P_JAR", "ABTasty"]) == set(shared)
    # Distinctive names of the same kind stay gated; a vendor or the site can gate a shared one.
    assert not lookup("1P_JAR").shared  # type: ignore[union-attr]
    assert DEFAULT.cookie_category("_ga") == ("analytical", "google-analytics")  # (3 characters)
    policy = Policy(vendors=BUILTIN_VENDORS, cookies={"token": "marketing"})
    assert policy.cookie_category("token") == ("marketing", None)


def test_prefix_patterns() -> None:
    # The registry's (_hj*, _ga_*) and the database's alone (QSI_SI_, DotomiSession_).
    names = ["_hjSessionUser_123", "_ga_MEASURE1", "QSI_SI_abc", "DotomiSession_42"]
    for name in names[2:]:
        rule = DEFAULT.cookie_rule(name)
        assert rule is not None and rule.source == "database"
    c = TestClient(_cookie_app([]))
    # A name shorter than the pattern is not it.
    assert _set(c, [*names, "QSI_SI", "session"]) == {"QSI_SI", "session"}
    choose(c, "accept_all")
    assert _set(c, names) == set(names)


def test_the_registry_beats_the_database_and_the_site_beats_both() -> None:
    # _gcl_au: the database says Marketing; the registry names its service (Google Ads), so
    # allowing that service alone keeps it.
    rule = DEFAULT.cookie_rule("_gcl_au")
    assert rule is not None and (rule.source, rule.service) == ("vendor", "google-ads")
    c = TestClient(_cookie_app([]))
    choose(c, "save", service=["google-ads"])
    assert _set(c, ["_gcl_au", "1P_JAR"]) == {"_gcl_au"}
    # The site's declaration wins over both.
    policy = Policy(vendors=BUILTIN_VENDORS, cookies={"_gcl_*": "analytical", "_ga": "necessary"})
    assert policy.cookie_category("_gcl_au") == ("analytical", None)
    assert policy.cookie_category("_ga") is None  # declared necessary: never gated


def test_a_database_cookie_of_a_listed_vendor_belongs_to_its_service() -> None:
    # Allowing a service alone allows what the database lists for its platform.
    found = [
        (e.name, rule)
        for e in cookiedb.patterns()[0].values()
        if (rule := DEFAULT.cookie_rule(e.name)) and rule.source == "database" and rule.service
    ]
    assert found
    name, rule = found[0]
    c = TestClient(_cookie_app([]))
    choose(c, "save", service=[rule.service])
    assert _set(c, [name]) == {name}


def test_a_site_override_in_each_direction() -> None:
    # "CookieConsent" is Functional in the database (not gated); "visitor_id" Marketing (gated:
    # Salesforce Pardot's visitor_id<n>).
    assert lookup("CookieConsent").ocd_category == "Functional"  # type: ignore[union-attr]
    assert lookup("visitor_id").ocd_category == "Marketing"  # type: ignore[union-attr]
    c = TestClient(_cookie_app([]))
    assert _set(c, ["CookieConsent", "visitor_id"]) == {"CookieConsent"}
    # One line each: the site's own "visitor_id" is necessary; one cookie gated as a preference.
    c = TestClient(
        _cookie_app(
            [], policy=Policy(cookies={"visitor_id": "necessary", "CookieConsent": "preference"})
        )
    )
    assert _set(c, ["CookieConsent", "visitor_id"]) == {"visitor_id"}
    # Or a whole category of the database, with the middleware's option.
    c = TestClient(_cookie_app([], cookie_categories={"Functional": "preference"}))
    assert _set(c, ["CookieConsent", "wp-settings-1"]) == set()
    choose(c, "save", category=["preference"])
    assert _set(c, ["CookieConsent", "wp-settings-1"]) == {"CookieConsent", "wp-settings-1"}
    c = TestClient(_cookie_app([], cookie_categories={"Marketing": None}))
    assert _set(c, ["visitor_id", "1P_JAR", "_fbp"]) == {"visitor_id", "1P_JAR"}  # _fbp: registry


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"Ads": "marketing"}, "Open Cookie Database's categories are"),
        ({"Functional": "tracking"}, "unknown category 'tracking'"),
        ([("Functional", "preference")], "must map the Open Cookie Database's categories"),
        ({"Functional": 3}, "unknown category 3"),
    ],
)
def test_a_bad_cookie_categories_option_fails_at_start(option: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConsentMiddleware(_cookie_app([]), secret_key=SECRET, cookie_categories=option)


def test_a_database_cookie_dropped_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    c = TestClient(_cookie_app([]))
    name = _database_only("marketing")[-1]
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        _set(c, [name])
        _set(c, [name])
    said = [r.getMessage() for r in caplog.records if repr(name) in r.getMessage()]
    assert len(said) <= 1  # (once a process: an earlier test may have reported it)
    if said:
        assert "Policy(cookies=" in said[0]


def test_many_names_keep_the_lookups_bounded_and_right() -> None:
    # Names not listed exactly are kept in a memo: the names a browser sends on withdrawal are
    # the visitor's to choose, so it is emptied when full rather than grown.
    policy = Policy(vendors=BUILTIN_VENDORS)
    for i in range(10_000):
        assert policy.cookie_rule(f"own_{i}") is None
        assert len(policy._cookie_memo) <= 4096
    policy._cookie_memo.clear()
    long = "x" * 5000  # (a visitor's header may hold one: not kept)
    assert policy.cookie_rule(long) is None and policy.cookie_rule("QSI_SI_" + long) is not None
    assert long not in policy._cookie_memo and len(policy._cookie_memo) == 0
    for _ in range(2):  # (the second time from the memo)
        rule = policy.cookie_rule("QSI_SI_1")
        assert rule is not None and (rule.source, rule.category) == ("database", "analytical")
        assert policy.cookie_rule("QSI_SI") is None


def test_the_build_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data.py"
    assert build.main([str(SNAPSHOT), "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == build.DATA_FILE.read_text(encoding="utf-8")
    assert "wrote" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    assert build.main([str(bad), "-o", str(out)]) == 1
    assert "not an Open Cookie Database CSV" in capsys.readouterr().err
    assert build.main([str(tmp_path / "missing.csv"), "-o", str(out)]) == 1
    # (A failed run leaves the previous output as it was.)
    assert out.read_text(encoding="utf-8") == build.DATA_FILE.read_text(encoding="utf-8")
