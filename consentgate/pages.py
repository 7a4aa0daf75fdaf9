"""consentgate's own pages and snippets: the banner, the settings control, the Consent Mode
defaults, click-to-load placeholders and the preferences and receipt pages, rendered from the
templates in ``templates/consentgate/``, in the visitor's language.

What returning visitors get is rendered once per language and state and kept (bounded caches):
a page costs a dictionary lookup, not a template rendering.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import mimetypes
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape
from starlette.datastructures import Headers
from starlette.types import Scope

from .consent import Consent
from .html import Placeholder
from .html.edits import DEFAULT_SIZE, Size, sizer
from .i18n import direction, localise_categories, texts_for
from .policy import Category, Policy, Vendor
from .signals import Signals
from .views import Urls, category_views

_HERE = Path(__file__).resolve().parent
logger = logging.getLogger("consentgate")
inventory_logger = logging.getLogger("consentgate.inventory")

# Follows every banner. A browser paints a page while it is still parsing it, so a banner that is
# anchored to the bottom of the window and painted half-parsed grows upwards as the rest arrives:
# a layout shift. The stylesheet keeps the banner invisible until this marker after it exists. It
# is added here rather than in banner.html so that a site's own banner template cannot lose it.
BANNER_END = '<span class="consentgate-end" hidden></span>'
#: Renderings kept per cache: few languages, states and vendors exist; a flood of odd headers
#: empties a cache rather than growing it.
_KEPT = 1024
#: The most bytes of rendered snippets kept (banners, settings controls).
_SNIPPET_BYTES = 8 * 1024 * 1024


def resource_dir(name: str) -> Path:
    """``static`` or ``templates``: inside the installed package, else beside it in a checkout."""
    installed = _HERE / name
    return installed if installed.is_dir() else _HERE.parent / name


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    version: str


def load_assets() -> dict[str, Asset]:
    """consentgate's script and stylesheet, each with a version: the hash of its content."""
    assets = {}
    for path in sorted(resource_dir("static").glob("*")):
        if path.is_file() and not path.name.startswith("."):
            body = minified(path.suffix, path.read_bytes())
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            version = hashlib.sha256(body).hexdigest()[:12]
            assets[path.name] = Asset(body, media_type, version)
    return assets


_CSS_COMMENT = re.compile(rb"/\*.*?\*/", re.S)
_CSS_SPACE = re.compile(rb"\s*([{};,>\n])\s*")
_JS_COMMENT_LINE = re.compile(rb"^[ \t]*(?://[^\n]*|/\*.*?\*/[ \t]*)\n", re.S | re.M)
_INDENT = re.compile(rb"^[ \t]+", re.M)


def minified(suffix: str, body: bytes) -> bytes:
    """The stylesheet and scripts as served: without their comments and indentation (a third
    of their weight). Deliberately simple, for consentgate's own files: whole comment lines and
    CSS comments go, nothing inside a line of code is touched."""
    if suffix == ".css":
        return _CSS_SPACE.sub(rb"\1", _CSS_COMMENT.sub(b"", body)).replace(b"\n", b"")
    if suffix == ".js":
        return _INDENT.sub(b"", _JS_COMMENT_LINE.sub(b"", body))
    return body


class Renderer:
    def __init__(self, loaders: Sequence[jinja2.BaseLoader] = ()) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(
                [*loaders, jinja2.FileSystemLoader(str(resource_dir("templates")))]
            ),
            autoescape=True,
            auto_reload=False,  # templates are read once; no stat() on every page
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        html = self.env.get_template(f"consentgate/{name}").render(context)
        return html + BANNER_END if name == "banner.html" else html


def texts_hash(
    texts: Mapping[str, str],
    categories: Sequence[Category],
    vendors: Sequence[Vendor],
    revision: str,
) -> str:
    """A fingerprint of what the visitor was shown, kept with each consent record."""
    shown = {
        "revision": revision,
        "texts": dict(sorted(texts.items())),
        "categories": [[c.name, c.title, c.description] for c in categories],
        "vendors": [[v.id, v.name, v.category] for v in vendors],
    }
    blob = json.dumps(shown, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True, slots=True)
