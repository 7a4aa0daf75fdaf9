"""A site of existing HTML files served by Starlette's ``StaticFiles``, wrapped directly:
``app = ConsentMiddleware(StaticFiles(directory="site", html=True), ...)``."""

from __future__ import annotations

import warnings
from pathlib import Path

import anyio
from helpers import BANNER, run
from matrix import (
    OPTIONS,
    PAGE,
    TAG,
    accept_all,
    check_own_paths,
    check_visitor_who_accepted,
    check_visitor_without_consent,
    gated,
)
from starlette.staticfiles import StaticFiles

from consentgate import ConsentMiddleware

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

CSS = b"body { background: url(/paper.png) }"
#: A page of several of StaticFiles' 64 KB chunks, a tag near each end.
BIG = PAGE.replace("<h1>Welcome</h1>", "<h1>Welcome</h1>" + "<p>text</p>" * 20_000 + TAG)


def folder(root: Path) -> Path:
    site = root / "site"
    (site / "about").mkdir(parents=True)
    (site / "index.html").write_text(PAGE)
    (site / "about" / "index.html").write_text(PAGE)
    (site / "big.html").write_text(BIG)
    (site / "404.html").write_text(PAGE.replace("Welcome", "Welcome, but not found"))
    (site / "site.css").write_bytes(CSS)
    return site


def test_a_folder_of_html_pages_is_gated(tmp_path: Path) -> None:
    app = ConsentMiddleware(StaticFiles(directory=folder(tmp_path), html=True), **OPTIONS)
    client = TestClient(app)
    pages = ("/", "/about/", "/big.html")
    check_visitor_without_consent(client, pages)
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and gated(missing.text) and BANNER in missing.text
    big = client.get("/big.html").text
    assert big.count('data-consent-src="https://www.googletagmanager.com') == 2
    check_own_paths(client)
    accept_all(client)
    check_visitor_who_accepted(client, pages)


def test_other_files_pass_untouched_and_cacheable(tmp_path: Path) -> None:
    client = TestClient(
        ConsentMiddleware(StaticFiles(directory=folder(tmp_path), html=True), **OPTIONS)
    )
    css = client.get("/site.css")
    assert css.content == CSS and "etag" in css.headers and "vary" not in css.headers
    page = client.get("/")
    assert "etag" not in page.headers  # the file's validator names the file, not the page sent
    revalidated = client.get("/site.css", headers={"if-none-match": css.headers["etag"]})
    assert revalidated.status_code == 304 and revalidated.content == b""


def test_files_sent_by_pathsend_are_read_and_gated(tmp_path: Path) -> None:
    """Where the server offers ``http.response.pathsend``, StaticFiles hands it the path: the
    middleware reads the file itself and gates it like a body."""
    app = ConsentMiddleware(StaticFiles(directory=folder(tmp_path), html=True), **OPTIONS)
    scope = {"extensions": {"http.response.pathsend": {}}}
    sent = anyio.run(run, app, scope)
    kinds = {message["type"] for message in sent.messages}
    assert "http.response.pathsend" not in kinds
    html = sent.body.decode()
    assert sent.status == 200 and gated(html) and BANNER in html
    big = anyio.run(lambda: run(app, scope, path="/big.html")).body.decode()
    assert big.count('data-consent-src="https://www.googletagmanager.com') == 2
    assert BANNER in big
