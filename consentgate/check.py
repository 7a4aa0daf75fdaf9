"""``consentgate check``: the configuration and the rendered banner against the regulators'
checklists (EDPB guidelines 05/2020 and 03/2022, the EDPB cookie banner taskforce report, the
CNIL's 2020 recommendation, the ICO's guidance), each rule citing where its source says so.

The banner is judged as rendered (``GET <prefix>/banner`` and ``/preferences`` through the
middleware, in every enabled language), by what its markup means rather than how it is laid out:
the controls named ``action``, the checkboxes, the links, and which of them sit on the first
layer (not inside a ``<dialog>``, a ``<details>``, a ``<template>`` or a ``hidden`` element).
So a banner redesigned in the site's own templates is judged the same way.

``check_app(app)`` finds the ``ConsentMiddleware`` in an ASGI app's wrapper chain
(``find_middleware``) and returns a ``CheckReport``; a site's tests assert ``report.ok``.
"""

from __future__ import annotations

import enum
import importlib
import os
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from . import cookiedb
from .consent import Consent
from .gate import VendorIndex
from .i18n import TEXTS, localise_categories
from .middleware import ConsentMiddleware
from .policy import Policy
from .vendors import BUILTIN_VENDORS
from .views import category_views

with warnings.catch_warnings():
    # (Starlette warns that its TestClient will move to another HTTP package: not our users'.)
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

#: 13 months (396 days), the longest a choice may be kept before asking again: no text sets a
#: limit for a choice (the CNIL recommends 6 months); 13 months is the CNIL's ceiling for the
#: lifetime of consent-exempt audience-measurement trackers (README, "consentgate check").
MAX_LIFETIME = 396 * 24 * 3600
#: Attributes a wrapper keeps the app it wraps in, looked at in this order.
WRAPPED = ("middleware_stack", "app", "application", "asgi_app", "_app", "wrapped", "middleware")
#: Texts the banner's first layer shows: a language that misses one shows English there.
BANNER_KEYS = ("title", "banner_text", "accept_all", "reject_all", "customise", "privacy_policy")


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    sources: tuple[str, ...]


# Each source is cited by the paragraph (or article, or section) where its text was read; the
# README's "consentgate check" section says how they were verified and which carry no number.
TASKFORCE = "EDPB cookie banner taskforce report (adopted 17 January 2023)"
CONSENT_GUIDELINES = "EDPB guidelines 05/2020 on consent (v1.1)"
DESIGN_GUIDELINES = "EDPB guidelines 03/2022 on deceptive design patterns (v2.0), annex I"
CNIL_RECOMMENDATION = "CNIL recommendation (deliberation 2020-092 of 17 September 2020)"
ICO_GUIDANCE = "ICO guidance on the use of storage and access technologies (PECR)"

RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "reject-first-layer",
            "reject-all on the first layer, the same element and weight as accept-all",
            (
                f"{TASKFORCE}, para. 8 (no refuse option on a layer that has a consent "
                "button: an infringement for a vast majority of authorities) and para. 14 (a "
                "'refuse' link embedded in the banner's text without sufficient visual support "
                "gives no valid consent)",
                f"{CNIL_RECOMMENDATION}, art. 2, on refusal (refusing on the same screen and as "
                "easily as accepting; buttons and font of the same size, as legible, highlighted "
                "the same way)",
                f"{DESIGN_GUIDELINES}, 4.3.2 'Hidden in plain sight' (category 'Stirring')",
            ),
        ),
        Rule(
            "no-pre-ticked",
            "no optional category or service ticked before the visitor chose",
            (
                "GDPR recital 32 ('Silence, pre-ticked boxes or inactivity should not therefore "
                f"constitute consent'); {CONSENT_GUIDELINES}, para. 79 ('The use of pre-ticked "
                "opt-in boxes is invalid under the GDPR')",
                f"{TASKFORCE}, para. 10 (pre-ticked boxes on the second layer give no valid "
                "consent)",
                f"{DESIGN_GUIDELINES}, 4.2.1 'Deceptive snugness' (category 'Skipping')",
            ),
        ),
        Rule(
            "purposes-first",
            "the purposes described on the first layer, before the options",
            (
                f"{CONSENT_GUIDELINES}, para. 64 (informed consent needs at least the "
                "controller's identity and the purpose of each processing operation)",
                "ePrivacy directive art. 5(3) (consent given with clear and comprehensive "
                f"information, inter alia about the purposes); {TASKFORCE}, para. 12 (a clear "
                "indication of the purpose of the consent sought)",
                f"{CNIL_RECOMMENDATION}, art. 2.1 (the purposes presented before the visitor "
                "can accept or refuse)",
            ),
        ),
        Rule(
            "privacy-link",
            "a link to the privacy policy on the first layer",
            (
                f"{CONSENT_GUIDELINES}, para. 64 (the controller's identity and the other "
                "information consent needs) and para. 69 (layered information)",
                f"{ICO_GUIDANCE}, 'How do we tell people about the storage and access "
                "technologies we use?' (clear and comprehensive information, easily accessible)",
                f"{DESIGN_GUIDELINES}, 4.4.1 'Dead end' (category 'Obstructing'): the link must "
                "lead somewhere",
            ),
        ),
        Rule(
            "consent-lifetime",
            "a choice kept at most 13 months (the CNIL recommends 6)",
            (
                f"{CNIL_RECOMMENDATION}, art. 2 (keeping the choice, consent or refusal, 6 "
                "months is good practice) and art. 5 (consent-exempt audience-measurement "
                "trackers live 13 months at most, not extended on later visits: the ceiling "
                "used here, by analogy)",
                f"{ICO_GUIDANCE}, 'How do we manage consent in practice?' (neither PECR nor the "
                "UK GDPR sets a time limit on consent)",
            ),
        ),
        Rule(
            "withdraw-everywhere",
            "a control to withdraw or change the choice on every page checked",
            (
                "GDPR art. 7(3) ('It shall be as easy to withdraw as to give consent'); "
                f"{CONSENT_GUIDELINES}, paras. 113-114 (withdrawn at any time, as easily as "
                "one click gave it, through the same interface)",
                f"{TASKFORCE}, para. 32 (an easily accessible solution such as a permanently "
                "visible icon or a link in a visible, standardised place), para. 34 (withdrawing "
                "as easy as consenting) and para. 35 (no one solution imposed; case by case)",
                f"{ICO_GUIDANCE}, 'How do we manage consent in practice?' (withdrawing with the "
                "same ease as consenting)",
            ),
        ),
        Rule(
            "vendors-necessary",
            "no non-essential vendor, allow-list entry or cookie declared necessary",
            (
                "ePrivacy directive art. 5(3) (without consent only what is strictly necessary "
                "for a service the user explicitly requested)",
                f"{TASKFORCE}, paras. 26-30, type I 'inaccurately classified essential cookies' "
                "(para. 28: the site owner's lists of cookies, and showing that each is essential)",
            ),
        ),
        Rule(
            "texts-complete",
            "the banner's texts present in every enabled language",
            (
                "GDPR art. 12(1) (concise, transparent, intelligible and easily accessible, in "
                "clear and plain language)",
                f"{DESIGN_GUIDELINES}, 4.5.4 'Language discontinuity' (category 'Fickle')",
            ),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    language: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "language": self.language,
            "sources": list(RULES[self.rule].sources),
        }


@dataclass(slots=True)
class CheckReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)

    def failed(self, rule: str) -> list[Finding]:
        return [f for f in self.findings if f.rule == rule]

    def as_dict(self) -> dict[str, Any]:
        broken = {f.rule for f in self.findings if f.severity is Severity.ERROR}
        return {
            "schema": "consentgate-check",
            "version": 1,
            "ok": self.ok,
            "rules": [
                {"rule": r.id, "title": r.title, "ok": r.id not in broken, "sources": r.sources}
                for r in RULES.values()
            ],
            "findings": [f.as_dict() for f in self.findings],
        }


# -- finding the middleware ----------------------------------------------------------------


def find_middleware(app: Any) -> ConsentMiddleware | None:
    """The ``ConsentMiddleware`` in an app's wrapper chain, or None.

    From ``app``, each object's ``middleware_stack``, ``app``, ``application``, ``asgi_app``,
    ``_app``, ``wrapped`` and ``middleware``, and its ``plugins`` (Litestar's), are followed
    (breadth first, 64 objects at most). A Starlette or
    FastAPI app builds its stack on its first request: one not built yet is built here (as
    that first request would, and kept), so ``app.add_middleware(ConsentMiddleware, …)`` is
    found too."""
    todo: list[Any] = [app]
    seen: set[int] = set()
    while todo and len(seen) < 64:
        obj = todo.pop(0)
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, ConsentMiddleware):
            return obj
        if getattr(obj, "middleware_stack", False) is None and callable(
            getattr(obj, "build_middleware_stack", None)
        ):
            obj.middleware_stack = obj.build_middleware_stack()
        todo += [getattr(obj, name, None) for name in WRAPPED]
        todo += _plugins(obj)
    return None


