"""``consentgate audit``: what a site's pages hold for a visitor without consent, and for one who
granted everything, read with the engine's own rules.

Each page is fetched twice: as a new visitor (no cookie) and as one who accepted everything
(the cookie is got as a browser gets it, by posting ``action=accept_all`` to the site's consent
endpoint). The elements of both pages are found with the standard library's HTML tokenizer
(``html.parser``); whether one is a tracker is the engine's call: each element that names a
vendor host or signature is put through a ``Gate`` rewriter as a visitor without consent, and an
element the rewriter changes is a live tracker (the site's own gate let it through). Gated
elements carry the engine's ``data-consent``/``data-consent-service`` marks, which say what
gated them; the granted page tells a site's own ``data-consent`` tag from the engine's work.

``audit_urls`` fetches over HTTP (httpx), only from the hosts the URLs name, bounded in pages,
time and rate; ``audit_app`` runs the same checks in process against an ASGI app (Starlette's
``TestClient``), with the site's own policy when the app holds a ``ConsentMiddleware``.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from . import cookiedb
from .gate import VendorIndex, own_host, split_url
from .html import Gate
from .policy import Policy
from .vendors import BUILTIN_VENDORS

if TYPE_CHECKING:  # (httpx is imported where requests are made: the middleware's debug
    import httpx  # inventory reads pages with this module and needs no HTTP client)

#: The JSON report's schema: ``{"schema": "consentgate-audit", "version": 1, …}``. Fields are
#: only ever added within a version; a field removed or changed in meaning bumps it.
SCHEMA_VERSION = 1
#: An inline script at least this long (bytes) that is gated looks like the site's own code: the
#: vendors' snippets are a few hundred bytes to about 1.5 KB.
LARGE_INLINE = 2048
#: Elements whose URLs load something as the page loads (and the attributes they load from).
_LOADS: dict[str, tuple[str, ...]] = {
    "script": ("src",),
    "iframe": ("src",),
    "frame": ("src",),
    "img": ("src",),
    "source": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "input": ("src",),
    "link": ("href",),
}
_LINK_LOADS = frozenset(
    ("preconnect", "dns-prefetch", "preload", "prefetch", "modulepreload", "stylesheet", "icon")
)
_VOID = frozenset(("img", "source", "embed", "input", "link", "track", "meta", "br", "hr"))
_BANNER_MARKS = ('id="consentgate-banner"', "id='consentgate-banner'", "id=consentgate-banner")

_MARKS = frozenset(("data-consent-service", "data-consent-hidden"))
_SITE_TAG = re.compile(r"""\sdata-consent(?:-service)?\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]*)""", re.I)

Progress = Callable[[int, int, str], None]


# -- elements ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Element:
    """One start tag of a page: its name, the tag as written, its attributes (names lowercased,
    values unescaped, the first of a name kept), a script's content, and whether it sits in a
    ``<noscript>``."""

    tag: str
    raw: str
    attrs: dict[str, str]
    text: str = ""
    noscript: bool = False

    def markup(self) -> str:
        """The element as markup on its own, for the rewriter."""
        if self.tag in _VOID:
            return self.raw
        return f"{self.raw}{self.text}</{self.tag}>"

    def source(self) -> str:
        """The URL it loads (a gated element's, from where the gate moved it)."""
        for name in _LOADS.get(self.tag, ()):
            for attr in (name, f"data-consent-{name}"):
                value = self.attrs.get(attr)
                if value:
                    return value.strip()
        return ""

    def key(self) -> tuple[str, str, str]:
        """What pairs an element of the page without consent with the same one unchanged."""
        return (self.tag, self.source(), self.text.strip()[:4096])


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[Element] = []
        self._script: tuple[str, dict[str, str]] | None = None
        self._text: list[str] = []
        self._noscript = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values: dict[str, str] = {}
        for name, value in attrs:
            values.setdefault(name, value or "")
        raw = self.get_starttag_text() or f"<{tag}>"
        if tag == "noscript":
            self._noscript += 1
        elif tag == "script":
            self._script = (raw, values)
            self._text = []
        else:
            self.found.append(Element(tag, raw, values, "", self._noscript > 0))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "noscript" and self._noscript:
            self._noscript -= 1
        elif tag == "script" and self._script is not None:
            raw, values = self._script
            self.found.append(Element("script", raw, values, "".join(self._text), False))
            self._script = None

    def close(self) -> None:
        super().close()
        if self._script is not None:  # (a script left open at the end of the page)
            self.handle_endtag("script")


def elements(page: str) -> list[Element]:
    """The start tags of ``page``, scripts with their content, in document order."""
    parser = _Elements()
    # "<![" starts a bogus comment to a browser (outside SVG and MathML), up to the next ">";
    # html.parser reads a marked section there, and asserts on one it does not know.
    parser.feed(page.replace("<![", "<!x["))
    parser.close()
    return parser.found


# -- findings ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tracker:
    """A tracker on a page. ``how`` a gated one was gated: ``src`` (its URL), ``inline`` (a
    signature of the vendor in its code: ``signature``, ``size`` bytes), ``site-tag`` (the
    site's own ``data-consent``), ``attribute`` (a handler, ping or style moved aside),
    ``removed`` (not sent: ``mode="remove"``); empty for an ungated one."""

    element: str
    service: str
    category: str
    gated: bool
    how: str
    url: str = ""
    signature: str = ""
    size: int = 0


@dataclass(frozen=True, slots=True)
class Unclassified:
    """A third-party resource no rule covers: a candidate for a new vendor or the allow-list.
    ``kind``: script, iframe, pixel (a 1x1 or ``<noscript>`` image), image, stylesheet, media."""

    element: str
    kind: str
    url: str
    host: str


@dataclass(frozen=True, slots=True)
class CookieFinding:
    """A ``Set-Cookie`` of a non-necessary cookie sent to a visitor without consent. ``source``
    of its category: ``site`` (the policy's cookies), ``vendor`` (a vendor's cookies: the
    registry's or the site's), ``database`` (the Open Cookie Database)."""

    name: str
    category: str
    service: str
    source: str


@dataclass(frozen=True, slots=True)
class FirstParty:
    """A gated element that looks like the site's own code: ``reason`` is ``own-host`` (loaded
    from the site) or ``large-inline`` (inline code of ``size`` bytes)."""

    element: str
    url: str
    size: int
    how: str
    service: str
    reason: str


@dataclass(slots=True)
class PageReport:
    url: str
    status: int = 0
    html: bool = False
    banner: bool | None = None
    trackers: list[Tracker] = field(default_factory=list)
    cookies_before_consent: list[CookieFinding] = field(default_factory=list)
    unknown_cookies: list[str] = field(default_factory=list)
    unclassified: list[Unclassified] = field(default_factory=list)
    first_party_gated: list[FirstParty] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ungated(self) -> list[Tracker]:
        return [t for t in self.trackers if not t.gated]

    @property
    def ok(self) -> bool:
        return (
            not self.ungated
            and not self.cookies_before_consent
            and self.banner is not False
            and not self.errors
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "status": self.status,
            "html": self.html,
            "banner": self.banner,
            "ok": self.ok,
            "trackers": [asdict(t) for t in self.trackers],
            "cookies_before_consent": [asdict(c) for c in self.cookies_before_consent],
            "unknown_cookies": list(self.unknown_cookies),
            "unclassified": [asdict(u) for u in self.unclassified],
            "first_party_gated": [asdict(f) for f in self.first_party_gated],
            "errors": list(self.errors),
        }


@dataclass(slots=True)
class AuditReport:
    pages: list[PageReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.pages) and all(p.ok for p in self.pages) and not self.errors

    def hosts(self) -> list[dict[str, Any]]:
        """Third-party hosts no rule covers, over all pages: host, count, kinds."""
        found: dict[str, dict[str, Any]] = {}
        for page in self.pages:
            for item in page.unclassified:
                entry = found.setdefault(item.host, {"host": item.host, "count": 0, "kinds": []})
                entry["count"] += 1
                if item.kind not in entry["kinds"]:
                    entry["kinds"].append(item.kind)
        return sorted(found.values(), key=lambda e: (-e["count"], e["host"]))

    def services(self) -> list[str]:
        """The ids of the services the pages use (their trackers' vendors, gated or not): what
        ``Policy(services=[…])`` declares, so that visitors are told about exactly these."""
        return sorted({t.service for p in self.pages for t in p.trackers if t.service})

    def summary(self) -> dict[str, int]:
        pages = self.pages
        return {
            "pages": len(pages),
            "trackers": sum(len(p.trackers) for p in pages),
            "ungated": sum(len(p.ungated) for p in pages),
            "missing_banner": sum(p.banner is False for p in pages),
            "cookies_before_consent": sum(len(p.cookies_before_consent) for p in pages),
            "unclassified": sum(len(p.unclassified) for p in pages),
            "first_party_gated": sum(len(p.first_party_gated) for p in pages),
            "errors": len(self.errors) + sum(len(p.errors) for p in pages),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": "consentgate-audit",
            "version": SCHEMA_VERSION,
            "ok": self.ok,
            "summary": self.summary(),
            "pages": [p.as_dict() for p in self.pages],
            "hosts": self.hosts(),
            "skipped": list(self.skipped),
            "errors": list(self.errors),
        }


# -- classification ------------------------------------------------------------------------


class Classifier:
    """The engine's rules for one site: a policy's ``Gate`` and its vendor lookups."""

    def __init__(self, policy: Policy, host: str | None, gate: Gate | None = None) -> None:
        self.policy = policy
        if policy.mode != "inert":  # (the marks of an inert element say what gated it)
            gate = Gate(dataclasses.replace(policy, mode="inert"))
        self.gate = gate or Gate(policy)
        self.index: VendorIndex = self.gate.index
        self.host = host
        self.own = own_host(host)
        self.vendors = {v.id: v for v in policy.vendors}

    def live(self, element: Element) -> Tracker | None:
        """The tracker ``element`` is when the engine would gate it for a visitor without
        consent (so the page was sent with it live), else None."""
        # A live element's own data-consent can only name a category granted to everyone
        # (necessary): the site's claim is not taken here, the vendor rules judge it.
        if "data-consent" in element.attrs:
            attrs = {k: v for k, v in element.attrs.items() if not k.startswith("data-consent")}
            element = Element(element.tag, _SITE_TAG.sub("", element.raw), attrs, element.text)
        markup = element.markup().encode("utf-8", "replace")
        lowered = markup.lower()
        if not self.index.tag_flags(lowered) and not (
            element.text and (self.index.match_code(markup) or self.index.find_needles(lowered))
        ):
            return None  # (names no vendor host or signature: the rewriter would not change it)
        rewriter = self.gate.rewriter(self.gate.required, host=self.host)
        if rewriter is None:
            return None
        out = rewriter.feed(markup) + rewriter.close()
        if out == markup:
            return None
        gated = elements(out.decode("utf-8", "replace"))
        marks = next((e for e in gated if e.tag == element.tag), None)
        attrs = marks.attrs if marks is not None else {}
        if marks is None or "data-consent" not in attrs:
            # Only an attribute (a handler, a ping, a style) was moved: find it on any element.
            attrs = next((e.attrs for e in gated if "data-consent" in e.attrs), {})
        service = attrs.get("data-consent-service", "")
        return Tracker(
            element.tag,
            service,
            attrs.get("data-consent", self._category(service)),
            gated=False,
            how="",
            url=element.source(),
            size=len(element.text.encode("utf-8")),
        )

    def _category(self, service: str) -> str:
        vendor = self.vendors.get(service)
        return vendor.category if vendor is not None else ""

    def signature(self, service: str, code: str) -> str:
        """The vendor's inline signature found first in ``code``."""
        vendor = self.vendors.get(service)
        found = [(code.find(s), s) for s in (vendor.inline if vendor is not None else ()) if s]
        return min(((at, s) for at, s in found if at >= 0), default=(0, ""))[1]

    def covered(self, url: str) -> tuple[bool, str]:
        """(whether a rule covers ``url`` or it is the site's own / not a network URL, its
        host)."""
        parts = split_url(url.encode("utf-8", "replace"))
        if parts is None:
            return True, ""
        host = parts[0].decode("latin-1")
        if parts[0] == self.own:
            return True, host
        covered, _ = self.index.lookup_url(url.encode("utf-8", "replace"), self.own)
        return covered, host

    def on_own_host(self, url: str) -> bool:
        parts = split_url(url.encode("utf-8", "replace"))
        return parts is None or parts[0] == self.own

    def cookie(self, name: str) -> CookieFinding | None:
        """A non-necessary cookie's finding; None for a necessary or unknown one: by the
        site's policy (which includes the Open Cookie Database's categories), except that a
        cookie it declares necessary is still a tracker's when the built-in registry says so
        (names the database alone knows are often shared: Django's "sessionid")."""
        rule = self.policy.cookie_rule(name)
        if rule is not None:
            return CookieFinding(name, rule.category, rule.service or "", rule.source)
        found = _registry().cookie_category(name)
        if found is not None:
            return CookieFinding(name, found[0], found[1] or "", "vendor")
        return None

    def known_cookie(self, name: str) -> bool:
        return declared_category(self.policy, name) is not None or cookiedb.lookup(name) is not None


@functools.cache
def _registry() -> VendorIndex:
    return VendorIndex(BUILTIN_VENDORS)


def declared_category(policy: Policy, name: str) -> str | None:
    """The category the policy gives a cookie (a necessary one included), or None."""
    found = policy.cookie_category(name)
    if found is not None:
        return found[0]
    owners = [*policy.cookie_pairs, *((p, v.category) for v in policy.vendors for p in v.cookies)]
    for pattern, category in owners:
        if name == pattern or (pattern.endswith("*") and name.startswith(pattern[:-1])):
            return category
    return None


def resource_kind(element: Element) -> str:
    tag, attrs = element.tag, element.attrs
    if tag in ("script", "iframe", "frame"):
        return "iframe" if tag == "frame" else tag
    if tag in ("img", "input"):
        tiny = attrs.get("width", "").strip() in ("0", "1") or attrs.get("height", "").strip() in (
            "0",
            "1",
        )
        return "pixel" if tiny or element.noscript else "image"
    if tag == "link":
        return "stylesheet" if "stylesheet" in attrs.get("rel", "").lower().split() else "hint"
    return "media"


def loads_resource(element: Element) -> bool:
    if element.tag not in _LOADS:
        return False
    if element.tag == "link":
        return bool(_LINK_LOADS.intersection(element.attrs.get("rel", "").lower().split()))
    if element.tag == "input":
        return element.attrs.get("type", "").lower() == "image"
    return True


def _gated(element: Element) -> bool:
    """Whether the page holds ``element`` inert: marked by a gate (or the site's helpers)."""
    attrs = element.attrs
    if "data-consent" not in attrs:
        return False
    if element.tag == "script":
        return attrs.get("type", "").strip().lower() == "text/plain"
    # Something moved aside (a source, a handler, a style), or a loading element left without
    # its source (mode="remove"); a plain container the site tagged loads nothing.
    moved = any(k.startswith("data-consent-") and k not in _MARKS for k in attrs)
    return moved or (element.tag in _LOADS and not element.source())


# -- one page ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fetched:
    status: int
    html: bool
    text: str
    cookies: list[str]  # names of the Set-Cookie headers
    location: str = ""  # where a redirect goes


class Analysis:
    """Compares a page as sent without consent (``fresh``) with it as sent with everything
    granted (``granted``, None when that could not be had)."""

    def __init__(self, classifier: Classifier, own_cookie: str) -> None:
        self.classifier = classifier
        self.own_cookie = own_cookie

    def page(self, url: str, fresh: Fetched, granted: Fetched | None) -> PageReport:
        report = PageReport(url, status=fresh.status, html=fresh.html)
        self._cookies(report, fresh.cookies)
        if not fresh.html:
            return report
        report.banner = any(mark in fresh.text for mark in _BANNER_MARKS)
        without = elements(fresh.text)
        full = elements(granted.text) if granted is not None and granted.html else None
        site_tagged = _site_tagged(full) if full is not None else set()
        for element in without:
            if _gated(element):
                self._gated(report, element, element.key() in site_tagged)
            else:
                tracker = self.classifier.live(element)
                if tracker is not None:
                    report.trackers.append(tracker)
        if full is not None:
            self._removed(report, without, full)
        self._unclassified(report, full if full is not None else without)
        return report

    def _cookies(self, report: PageReport, names: Iterable[str]) -> None:
        for name in dict.fromkeys(names):
            if name in (self.own_cookie, f"__Host-{self.own_cookie}"):
                continue
            finding = self.classifier.cookie(name)
            if finding is not None:
                report.cookies_before_consent.append(finding)
            elif not self.classifier.known_cookie(name):
                report.unknown_cookies.append(name)

    def _gated(self, report: PageReport, element: Element, site_tag: bool) -> None:
        attrs = element.attrs
        service = attrs.get("data-consent-service", "")
        url = element.source()
        size = len(element.text.encode("utf-8"))
        signature = ""
        if site_tag:
            how = "site-tag"
        elif any(attrs.get(f"data-consent-{n}") for n in _LOADS.get(element.tag, ())):
            how = "src"
        elif element.tag == "script" and element.text.strip():
            how = "inline"
            signature = self.classifier.signature(service, element.text)
        else:
            how = "attribute"
        category = attrs.get("data-consent", "")
        report.trackers.append(
            Tracker(element.tag, service, category, True, how, url, signature, size)
        )
        if element.tag != "script":
            return
        if url and self.classifier.on_own_host(url):
            report.first_party_gated.append(
                FirstParty(element.tag, url, size, how, service, "own-host")
            )
        elif not url and size >= LARGE_INLINE:
            report.first_party_gated.append(
                FirstParty(element.tag, "", size, how, service, "large-inline")
            )

    def _removed(self, report: PageReport, without: list[Element], full: list[Element]) -> None:
        """Trackers of the full page that the page without consent does not hold at all."""
        sent: dict[tuple[str, str, str], int] = {}
        for element in without:
            sent[element.key()] = sent.get(element.key(), 0) + 1
        for element in full:
            key = element.key()
            if sent.get(key, 0) > 0:
                sent[key] -= 1
                continue
            tracker = self.classifier.live(element)
            if tracker is not None:
                report.trackers.append(
                    Tracker(
                        element.tag,
                        tracker.service,
                        tracker.category,
                        True,
                        "removed",
                        tracker.url,
                        "",
                        tracker.size,
                    )
                )

    def _unclassified(self, report: PageReport, page: list[Element]) -> None:
        seen: set[str] = set()
        for element in page:
            if not loads_resource(element):
                continue
            url = element.source()
            if not url or url in seen:
                continue
            seen.add(url)
            covered, host = self.classifier.covered(url)
            if not covered:
                report.unclassified.append(
                    Unclassified(element.tag, resource_kind(element), url, host)
                )


def _site_tagged(full: list[Element]) -> set[tuple[str, str, str]]:
    """Keys of the elements the site itself tagged with ``data-consent`` (in the page as sent
    with everything granted, which the engine leaves as the app wrote it)."""
    return {e.key() for e in full if "data-consent" in e.attrs}


# -- fetching ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bounds:
    """How far an audit goes: pages, seconds in all, requests per second, seconds a request."""

    max_pages: int = 50
    time_limit: float = 120.0
    rate: float = 2.0
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        for name in ("time_limit", "rate", "timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be more than 0")


class Fetcher:
    """Requests to the audited site, at most ``rate`` a second."""

    def __init__(self, client: httpx.Client, bounds: Bounds, prefix: str) -> None:
        self.client = client
        self.bounds = bounds
        self.prefix = prefix
        self._last = 0.0

    def _wait(self) -> None:
        pause = self._last + 1 / self.bounds.rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self._last = time.monotonic()

    def get(self, url: str, cookies: dict[str, str] | None) -> Fetched:
        self._wait()
        self.client.cookies.clear()  # (a new visitor each time: the page's own Set-Cookie seen)
        header = "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())
        response = self.client.get(url, headers={"cookie": header} if header else None)
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        html = kind in ("text/html", "application/xhtml+xml")
        names = [
            value.split("=", 1)[0].strip() for value in response.headers.get_list("set-cookie")
        ]
        location = response.headers.get("location", "")
        return Fetched(response.status_code, html, response.text if html else "", names, location)

    def granted(self, origin: str) -> dict[str, str]:
        """The consent cookie of a visitor who accepted everything, got as a browser gets it."""
        self._wait()
        self.client.cookies.clear()
        response = self.client.post(
            origin + self.prefix + "/consent",
            data={"action": "accept_all", "next": "/"},
            headers={"origin": origin, "sec-fetch-site": "same-origin"},
        )
        if response.status_code >= 400:
            raise AuditError(
                f"POST {self.prefix}/consent answered {response.status_code}: cannot audit "
                "as a visitor who accepted everything"
            )
        cookies = dict(response.cookies.items())
        self.client.cookies.clear()
        if not cookies:
            raise AuditError(f"POST {self.prefix}/consent set no cookie")
        return cookies


class AuditError(Exception):
    """The audit could not go on (a consent endpoint that refuses, a sitemap unread)."""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def run(
    fetcher: Fetcher,
    urls: Sequence[str],
    policy: Policy,
    *,
    own_cookie: str = "consentgate",
    progress: Progress | None = None,
    report: AuditReport | None = None,
) -> AuditReport:
    """Audit ``urls`` (all on hosts the caller allowed) within the fetcher's bounds."""
    import httpx

    report = report or AuditReport()
    deadline = time.monotonic() + fetcher.bounds.time_limit
    granted: dict[str, dict[str, str] | None] = {}
    analyses: dict[str, Analysis] = {}
    todo = list(dict.fromkeys(urls))
    if len(todo) > fetcher.bounds.max_pages:
        report.skipped.extend(todo[fetcher.bounds.max_pages :])
        report.errors.append(
            f"page limit: {len(todo) - fetcher.bounds.max_pages} pages not audited "
            f"(--max-pages {fetcher.bounds.max_pages})"
        )
        todo = todo[: fetcher.bounds.max_pages]
    for done, url in enumerate(todo):
        if time.monotonic() > deadline:
            report.skipped.extend(todo[done:])
            report.errors.append(
                f"time limit: {len(todo) - done} pages not audited "
                f"(--time-limit {fetcher.bounds.time_limit:g})"
            )
            break
        if progress is not None:
            progress(done, len(todo), url)
        origin = _origin(url)
        if origin not in analyses:
            analyses[origin] = Analysis(Classifier(policy, urlsplit(url).netloc), own_cookie)
            try:
                granted[origin] = fetcher.granted(origin)
            except (AuditError, httpx.HTTPError) as exc:
                granted[origin] = None
                report.errors.append(f"{origin}: {exc}")
        report.pages.append(_page(fetcher, analyses[origin], url, granted[origin]))
    if progress is not None:
        progress(len(report.pages), len(todo), "")
    return report


def _page(
    fetcher: Fetcher, analysis: Analysis, url: str, cookies: dict[str, str] | None
) -> PageReport:
    import httpx

    try:
        fresh = fetcher.get(url, None)
        full = fetcher.get(url, cookies) if cookies is not None and fresh.html else None
    except httpx.HTTPError as exc:
        return PageReport(url, errors=[f"{type(exc).__name__}: {exc}"])
    report = analysis.page(url, fresh, full)
    if fresh.status >= 400:
        report.errors.append(f"status {fresh.status}")
    elif 300 <= fresh.status < 400:
        # (Not followed: it may leave the hosts named. The page it names is the one to audit.)
        report.errors.append(f"status {fresh.status}: redirects to {fresh.location}; audit that")
    return report


def builtin_policy() -> Policy:
    """The policy an audit over HTTP judges by: the built-in registry (the site's own vendors
    and allow-list are not known from outside; gated elements name their service anyway)."""
    return Policy(vendors=BUILTIN_VENDORS)


def sitemap_urls(client: httpx.Client, url: str, bounds: Bounds, depth: int = 1) -> list[str]:
    """The page URLs a sitemap lists (a sitemap index is followed one level down)."""
    response = client.get(url)
    if response.status_code != 200:
        raise AuditError(f"sitemap {url} answered {response.status_code}")
    try:
        root = ET.fromstring(response.content)
    except ET.ParseError as exc:
        raise AuditError(f"sitemap {url} is not XML: {exc}") from None
    locs = [el.text.strip() for el in root.iter() if el.tag.endswith("loc") and el.text]
    if root.tag.endswith("sitemapindex") and depth > 0:
        pages: list[str] = []
        for sub in locs[:20]:
            pages += sitemap_urls(client, sub, bounds, depth - 1)
        return pages
    return [urljoin(url, loc) for loc in locs]


def audit_urls(
    urls: Sequence[str] = (),
    *,
    sitemap: str | None = None,
    bounds: Bounds | None = None,
    prefix: str = "/consentgate",
    own_cookie: str = "consentgate",
    policy: Policy | None = None,
    progress: Progress | None = None,
    client: httpx.Client | None = None,
) -> AuditReport:
    """Audit pages over HTTP. Only hosts named by ``urls`` or ``sitemap`` are fetched: sitemap
    entries on other hosts are skipped (listed in ``skipped``)."""
    import httpx

    bounds = bounds or Bounds()
    allowed = {urlsplit(u).netloc.lower() for u in [*urls, *([sitemap] if sitemap else [])]}
    for url in [*urls, *([sitemap] if sitemap else [])]:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ValueError(f"{url!r} is not an http(s):// URL")
    own_client = client is None
    http = client or httpx.Client(
        follow_redirects=False, timeout=bounds.timeout, headers={"user-agent": _AGENT}
    )
    report = AuditReport()
    try:
        pages = list(urls)
        if sitemap:
            try:
                listed = sitemap_urls(http, sitemap, bounds)
            except (AuditError, httpx.HTTPError) as exc:
                report.errors.append(str(exc))
                listed = []
            for url in listed:
                if urlsplit(url).netloc.lower() in allowed:
                    pages.append(url)
                else:
                    report.skipped.append(url)
        fetcher = Fetcher(http, bounds, prefix)
        return run(
            fetcher,
            pages,
            policy or builtin_policy(),
            own_cookie=own_cookie,
            progress=progress,
            report=report,
        )
    finally:
        if own_client:
            http.close()


_AGENT = "consentgate-audit/1 (+https://pypi.org/project/consentgate/)"


def audit_app(
    app: Any,
    paths: Sequence[str] = ("/",),
    *,
    host: str = "testserver",
    bounds: Bounds | None = None,
) -> AuditReport:
    """The audit of an ASGI app, in process (for a site's own tests)::

        report = audit_app(app, ["/", "/blog"])
        assert report.ok, report.as_dict()

    The app's ``ConsentMiddleware`` (found as ``consentgate check`` finds it) gives the policy,
    the prefix and the cookie's name; without one, the built-in registry judges and the banner
    is reported missing."""
    from .check import find_middleware

    with warnings.catch_warnings():  # (Starlette's notice that its TestClient will change)
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    middleware = find_middleware(app)
    policy = middleware.policy if middleware is not None else builtin_policy()
    prefix = middleware.prefix if middleware is not None else "/consentgate"
    own_cookie = middleware.cookie.name if middleware is not None else "consentgate"
    bounds = bounds or Bounds(max_pages=max(1, len(paths)), rate=1000.0)
    origin = f"http://{host}"
    # (No "with": that would run the app's lifespan, which an audit does not need.)
    client = TestClient(app, base_url=origin, follow_redirects=False)
    fetcher = Fetcher(client, bounds, prefix)
    return run(
        fetcher,
        [origin + (p if p.startswith("/") else "/" + p) for p in paths],
        policy,
        own_cookie=own_cookie,
    )


# -- the table -----------------------------------------------------------------------------


def _tracker_line(t: Tracker) -> str:
    state = f"gated ({t.how})" if t.gated else "UNGATED"
    detail = t.url or (f"inline, {t.size} bytes" if t.element == "script" else "")
    if t.signature:
        detail += f", signature {t.signature!r}"
    return f"    {state:<19} {t.service or '?':<20} {t.category or '?':<11} <{t.element}> {detail}"


def format_table(report: AuditReport) -> str:
    """The report as text for a person: per page, then the uncovered hosts and a summary."""
    lines: list[str] = []
    for page in report.pages:
        mark = "ok" if page.ok else "FAIL"
        banner = {True: "banner shown", False: "BANNER MISSING", None: "not HTML"}[page.banner]
        lines.append(f"{mark:<4} {page.url}  ({page.status}, {banner})")
        lines += [f"    error: {e}" for e in page.errors]
        if page.trackers:
            lines.append("  trackers:")
            lines += [_tracker_line(t) for t in page.trackers]
        if page.cookies_before_consent:
            lines.append("  cookies set before consent:")
            lines += [
                f"    {c.name:<24} {c.category:<11} {c.service or '-'} ({c.source})"
                for c in page.cookies_before_consent
            ]
        if page.unknown_cookies:
            lines.append(f"  unknown cookies (declare them): {', '.join(page.unknown_cookies)}")
        if page.first_party_gated:
            lines.append("  gated, but looks like first-party code:")
            lines += [
                f"    {f.reason:<12} {f.url or f'inline, {f.size} bytes'} ({f.how}, "
                f"{f.service or 'no service'})"
                for f in page.first_party_gated
            ]
        if page.unclassified:
            lines.append("  third-party, no rule covers it:")
            lines += [f"    {u.kind:<10} {u.url}" for u in page.unclassified]
    hosts = report.hosts()
    if hosts:
        lines.append("hosts no rule covers (new vendor, or allow-list):")
        lines += [f"  {h['host']:<32} {h['count']:>3}  {', '.join(h['kinds'])}" for h in hosts]
    lines += [f"error: {e}" for e in report.errors]
    if report.services():
        lines.append(f"services used (declare them): Policy(services={report.services()!r})")
    s = report.summary()
    lines.append(
        f"{s['pages']} pages: {s['trackers']} trackers, {s['ungated']} ungated, "
        f"{s['missing_banner']} without banner, {s['cookies_before_consent']} cookies before "
        f"consent, {s['unclassified']} unclassified, {s['first_party_gated']} first-party gated"
        f" — {'OK' if report.ok else 'FAILED'}"
    )
    return "\n".join(lines) + "\n"


__all__ = [
    "SCHEMA_VERSION",
    "AuditError",
    "AuditReport",
    "Bounds",
    "CookieFinding",
    "FirstParty",
    "PageReport",
    "Tracker",
    "Unclassified",
    "audit_app",
    "audit_urls",
    "elements",
    "format_table",
]
