from __future__ import annotations

import gzip
import itertools
import json
import os
import re
import tempfile
from typing import Any

import anyio
import pytest
from helpers import (
    BANNER,
    PAGE,
    SECRET,
    SETTINGS,
    Recorder,
    body,
    checkbox,
    choose,
    client,
    is_checked,
    make_app,
    raw_app,
    run,
    start,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from consentgate import (
    Category,
    ConsentMiddleware,
    CookieSettings,
    Policy,
    SignalSettings,
    get_consent,
)
from consentgate.consent import Consent
from consentgate.cookie import ConsentCookie
from consentgate.policy import DEFAULT_CATEGORIES
from consentgate.responder import FAILURE_PAGE

# -- banner injection -------------------------------------------------------------------------


def test_banner_follows_the_page_for_a_fresh_visitor() -> None:
    # After the page, where nothing need be held back to find its place: browsers move what
    # follows </html> into the body.
    r = client().get("/")
    html = r.text
    assert html.count(BANNER) == 1
    assert html.startswith(PAGE)
    assert html.index(BANNER) > len(PAGE)
    for action in ("accept_all", "reject_all", "save"):
        assert f'<button type="submit" name="action" value="{action}"' in html
    assert 'rel="stylesheet" href="//testserver/consentgate/static/consentgate.css?v=' in html
    assert int(r.headers["content-length"]) == len(r.content)


def test_banner_has_no_pre_ticked_optional_boxes_and_a_privacy_link() -> None:
    html = client(privacy_policy_url="/legal/privacy").get("/").text
    assert is_checked(html, "necessary") and " disabled" in checkbox(html, "category", "necessary")
    for name in ("analytical", "preference", "marketing"):
        assert not is_checked(html, name)
    assert '<a href="/legal/privacy">' in html


def test_after_a_choice_only_the_settings_control_is_injected() -> None:
    c = client()
    choose(c, "reject_all")
    html = c.get("/").text
    assert BANNER not in html and html.count(SETTINGS) == 1


def test_a_new_revision_asks_again_prefilled_with_the_old_choice() -> None:
    old = client(revision="2023-01")
    choose(old, "save", category="analytical")
    new = client(revision="2024-06")
    new.cookies = old.cookies
    html = new.get("/").text
    assert BANNER in html
    assert is_checked(html, "analytical")
    assert get_state(new)["decided"] is False
    assert get_state(new)["granted"] == ["necessary"]


def get_state(c: Any) -> dict[str, Any]:
    return c.get("/state").json()  # type: ignore[no-any-return]


def test_bad_cookie_means_no_choice_yet_never_an_error(caplog: pytest.LogCaptureFixture) -> None:
    c = client()
    for value in ("garbage", "a" * 5000, '"unbalanced', "eyJ2IjoxfQ.abc.def", "%00%ff"):
        r = c.get("/", headers={"cookie": f"consentgate={value}; other=1"})
        assert r.status_code == 200 and BANNER in r.text
        assert value not in r.text
    assert not [rec for rec in caplog.records if rec.levelname in ("ERROR", "CRITICAL")]


def test_cookie_split_over_two_headers_is_found() -> None:
    c = client()
    value = choose(c, "accept_all").cookies["consentgate"]
    fresh = client()
    r = fresh.get(
        "/state",
        headers=[("cookie", "a=b; ;;broken"), ("cookie", f"consentgate={value}")],  # type: ignore[arg-type]
    )
    assert r.json()["decided"] is True


def test_non_html_and_fragments_are_left_alone() -> None:
    r = client().get("/text")
    assert r.text == "plain </body>"
    assert "vary" not in r.headers
    fragment = "<div><p>partial</p></div>"
    assert client(page=fragment).get("/").text == fragment


def test_document_without_body_end_gets_the_banner_at_the_end() -> None:
    html = client(page="<!doctype html><title>x</title><p>no closing tags").get("/").text
    assert html.startswith("<!doctype html><title>x</title><p>no closing tags")
    assert BANNER in html


def test_a_body_end_inside_a_script_changes_nothing() -> None:
    page = "<html><body><script>var s='</body>';</script><p>end</p></body></html>"
    html = client(page=page).get("/").text
    assert html.startswith(page) and BANNER in html[len(page) :]


def test_rewritten_responses_are_private_and_vary_on_cookie() -> None:
    async def page(request: Request) -> Response:
        return HTMLResponse(
            PAGE,
            headers={
                "cache-control": "public, max-age=60, s-maxage=600",
                "etag": '"v1"',
                "vary": "Accept-Encoding",
            },
        )

    app = Starlette(routes=[Route("/", page)])
    r = client(ConsentMiddleware(app, secret_key=SECRET)).get("/")
    assert r.headers["cache-control"] == "private, max-age=60"
    assert "etag" not in r.headers
    assert r.headers["vary"] == "Accept-Encoding, Cookie"


def test_banner_texts_survive_any_ascii_compatible_charset() -> None:
    async def page(request: Request) -> Response:
        body = "<html><body><p>Привет</p></body></html>".encode("cp1251")
        return Response(body, media_type="text/html; charset=windows-1251")

    app = ConsentMiddleware(
        Starlette(routes=[Route("/", page)]),
        secret_key=SECRET,
        policy=Policy(
            categories=(*DEFAULT_CATEGORIES[:1], Category("stats", "Статистика", "Счётчики"))
        ),
        builtin_vendors=False,
    )
    r = client(app).get("/")
    raw = r.content
    assert raw.startswith("<html><body><p>Привет</p>".encode("cp1251"))
    assert "&#1057;&#1090;&#1072;" in raw.decode("ascii", "replace")  # "Ста" as references


# -- streaming and message order --------------------------------------------------------------


@pytest.mark.anyio
async def test_streamed_html_streams_and_drops_content_length() -> None:
    chunks = [b"<html><bo", b"dy>" + b"<p>one</p>" * 2000, b"<p>two</p></bo", b"dy></html>"]
    app = ConsentMiddleware(
        raw_app(
            start(extra=[(b"content-length", b"44")]), *[body(c, True) for c in chunks], body(b"")
        ),
        secret_key=SECRET,
    )
    rec = await run(app)
    kinds = [m["type"] for m in rec.messages]
    assert kinds[0] == "http.response.start" and kinds.count("http.response.start") == 1
    headers = dict(rec.messages[0]["headers"])
    assert b"content-length" not in headers
    out = b"".join(m.get("body", b"") for m in rec.messages[1:])
    assert out.startswith(b"".join(chunks))
    assert BANNER.encode() in out[len(b"".join(chunks)) :]
    # each chunk left as it came, but for the unfinished "<bo" the rewriter waits to read
    assert [m["body"] for m in rec.messages[1:4]] == [
        b"<html>",
        b"<body>" + b"<p>one</p>" * 2000,
        b"<p>two</p>",
    ]
    assert rec.messages[-1]["more_body"] is False


@pytest.mark.anyio
async def test_xhtml_is_read_as_xml_where_it_differs() -> None:
    # "<script/>" has no content in XHTML: nothing may be added that would break the XML.
    page = (
        b'<html xmlns="http://www.w3.org/1999/xhtml"><body><svg/><script src="/a.js"/>'
        b'<script src="https://www.google-analytics.com/analytics.js"></script></body></html>'
    )
    outs = {}
    for media in (b"application/xhtml+xml", b"text/html"):
        app = ConsentMiddleware(raw_app(start(media), body(page)), secret_key=SECRET)
        rec = await run(app)
        outs[media] = b"".join(m.get("body", b"") for m in rec.messages[1:])
    xhtml, html = outs[b"application/xhtml+xml"], outs[b"text/html"]
    assert b'<script src="/a.js"/><script type="text/plain"' in xhtml
    # In HTML "<svg/>" opens nothing: "<script/>" is followed by script data, where the GA tag is
    # text that never runs (HTML's reading is the only one: nothing to add, nothing to gate).
    assert b'<script src="/a.js"/><script src="https://www.google-analytics.com/' in html


@pytest.mark.anyio
async def test_unknown_messages_are_forwarded_as_they_are() -> None:
    trailers = {"type": "http.response.trailers", "headers": [], "more_trailers": False}
    debug = {"type": "http.response.debug", "info": {"x": 1}}
    app = ConsentMiddleware(
        raw_app(start(b"application/json"), debug, body(b"{}", True), body(b""), trailers),
        secret_key=SECRET,
    )
    rec = await run(app)
    assert [m["type"] for m in rec.messages] == [
        "http.response.start",
        "http.response.debug",
        "http.response.body",
        "http.response.body",
        "http.response.trailers",
    ]
    assert rec.messages[1] == debug


@pytest.mark.anyio
@pytest.mark.parametrize("status", [204, 304, 206])
async def test_untouchable_statuses_pass(status: int) -> None:
    app = ConsentMiddleware(
        raw_app(start(status=status), body(b"<html><body></body>")), secret_key=SECRET
    )
    rec = await run(app)
    assert rec.messages[-1]["body"] == b"<html><body></body>"


@pytest.mark.anyio
async def test_head_body_passes_untouched_with_the_headers_of_a_get() -> None:
    app = ConsentMiddleware(
        raw_app(start(extra=[(b"content-length", b"19")]), body(b"")), secret_key=SECRET
    )
    rec = await run(app, {"method": "HEAD"})
    headers = dict(rec.messages[0]["headers"])
    assert b"content-length" not in headers  # a GET's length would include the banner
    assert headers[b"vary"] == b"Cookie" and headers[b"cache-control"] == b"private"
    assert rec.messages[1]["body"] == b""
    app = ConsentMiddleware(
        raw_app(start(b"image/png", extra=[(b"content-length", b"19")]), body(b"")),
        secret_key=SECRET,
    )
    rec = await run(app, {"method": "HEAD"})
    assert dict(rec.messages[0]["headers"])[b"content-length"] == b"19"


@pytest.mark.anyio
async def test_pathsend_html_is_read_and_rewritten() -> None:
    with tempfile.NamedTemporaryFile("wb", suffix=".html", delete=False) as f:
        f.write(PAGE.encode())
    try:
        app = ConsentMiddleware(
            raw_app(start(), {"type": "http.response.pathsend", "path": f.name}),
            secret_key=SECRET,
        )
        rec = await run(app, {"extensions": {"http.response.pathsend": {}}})
        out = b"".join(m.get("body", b"") for m in rec.messages[1:])
        assert out.startswith(PAGE.split("</body>")[0].encode()) and BANNER.encode() in out
        # non-HTML pathsend is forwarded as is
        app = ConsentMiddleware(
            raw_app(start(b"image/png"), {"type": "http.response.pathsend", "path": f.name}),
            secret_key=SECRET,
        )
        rec = await run(app)
        assert rec.messages[-1]["type"] == "http.response.pathsend"
    finally:
        os.unlink(f.name)


def test_file_response_html_gets_the_banner() -> None:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "page.html")
        with open(path, "w") as f:
            f.write(PAGE)

        async def page(request: Request) -> Response:
            return FileResponse(path)

        app = ConsentMiddleware(Starlette(routes=[Route("/", page)]), secret_key=SECRET)
        r = client(app).get("/")
        assert BANNER in r.text and int(r.headers["content-length"]) == len(r.content)


