"""Real-world vendor snippets (tests/pages/): what a visitor without consent receives.

Trackers are recognised here independently of consentgate's registry: by the host list in
tests/pages/tracker-hosts.txt and the snippet markers below, on a tree built by an HTML5 parser
(lexbor, through selectolax).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser, LexborNode

from consentgate.html import Gate
from consentgate.policy import Policy
from consentgate.vendors import BUILTIN_VENDORS

HERE = Path(__file__).parent / "pages"
PAGES = sorted(HERE.glob("*.html"))
NOTHING: frozenset[str] = frozenset()

TRACKER_HOSTS: list[tuple[str, str]] = []
for _line in (HERE / "tracker-hosts.txt").read_text().splitlines():
    if _line.strip() and not _line.startswith("#"):
        _host, _, _path = _line.strip().partition("/")
        TRACKER_HOSTS.append((_host, "/" + _path if _path else ""))

# Identifiers of the official install snippets (not taken from consentgate/vendors.py).
SNIPPET_MARKERS = (
    "gtag(",
    "'gtm.start'",
    "GoogleAnalyticsObject",
    "_gaq",
    "ym(",
    "Ya.Metrika",
    "_paq",
    "window.plausible",
    "_hjSettings",
    '"clarity"',
    "fbq(",
    "_linkedin_partner_id",
    "ttq.load",
    "twq(",
    "adsbygoogle",
    "googletag.cmd",
    "uetq",
    "analytics.load(",
    "mixpanel.init",
    "amplitude.init",
    "heap.load",
    "_fs_org",
    "posthog.init",
    "_tmr",
    "yaContextCb",
    "_sf_async_config",
    "_comscore",
    "_qevents",
    "_taboola",
    "pintrk(",
    "rdt(",
    "snaptr(",
    # Trackers the bench pages carry: New Relic, Krux, AT Internet, Google conversion, Amazon ads,
    # Parse.ly, Baidu push, media.net header bidding.
    "NREUM",
    "Krux(",
    "google_conversion_id",
    "amzn_",
    "PARSELY",
    "_hmt",
    "advBidxc",
    "_atrk_opts",
    "ga('send'",
    "ga('create'",
    "twttr.conversion",
    "window.Krux",
    "static.hotjar.com",
    "amazon-adsystem.com",
    "intercomSettings",
)
JS_TYPES = {"", "text/javascript", "application/javascript", "module"}
HINTS = {"preconnect", "dns-prefetch", "preload", "prefetch", "modulepreload", "stylesheet"}
_URL = re.compile(r"^\s*(?:https?:)?//([^/?#:]+)(?::\d+)?([^?#]*)", re.I)


def tracker_url(url: str | None) -> bool:
    match = _URL.match(url or "")
    if match is None:
        return False
    host, path = match.group(1).lower(), match.group(2) or "/"
    return any(
        (host == h or host.endswith("." + h)) and path.startswith(p) for h, p in TRACKER_HOSTS
    )


def tracker_code(code: str) -> bool:
    """Inline code is a tracker when it is a vendor snippet, or loads from a tracker: names its
    script (``…/x.js``) or sets a ``src`` to one of its URLs (``s.src = "//host/…"``)."""
    if any(m in code for m in SNIPPET_MARKERS):
        return True
    for found in re.finditer(r"//([a-z0-9.-]+\.[a-z]{2,}(?:/[^\s'\"?]*)?)", code, re.I):
        loads = (
            found.group(1).endswith(".js")
            or "src" in code[max(0, found.start() - 48) : found.start()]
        )
        if loads and tracker_url("//" + found.group(1)):
            return True
    return False


def _urls(node: LexborNode, *names: str) -> list[str]:
    urls = []
    for name in names:
        value = node.attributes.get(name)
        if value and name.endswith("srcset"):
            urls += [c.strip().split()[0] for c in value.split(",") if c.strip()]
        elif value:
            urls.append(value)
    return urls


def live_references(html: bytes) -> list[tuple[str, str, bool]]:
    """(tag, url or code excerpt, is tracker) of everything the page would load or run."""
    tree = LexborHTMLParser(html)
    found: list[tuple[str, str, bool]] = []
    for node in tree.css("script, iframe, img, source, video, audio, link"):
        tag = node.tag or ""
        if tag == "script":
            if (node.attributes.get("type") or "").strip().lower() not in JS_TYPES:
                continue
            src = node.attributes.get("src")
            if src is not None:
                # Self-hosted Umami / Plausible are known by their loader attributes.
                own = "data-website-id" in node.attributes or "data-domain" in node.attributes
                found.append((tag, src, own or tracker_url(src)))
            else:
                code = node.text(deep=True)
                found.append((tag, code[:60], tracker_code(code)))
            continue
        if tag == "link":
            rels = set((node.attributes.get("rel") or "").lower().split())
            if not rels & HINTS:
                continue
            urls = _urls(node, "href")
        else:
            urls = _urls(node, "src", "srcset")
        found += [(tag, url, tracker_url(url) or "/matomo.php?" in url) for url in urls]
    return found


GATE = Gate(Policy(vendors=BUILTIN_VENDORS))


def rewrite(
    gate: Gate, html: bytes, granted: frozenset[str], services: frozenset[str] = NOTHING
) -> bytes:
    rewriter = gate.rewriter(granted, services)
    if rewriter is None:
        return html
    return rewriter.feed(html) + rewriter.close()


_GATED_TAG = re.compile(rb"<(?:script|img|iframe|link|source|video|audio)\b[^>]*>", re.I)
_PLACEHOLDER = re.compile(rb'<div class="consentgate-placeholder".*?</form></div></div>', re.S)


def _tag_attrs(tag: bytes) -> dict[str, str | None]:
    node = LexborHTMLParser(b"<body>" + tag).body
    assert node is not None and node.child is not None
    return dict(node.child.attributes)


def _restore(attrs: dict[str, str | None]) -> dict[str, str | None]:
    """What the client does to activate an inert element (the inert-markup contract)."""
    if "data-consent" not in attrs:
        return attrs
    restored = {
        k: v
        for k, v in attrs.items()
        if k not in ("data-consent", "data-consent-service", "data-consent-hidden")
    }
    if "data-consent-hidden" in attrs:
        restored.pop("hidden", None)
    if restored.get("type") == "text/plain":
        restored.pop("type")
    for moved in ("type", "src", "srcset", "href"):
        if "data-consent-" + moved in restored:
            restored[moved] = restored.pop("data-consent-" + moved)
    return restored


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_no_executable_tracker_reference_remains_without_consent(page: Path) -> None:
    html = page.read_bytes()
    before = [ref for ref in live_references(html) if ref[2]]
    assert before, "the page must hold trackers, or this test proves nothing"
    after = [ref for ref in live_references(rewrite(GATE, html, NOTHING)) if ref[2]]
    assert after == []


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_everything_else_is_byte_identical(page: Path) -> None:
    html = page.read_bytes()
    out = rewrite(GATE, html, NOTHING)
    assert out.count(b"\n") == html.count(b"\n")
    # Outside the start tags of loadable elements (and the inserted placeholders) nothing changed …
    assert _GATED_TAG.sub(b"", _PLACEHOLDER.sub(b"", out)) == _GATED_TAG.sub(b"", html)
    # … and the changed start tags keep every attribute, recoverable by the client.
    tags_in, tags_out = _GATED_TAG.findall(html), _GATED_TAG.findall(_PLACEHOLDER.sub(b"", out))
    assert len(tags_in) == len(tags_out)
    changed = 0
    for before, after in zip(tags_in, tags_out, strict=True):
        if before != after:
            changed += 1
            assert _restore(_tag_attrs(after)) == _tag_attrs(before)
    assert changed > 0
    # Non-tracker references are all still live.
    others = [ref for ref in live_references(html) if not ref[2]]
    assert [ref for ref in live_references(out) if not ref[2]] == others


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_full_consent_passes_every_page_through(page: Path) -> None:
    assert GATE.rewriter(frozenset({"analytical", "preference", "marketing"})) is None
    html = page.read_bytes()
    # Allowing every service one by one (no category) lets every tracker run: nothing changes.
    services = frozenset(v.id for v in BUILTIN_VENDORS)
    assert rewrite(GATE, html, NOTHING, services) == html


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_remove_mode_leaves_no_tracker_and_no_inert_copy(page: Path) -> None:
    gate = Gate(Policy(vendors=BUILTIN_VENDORS, mode="remove"))
    html = page.read_bytes()
    out = rewrite(gate, html, NOTHING)
    assert [ref for ref in live_references(out) if ref[2]] == []
    assert b"data-consent-src" not in out and b"data-consent-href" not in out
    others = [ref for ref in live_references(html) if not ref[2]]
    assert [ref for ref in live_references(out) if not ref[2]] == others


def test_granting_one_category_gates_only_the_others() -> None:
    html = (HERE / "embeds.html").read_bytes()
    out = rewrite(GATE, html, frozenset({"preference"}))
    assert b'data-consent-src="https://player.vimeo.com/video/' not in out  # vimeo: preference
    assert b'data-consent-src="https://www.youtube.com/embed/' in out  # youtube: marketing
    out = rewrite(GATE, html, NOTHING, frozenset({"youtube"}))
    assert b'<iframe width="560" height="315" src="https://www.youtube.com/embed/' in out
    assert b'data-consent-src="https://player.vimeo.com/video/' in out
