from __future__ import annotations

import pytest
from helpers import ORIGIN, choose, client, is_checked, state

from consentgate import CookieSettings, SignalSettings
from consentgate.views import safe_next


def test_accept_all_sets_a_signed_cookie_and_redirects_back() -> None:
    c = client()
    r = choose(c, "accept_all", next="/shop?item=1")
    assert r.status_code == 303
    assert r.headers["location"] == "/shop?item=1"
    cookie = r.headers["set-cookie"]
    for attribute in ("HttpOnly", "Path=/", "SameSite=lax", "Max-Age=15552000"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain http test server
    s = state(c)
    assert s["decided"] and set(s["granted"]) == {
        "necessary",
        "analytical",
        "preference",
        "marketing",
    }


def test_reject_all_is_a_stored_choice() -> None:
    c = client()
    choose(c, "accept_all")
    choose(c, "reject_all")
    s = state(c)
    assert s["decided"] and s["granted"] == ["necessary"]


def test_save_grants_exactly_the_ticked_categories() -> None:
    c = client()
    r = c.post(
        "/consentgate/consent",
        data={"action": "save", "category": ["analytical", "preference"]},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert state(c)["granted"] == ["analytical", "necessary", "preference"]


def test_necessary_cannot_be_refused() -> None:
    c = client()
    r = c.post("/consentgate/consent", json={"action": "save", "categories": []}, headers=ORIGIN)
    assert r.status_code == 200
    assert r.json()["granted"] == ["necessary"]


def test_json_post_answers_the_new_state() -> None:
    c = client()
    r = c.post(
        "/consentgate/consent",
        json={"action": "save", "categories": ["marketing"]},
        headers=ORIGIN,
    )
    assert r.status_code == 200
    body = r.json()
    assert body["decided"] is True and body["granted"] == ["marketing", "necessary"]
    assert body["consent_id"] and body["revision"] == "1"
    assert r.headers["cache-control"] == "no-store"


def test_consent_id_survives_a_change_of_mind() -> None:
    c = client()
    first = c.post("/consentgate/consent", json={"action": "accept_all"}, headers=ORIGIN).json()
    second = c.post("/consentgate/consent", json={"action": "reject_all"}, headers=ORIGIN).json()
    assert first["consent_id"] == second["consent_id"]


def test_allow_adds_a_single_service() -> None:
    from consentgate.policy import Policy, Vendor

    c = client(policy=Policy(vendors=[Vendor("tube", "Tube", "marketing", urls=("tube.example",))]))
    choose(c, "save", category="analytical")
    choose(c, "allow", service="tube")
    s = state(c)
    assert s["granted"] == ["analytical", "necessary"] and s["services"] == ["tube"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"action": "sell_my_data"}, "unknown action"),
        ({"action": "save", "category": "spying"}, "unknown category: 'spying'"),
        ({"action": "save", "service": "nope"}, "unknown service: 'nope'"),
        ({}, "unknown action"),
    ],
)
def test_bad_choices_get_400_with_a_clear_message(fields: dict, message: str) -> None:  # type: ignore[type-arg]
    c = client()
    r = c.post("/consentgate/consent", data=fields, headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 400
    assert message in r.text
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"action": "save", "categories": "analytical"}', "application/json", 400),
        (b"\xff\xfe", "application/x-www-form-urlencoded", 400),
        (b"action=accept_all", "text/plain", 415),
        (b"action=accept_all&" + b"x" * 70000, "application/x-www-form-urlencoded", 413),
    ],
)
def test_malformed_posts_are_refused_and_set_nothing(
    body: bytes, content_type: str, status: int
) -> None:
    c = client()
    r = c.post(
        "/consentgate/consent",
        content=body,
        headers={"content-type": content_type, **ORIGIN},
    )
    assert r.status_code == status
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site", "origin": "http://testserver"},
        {"referer": "https://evil.example/page"},
        {"origin": "http://testserver.evil.example"},
    ],
)
def test_cross_site_posts_are_refused(headers: dict[str, str]) -> None:
    c = client()
    r = c.post(
        "/consentgate/consent",
        data={"action": "accept_all"},
        headers=headers,
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert "set-cookie" not in r.headers
    assert state(c)["decided"] is False


def test_same_site_signals_are_accepted() -> None:
    c = client()
    for headers in (
        {"sec-fetch-site": "same-origin", "origin": "http://testserver"},
        {"referer": "http://testserver/page"},
    ):
        r = c.post(
            "/consentgate/consent",
            data={"action": "accept_all"},
            headers=headers,
            follow_redirects=False,
        )
        assert r.status_code == 303


def test_subdomains_of_the_cookie_domain_are_same_site() -> None:
    c = client(cookie=CookieSettings(domain="testserver"))
    r = c.post(
        "/consentgate/consent",
        data={"action": "accept_all"},
        headers={"origin": "https://shop.testserver"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "Domain=testserver" in r.headers["set-cookie"]


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
def test_other_methods_never_change_consent(method: str) -> None:
    c = client()
    r = c.request(method, "/consentgate/consent", params={"action": "accept_all"}, headers=ORIGIN)
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("/shop?x=1", "/shop?x=1"),
        ("http://testserver/a/b", "/a/b"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("relative/path", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        (None, "/"),
        ("", "/"),
    ],
)
def test_redirects_stay_on_site(candidate: str | None, expected: str) -> None:
    assert safe_next(candidate, "testserver") == expected


def test_open_redirect_via_next_field_falls_back_to_root() -> None:
    r = choose(client(), "accept_all", next="https://evil.example/phish")
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_redirect_falls_back_to_referer() -> None:
    c = client()
    r = c.post(
        "/consentgate/consent",
        data={"action": "reject_all"},
        headers={"referer": "http://testserver/blog/post?id=3"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/blog/post?id=3"


def test_preferences_page_shows_state_and_works_without_javascript() -> None:
    c = client()
    page = c.get("/consentgate/preferences")
    assert page.status_code == 200
    form = '<form class="consentgate-form" method="post" action="/consentgate/consent">'
    assert form in page.text
    assert "You have not made a choice yet." in page.text
    assert "<script" not in page.text
    choose(c, "save", category="analytical")
    page = c.get("/consentgate/preferences").text
    assert is_checked(page, "analytical")
    assert not is_checked(page, "marketing")


def test_banner_fragment_for_reopening() -> None:
    c = client()
    choose(c, "accept_all")
    r = c.get("/consentgate/banner")
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="consentgate-root"')
    assert 'id="consentgate-dialog"' in r.text  # the preferences dialog the script opens
    assert is_checked(r.text, "marketing")
    assert r.headers["cache-control"] == "no-store"


def test_static_assets_are_versioned_and_cached() -> None:
    c = client()
    page = c.get("/").text
    import re

    js_url = re.search(r'src="//testserver(/consentgate/static/consentgate\.js\?v=\w+)"', page)
    assert js_url
    r = c.get(js_url.group(1))
    assert r.status_code == 200
    assert "javascript" in r.headers["content-type"]
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    unversioned = c.get("/consentgate/static/consentgate.js")
    assert unversioned.headers["cache-control"] == "no-cache"
    again = c.get(
        "/consentgate/static/consentgate.js", headers={"if-none-match": unversioned.headers["etag"]}
    )
    assert again.status_code == 304
    assert c.get("/consentgate/static/../middleware.py").status_code == 404
    assert c.get("/consentgate/static/nope.js").status_code == 404
    assert c.get("/consentgate/nothing-here").status_code == 404


class BrokenLog:
    def __init__(self) -> None:
        self.calls = 0

    async def append(self, entry: object) -> object:
        from consentgate.consentlog import ConsentLogError

        self.calls += 1
        raise ConsentLogError("disk full")

    async def records_for(self, consent_id: str) -> list[object]:
        return []

    def close(self) -> None:
        pass


def test_a_choice_that_cannot_be_stored_is_not_confirmed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = BrokenLog()
    c = client(consent_log=log)
    for _ in range(3):
        r = choose(c, "accept_all")
        assert r.status_code == 503
        assert "set-cookie" not in r.headers
    assert log.calls == 3
    assert 'id="consentgate-banner"' in c.get("/").text
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "disk full" in errors[0].getMessage()


def test_each_choice_is_recorded_with_what_was_shown() -> None:
    import anyio

    from consentgate.consentlog import open_log

    c = client(consent_log="choices.sqlite3")
    first = c.post(
        "/consentgate/consent",
        json={"action": "save", "categories": ["analytical"]},
        headers={**ORIGIN, "user-agent": "UA/1"},
    ).json()
    choose(c, "reject_all")
    log = open_log("choices.sqlite3")
    records = anyio.run(log.records_for, first["consent_id"])
    assert [r.granted for r in records] == [("analytical", "necessary"), ("necessary",)]
    assert records[0].refused == ("marketing", "preference")
    assert records[0].source == "banner" and records[1].source == "withdrawal"
    # a first refusal is a choice, not a withdrawal
    other = client(consent_log="choices.sqlite3")
    refusal = other.post(
        "/consentgate/consent", json={"action": "reject_all"}, headers=ORIGIN
    ).json()
    assert [r.source for r in anyio.run(log.records_for, refusal["consent_id"])] == ["banner"]
    assert records[0].user_agent is None and records[0].ip is None  # not kept unless configured
    assert len(records[0].texts_hash) == 64
    assert log.verify().ok


def test_consent_log_none_warns_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    client(consent_log=None).get("/")  # Starlette builds its middleware on first use
    assert any("consent_log=None" in r.getMessage() for r in caplog.records)


def test_receipt_shows_the_visitors_own_records() -> None:
    c = client()
    choose(c, "save", category="analytical")
    choose(c, "reject_all")
    as_json = c.get("/consentgate/receipt?format=json").json()
    assert len(as_json["records"]) == 2
    consent_id = c.get("/state").json()["consent_id"]
    assert as_json["consent_id"] == consent_id
    page = c.get("/consentgate/receipt")
    assert page.status_code == 200 and consent_id in page.text
    # another visitor sees none of it
    assert client().get("/consentgate/receipt?format=json").json()["records"] == []


def test_receipt_without_a_log_is_404() -> None:
    assert client(consent_log=None).get("/consentgate/receipt").status_code == 404


def test_allowing_one_service_keeps_what_an_opt_out_visitor_had() -> None:
    c = client(signals=SignalSettings(jurisdiction=lambda headers: "opt-out"))
    assert set(state(c)["granted"]) == {"necessary", "analytical", "preference", "marketing"}
    choose(c, "allow", service="youtube")
    s = state(c)
    assert s["decided"] and "youtube" in s["services"]
    assert set(s["granted"]) == {"necessary", "analytical", "preference", "marketing"}


def test_preferences_link_the_receipt_only_when_a_log_is_kept() -> None:
    assert 'href="/consentgate/receipt"' in client().get("/consentgate/preferences").text
    page = client(consent_log=None).get("/consentgate/preferences").text
    assert "/consentgate/receipt" not in page


def test_a_gpc_implied_refusal_is_recorded_once_and_joins_the_receipt() -> None:
    import anyio

    from consentgate.consentlog import open_log

    c = client(consent_log="gpc.sqlite3")
    gpc = {"sec-gpc": "1", "accept": "text/html,*/*"}
    first = c.get("/", headers=gpc)
    assert 'id="consentgate-banner"' in first.text  # still no choice: the banner asks
    assert "consentgate=" in first.headers["set-cookie"]
    c.get("/", headers=gpc)
    c.get("/", headers={"sec-gpc": "1", "accept": "image/*"})  # assets never record
    receipt = c.get("/consentgate/receipt?format=json").json()
    assert [r["source"] for r in receipt["records"]] == ["gpc"]
    assert "marketing" in receipt["records"][0]["refused"]
    assert state(c)["decided"] is False
    choose(c, "save", category="analytical")
    receipt = c.get("/consentgate/receipt?format=json").json()
    assert [r["source"] for r in receipt["records"]] == ["gpc", "banner"]
    log = open_log("gpc.sqlite3")
    assert anyio.run(log.records_for, receipt["consent_id"])[1].granted == (
        "analytical",
        "necessary",
    )
    # without the signal nothing is recorded before a choice
    other = client(consent_log="gpc.sqlite3")
    assert "set-cookie" not in other.get("/", headers={"accept": "text/html"}).headers