@pytest.mark.anyio
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_compressed_html_is_decoded_rewritten_and_reencoded(encoding: str) -> None:
    import zlib

    raw = PAGE.encode()
    packed = gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)
    half = len(packed) // 2
    app = ConsentMiddleware(
        raw_app(
            start(extra=[(b"content-encoding", encoding.encode())]),
            body(packed[:half], True),
            body(packed[half:]),
        ),
        secret_key=SECRET,
    )
    rec = await run(app)
    out = b"".join(m.get("body", b"") for m in rec.messages[1:])
    plain = gzip.decompress(out) if encoding == "gzip" else zlib.decompress(out)
    assert BANNER.encode() in plain and plain.startswith(b"<!doctype html>")
    assert dict(rec.messages[0]["headers"])[b"content-encoding"] == encoding.encode()


@pytest.mark.anyio
@pytest.mark.parametrize("encoding", ["gzip", "br"])
async def test_corrupt_compressed_body_fails_closed_without_raising(encoding: str) -> None:
    garbage = b"\x1f\x8bnot compressed at all"
    app = ConsentMiddleware(
        raw_app(start(extra=[(b"content-encoding", encoding.encode())]), body(garbage)),
        secret_key=SECRET,
    )
    rec = await run(app)
    assert rec.messages[0]["status"] == 502
    assert rec.messages[-1]["body"] == FAILURE_PAGE


