"""Privacy fails closed: whatever goes wrong inside consentgate, or whatever the app or the
visitor sends, no page leaves with a tracker live for a visitor without consent, and nothing
raises out of the middleware."""

from __future__ import annotations

import gzip
import re
import socket
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from helpers import BANNER_BYTES as BANNER
from helpers import (
    ORIGIN,
    SECRET,
    LiveServer,
    Recorder,
    body,
    choose,
    client,
    make_app,
    raw_app,
    run,
    start,
)
from test_rewriter_pages import live_references

from consentgate import ConsentMiddleware, CookieSettings, SignalSettings, Vendor
from consentgate.consent import Consent
from consentgate.cookie import ConsentCookie, cookie_names
from consentgate.endpoints import MAX_EXPIRED, expired_cookie_headers
from consentgate.html import HtmlRewriter
from consentgate.pages import Pages
from consentgate.responder import FAILURE_PAGE, Responder
from consentgate.streams import (
    Charset,
    Decoder,
    Encoder,
    HeadStart,
    Injector,
    Sniffer,
    Transcoder,
    XmlProlog,
)

TRACKED = (
    b"<!doctype html><html><head>"
    b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
    b"<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
    b"gtag('js',new Date());gtag('config','G-1');</script>"
    b'<script src="/static/app.js"></script>'
    b"</head><body><h1>Shop</h1>"
    b'<iframe src="https://www.youtube.com/embed/x"></iframe>'
    b'<noscript><img src="https://www.facebook.com/tr?id=1&ev=PageView"></noscript>'
    + b"<p>filler</p>" * 400
    + b"</body></html>"
)


def live_trackers(page: bytes) -> list[tuple[str, str, bool]]:
    return [ref for ref in live_references(page) if ref[2]]


assert len(live_trackers(TRACKED)) >= 3  # the reading sees what the page would load


def chunks(page: bytes, size: int = 1000) -> list[dict[str, Any]]:
    parts = [page[i : i + size] for i in range(0, len(page), size)]
    return [body(p, True) for p in parts] + [body(b"")]


def middleware(app: Any, **options: Any) -> ConsentMiddleware:
    return ConsentMiddleware(app, secret_key=SECRET, consent_log=None, **options)


# -- a fault in any stage -----------------------------------------------------------------------

Fault = tuple[Any, str, Callable[[bytes], tuple[list[tuple[bytes, bytes]], bytes]], dict[str, Any]]