class _Unknown:
    """A category named on a page but not in the policy, as the placeholder shows it."""

    name: str

    @property
    def title(self) -> str:
        return self.name


class Services:
    """The services visitors are told about: ``listed`` is the one accessor the banner, the
    preferences page, the receipt and the cookie declaration use.

    What is listed is declared (``Policy.services``, the site's own vendors): the same list in
    every worker of a deployment, from the first request on. With ``learn`` (the middleware's
    ``debug``) a vendor the rewriter gates on a page that the policy does not list is added for
    this process and logged once, naming the setting to add it to: a development aid, since
    lists learnt per process would differ between workers and over a process's life."""

    def __init__(self, policy: Policy, *, learn: bool = False) -> None:
        self.policy = policy
        self.learn = learn
        self._declared = frozenset(v.id for v in policy.listed_services())
        self._met: set[str] = set()
        self._reported: set[str] = set()
        #: How many services were met (the renderings that list them are kept per count).
        self.seen = 0
        self._listed: dict[str | None, tuple[Vendor, ...]] = {}

    def listed(self, category: str | None = None) -> tuple[Vendor, ...]:
        """The services listed (of ``category``), in the policy's order."""
        found = self._listed.get(category)
        if found is None:
            ids = self._declared | self._met
            found = tuple(
                v
                for v in self.policy.vendors
                if v.id in ids and (category is None or v.category == category)
            )
            if len(self._listed) < 64:
                self._listed[category] = found
        return found

    def met(self, ids: Iterable[str], path: str) -> None:
        """Services the rewriter gated on the page at ``path`` (``learn`` only). Each is also
        logged once as an inventory record, so that ``consentgate inventory`` drafts the
        ``services=[…]`` to declare."""
        known = {i for i in ids if i in self.policy.vendor_ids}
        self._inventory(known, path)
        new = known - self._declared - self._met
        if not new:
            return
        self._met |= new
        self.seen += 1
        self._listed.clear()
        services = [*self._declared, *self._met]
        logger.warning(
            "consentgate: %s gated on %s but not declared; listed for this process only. "
            "Declare what the site uses: Policy(services=%r)",
            ", ".join(sorted(new)),
            path,
            sorted(services),
        )

    def _inventory(self, services: set[str], path: str) -> None:
        from .inventory import MARK  # (debug only: the inventory reads the app's pages too)

        for service in sorted(services - self._reported):
            if len(self._reported) >= _KEPT:
                return
            self._reported.add(service)
            record = {"kind": "service", "path": path, "service": service}
            inventory_logger.warning("%s %s", MARK, json.dumps(record, sort_keys=True))

    def watch(self, path: str) -> MetServices:
        return MetServices(self, path)


#: The vendor a gated element names (what a rewritten page carries, see html/edits.py).
_SERVICE_ATTR = re.compile(rb'data-consent-service="([a-z][a-z0-9_-]{0,31})"')


class MetServices:
    """A pass-through stage after the rewriter (``Services.learn`` only): the services its
    output gates, reported when the page ends."""

    def __init__(self, services: Services, path: str) -> None:
        self.services = services
        self.path = path
        self.found: set[bytes] = set()
        self._tail = b""

    def feed(self, chunk: bytes) -> bytes:
        # (An attribute cut by a chunk boundary is read with the end of the chunk before.)
        self.found.update(_SERVICE_ATTR.findall(self._tail + chunk))
        self._tail = chunk[-64:]
        return chunk

    def close(self) -> bytes:
        self.services.met((f.decode("ascii") for f in self.found), self.path)
        return b""