@pytest.mark.anyio
async def test_corrupt_brotli_mid_stream_ends_the_body_without_raising() -> None:
    import brotli

    good = brotli.compress(TRACKED.encode())
    app = ConsentMiddleware(
        raw_app(
            start(extra=[(b"content-encoding", b"br")]), body(good[:20], True), body(b"\xff" * 40)
        ),
        secret_key=SECRET,
    )
    rec = await run(app)
    assert rec.messages[-1]["type"] == "http.response.body"
    assert not rec.messages[-1].get("more_body", False)


@pytest.mark.anyio
async def test_unknown_encoding_fails_closed_unless_nothing_is_gated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = ConsentMiddleware(
        raw_app(start(extra=[(b"content-encoding", b"compress")]), body(b"\x1f\x9d\x90<")),
        secret_key=SECRET,
    )
    rec = await run(app)  # a visitor without consent: what cannot be read cannot be gated
    assert rec.messages[0]["status"] == 502 and rec.messages[-1]["body"] == FAILURE_PAGE
    assert any("GZipMiddleware" in r.getMessage() for r in caplog.records)
    everything = ConsentCookie([SECRET], policy=app.policy, max_age=60).dumps(
        Consent(granted=app.policy.names, decided=True)
    )
    cookie = [(b"host", b"testserver"), (b"cookie", b"consentgate=" + everything.encode())]
    rec = await run(app, headers=cookie)
    # Nothing to gate, but the settings control cannot be added: not sent as it is either
    # (so the site's owner, who granted everything, sees the failure too).
    assert rec.messages[0]["status"] == 502 and rec.messages[-1]["body"] == FAILURE_PAGE
    quiet = ConsentMiddleware(
        raw_app(start(extra=[(b"content-encoding", b"compress")]), body(b"\x1f\x9d\x90<")),
        secret_key=SECRET,
        inject_settings=False,
    )
    rec = await run(quiet, headers=cookie)  # nothing to gate or add: it goes as it is
    assert rec.messages[0]["status"] == 200 and rec.messages[-1]["body"] == b"\x1f\x9d\x90<"


@pytest.mark.anyio
async def test_utf16_body_is_transcoded_not_crashed() -> None:
    page = PAGE.encode("utf-16")
    app = ConsentMiddleware(
        raw_app(start(b"text/html; charset=utf-16"), body(page)), secret_key=SECRET
    )
    rec = await run(app)
    headers = dict(rec.messages[0]["headers"])
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    out = rec.messages[-1]["body"].decode("utf-8")
    assert out.startswith("<!doctype html>") and BANNER in out


@pytest.mark.anyio
async def test_utf16_bom_without_charset_is_detected() -> None:
    app = ConsentMiddleware(
        raw_app(start(b"text/html"), body(PAGE.encode("utf-16"))), secret_key=SECRET
    )
    rec = await run(app)
    assert BANNER in rec.messages[-1]["body"].decode("utf-8")


