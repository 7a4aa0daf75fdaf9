"""What every framework of the matrix is checked for, through its own app and the middleware.

Each test file of this folder builds a small site in its framework with four pages: ``/`` (a
page rendered the framework's way, with a Google tag), ``/stream`` (the same page streamed, the
tag cut across chunks), ``/file`` (an HTML file the framework sends as a file) and ``/api`` (a
JSON answer), and runs :func:`check_site` on a client of it.
"""

from __future__ import annotations

import re
from typing import Any

from helpers import BANNER, ORIGIN, SETTINGS

SECRET = "frameworks-test-secret-of-32-characters!"
OPTIONS: dict[str, Any] = {"secret_key": SECRET, "consent_log": None}
TAG_URL = "https://www.googletagmanager.com/gtag/js?id=G-TEST"
TAG = f'<script async src="{TAG_URL}"></script>'
INLINE = "<script>gtag('config', 'G-TEST');</script>"
PAGE = (
    "<!doctype html><html><head><title>Shop</title>"
    f"{TAG}{INLINE}</head><body><h1>Welcome</h1><script>window.own = 1;</script></body></html>"
)
#: PAGE in pieces as a streaming response sends them, the tag cut in the middle of its URL.
CHUNKS = [PAGE[:70], PAGE[70:75], PAGE[75:130], PAGE[130:]]
assert "".join(CHUNKS) == PAGE and TAG_URL[10:20] in PAGE[60:90]


def gated(html: str) -> bool:
    """The tag and the inline snippet are inert, the site's own script is not."""
    return (
        f'data-consent-src="{TAG_URL}"' in html
        and f' src="{TAG_URL}"' not in html
        and re.search(r"<script[^>]*type=\"text/plain\"[^>]*>gtag\('config'", html) is not None
        and "<script>window.own = 1;</script>" in html
    )


def live(html: str) -> bool:
    return f' src="{TAG_URL}"' in html and f"{INLINE}" in html and "data-consent-src" not in html


def check_visitor_without_consent(client: Any, pages: tuple[str, ...]) -> None:
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html"), path
        html = response.text
        assert gated(html), (path, html)
        assert BANNER in html, path
        assert "Welcome" in html, path
        assert "cookie" in response.headers["vary"].lower(), path
        assert "private" in response.headers.get("cache-control", ""), path


def check_own_paths(client: Any) -> None:
    """consentgate's endpoints answer through the framework: the banner's assets, the
    preferences page, the banner fragment."""
    page = client.get("/").text
    css = re.search(r'href="([^"]*consentgate\.css[^"]*)"', page)
    script = re.search(r'src="([^"]*consentgate\.js[^"]*)"', page)
    assert css is not None and script is not None, page
    for url, kind in ((css.group(1), "text/css"), (script.group(1), "javascript")):
        asset = client.get(url)
        assert asset.status_code == 200 and kind in asset.headers["content-type"], url
    preferences = client.get("/consentgate/preferences")
    assert preferences.status_code == 200 and 'name="category"' in preferences.text
    assert client.get("/consentgate/consent").status_code == 405


def accept_all(client: Any) -> None:
    answer = client.post(
        "/consentgate/consent",
        data={"action": "accept_all", "next": "/"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert "consentgate=" in answer.headers["set-cookie"]


def check_visitor_who_accepted(client: Any, pages: tuple[str, ...]) -> None:
    for path in pages:
        html = client.get(path).text
        assert live(html), (path, html)
        assert BANNER not in html and SETTINGS in html, path


def check_api(client: Any) -> None:
    answer = client.get("/api")
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    assert "consentgate" not in answer.text


def check_site(client: Any, pages: tuple[str, ...] = ("/", "/stream", "/file")) -> None:
    """The whole matrix on one client (it keeps its cookies): gated with a banner, the own
    paths served, a choice posted, then live with the settings control."""
    check_visitor_without_consent(client, pages)
    check_own_paths(client)
    check_api(client)
    accept_all(client)
    check_visitor_who_accepted(client, pages)