def _plugins(obj: Any) -> list[Any]:
    """An app's plugins (Litestar's ``plugins``: ``consentgate.litestar.ConsentPlugin`` keeps
    its middleware as ``.middleware``)."""
    plugins = getattr(obj, "plugins", None)
    if plugins is None or isinstance(plugins, (str, bytes)):
        return []
    try:
        return list(plugins)[:64]
    except TypeError:  # (not a collection)
        return []


def load_app(spec: str) -> Any:
    """``module:attribute`` (``attribute`` may be dotted), imported with the current directory
    on the path, as uvicorn does."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{spec!r} is not MODULE:ATTRIBUTE (e.g. myproject.asgi:app)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"{module_name} has no attribute {attribute!r}") from None
    return obj


# -- the rendered banner -------------------------------------------------------------------

_HIDING = frozenset(("dialog", "details", "template", "noscript", "script", "style"))
_VOID = frozenset(("input", "br", "img", "meta", "link", "hr", "source", "wbr", "col"))


@dataclass(frozen=True, slots=True)
class Control:
    tag: str
    attrs: dict[str, str]
    first_layer: bool
    text_before: str  # the first layer's text before it


class _Banner(HTMLParser):
    """Controls, checkboxes and links of a rendered banner, and which are on its first layer."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, hides what it holds)
        self.text: list[str] = []
        self.controls: list[Control] = []
        self.links: list[Control] = []

    @property
    def first_layer(self) -> bool:
        return not any(hides for _, hides in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values: dict[str, str] = {}
        for name, value in attrs:
            values.setdefault(name, value or "")
        hides = "hidden" in values or (
            tag in _HIDING and not (tag == "details" and "open" in values)
        )
        hides = hides or (tag == "dialog" and "open" not in values)
        control = Control(tag, values, self.first_layer and not hides, " ".join(self.text))
        if tag in ("button", "input", "select"):
            self.controls.append(control)
        elif tag == "a" and "href" in values:
            self.links.append(control)
        if tag not in _VOID:
            self.stack.append((tag, hides))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if self.first_layer and data.strip():
            self.text.append(data.strip())


def read_banner(markup: str) -> _Banner:
    parser = _Banner()
    parser.feed(markup)
    parser.close()
    return parser


def _action(banner: _Banner, value: str) -> Control | None:
    return next(
        (
            c
            for c in banner.controls
            if c.first_layer and c.attrs.get("name") == "action" and c.attrs.get("value") == value
        ),
        None,
    )


def _looks(control: Control) -> tuple[str, str, frozenset[str], str]:
    attrs = control.attrs
    default = "submit" if control.tag == "button" else "text"
    return (
        control.tag,
        attrs.get("type", default).lower(),
        frozenset(attrs.get("class", "").split()),
        attrs.get("style", "").strip(),
    )


# -- the rules -----------------------------------------------------------------------------


class Checker:
    """Runs every rule on one middleware; ``paths`` are pages of the app to look at."""

    def __init__(self, middleware: ConsentMiddleware, app: Any = None, paths: Sequence[str] = ()):
        self.mw = middleware
        self.app = app if app is not None else middleware
        self.paths = paths
        self.policy: Policy = middleware.policy
        self.report = CheckReport()

    def add(
        self, rule: str, message: str, language: str | None = None, *, error: bool = True
    ) -> None:
        severity = Severity.ERROR if error else Severity.WARNING
        self.report.findings.append(Finding(rule, severity, message, language))

    def languages(self) -> list[str]:
        pages = self.mw.pages
        if pages.language:
            return [pages.language]
        return list(dict.fromkeys([*TEXTS, *pages.texts]))

    def run(self) -> CheckReport:
        self.lifetime()
        self.necessary()
        self.texts()
        # (No "with": that would run the app's lifespan, which a check does not need.)
        client = TestClient(self.mw, base_url="http://testserver")
        for lang in self.languages():
            self.banner(client, lang)
        self.privacy_page()
        self.withdraw()
        return self.report

    def banner(self, client: TestClient, lang: str) -> None:
        prefix = self.mw.prefix
        headers = {"accept-language": lang}
        response = client.get(prefix + "/banner", headers=headers)
        if response.status_code != 200:
            self.add("reject-first-layer", f"GET {prefix}/banner answered {response.status_code}")
            return
        banner = read_banner(response.text)
        self.reject(banner, lang)
        self.purposes(banner, lang)
        self.privacy(banner, lang)
        self.pre_ticked(banner, lang, "banner")
        preferences = client.get(prefix + "/preferences", headers=headers)
        if preferences.status_code == 200:
            self.pre_ticked(read_banner(preferences.text), lang, "preferences page")

    def reject(self, banner: _Banner, lang: str) -> None:
        accept, reject = _action(banner, "accept_all"), _action(banner, "reject_all")
        if reject is None:
            self.add("reject-first-layer", "no reject-all control on the first layer", lang)
        elif accept is not None and _looks(accept) != _looks(reject):
            self.add(
                "reject-first-layer",
                f"reject-all is {_describe(reject)} but accept-all is {_describe(accept)}: "
                "give them the same element, type, classes and style",
                lang,
            )

    def pre_ticked(self, banner: _Banner, lang: str, where: str) -> None:
        required = self.policy.required
        for control in banner.controls:
            attrs = control.attrs
            if attrs.get("type", "").lower() not in ("checkbox", "radio"):
                continue
            if (
                "checked" in attrs
                and "disabled" not in attrs
                and attrs.get("value") not in required
            ):
                self.add(
                    "no-pre-ticked",
                    f"the {where} ticks {attrs.get('name', '?')}={attrs.get('value', '?')!r} "
                    "before the visitor chose",
                    lang,
                )

    def purposes(self, banner: _Banner, lang: str) -> None:
        first = next(
            (c for c in banner.controls if c.first_layer and c.attrs.get("name") == "action"),
            None,
        )
        before = (first.text_before if first is not None else " ".join(banner.text)).casefold()
        missing = [title for title in self.titles(lang) if title.casefold() not in before]
        if missing:
            self.add(
                "purposes-first",
                f"the first layer does not name {', '.join(missing)} before its buttons",
                lang,
            )

    def titles(self, lang: str) -> list[str]:
        pages = self.mw.pages
        texts = dict(TEXTS["en"])
        texts.update(TEXTS.get(lang, {}))
        texts.update(pages.texts.get(lang, {}))
        views = category_views(self.policy, Consent(granted=self.policy.required))
        localised = localise_categories(views, texts, pages.texts.get(lang))
        return [v.title for v in localised if not v.required]

    def privacy(self, banner: _Banner, lang: str) -> None:
        url = self.policy.privacy_policy_url
        if not any(link.first_layer and link.attrs.get("href") == url for link in banner.links):
            self.add("privacy-link", f"no link to {url} on the first layer", lang)

    def privacy_page(self) -> None:
        """The privacy policy, when it is a page of the app: a link to nowhere informs nobody
        (EDPB 03/2022's "Dead end"). A warning: the app may need more than a check gives it."""
        url = self.policy.privacy_policy_url
        if not url.startswith("/"):
            return
        client = TestClient(self.app, base_url="http://testserver", raise_server_exceptions=False)
        status = client.get(url).status_code
        if status >= 400:
            self.add("privacy-link", f"{url} answers {status}", error=False)

    def lifetime(self) -> None:
        days = self.mw.cookie.max_age / 86400
        if self.mw.cookie.max_age > MAX_LIFETIME:
            self.add(
                "consent-lifetime",
                f"CookieSettings(max_age=…) keeps a choice {days:g} days: at most 396 "
                "(13 months); the CNIL recommends 6 months (183)",
            )

    def necessary(self) -> None:
        required = self.policy.required
        builtin = {v.id for v in BUILTIN_VENDORS}
        registry = VendorIndex(BUILTIN_VENDORS)
        for vendor in self.policy.vendors:
            if vendor.category in required:
                known = " (a known tracker)" if vendor.id in builtin else ""
                self.add(
                    "vendors-necessary",
                    f"vendor {vendor.id!r}{known} is in the necessary category {vendor.category!r}",
                )
        for pattern in self.policy.allow:
            found = registry.match_url(f"https://{pattern}".encode())
            if found is not None:
                self.add(
                    "vendors-necessary",
                    f"the allow-list entry {pattern!r} lets {found.name} ({found.category}) run "
                    "without consent",
                )
        for name, category in self.policy.cookie_pairs:
            if category not in required:
                continue
            registered = registry.cookie_category(name.rstrip("*"))
            entry = cookiedb.lookup(name.rstrip("*"))
            if registered is not None:
                self.add(
                    "vendors-necessary",
                    f"cookie {name!r} is declared {category!r} but is "
                    f"{registered[1] or 'a tracker'}'s ({registered[0]})",
                )
            elif entry is not None and entry.category is not None:
                # The database alone: names are shared (Django's "sessionid" is also an
                # Instagram cookie there), so the site may well be right. Look at it.
                self.add(
                    "vendors-necessary",
                    f"cookie {name!r} is declared {category!r}; the Open Cookie Database "
                    f"knows a cookie of that name as {entry.platform}'s ({entry.category})",
                    error=False,
                )

    def texts(self) -> None:
        pages = self.mw.pages
        for lang in self.languages():
            own = pages.texts.get(lang, {})
            if lang not in TEXTS:
                missing = [k for k in BANNER_KEYS if not own.get(k)]
                if missing:
                    self.add(
                        "texts-complete",
                        f"texts={{{lang!r}: …}} lacks {', '.join(missing)}: the banner shows "
                        "English there",
                        lang,
                    )
            empty = [k for k, v in own.items() if not str(v).strip()]
            if empty:
                self.add("texts-complete", f"empty texts: {', '.join(empty)}", lang)
            if lang != "en":
                self._site_categories(lang, own)

    def _site_categories(self, lang: str, own: Mapping[str, str]) -> None:
        defaults = {c.name: c for c in Policy().categories}
        for category in self.policy.categories:
            default = defaults.get(category.name)
            worded = default is None or default.title != category.title
            if worded and f"category.{category.name}.title" not in own:
                self.add(
                    "texts-complete",
                    f"category {category.name!r} is worded by the site but has no "
                    f"category.{category.name}.title for {lang!r}",
                    lang,
                    error=False,
                )

    def withdraw(self) -> None:
        if not self.paths:
            if not self.mw.inject_settings:
                self.add(
                    "withdraw-everywhere",
                    "inject_settings=False: every page must render cookie_settings_link(); "
                    "pass pages to look at (--path /) to check it",
                    error=False,
                )
            return
        prefix = self.mw.prefix
        client = TestClient(self.app, base_url="http://testserver", follow_redirects=False)
        chose = client.post(
            prefix + "/consent",
            data={"action": "reject_all"},
            headers={"origin": "http://testserver"},
        )
        if chose.status_code >= 400:
            self.add("withdraw-everywhere", f"POST {prefix}/consent answered {chose.status_code}")
            return
        for path in self.paths:
            self._withdraw_on(client, path)

    def _withdraw_on(self, client: TestClient, path: str) -> None:
        page = client.get(path)
        if "html" not in page.headers.get("content-type", ""):
            return
        reopen = self.mw.prefix + "/preferences"
        if "data-consentgate-open" not in page.text and reopen not in page.text:
            self.add(
                "withdraw-everywhere",
                f"{path} has no control to change the choice (cookie_settings_link())",
            )


def _describe(control: Control) -> str:
    tag, kind, classes, style = _looks(control)
    text = f"<{tag} type={kind}"
    if classes:
        text += f" class={' '.join(sorted(classes))!r}"
    if style:
        text += f" style={style!r}"
    return text + ">"


def check_middleware(
    middleware: ConsentMiddleware, *, app: Any = None, paths: Sequence[str] = ()
) -> CheckReport:
    """Every rule on a middleware; ``paths`` (pages of ``app``) for the withdraw control."""
    return Checker(middleware, app, paths).run()


def check_app(app: Any, *, paths: Sequence[str] = ()) -> CheckReport:
    """``check_middleware`` on the ``ConsentMiddleware`` found in ``app``; ValueError when
    there is none."""
    middleware = find_middleware(app)
    if middleware is None:
        raise ValueError(
            "no ConsentMiddleware found in the app's wrapper chain (looked at "
            + ", ".join(WRAPPED)
            + ")"
        )
    return check_middleware(middleware, app=app, paths=paths)


def format_report(report: CheckReport) -> str:
    lines: list[str] = []
    by_rule: dict[str, list[Finding]] = {}
    for finding in report.findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    for rule in RULES.values():
        found = by_rule.get(rule.id, [])
        errors = any(f.severity is Severity.ERROR for f in found)
        mark = "FAIL" if errors else ("warn" if found else "ok")
        lines.append(f"{mark:<4} {rule.id:<20} {rule.title}")
        for finding in found:
            where = f"[{finding.language}] " if finding.language else ""
            lines.append(f"       {finding.severity.value}: {where}{finding.message}")
        if found:
            lines += [f"       source: {s}" for s in rule.sources]
    lines.append("OK" if report.ok else "FAILED")
    return "\n".join(lines) + "\n"


def rules() -> Iterator[Rule]:
    return iter(RULES.values())