@pytest.mark.anyio
async def test_websocket_and_lifespan_pass_through() -> None:
    seen = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    mw = ConsentMiddleware(app, secret_key=SECRET)
    await mw({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    await mw({"type": "websocket", "path": "/", "headers": []}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan", "websocket"]


# -- Set-Cookie gating and state ------------------------------------------------------------


def cookie_app() -> Starlette:
    async def page(request: Request) -> Response:
        response = HTMLResponse(PAGE)
        response.set_cookie("theme", "dark")
        response.set_cookie("session", "abc")
        response.set_cookie("_ga", "GA1.1.1")
        return response

    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(
        ConsentMiddleware,
        secret_key=SECRET,
        policy=Policy(cookies={"theme": "preference", "_ga": "analytical"}),
    )
    return app


def test_cookies_of_ungranted_categories_are_dropped() -> None:
    c = client(cookie_app())
    r = c.get("/")
    set_cookies = r.headers.get_list("set-cookie")
    assert [v.split("=")[0] for v in set_cookies] == ["session"]
    choose(c, "save", category="preference")
    r = c.get("/")
    assert sorted(v.split("=")[0] for v in r.headers.get_list("set-cookie")) == ["session", "theme"]


def link_app(media_type: str = "text/html") -> Starlette:
    async def page(request: Request) -> Response:
        body = PAGE if media_type == "text/html" else "{}"
        return Response(
            body,
            media_type=media_type,
            headers={
                "link": (
                    "<https://www.googletagmanager.com>; rel=preconnect, "
                    "</app.css>; rel=preload; as=style"
                )
            },
        )

    return Starlette(routes=[Route("/", page)])


def test_link_header_hints_to_ungranted_vendors_are_dropped() -> None:
    """A ``Link: <…>; rel=preconnect`` header contacts the vendor before the page is read."""
    for media_type in ("text/html", "application/json"):
        c = client(ConsentMiddleware(link_app(media_type), secret_key=SECRET))
        assert c.get("/").headers.get_list("link") == ["</app.css>; rel=preload; as=style"]
        choose(c, "save", category="marketing")
        assert c.get("/").headers.get_list("link") == ["</app.css>; rel=preload; as=style"]
        choose(c, "save", category="analytical")
        assert c.get("/").headers["link"].startswith("<https://www.googletagmanager.com>")
        choose(c, "accept_all")
        assert c.get("/").headers["link"].startswith("<https://www.googletagmanager.com>")


def test_a_refresh_header_to_an_ungranted_vendor_is_dropped() -> None:
    """``Refresh: 0; url=https://…`` sends the browser to the vendor before the page is read."""
    pixel = "0; URL='https://www.facebook.com/tr?id=1&ev=PageView'"
    refresh = {"/pixel": pixel, "/own": "5; url=/next", "/reload": "30"}

    async def page(request: Request) -> Response:
        body = PAGE if request.query_params.get("type") != "json" else "{}"
        media = "application/json" if body == "{}" else "text/html"
        status = int(request.query_params.get("status", "200"))
        headers = {"refresh": refresh[request.url.path]}
        return Response(body, status_code=status, media_type=media, headers=headers)

    app = Starlette(routes=[Route(path, page) for path in refresh])
    c = client(ConsentMiddleware(app, secret_key=SECRET))
    # On any response: a page, JSON, a redirect, a 304, a HEAD.
    for query in ("", "?type=json", "?status=302", "?status=304", "?type=json&status=500"):
        assert "refresh" not in c.get("/pixel" + query, follow_redirects=False).headers, query
    assert "refresh" not in c.head("/pixel").headers
    assert c.get("/own").headers["refresh"] == "5; url=/next"
    assert c.get("/reload?type=json").headers["refresh"] == "30"
    choose(c, "save", category="analytical")
    assert "refresh" not in c.get("/pixel").headers
    choose(c, "allow", service="meta-pixel")
    assert c.get("/pixel").headers["refresh"] == pixel
    assert c.get("/pixel?type=json").headers["refresh"] == pixel


def test_withdrawal_expires_the_cookies_of_withdrawn_categories() -> None:
    c = client(cookie_app())
    choose(c, "accept_all")
    c.get("/")
    r = c.post(
        "/consentgate/consent",
        data={"action": "reject_all"},
        headers={"origin": "http://www.shop.example", "host": "www.shop.example"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    expired = [v for v in r.headers.get_list("set-cookie") if "Max-Age=0" in v]
    names = {v.split("=")[0] for v in expired}
    assert names == {"theme", "_ga"}
    domains = {v.split("Domain=")[1] for v in expired if "Domain=" in v}
    assert domains == {"www.shop.example", "shop.example"}


def test_get_consent_and_scope_state_in_the_app() -> None:
    c = client()
    assert get_state(c) == {
        "decided": False,
        "granted": ["necessary"],
        "services": [],
        "revision": None,
        "given_at": None,
        "consent_id": None,
    }
    choose(c, "save", category="marketing")
    s = get_state(c)
    assert s["decided"] and s["granted"] == ["marketing", "necessary"] and s["given_at"]


def test_get_consent_outside_the_middleware_fails_closed() -> None:
    consent = get_consent({"type": "http"})
    assert not consent.decided and not consent.allows("analytical")
    assert get_consent().granted == {"necessary"}


def test_rotated_key_is_reissued_on_the_next_response() -> None:
    old_key, new_key = "old-key-of-at-least-32-characters", "new-key-of-at-least-32-characters"
    old = client(secret_key=old_key)
    value = choose(old, "accept_all").cookies["consentgate"]
    new = client(secret_key=[new_key, old_key])
    new.cookies.set("consentgate", value)
    r = new.get("/")
    assert SETTINGS in r.text
    reissued = re.search(r"consentgate=([^;]+)", r.headers["set-cookie"])
    assert reissued and reissued.group(1) != value
    newest_only = client(secret_key=new_key)
    newest_only.cookies.set("consentgate", reissued.group(1))
    assert newest_only.get("/state").json()["decided"]


def test_secure_cookie_on_https_and_host_prefix() -> None:
    app = make_app()
    from starlette.testclient import TestClient

    c = TestClient(app, base_url="https://testserver")
    r = c.post(
        "/consentgate/consent",
        data={"action": "accept_all"},
        headers={"origin": "https://testserver"},
        follow_redirects=False,
    )
    assert "Secure" in r.headers["set-cookie"]
    c = TestClient(make_app(cookie=CookieSettings(host_prefix=True)), base_url="https://testserver")
    r = c.post(
        "/consentgate/consent",
        data={"action": "accept_all"},
        headers={"origin": "https://testserver"},
        follow_redirects=False,
    )
    assert r.headers["set-cookie"].startswith("__Host-consentgate=")
    assert "Domain" not in r.headers["set-cookie"]
    assert c.get("/state").json()["decided"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"secret_key": ""}, "secret_key"),
        ({"secret_key": []}, "secret_key"),
        ({"cookie": lambda: CookieSettings(max_age=0)}, "max_age"),
        ({"prefix": "consent/"}, "prefix"),
        ({"cookie": lambda: CookieSettings(host_prefix=True, domain="example.com")}, "host_prefix"),
        ({"cookie": lambda: CookieSettings(name="bad name")}, "name"),
        ({"policy": lambda: Policy(categories=DEFAULT_CATEGORIES[1:])}, "necessary"),
        ({"policy": lambda: Policy(cookies={"x": "unknown"})}, "unknown category"),
        ({"policy": lambda: Policy(mode="hide")}, "mode"),  # type: ignore[arg-type]
        ({"policy": lambda: Policy(categories=DEFAULT_CATEGORIES[:2])}, "builtin_vendors=False"),
        ({"revision": ""}, "revision"),
        ({"policy": lambda: Policy(revision="2"), "revision": "3"}, "given twice"),
    ],
)
def test_bad_configuration_fails_at_start_up(options: dict[str, Any], message: str) -> None:
    # (Settings objects check themselves as they are made: that, too, is at start-up.)
    options.setdefault("secret_key", SECRET)
    with pytest.raises(ValueError, match=message):
        made = {k: v() if callable(v) else v for k, v in options.items()}
        ConsentMiddleware(make_app(), **made)


def test_huge_cookie_header_does_not_break_the_page() -> None:
    r = client().get("/", headers={"cookie": "x=" + "y" * 60000})
    assert r.status_code == 200 and BANNER in r.text


def test_streaming_response_many_small_chunks() -> None:
    async def page(request: Request) -> Response:
        async def gen() -> Any:
            for ch in PAGE:
                yield ch.encode()

        return StreamingResponse(gen(), media_type="text/html")

    app = ConsentMiddleware(Starlette(routes=[Route("/", page)]), secret_key=SECRET)
    html = client(app).get("/").text
    assert html.startswith(PAGE.split("</body>")[0]) and BANNER in html


@pytest.mark.parametrize("spelling", ["</body>", "</BODY>", "</Body >", "</bOdY>"])
def test_body_end_in_any_case(spelling: str) -> None:
    page = f"<html><body><p>x</p>{spelling}</html>"
    html = client(page=page).get("/").text
    assert html.startswith(page) and BANNER in html[len(page) :]


def test_body_end_far_from_the_end_gets_the_banner_appended() -> None:
    page = "<html><body><p>x</p></body>" + "<!-- padding -->" * 1000 + "</html>"
    html = client(page=page).get("/").text
    assert html.startswith(page) and BANNER in html[len(page) :]


@pytest.mark.anyio
async def test_brotli_html_is_decoded_rewritten_and_reencoded() -> None:
    import brotli

    packed = brotli.compress(PAGE.encode())
    app = ConsentMiddleware(
        raw_app(
            start(extra=[(b"content-encoding", b"br")]), body(packed[:5], True), body(packed[5:])
        ),
        secret_key=SECRET,
    )
    rec = await run(app)
    plain = brotli.decompress(b"".join(m.get("body", b"") for m in rec.messages[1:]))
    assert BANNER.encode() in plain and plain.startswith(b"<!doctype html>")


TRACKED = (
    "<!doctype html><html><head>"
    '<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
    "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
    "gtag('js',new Date());gtag('config','G-1');</script>"
    '<script src="/static/app.js"></script>'
    "</head><body><h1>Shop</h1>"
    '<iframe src="https://www.youtube.com/embed/abc" width="560"></iframe>'
    "</body></html>"
)


def test_trackers_are_gated_until_consent_and_run_after() -> None:
    c = client(page=TRACKED)
    html = c.get("/").text
    assert ' src="https://www.googletagmanager.com' not in html
    assert 'data-consent-src="https://www.googletagmanager.com/gtag/js?id=G-1"' in html
    assert '<script src="/static/app.js"></script>' in html  # the site's own script untouched
    assert ' src="https://www.youtube.com/embed/abc"' not in html
    placeholder = html[html.index("consentgate-placeholder") :]
    assert 'name="service" value="youtube"' in placeholder
    assert 'action="//testserver/consentgate/consent"' in placeholder
    choose(c, "accept_all")
    html = c.get("/").text
    assert html.startswith(TRACKED.split("</body>")[0])  # byte-identical but for the snippet


def test_granting_one_service_lets_only_that_one_through() -> None:
    c = client(page=TRACKED)
    choose(c, "allow", service="youtube")
    html = c.get("/").text
    assert '<iframe src="https://www.youtube.com/embed/abc"' in html
    assert 'data-consent-src="https://www.googletagmanager.com/gtag/js?id=G-1"' in html


def test_remove_mode_sends_no_tracker_at_all() -> None:
    html = client(page=TRACKED, policy=Policy(mode="remove")).get("/").text
    assert "googletagmanager" not in html and "gtag(" not in html
    assert "youtube.com/embed" not in html and "consentgate-placeholder" in html


def test_vendor_cookies_are_dropped_without_consent() -> None:
    async def page(request: Request) -> Response:
        response = HTMLResponse(PAGE)
        response.set_cookie("_ga", "GA1.1.1")
        response.set_cookie("_ga_ABC123", "GS1")
        response.set_cookie("_fbp", "fb.1")
        response.set_cookie("csrftoken", "x")
        return response

    app = ConsentMiddleware(Starlette(routes=[Route("/", page)]), secret_key=SECRET)
    c = client(app)
    assert [v.split("=")[0] for v in c.get("/").headers.get_list("set-cookie")] == ["csrftoken"]
    choose(c, "save", category="analytical")
    names = [v.split("=")[0] for v in c.get("/").headers.get_list("set-cookie")]
    assert names == ["_ga", "_ga_ABC123", "csrftoken"]


def test_placeholders_speak_the_visitors_language_under_the_root_path() -> None:
    from starlette.testclient import TestClient

    c = TestClient(make_app(page=TRACKED), root_path="/shop")
    german = c.get("/", headers={"accept-language": "de-DE,de;q=0.9"}).content.decode("ascii")
    placeholder = german[german.index("consentgate-placeholder") :]
    assert "YouTube erlauben" in placeholder  # ascii-safe: "erlauben" needs no reference
    assert "&#8222;Marketing&#8220;" in placeholder  # the category title, translated and quoted
    assert 'action="//testserver/shop/consentgate/consent"' in placeholder
    english = client(page=TRACKED).get("/", headers={"accept-language": "en"}).text
    assert "Allow YouTube" in english[english.index("consentgate-placeholder") :]


def test_a_site_can_override_any_template() -> None:
    import jinja2

    loader = jinja2.DictLoader(
        {
            "consentgate/settings_link.html": '<a id="consentgate-settings" '
            'href="{{ urls.preferences }}">Privacy choices</a>'
        }
    )
    c = client(templates=[loader])
    assert BANNER in c.get("/").text  # the built-in banner still serves
    choose(c, "accept_all")
    html = c.get("/").text
    ours = (
        '<a id="consentgate-settings" href="//testserver/consentgate/preferences">'
        "Privacy choices</a>"
    )
    assert ours in html


def test_without_injected_settings_a_consented_page_is_byte_identical() -> None:
    c = client(inject_settings=False, page=TRACKED)
    assert BANNER in c.get("/").text  # the banner is still injected for an undecided visitor
    choose(c, "accept_all")
    r = c.get("/")
    assert r.text == TRACKED
    # not rewritten, yet a shared cache must not hand these live trackers to the next visitor
    assert r.headers["vary"] == "Cookie" and r.headers["cache-control"] == "private"
    choose(c, "reject_all")
    html = c.get("/").text
    assert SETTINGS not in html and "data-consent-src" in html  # still gated, no control


@pytest.mark.anyio
async def test_header_names_in_any_case_are_still_gated() -> None:
    app = ConsentMiddleware(
        raw_app(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"Content-Type", b"text/html"), (b"Set-Cookie", b"_ga=1")],
            },
            body(TRACKED.encode()),
        ),
        secret_key=SECRET,
    )
    rec = await run(app)
    out = rec.messages[-1]["body"].decode()
    assert ' src="https://www.googletagmanager.com' not in out and BANNER in out
    assert not [v for k, v in rec.messages[0]["headers"] if k.lower() == b"set-cookie"]