def _plain(page: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    return [], page


def _gzipped(page: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    return [(b"content-encoding", b"gzip")], gzip.compress(page)


def _utf16(page: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    return [(b"content-type", b"text/html; charset=utf-16")], page.decode().encode("utf-16")


def _untyped(page: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    return [(b"content-type", b"unknown/unknown")], page  # (sniffed)


def _xhtml(page: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    return [(b"content-type", b"application/xhtml+xml")], page


STAGES: dict[str, Fault] = {
    "decoder": (Decoder, "feed", _gzipped, {}),
    "transcoder": (Transcoder, "feed", _utf16, {}),
    "charset": (Charset, "_read", _utf16, {}),
    "sniffer": (Sniffer, "_decide", _untyped, {}),
    "xml-prolog": (XmlProlog, "feed", _xhtml, {}),
    "headstart": (HeadStart, "feed", _plain, {"signals": SignalSettings(consent_mode=True)}),
    "rewriter-feed": (HtmlRewriter, "feed", _plain, {}),
    "rewriter-close": (HtmlRewriter, "close", _plain, {}),
    "injector": (Injector, "feed", _plain, {}),
    "injector-finish": (Injector, "finish", _plain, {}),
    "encoder": (Encoder, "feed", _gzipped, {}),
    "snippet": (Pages, "snippet", _plain, {}),
    "placeholders": (Pages, "placeholders", _plain, {}),
    "build": (Responder, "build", _plain, {}),
    "on_start": (Responder, "drop_cookies", _plain, {}),
}


@pytest.mark.anyio
@pytest.mark.parametrize("streamed", [False, True], ids=["one-message", "streamed"])
@pytest.mark.parametrize("fail_at", [1, 3])
@pytest.mark.parametrize("stage", sorted(STAGES))
async def test_a_fault_in_any_stage_sends_no_live_tracker(
    stage: str,
    fail_at: int,
    streamed: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner, method, encode, options = STAGES[stage]
    original = getattr(owner, method)
    calls = 0

    def faulty(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls >= fail_at:
            raise RuntimeError(f"injected fault in {stage}")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, method, faulty)
    extra, payload = encode(TRACKED)
    extra.append((b"set-cookie", b"_ga=GA1.1.1; Path=/"))
    media = dict(extra).get(b"content-type", b"text/html; charset=utf-8")
    extra = [(k, v) for k, v in extra if k != b"content-type"]
    messages = chunks(payload) if streamed else [body(payload)]
    rec = await run(middleware(raw_app(start(media, extra), *messages), **options))
    assert calls >= 1, "the fault was never reached: the test would prove nothing"
    out = rec.body
    if dict(rec.messages[0]["headers"]).get(b"content-encoding") == b"gzip":
        out = zlib.decompressobj(31).decompress(out)  # (a cut stream ends where it was cut)
    if b"charset=utf-16" in dict(rec.messages[0]["headers"]).get(b"content-type", b""):
        out = out.decode("utf-16", "replace").encode()
    assert live_trackers(out) == []
    assert rec.ended()
    if calls >= fail_at and rec.status != 200:
        assert rec.status == 500 and out == FAILURE_PAGE
        headers = dict(rec.messages[0]["headers"])
        assert headers[b"cache-control"] == b"no-store"
        assert b"set-cookie" not in headers


@pytest.mark.anyio
async def test_after_a_fault_the_rest_of_the_app_messages_are_dropped(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(self: HtmlRewriter, chunk: bytes) -> bytes:
        raise RuntimeError("injected")

    monkeypatch.setattr(HtmlRewriter, "feed", broken)
    trailers = {"type": "http.response.trailers", "headers": [], "more_trailers": False}
    rec = await run(middleware(raw_app(start(), *chunks(TRACKED), trailers)))
    assert [m["type"] for m in rec.messages] == ["http.response.start", "http.response.body"]
    assert rec.status == 500 and rec.body == FAILURE_PAGE
    assert any("could not gate" in r.getMessage() for r in caplog.records)


@pytest.mark.anyio
async def test_a_head_request_that_fails_gets_the_headers_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: Responder, raw: Any) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(Responder, "drop_cookies", broken)
    app = raw_app(start(extra=[(b"set-cookie", b"_ga=1")]), body(b""))
    rec = await run(middleware(app), method="HEAD")
    assert rec.status == 500 and rec.body == b""


# -- what a page may hold -----------------------------------------------------------------------

ADS = (
    b'<!doctype html><html><body><iframe src="https://www.youtube.com/embed/x" '
    b'data-consent="Ads!"></iframe>'
    b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
    b"</body></html>"
)


@pytest.mark.anyio
@pytest.mark.parametrize("streamed", [False, True], ids=["one-message", "streamed"])
async def test_a_category_the_policy_lacks_keeps_the_element_gated(streamed: bool) -> None:
    messages = chunks(ADS, 40) if streamed else [body(ADS)]
    rec = await run(middleware(raw_app(start(), *messages)))
    assert rec.status == 200
    assert live_trackers(rec.body) == [] and live_trackers(ADS)
    assert BANNER in rec.body
    # Nobody can grant "ads!": its placeholder names it, and offers no button that would fail.
    placeholder = re.search(
        rb'<div class="consentgate consentgate-placeholder".*?</div>', rec.body, re.S
    )
    assert placeholder and b'data-consent-placeholder="ads!"' in placeholder.group()
    assert b"<form" not in placeholder.group()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "cut",
    [
        b'<img src="https://www.facebook.com/tr?x=1',
        b"<img src=https://www.facebook.com/tr?x=1",
        b"<img src='https://www.facebook.com/tr?x=1' ",
        b'<iframe src="https://www.youtube.com/embed/x"',
    ],
)
@pytest.mark.parametrize("streamed", [False, True], ids=["one-message", "streamed"])
async def test_a_body_cut_inside_a_tag_is_not_completed_by_the_banner(
    cut: bytes,
    streamed: bool,
) -> None:
    page = b"<!doctype html><html><body><p>x</p>" + cut
    messages = chunks(page, 7) if streamed else [body(page)]
    rec = await run(middleware(raw_app(start(), *messages)))
    assert live_trackers(page + b'<div class="x">banner</div>')  # what the banner once did
    assert live_trackers(rec.body) == []
    assert rec.body.startswith(b"<!doctype html><html><body><p>x</p>")


# -- streaming ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_each_chunk_goes_out_before_the_app_sends_the_next() -> None:
    head = b"<!doctype html><html><head><title>t</title></head><body><h1>Hi</h1>"
    recorder = Recorder()
    seen: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start())
        await send(body(head, True))
        seen.append(recorder.body)  # what the browser has while the app works on the rest
        await send(body(b"<p>rest</p>", True))
        seen.append(recorder.body)
        await send(body(b"</body></html>"))

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "scheme": "http",
        "http_version": "1.1",
        "extensions": {},
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    await middleware(app)(scope, receive, recorder)
    assert seen == [head, head + b"<p>rest</p>"]
    assert recorder.body.startswith(head + b"<p>rest</p></body></html>")
    assert BANNER in recorder.body


# -- files the server sends ---------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("offset,count", [(None, None), (5, None), (5, len(TRACKED))])
async def test_zerocopysend_html_is_gated(offset: int | None, count: int | None) -> None:
    with tempfile.TemporaryFile() as file:
        file.write(b"xxxxx" + TRACKED)
        file.seek(0 if offset is not None else 5)
        message: dict[str, Any] = {"type": "http.response.zerocopysend", "file": file}
        if offset is not None:
            message["offset"] = offset
        if count is not None:
            message["count"] = count
        app = raw_app(start(extra=[(b"content-length", b"%d" % len(TRACKED))]), message)
        rec = await run(middleware(app))
    assert b"content-length" not in dict(rec.messages[0]["headers"])
    assert rec.body.startswith(b"<!doctype html><html><head>")
    assert live_trackers(rec.body) == []
    assert BANNER in rec.body and rec.ended()


@pytest.mark.anyio
async def test_zerocopysend_of_other_types_is_forwarded_as_it_is() -> None:
    with tempfile.TemporaryFile() as file:
        message = {"type": "http.response.zerocopysend", "file": file, "count": 0}
        rec = await run(middleware(raw_app(start(b"image/png"), message)))
    assert [m["type"] for m in rec.messages] == [
        "http.response.start",
        "http.response.zerocopysend",
    ]


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:x",
        "\njavascript:x",
        "data:text/html,x",
        "//evil.example/privacy",
        "/\\evil.example",
        "privacy.html",
        "https://",
        '/privacy" onclick="x',
    ],
)
def test_dangerous_links_in_configuration_fail_at_start(url: str) -> None:
    with pytest.raises(ValueError, match="privacy_policy_url"):
        make_app(privacy_policy_url=url).build_middleware_stack()
    with pytest.raises(ValueError, match=r"Vendor\('shop'\)\.privacy_url"):
        Vendor("shop", "Shop", "marketing", privacy_url=url)


@pytest.mark.parametrize(
    "url",
    ["/privacy", "/legal/privacy?lang=en", "https://example.com/privacy", "http://example.com"],
)
def test_safe_links_in_configuration_are_taken(url: str) -> None:
    html = client(privacy_policy_url=url).get("/").text
    assert f'href="{url}"' in html.replace("&amp;", "&")
    assert Vendor("shop", "Shop", "marketing", privacy_url=url).privacy_url == url


@pytest.mark.parametrize("key", ["short", ["x" * 40, "old"], "y" * 31])
def test_a_secret_key_too_short_to_be_secret_is_refused(key: str | list[str]) -> None:
    with pytest.raises(ValueError, match="at least 32 characters"):
        ConsentMiddleware(make_app(), secret_key=key)


@pytest.mark.parametrize("domain", ["exa mple.com", "example.com\r\nx: y", "example.com;x"])
def test_a_cookie_domain_that_is_no_host_name_is_refused(domain: str) -> None:
    with pytest.raises(ValueError, match=r"CookieSettings\.domain"):
        CookieSettings(domain=domain)


# -- consentgate's own answers ------------------------------------------------------------------


def test_every_answer_of_consentgate_is_nosniff(tmp_path: Any) -> None:
    c = client(consent_log=str(tmp_path / "log.sqlite3"))
    answers = [
        c.post("/consentgate/consent", json={"action": "accept_all"}, headers=ORIGIN),
        c.post("/consentgate/consent", json={"action": "nope"}, headers=ORIGIN),
        c.post("/consentgate/consent", data={"action": "nope"}, headers=ORIGIN),
        choose(c, "reject_all"),
        c.get("/consentgate/preferences"),
        c.get("/consentgate/banner"),
        c.get("/consentgate/receipt"),
        c.get("/consentgate/receipt?format=json"),
        c.get("/consentgate/static/consentgate.js"),
        c.get("/consentgate/nothing-here"),
        c.get("/consentgate/consent"),
    ]
    assert [a.headers.get("x-content-type-options") for a in answers] == ["nosniff"] * 11
    assert answers[0].status_code == 200 and answers[1].status_code == 400


def test_json_nested_deeper_than_the_parser_goes_is_a_400() -> None:
    c = client(consent_log=None)
    r = c.post(
        "/consentgate/consent",
        content=b"[" * 60000,
        headers={**ORIGIN, "content-type": "application/json"},
    )
    assert r.status_code == 400 and "invalid JSON" in r.json()["error"]


@pytest.mark.anyio
async def test_a_host_that_is_no_host_name_never_reaches_a_domain_attribute() -> None:
    app = make_app(consent_log=None)
    accepted = ConsentCookie([SECRET], policy=middleware(raw_app()).policy, max_age=60).dumps(
        Consent(
            granted=frozenset({"necessary", "analytical", "marketing", "preference"}), decided=True
        )
    )
    headers = [
        (b"host", b"evil.example\r\nSet-Cookie: planted=1"),
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"cookie", b"consentgate=" + accepted.encode() + b"; _ga=GA1.1; _fbp=fb.1"),
    ]
    rec = await run(
        app,
        method="POST",
        path="/consentgate/consent",
        headers=headers,
        request_body=b"action=reject_all",
    )
    assert rec.status == 303
    cookies = [v for k, v in rec.messages[0]["headers"] if k == b"set-cookie"]
    assert any(c.startswith(b"_ga=;") for c in cookies)
    assert all(b"\r" not in c and b"\n" not in c and b"evil" not in c for c in cookies)


@pytest.mark.parametrize(
    "host", ["example.com\r\nx", "127.0.0.1", "[::1]:8000", "a b.com", "exa;mple.com"]
)
def test_expired_cookies_take_only_host_names_as_domains(host: str) -> None:
    headers = expired_cookie_headers(["_ga"], host, None)
    assert headers == ["_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"]
    assert len(expired_cookie_headers(["_ga"], "www.example.com:8000", None)) == 3


def test_cookie_names_are_tokens_only_and_read_in_linear_time() -> None:
    names = [f"c{i}" for i in range(20000)]
    header = "; ".join(f"{n}=1" for n in names) + "; bad\x01name=1; a b=2; c0=again"
    assert cookie_names([(b"cookie", header.encode("latin-1"))]) == names


def test_withdrawal_expires_many_cookies_but_no_more_than_a_browser_could_hold() -> None:
    c = client(consent_log=None)
    choose(c, "accept_all")
    for i in range(2000):
        c.cookies.set(f"_ga_{i}", "1")
    r = choose(c, "reject_all")
    expired = [v for v in r.headers.get_list("set-cookie") if v.startswith("_ga_")]
    assert len({v.split("=", 1)[0] for v in expired}) == MAX_EXPIRED


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_through_uvicorn_the_head_arrives_while_the_app_still_works(http: str) -> None:
    head = b"<!doctype html><html><head><title>t</title></head><body><h1>Hi</h1>"
    go_on = threading.Event()

    async def page(scope: Any, receive: Any, send: Any) -> None:
        await send(start())
        await send(body(head, True))
        for _ in range(1000):  # until the client saw the head, 10 s at most
            if go_on.is_set():
                break
            await anyio.sleep(0.01)
        await send(body(b"<p>rest</p></body></html>"))

    with (
        LiveServer(middleware(page), http=http) as live,
        socket.create_connection(("127.0.0.1", live.port), timeout=5) as conn,
    ):
        conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        received = b""
        while head not in received:
            data = conn.recv(65536)  # (times out after 5 s: the head was held back)
            assert data, received
            received += data
        assert b"<p>rest</p>" not in received
        go_on.set()
        while data := conn.recv(65536):
            received += data
    assert b"<p>rest</p></body></html>" in received and BANNER in received


class StalledLog:
    """A ConsentLog of a site's own whose database never answers."""

    async def append(self, entry: Any) -> None:
        await anyio.sleep(60)

    async def records_for(self, consent_id: str) -> list[Any]:
        return []


def test_a_log_of_the_sites_own_that_stalls_gets_a_503_in_bounded_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from consentgate import proof as module

    monkeypatch.setattr(module, "CUSTOM_LOG_TIMEOUT", 0.2)
    began = time.monotonic()
    r = choose(client(consent_log=StalledLog()), "accept_all")
    assert r.status_code == 503 and "set-cookie" not in r.headers
    assert time.monotonic() - began < 10