class Pages:
    """Renders what consentgate adds to pages and serves as its own, for one policy."""

    def __init__(
        self,
        policy: Policy,
        *,
        prefix: str,
        assets: Mapping[str, Asset],
        signals: Callable[[Scope], Signals],
        templates: Sequence[jinja2.BaseLoader] = (),
        language: str | None = None,
        texts: Mapping[str, Mapping[str, str]] | None = None,
        receipts: bool = True,
        consent_mode: bool = False,
        layout: str = "bar",
        settings_position: str = "bottom-left",
        learn_services: bool = False,
    ) -> None:
        self.policy = policy
        self.prefix = prefix
        self.signals = signals
        self.renderer = Renderer(templates)
        self.language = language
        self.texts = texts or {}
        self.receipts = receipts
        self.layout = layout
        self.settings_position = settings_position
        css, js, mode = (
            assets.get(n) for n in ("consentgate.css", "consentgate.js", "consent-mode.js")
        )
        self.css_url = f"{prefix}/static/consentgate.css?v={css.version if css else ''}"
        self.js_url = f"{prefix}/static/consentgate.js?v={js.version if js else ''}"
        #: Where the Consent Mode defaults load from; None without ``consent_mode``.
        self.consent_mode_url = (
            f"{prefix}/static/consent-mode.js?v={mode.version}" if consent_mode and mode else None
        )
        self.services = Services(policy, learn=learn_services)
        self._snippets: dict[tuple[Any, ...], tuple[bytes, ...]] = {}
        self._snippet_bytes = 0
        self._languages: dict[bytes | None, str] = {}
        self._placeholders: dict[tuple[str, str, str | None, str, Size], bytes] = {}
        self._heads: dict[tuple[str, str | None, str], bytes] = {}

    def state_json(self, consent: Consent) -> str:
        return _state_json(consent.decided, consent.granted, consent.services, self.policy.revision)

    def urls(self, root: str) -> Urls:
        prefix = root + self.prefix
        return Urls(
            consent=f"{prefix}/consent",
            preferences=f"{prefix}/preferences",
            banner=f"{prefix}/banner",
            receipt=f"{prefix}/receipt" if self.receipts else "",
            static=f"{prefix}/static",
            privacy=self.policy.privacy_policy_url,
        )

    def context(
        self, request_headers: Headers, scope: Scope, consent: Consent, origin: str = ""
    ) -> dict[str, Any]:
        """What templates read; ``origin`` (``//host``) prefixes every URL of consentgate's
        own (see ``own_origin``)."""
        lang, texts = texts_for(
            request_headers.get("accept-language"), language=self.language, overrides=self.texts
        )
        signals = self.signals(scope)
        root = origin + scope.get("root_path", "")
        path = scope.get("path", "/")
        query = scope.get("query_string", b"").decode("latin-1")
        return {
            "t": texts,
            "lang": lang,
            "urls": self.urls(root),
            "consent": consent,
            "categories": localise_categories(
                category_views(self.policy, consent, self.services.listed),
                texts,
                self.texts.get(lang),
            ),
            "next": path + (f"?{query}" if query else ""),
            "gpc": signals.gpc and bool(signals.refused),
            "dnt": signals.dnt and bool(signals.refused),
            "css_url": root + self.css_url,
            "js_url": root + self.js_url,
            "dir": direction(lang),
            "layout": self.layout,
            "settings_position": self.settings_position,
        }

    def page(self, name: str, scope: Scope, consent: Consent, next_url: str, **extra: Any) -> str:
        """One of consentgate's own pages, linking back to ``next_url``."""
        context = self.context(Headers(scope=scope), scope, consent)
        context["next"] = next_url
        context.update(extra)
        return self.renderer.render(name, context)

    def snippet(self, scope: Scope, consent: Consent, nonce: str | None) -> bytes:
        """What goes into an HTML page: assets, and the banner or the settings control.

        Rendered once per language, state and origin and kept, the banner as the settings
        control: a page costs a lookup and two small substitutions (the page to come back to
        and the CSP nonce, the only values of a request of their own), not a rendering."""
        header: bytes | None = None
        gpc = dnt = False
        for name, value in scope["headers"]:
            if name == b"accept-language":
                header = value if header is None else header  # (the first, as Headers reads)
            elif name == b"sec-gpc":
                gpc = value.strip() == b"1"
            elif name == b"dnt":
                dnt = value.strip() == b"1"
        origin = own_origin(scope)
        root = origin + scope.get("root_path", "")
        lang = self._language(header)
        key = (root, lang, nonce is None, _state_key(consent), gpc, dnt, self.services.seen)
        parts = self._snippets.get(key)
        if parts is None:
            parts = self._render_snippet(scope, consent, origin, nonce is not None)
            size = sum(map(len, parts))
            # Bounded by bytes (a banner listing many services weighs tens of KB): a flood of
            # odd Host headers empties the cache rather than growing it.
            if self._snippet_bytes + size > _SNIPPET_BYTES or len(self._snippets) >= _KEPT:
                self._snippets.clear()
                self._snippet_bytes = 0
            self._snippets[key] = parts
            self._snippet_bytes += size
        if len(parts) == 1:
            return parts[0]
        values = {_NEXT_BYTES: _attribute(_next_url(scope)), _NONCE_BYTES: _attribute(nonce or "")}
        return b"".join(values[part] if i % 2 else part for i, part in enumerate(parts))

    def _language(self, header: bytes | None) -> str:
        """The language an ``Accept-Language`` header picks (kept per header: few exist)."""
        lang = self._languages.get(header)
        if lang is None:
            value = header.decode("latin-1") if header is not None else None
            lang, _ = texts_for(value, language=self.language, overrides=self.texts)
            if len(self._languages) >= _KEPT:
                self._languages.clear()
            if header is None or len(header) <= 256:  # (browsers send a few dozen bytes)
                self._languages[header] = lang
        return lang

    def _render_snippet(
        self, scope: Scope, consent: Consent, origin: str, nonce: bool
    ) -> tuple[bytes, ...]:
        """The snippet rendered with stand-ins for the page to come back to and the nonce,
        split around them: (text, stand-in, text, …)."""
        context = self.context(Headers(scope=scope), scope, consent, origin)
        context.update(next=_NEXT, nonce=_NONCE if nonce else None, state=self.state_json(consent))
        html = self.renderer.render("assets.html", context)
        html += self.renderer.render(
            "settings_link.html" if consent.decided else "banner.html", context
        )
        # Character references keep the snippet right in whatever ASCII-compatible charset.
        return tuple(_SPLICE.split(html.encode("ascii", "xmlcharrefreplace")))

    def head_snippet(self, scope: Scope, consent: Consent, nonce: str | None) -> bytes:
        """What goes right after ``<head>`` with ``consent_mode``: the Consent Mode defaults."""
        root = own_origin(scope) + scope.get("root_path", "")
        state = self.state_json(consent)
        key = (root, nonce, state)
        if key not in self._heads:
            if len(self._heads) >= _KEPT:
                self._heads.clear()
            html = self.renderer.render(
                "head.html",
                {
                    "consent_mode_url": root + self.consent_mode_url
                    if self.consent_mode_url
                    else None,
                    "nonce": nonce,
                    "state": state,
                },
            )
            self._heads[key] = html.encode("ascii", "xmlcharrefreplace")
        return self._heads[key]

    def placeholder(self, vendor: Vendor | None, category: str, size: Size = DEFAULT_SIZE) -> bytes:
        """The click-to-load stand-in for a gated iframe, in the default language."""
        return self.placeholders(None, "")(vendor, category, size)

    def placeholders(self, accept_language: str | None, root: str) -> Placeholder:
        """Placeholders for one response: in the visitor's language, under the app's root path.

        Renderings are kept per (language, root, vendor, category, size): few of each exist.
        """
        lang, texts = texts_for(accept_language, language=self.language, overrides=self.texts)

        def render(vendor: Vendor | None, category: str, size: Size = DEFAULT_SIZE) -> bytes:
            key = (lang, root, vendor.id if vendor else None, category, size)
            if key not in self._placeholders:
                views = [v for v in category_views(self.policy, Consent()) if v.name == category]
                localised = localise_categories(views, texts, self.texts.get(lang))
                if len(self._placeholders) >= 4 * _KEPT:
                    self._placeholders.clear()
                # A page may tag an element with a category the policy does not have ("Ads!"
                # from user content): nobody can grant it, so its placeholder offers no button.
                known = bool(localised) or (vendor is not None and vendor.category == category)
                html = self.renderer.render(
                    "placeholder.html",
                    {
                        "vendor": vendor,
                        "sizer": Markup(sizer(size)),
                        "category": localised[0] if localised else _Unknown(category),
                        "allowable": known,
                        "t": texts,
                        "lang": lang,
                        "urls": self.urls(root),
                        "css_url": root + self.css_url,
                    },
                )
                self._placeholders[key] = html.encode("ascii", "xmlcharrefreplace")
            return self._placeholders[key]

        return render

    def texts_hash(self, request_headers: Headers) -> str:
        _, texts = texts_for(
            request_headers.get("accept-language"), language=self.language, overrides=self.texts
        )
        return texts_hash(
            texts, self.policy.categories, self.services.listed(), self.policy.revision
        )