# -- a visitor who chose: the page itself is not copied ----------------------------------------


def consented_cookie(app: ConsentMiddleware, *, everything: bool = True) -> tuple[bytes, bytes]:
    policy = app.policy
    consent = Consent(
        granted=policy.names if everything else policy.required,
        revision=policy.revision,
        decided=True,
        consent_id="test",
    )
    return b"cookie", f"{app.cookie.full_name}={app.codec.dumps(consent)}".encode()


@pytest.mark.anyio
async def test_a_page_for_a_visitor_who_chose_goes_whole_with_the_control_after_it() -> None:
    page = TRACKED.encode()
    app = ConsentMiddleware(
        raw_app(
            start(extra=[(b"content-length", str(len(page)).encode()), (b"etag", b'"v1"')]),
            body(page),
        ),
        secret_key=SECRET,
        consent_log=None,
    )
    rec = await run(app, headers=[(b"host", b"testserver"), consented_cookie(app)])
    first, second = rec.messages[1], rec.messages[2]
    assert first["body"] is page and first["more_body"] is True  # the app's own bytes object
    assert SETTINGS.encode() in second["body"] and not second.get("more_body", False)
    headers = dict(rec.messages[0]["headers"])
    assert int(headers[b"content-length"]) == len(page) + len(second["body"])
    assert b"etag" not in headers and headers[b"vary"] == b"Cookie"
    assert headers[b"cache-control"] == b"private"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content_type", [b"text/html; charset=utf-16", b"text/html; Charset=UTF-16LE"]
)
async def test_a_utf16_page_for_a_visitor_who_chose_gets_the_control_transcoded(
    content_type: bytes,
) -> None:
    """Appending the ASCII control to UTF-16 bytes would garble the page's end: it is
    transcoded instead, whatever the case of the charset parameter."""
    codec = "utf-16" if content_type.endswith(b"utf-16") else "utf-16-le"
    page = "<!doctype html><html><body>Grüße</body></html>".encode(codec)
    app = ConsentMiddleware(
        raw_app(start(content_type), body(page)), secret_key=SECRET, consent_log=None
    )
    rec = await run(app, headers=[(b"host", b"testserver"), consented_cookie(app)])
    out = b"".join(m.get("body", b"") for m in rec.messages[1:]).decode("utf-8")
    assert "Grüße" in out and SETTINGS in out
    assert dict(rec.messages[0]["headers"])[b"content-type"].endswith(b"charset=utf-8")


