"""The demo site, started the way a person starts it: ``python -m demo_site`` under uvicorn
(the ``demo`` fixture of conftest.py; tests/browser/test_demo.py visits it in Chromium)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from helpers import BANNER, SETTINGS, Demo, demo_hits
from starlette.testclient import TestClient

PAGES = ("/", "/hits", "/theme", "/video", "/consent", "/privacy")


def _tag(html: str, pattern: str) -> str:
    """The one start tag matching ``pattern``."""
    tags: list[str] = re.findall(r"<(?:script|img)\b[^>]*>", html)
    found = [t for t in tags if re.search(pattern, t)]
    assert len(found) == 1, f"expected one tag matching {pattern!r}, found {found}"
    return found[0]


def _analytics(html: str) -> str:
    return _tag(html, r'id="fake-analytics"')


def _pixel(html: str) -> str:
    return _tag(html, r"pixel\.gif")


def test_starts_with_a_development_warning(demo: Demo) -> None:
    printed = demo.stderr.read_text()
    assert "WARNING" in printed
    assert "development only" in printed
    assert "CONSENTGATE_SECRET" in printed


def _cookie_accepted(giver: Any, reader: Any) -> bool:
    """Whether a choice signed by the app ``giver`` counts as a choice for ``reader``."""
    with TestClient(giver) as one:
        answer = one.post(
            "/consentgate/consent",
            data={"action": "accept_all"},
            headers={"origin": "http://testserver"},
            follow_redirects=False,
        )
        cookie = answer.cookies["consentgate"]
    with TestClient(reader, cookies={"consentgate": cookie}) as other:
        return BANNER not in other.get("/").text


def test_the_secret_comes_from_the_environment_or_is_fresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from demo_site import create_app

    monkeypatch.delenv("CONSENTGATE_SECRET", raising=False)
    assert not _cookie_accepted(create_app(consent_log=None), create_app(consent_log=None))
    monkeypatch.setenv("CONSENTGATE_SECRET", "a-shared-development-secret-for-the-demo")
    assert _cookie_accepted(create_app(consent_log=None), create_app(consent_log=None))
    other = "another-secret-of-at-least-32-characters"
    assert not _cookie_accepted(create_app(consent_log=None), create_app(other, consent_log=None))


def test_every_page_has_the_banner_the_settings_link_and_a_strict_csp(demo: Demo) -> None:
    with demo.client() as visitor:
        for path in PAGES:
            response = visitor.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-type"].startswith("text/html"), path
            assert response.text.count(BANNER) == 1, path
            assert 'href="/consentgate/preferences"' in response.text, path
            assert "Cookie settings" in response.text, path
            csp = response.headers["content-security-policy"]
            assert "default-src 'self'" in csp, path
            # Nothing of the demo's own needs inline script under that policy.
            for tag in re.findall(r"<script\b[^>]*>", response.text):
                assert "src=" in tag, (path, tag)
            assert "set-cookie" not in response.headers, path


def test_privacy_page(demo: Demo) -> None:
    with demo.client() as visitor:
        text = visitor.get("/privacy").text
    assert "<h1>Privacy policy</h1>" in text
    for subject in ("Analytical", "Preference", "Marketing", "consent log", "Withdraw"):
        assert subject in text, subject


def test_accept_all_turns_the_banner_into_the_settings_control(demo: Demo) -> None:
    with demo.client() as visitor:
        before = visitor.get("/").text
        assert BANNER in before
        assert SETTINGS not in before
        script = _analytics(before)
        assert 'type="text/plain"' in script
        assert 'data-consent-src="/static/fake-analytics.js"' in script
        assert " src=" not in script
        pixel = _pixel(before)
        assert 'data-consent-src="/pixel.gif?page=/"' in pixel
        assert " src=" not in pixel

        answer = demo.choose(visitor, "accept_all", next="/")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"
        assert "consentgate=" in answer.headers["set-cookie"]

        after = visitor.get("/").text
        assert BANNER not in after
        assert SETTINGS in after
        script = _analytics(after)
        assert "text/plain" not in script
        assert 'src="/static/fake-analytics.js"' in script
        assert ' src="/pixel.gif?page=/"' in _pixel(after)
        consent_page = visitor.get("/consent").text
        assert "Choice made</dt><dd>yes" in consent_page
        assert consent_page.count('<strong class="ok">granted') == 4
        assert "not granted" not in consent_page


def test_a_cross_site_post_cannot_give_consent(demo: Demo) -> None:
    with demo.client() as visitor:
        answer = visitor.post(
            "/consentgate/consent",
            data={"action": "accept_all"},
            headers={"origin": "https://evil.example"},
        )
        assert answer.status_code == 403
        assert "set-cookie" not in answer.headers
        assert BANNER in visitor.get("/").text


def test_withdrawing_from_the_consent_page(demo: Demo) -> None:
    with demo.client() as visitor:
        page = visitor.get("/consent").text
        assert 'name="action" value="reject_all"' in page
        demo.choose(visitor, "accept_all")
        assert 'type="text/plain"' not in _analytics(visitor.get("/").text)
        answer = demo.choose(visitor, "reject_all", next="/consent")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/consent"
        home = visitor.get("/").text
        assert BANNER not in home  # a refusal is a choice too
        assert 'type="text/plain"' in _analytics(home)


def test_theme_is_remembered_only_with_preference_consent(demo: Demo) -> None:
    with demo.client() as visitor:
        answer = visitor.post("/theme", data={"theme": "dark"})
        assert answer.status_code == 303
        assert "theme=" not in answer.headers.get("set-cookie", "")
        page = visitor.get(answer.headers["location"]).text
        assert "Not remembered" in page
        assert 'class="theme-light"' in page

        demo.choose(visitor, "save", category="preference")
        answer = visitor.post("/theme", data={"theme": "dark"})
        assert answer.status_code == 303
        assert "theme=dark" in answer.headers["set-cookie"]
        page = visitor.get(answer.headers["location"]).text
        assert "Saved" in page
        assert 'class="theme-dark"' in visitor.get("/").text

        # Withdrawing deletes the declared preference cookie at once.
        answer = demo.choose(visitor, "reject_all")
        expired = [c for c in answer.headers.get_list("set-cookie") if c.startswith("theme=")]
        assert expired, answer.headers
        assert all(re.search(r"max-age=0|expires=thu, 01 jan 1970", c, re.I) for c in expired)
        assert 'class="theme-light"' in visitor.get("/").text


def test_collect_and_pixel_record_hits(demo: Demo) -> None:
    probe = f"/probe-{uuid.uuid4().hex}"
    with demo.client() as visitor:
        script = visitor.get("/static/fake-analytics.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
        assert '"/collect"' in script.text

        assert visitor.post("/collect", content=json.dumps({"page": probe})).status_code == 204
        pixel = visitor.get("/pixel.gif", params={"page": probe})
        assert pixel.status_code == 200
        assert pixel.headers["content-type"] == "image/gif"
        assert pixel.content.startswith(b"GIF89a")
        # Whatever a tracker sends, the hit is counted and nothing breaks.
        assert visitor.post("/collect", content=b"\xff{not json").status_code == 204

        hits = demo_hits(visitor)
        mine = [hit for hit in hits if hit["page"] == probe]
        assert sorted(str(hit["kind"]) for hit in mine) == ["analytics", "pixel"]
        assert all(hit["granted"] == ["necessary"] for hit in mine)
        assert hits[0]["page"] == "?"  # newest first: the garbage beacon
        assert probe in visitor.get("/hits").text