# Stand-ins rendered for a request's own values, replaced after (see Pages.snippet). Letters
# and digits only, so that no escape or filter of a template changes them.
_NEXT = "consentgate0next0f3a91c"
_NONCE = "consentgate0nonce0f3a91c"
_NEXT_BYTES, _NONCE_BYTES = _NEXT.encode(), _NONCE.encode()
_SPLICE = re.compile(b"(" + _NEXT_BYTES + b"|" + _NONCE_BYTES + b")")


def _next_url(scope: Scope) -> str:
    """The page to come back to after a choice posted without JavaScript."""
    query = scope.get("query_string", b"").decode("latin-1")
    return str(scope.get("path", "/")) + (f"?{query}" if query else "")


def _attribute(value: str) -> bytes:
    """``value`` as the templates write it: escaped (as Jinja2's autoescape does), ASCII."""
    return str(escape(value)).encode("ascii", "xmlcharrefreplace")


def _state_key(
    consent: Consent,
) -> tuple[bool, frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    """What of a consent the banner and the settings control show: the state and what the
    form is pre-filled with (see views.category_views)."""
    previous = consent.previous
    shown = previous if not consent.decided and previous and not previous.implied else consent
    return consent.decided, consent.granted, consent.services, shown.granted, shown.services


#: A Host header as a URL's authority: a name or an IPv4 or [IPv6] address, maybe a port.
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def own_origin(scope: Scope) -> str:
    """``//host`` of the request, which prefixes the URLs of what consentgate puts into a
    site's page (its script, stylesheet, endpoints): a ``<base href>`` of the page on another
    host (its CDN) would otherwise take them there, and the banner would break. Without a
    scheme, so that a TLS proxy in front (an app that believes it serves http) is no matter;
    "" when the Host header is missing or not a host (then root-relative, as before)."""
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host = value.decode("latin-1")
            return "//" + host if _HOST.fullmatch(host) else ""
    return ""


@functools.lru_cache(maxsize=1024)
def _state_json(
    decided: bool, granted: frozenset[str], services: frozenset[str], revision: str
) -> str:
    """The visitor's state as the client script reads it; few distinct states exist."""
    return json.dumps(
        {
            "decided": decided,
            "granted": sorted(granted),
            "services": sorted(services),
            "revision": revision,
        },
        separators=(",", ":"),
    )