@pytest.mark.anyio
async def test_an_identity_encoded_page_for_a_visitor_who_chose_gets_the_control() -> None:
    page = TRACKED.encode()
    app = ConsentMiddleware(
        raw_app(start(extra=[(b"content-encoding", b"identity")]), body(page)),
        secret_key=SECRET,
        consent_log=None,
    )
    rec = await run(app, headers=[(b"host", b"testserver"), consented_cookie(app)])
    out = b"".join(m.get("body", b"") for m in rec.messages[1:])
    assert out.startswith(page[: page.index(b"</body>")]) and SETTINGS.encode() in out


@pytest.mark.anyio
async def test_a_fragment_for_a_visitor_who_chose_gets_no_control() -> None:
    fragment = b"<li>one more item</li>"
    app = ConsentMiddleware(raw_app(start(), body(fragment)), secret_key=SECRET, consent_log=None)
    rec = await run(app, headers=[(b"host", b"testserver"), consented_cookie(app)])
    assert b"".join(m.get("body", b"") for m in rec.messages[1:]) == fragment


@pytest.mark.anyio
async def test_when_nothing_is_to_change_the_start_is_not_held() -> None:
    """Everything granted and no control to inject: the headers leave before the app's body
    exists, and a UTF-16 page stays as the app encoded it."""
    sent: list[str] = []
    page = "<html><body>Grüße</body></html>".encode("utf-16")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start(b"text/html; charset=utf-16"))
        sent.append(f"after start: {len(recorder.messages)} forwarded")
        await send(body(page))

    mw = ConsentMiddleware(app, secret_key=SECRET, consent_log=None, inject_settings=False)
    recorder = Recorder()
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), consented_cookie(mw)],
    }
    await mw(scope, None, recorder)
    assert sent == ["after start: 1 forwarded"]
    headers = dict(recorder.messages[0]["headers"])
    assert headers[b"content-type"] == b"text/html; charset=utf-16"
    assert headers[b"vary"] == b"Cookie"
    assert recorder.messages[1]["body"] == page


