"""The page as Chromium reads it (issue 15): each class of encoding, sniffing, XML and content
coding, first served without consentgate (Chromium contacts the vendor: the page does what it
means to), then through it to a visitor without consent (no connection to any vendor host).
The connection log (connections.py) sees every connection the browser opens."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from helpers import SECRET, LiveServer

from consentgate import ConsentMiddleware
from consentgate.streams import zstd

from .conftest import launch_profile
from .connections import ConnectionLog

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Playwright

VENDOR = "www.googletagmanager.com"
GTM = b'<script src="https://www.googletagmanager.com/gtm.js?id=GTM-X"></script>'
HTML = b"<!doctype html><html><head><title>t</title></head><body><p>Hi</p>%s</body></html>"
XHTML_NS = b"http://www.w3.org/1999/xhtml"
# ESC $ B: JIS X 0208, where "<!" and "--" are two characters; ESC ( B: back to ASCII.
ESCAPED = b"\x1b$B<!--\x1b(B" + GTM + b"\x1b$B-->\x1b(B"

# name: (headers, body). (An ISO-2022-JP page that declares nothing is transcoded as detected,
# as Gecko does; this Chromium reads it as windows-1252, where the script is in a comment: no
# class to show here, and none to miss.)
PAGES: dict[str, tuple[list[tuple[bytes, bytes]], bytes]] = {
    "iso-2022-jp": ([(b"content-type", b"text/html; charset=ISO-2022-JP")], HTML % ESCAPED),
    "bom-over-header": (
        [(b"content-type", b"text/html; charset=utf-8")],
        b"\xff\xfe" + (HTML % GTM).decode().encode("utf-16-le"),
    ),
    "label-unicode": (
        [(b"content-type", b"text/html; charset=unicode")],
        (HTML % GTM).decode().encode("utf-16-le"),
    ),
    "sniffed": ([], HTML % GTM),
    "xhtml-prefixed": (
        [(b"content-type", b"application/xml")],
        b'<?xml version="1.0"?><root xmlns:h="' + XHTML_NS + b'"><h:p>Hi</h:p>'
        b'<h:script src="https://www.googletagmanager.com/gtm.js?id=GTM-X"/></root>',
    ),
    "xhtml-script-child": (
        [(b"content-type", b"application/xhtml+xml")],
        b'<html xmlns="' + XHTML_NS + b'"><head><title>t</title></head><body><p>Hi</p>'
        b'<script><img src="https://www.googletagmanager.com/p.gif" alt=""/></script>'
        b"</body></html>",
    ),
    "xml-stylesheet": (
        [(b"content-type", b"application/xhtml+xml")],
        b'<?xml version="1.0"?><?xml-stylesheet type="text/css" '
        b'href="https://www.googletagmanager.com/site.css"?><html xmlns="' + XHTML_NS + b'">'
        b"<head><title>t</title></head><body><p>Hi</p></body></html>",
    ),
    "zstd": (
        [(b"content-type", b"text/html; charset=utf-8"), (b"content-encoding", b"zstd")],
        zstd.compress(HTML % GTM),
    ),
    "gzip-gzip": (
        [(b"content-type", b"text/html; charset=utf-8"), (b"content-encoding", b"gzip, gzip")],
        gzip.compress(gzip.compress(HTML % GTM)),
    ),
}


async def raw_pages(scope: Any, receive: Any, send: Any) -> None:
    """Each page of PAGES as it is, headers and bytes (no framework adds a Content-Type)."""
    headers, data = PAGES.get(scope["path"].strip("/"), ([], b""))
    await send({"type": "http.response.start", "status": 200 if data else 404, "headers": headers})
    await send({"type": "http.response.body", "body": data})


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    log = str(tmp_path_factory.mktemp("log") / "consentgate.sqlite3")
    gated = ConsentMiddleware(raw_pages, secret_key=SECRET, consent_log=log)
    with LiveServer(raw_pages) as bare, LiveServer(gated) as through:
        yield bare, through


@pytest.fixture
def profile(
    playwright: Playwright, connections: ConnectionLog, tmp_path: Path
) -> Iterator[BrowserContext]:
    context = launch_profile(playwright, connections, tmp_path / "profile")
    yield context
    context.close()


def vendor_contacts(
    context: BrowserContext, live: LiveServer, log: ConnectionLog, name: str, wait: bool
) -> list[str]:
    """The connections while the page loads, to anywhere but the page's own server (every
    other host is mapped to the listener); the page must show its text ("Hi")."""
    mark = log.mark()
    tab = context.pages[0] if context.pages else context.new_page()
    response = tab.goto(live.url(f"/{name}"), wait_until="load")
    if wait:
        log.wait_for({VENDOR}, mark)
    else:
        tab.wait_for_timeout(1500)
    assert response is not None and response.status == 200
    assert "Hi" in tab.content()  # (the page, not a failure page)
    return sorted({str(c) for c in log.since(mark)})  # (any host but the page's own)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_chromium_contacts_no_vendor_through_consentgate(
    profile: BrowserContext,
    sites: tuple[LiveServer, LiveServer],
    connections: ConnectionLog,
    name: str,
) -> None:
    bare, through = sites
    # Without consentgate the page reaches the vendor: the class is real in this Chromium.
    assert vendor_contacts(profile, bare, connections, name, wait=True)
    # Through it, for a visitor who granted nothing: no connection to any other host at all.
    assert vendor_contacts(profile, through, connections, name, wait=False) == []