def test_a_returning_visitors_cookie_header_is_read_the_same_every_time() -> None:
    c = client()
    choose(c, "accept_all")
    value = c.cookies["consentgate"]
    c.cookies.clear()
    fresh = {"cookie": f"theme=dark; consentgate={value}"}
    assert [c.get("/state", headers=fresh).json()["decided"] for _ in range(3)] == [True] * 3
    tampered = {"cookie": f"theme=dark; consentgate=x{value}"}
    assert [c.get("/state", headers=tampered).json()["decided"] for _ in range(2)] == [False] * 2


@pytest.mark.anyio
@pytest.mark.parametrize("kind", [bytearray, memoryview])
@pytest.mark.parametrize("everything", [True, False])
async def test_a_body_that_is_not_bytes_is_still_gated_not_a_crash(
    kind: Any, everything: bool
) -> None:
    page = TRACKED.encode()
    app = ConsentMiddleware(raw_app(start(), body(kind(page))), secret_key=SECRET, consent_log=None)
    rec = await run(
        app, headers=[(b"host", b"testserver"), consented_cookie(app, everything=everything)]
    )
    out = b"".join(bytes(m.get("body", b"")) for m in rec.messages[1:]).decode()
    assert SETTINGS in out
    assert (' src="https://www.googletagmanager.com' in out) is everything


# -- any response, however odd, goes through whole ---------------------------------------------

_ODD_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"Content-Type", b"TEXT/HTML"),
    (b"content-type", b"text/html; charset=utf-16"),
    (b"content-type", b"application/xhtml+xml"),
    (b"content-type", b"application/json"),
    (b"content-encoding", b"gzip"),
    (b"content-encoding", b"br"),
    (b"content-encoding", b"zstd"),
    (b"etag", b'"v1"'),
    (b"vary", b"Accept"),
    (b"cache-control", b"public, max-age=60"),
    (b"set-cookie", b"_ga=1"),
    (b"set-cookie", b"=;;"),
    (b"content-security-policy", b"script-src 'nonce-abc'"),
    (b"x-huge", b"\xff" * 20_000),
]
_ODD_BODIES = [
    TRACKED.encode(),
    gzip.compress(TRACKED.encode()),
    TRACKED.encode("utf-16"),
    b"",
    b"\xff\xfe<",
    TRACKED.encode()[:37],
    b"<li>a fragment</li>",
    bytes(range(256)),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.lists(st.sampled_from(_ODD_HEADERS), max_size=6),
    page=st.sampled_from(_ODD_BODIES),
    cuts=st.lists(st.integers(0, 600), max_size=4),
    status=st.sampled_from([200, 200, 204, 206, 304, 500]),
    method=st.sampled_from(["GET", "HEAD"]),
    visitor=st.sampled_from([None, False, True]),
    inject_settings=st.booleans(),
    consent_mode=st.booleans(),
)
def test_any_response_goes_through_whole_without_raising(
    headers: list[tuple[bytes, bytes]],
    page: bytes,
    cuts: list[int],
    status: int,
    method: str,
    visitor: bool | None,
    inject_settings: bool,
    consent_mode: bool,
) -> None:
    """Header case, encodings a decoder cannot read, charsets, chunk splits and statuses: the
    middleware never raises and every response ends as ASGI wants it, with a right length."""
    bounds = sorted({0, len(page), *(c for c in cuts if c < len(page))})
    chunks = [page[a:b] for a, b in itertools.pairwise(bounds)] or [b""]
    length = [(b"content-length", str(len(page)).encode())]
    app = ConsentMiddleware(
        raw_app(
            start(status=status, extra=[]) | {"headers": headers + length},
            *(body(c, i < len(chunks) - 1) for i, c in enumerate(chunks)),
        ),
        secret_key=SECRET,
        consent_log=None,
        inject_settings=inject_settings,
        signals=SignalSettings(consent_mode=consent_mode),
    )
    request = [(b"host", b"testserver")]
    if visitor is not None:
        request.append(consented_cookie(app, everything=visitor))
    rec = anyio.run(run, app, {"method": method}, request)
    starts = [m for m in rec.messages if m["type"] == "http.response.start"]
    bodies = [m for m in rec.messages if m["type"] == "http.response.body"]
    assert len(starts) == 1 and rec.messages[0] is starts[0]
    assert bodies and not bodies[-1].get("more_body", False)
    sent = b"".join(m.get("body", b"") for m in bodies)
    declared = [v for k, v in starts[0]["headers"] if k.lower() == b"content-length"]
    if declared and method == "GET":
        assert declared == [str(len(sent)).encode()]


@pytest.mark.anyio
async def test_early_hints_to_ungranted_vendors_are_dropped() -> None:
    """A 103 Early Hints (``http.response.early_hint``) is acted on before the page exists."""
    vendor = b"<https://www.googletagmanager.com/gtm.js>; rel=preload; as=script"
    own = b"</app.css>; rel=preload; as=style"
    both = vendor + b", " + own

    def app_with(*links: Any) -> ConsentMiddleware:
        hint = {"type": "http.response.early_hint", "links": list(links)}
        return ConsentMiddleware(
            raw_app(hint, start(), body(b"<p>x</p>")), secret_key=SECRET, consent_log=None
        )

    rec = await run(app_with(vendor, both, own))
    assert rec.messages[0] == {"type": "http.response.early_hint", "links": [own, own]}
    assert [m["type"] for m in rec.messages[1:]] == ["http.response.start", "http.response.body"]
    # Nothing left to hint, or nothing readable: no 103 at all.
    for links in ([vendor], [vendor.decode(), own[:5]]):
        rec = await run(app_with(*links))
        assert [m["type"] for m in rec.messages] == ["http.response.start", "http.response.body"]
    app = app_with(vendor, own)
    rec = await run(app, headers=[(b"host", b"testserver"), consented_cookie(app)])
    assert rec.messages[0] == {"type": "http.response.early_hint", "links": [vendor, own]}


def test_speculation_rules_files_lose_the_rules_naming_ungranted_vendors() -> None:
    """Chromium prefetches what a ``Speculation-Rules`` header's file lists, as the page loads."""
    rules = {
        "prefetch": [
            {"source": "list", "urls": ["/next"]},
            {"source": "list", "urls": ["https://px.ads.linkedin.com/collect"]},
            {"where": {"href_matches": "https://*.linkedin.com/*"}},
        ]
    }
    body = json.dumps(rules)

    async def rules_file(request: Request) -> Response:
        return Response(
            body,
            media_type="application/speculationrules+json",
            headers={"etag": '"r1"', "cache-control": "public, max-age=60"},
        )

    c = client(
        ConsentMiddleware(
            Starlette(routes=[Route("/rules.json", rules_file)]),
            secret_key=SECRET,
            consent_log=None,
        )
    )
    r = c.get("/rules.json")
    assert r.json() == {"prefetch": [{"source": "list", "urls": ["/next"]}]}
    assert int(r.headers["content-length"]) == len(r.content) and "etag" not in r.headers
    assert r.headers["vary"] == "Cookie" and r.headers["cache-control"] == "private, max-age=60"
    choose(c, "accept_all")
    r = c.get("/rules.json")
    assert r.text == body and r.headers["vary"] == "Cookie"
    assert r.headers["cache-control"] == "private, max-age=60"


@pytest.mark.parametrize("vary", ["Cookie", "Accept-Encoding, cookie", "*", "Accept-Language"])
def test_vary_names_cookie_once(vary: str) -> None:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE, headers={"vary": vary})

    app = ConsentMiddleware(Starlette(routes=[Route("/", page)]), secret_key=SECRET)
    values = client(app).get("/").headers.get_list("vary")
    tokens = [t.strip().lower() for v in values for t in v.split(",")]
    assert tokens.count("cookie") == (0 if vary == "*" else 1)
    assert {t.strip().lower() for t in vary.split(",")} <= set(tokens)
