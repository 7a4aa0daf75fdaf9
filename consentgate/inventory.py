"""Inventory in development: what an app sets and serves that the policy does not classify.

With ``ConsentMiddleware(app, …, debug=True)`` an ``Observer`` sits between the middleware and
the app (nothing is added to any request's path otherwise: the middleware calls the app
directly). It reads what the app sends, before consentgate gates it: the name of every cookie
the app sets, and the third-party scripts, iframes, pixels and other resources of its HTML pages
that no rule covers (no vendor, no allow-list entry). Each is logged once per process, on the
``consentgate.inventory`` logger at WARNING level (so it shows with no logging configured), as
one line holding the marker ``consentgate-inventory`` and a JSON object::

    consentgate-inventory {"cookie": "_exp_id", "declared": null, "kind": "cookie", "path": "/"}
    consentgate-inventory {"host": "cdn.stats.example", "kind": "script", "path": "/", "url": "https://cdn.stats.example/s.js"}

``consentgate inventory LOGFILE`` reads such lines from any log (whatever the formatter puts
before the marker; a JSON-lines file of the objects alone is read too) and prints a draft of
``vendors=[Vendor(…)]`` and ``cookies={…}`` to paste into ``Policy(…)``.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import cookiedb
from .audit import Classifier, declared_category, elements, loads_resource, resource_kind
from .html import Gate
from .policy import Policy

logger = logging.getLogger("consentgate.inventory")
MARK = "consentgate-inventory"
#: The most of an HTML body read (the rest of a bigger page is not looked at).
MAX_BODY = 2 * 1024 * 1024
#: The most distinct things remembered (and so logged) per process.
MAX_SEEN = 10_000
#: Kinds that become a draft ``Vendor``; the others (images, styles, media) are only listed.
TRACKING_KINDS = ("script", "iframe", "pixel")


class Observer:
    """An ASGI app between ``ConsentMiddleware`` and the site's app, logging what is new."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate
        self.policy: Policy = gate.policy
        self.seen: set[tuple[str, str]] = set()
        self._classifiers: dict[str, Classifier] = {}
        self.failed = False  # (its own failure logged already)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _Watch(self, scope, send).send)

    def report(self, key: tuple[str, str], record: dict[str, Any]) -> None:
        if key in self.seen:
            return
        if len(self.seen) >= MAX_SEEN:
            if len(self.seen) == MAX_SEEN:
                self.seen.add(("", ""))
                logger.warning("%s: %d things logged; no more this process", MARK, MAX_SEEN)
            return
        self.seen.add(key)
        logger.warning("%s %s", MARK, json.dumps(record, sort_keys=True))

    def classifier(self, host: str) -> Classifier:
        found = self._classifiers.get(host)
        if found is None:
            if len(self._classifiers) > 64:
                self._classifiers.clear()
            found = self._classifiers[host] = Classifier(self.policy, host, self.gate)
        return found

    def cookie(self, name: str, path: str) -> None:
        if ("cookie", name) in self.seen:
            return
        record: dict[str, Any] = {
            "kind": "cookie",
            "cookie": name,
            "path": path,
            "declared": declared_category(self.policy, name),
        }
        self.report(("cookie", name), record)

    def page(self, body: bytes, charset: str, host: str, path: str) -> None:
        classifier = self.classifier(host)
        for element in elements(body.decode(charset, "replace")):
            if not loads_resource(element):
                continue
            url = element.source()
            covered, url_host = classifier.covered(url) if url else (True, "")
            if covered:
                continue
            kind = resource_kind(element)
            self.report(
                (kind, url.split("?", 1)[0]),
                {"kind": kind, "url": url, "host": url_host, "path": path},
            )


class _Watch:
    """One response: its cookies at the start, its HTML body (bounded) at the end."""

    def __init__(self, observer: Observer, scope: Scope, send: Send) -> None:
        self.observer = observer
        self.scope = scope
        self.next = send
        self.body: bytearray | None = None
        self.charset = "utf-8"

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            # Read before it goes on: consentgate drops the cookies of categories not granted
            # from the very header list it is given.
            self.guarded(self.start, message)
        await self.next(message)  # (a page goes on first: it is read after)
        if kind == "http.response.body" and self.body is not None:
            if len(self.body) < MAX_BODY:
                self.body += message.get("body", b"")[: MAX_BODY - len(self.body)]
            if not message.get("more_body", False):
                body, self.body = bytes(self.body), None
                self.guarded(self.read_page, body)

    def read_page(self, body: bytes) -> None:
        self.observer.page(body, self.charset, self.host(), self.scope.get("path", ""))

    def guarded(self, step: Callable[[Any], None], argument: Any) -> None:
        """A development aid never breaks the response it watches: a failure of its own is
        logged (once a process) and the response goes on as if it were not there."""
        try:
            step(argument)
        except Exception:
            self.body = None
            if not self.observer.failed:
                self.observer.failed = True
                logger.exception("%s: the inventory could not read a response", MARK)

    def start(self, message: Message) -> None:
        path = self.scope.get("path", "")
        html = False
        for name, value in message.get("headers", ()):
            name = name.lower()
            if name == b"set-cookie":
                self.observer.cookie(value.split(b"=", 1)[0].strip().decode("latin-1"), path)
            elif name == b"content-type":
                text = value.decode("latin-1").lower()
                html = text.startswith(("text/html", "application/xhtml+xml"))
                found = re.search(r"charset=[\"']?([\w.:-]+)", text)
                self.charset = _codec(found.group(1) if found else "utf-8")
            elif name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
                html = False  # (a compressed body is not read: put compression outside)
        self.body = bytearray() if html else None

    def host(self) -> str:
        for name, value in self.scope.get("headers", ()):
            if name == b"host":
                return str(value.decode("latin-1"))
        server = self.scope.get("server")
        return str(server[0]) if server else ""


def _codec(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


# -- the draft -----------------------------------------------------------------------------


@dataclass(slots=True)
class Inventory:
    """What a log says: cookies (name -> declared category or None, pages) and third-party
    resources (kind, url, host, pages)."""

    cookies: dict[str, tuple[str | None, list[str]]] = field(default_factory=dict)
    resources: dict[tuple[str, str], tuple[str, list[str]]] = field(default_factory=dict)
    #: Services (vendor ids) the rewriter gated on the pages, with those pages: what the site
    #: uses, to declare as ``Policy(services=[…])`` (pages.Services logs them with ``debug``).
    services: dict[str, list[str]] = field(default_factory=dict)
    records: int = 0

    def add(self, record: Mapping[str, Any]) -> None:
        kind, path = record.get("kind"), str(record.get("path", ""))
        if kind == "service" and isinstance(record.get("service"), str):
            _add_page(self.services.setdefault(record["service"], []), path)
        elif kind == "cookie" and isinstance(record.get("cookie"), str):
            declared = record.get("declared")
            entry = self.cookies.setdefault(
                record["cookie"], (declared if isinstance(declared, str) else None, [])
            )
            _add_page(entry[1], path)
        elif isinstance(kind, str) and isinstance(record.get("url"), str):
            host = str(record.get("host", ""))
            entry2 = self.resources.setdefault((kind, record["url"]), (host, []))
            _add_page(entry2[1], path)
        else:
            return
        self.records += 1


def _add_page(pages: list[str], path: str) -> None:
    if path and path not in pages and len(pages) < 5:
        pages.append(path)


def read_log(lines: Iterable[str], inventory: Inventory | None = None) -> Inventory:
    """The inventory records of a log (added to ``inventory`` when given): lines holding the
    marker, or JSON objects alone."""
    inventory = inventory if inventory is not None else Inventory()
    for line in lines:
        at = line.find(MARK)
        text = line[at + len(MARK) :] if at >= 0 else line
        text = text.strip()
        if not text.startswith("{"):
            continue
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if isinstance(record, dict):
            inventory.add(record)
    return inventory


def vendor_id(domain: str) -> str:
    """A vendor id (Vendor's rules: lowercase, letters first, 32 at most) for a domain."""
    text = re.sub(r"[^a-z0-9]+", "-", domain.lower()).strip("-") or "vendor"
    if not text[0].isalpha():
        text = "v-" + text
    return text[:32].rstrip("-")


def site_domain(host: str) -> str:
    """The domain a host belongs to, roughly: its last two labels (three under a two-letter
    second level such as ``co.uk``)."""
    labels = host.lower().strip(".").split(".")
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= 3 else 2
    return ".".join(labels[-keep:])


def draft(inventory: Inventory) -> str:
    """Keyword arguments of ``Policy(…)``: a ``Vendor`` per third-party domain that serves
    scripts, iframes or pixels, and every cookie not declared yet, each with a comment saying
    what is known of it. Categories are guesses to review: an unknown one is ``marketing``,
    the most restrictive (privacy fails closed)."""
    lines = [
        f"# Drafted by `consentgate inventory` from {inventory.records} log records.",
        "# Review every category before use, then paste into Policy(...).",
    ]
    lines += _vendors(inventory)
    lines += _cookies(inventory)
    lines += _services(inventory)
    others = sorted(
        {
            (host, kind)
            for (kind, _), (host, _) in inventory.resources.items()
            if kind not in TRACKING_KINDS
        }
    )
    if others:
        lines.append(
            "# Third-party hosts serving images, styles or media (no rule; nothing gated):"
        )
        lines += [f"#   {host} ({kind})" for host, kind in others]
    return "\n".join(lines) + "\n"


def _vendors(inventory: Inventory) -> list[str]:
    domains: dict[str, dict[str, Any]] = {}
    for (kind, url), (host, pages) in sorted(inventory.resources.items()):
        if kind not in TRACKING_KINDS or not host:
            continue
        entry = domains.setdefault(site_domain(host), {"hosts": set(), "seen": []})
        entry["hosts"].add(host)
        if len(entry["seen"]) < 3:
            entry["seen"].append(f"{kind} {url} on {', '.join(pages) or '?'}")
    if not domains:
        return []
    lines = ["vendors=["]
    for domain, entry in sorted(domains.items()):
        lines += [f"    # {seen}" for seen in entry["seen"]]
        lines.append("    # (the category is a guess: the strictest)")
        urls = ", ".join(json.dumps(h) for h in sorted(entry["hosts"]))
        lines.append(
            f"    Vendor({json.dumps(vendor_id(domain))}, {json.dumps(domain)}, "
            f'"marketing", urls=({urls},)),'
        )
    lines.append("],")
    return lines


def _services(inventory: Inventory) -> list[str]:
    """``services=[…]``: the built-in services the pages use, which the banner then lists."""
    if not inventory.services:
        return []
    lines = ["# The services gated on the pages, which visitors are told about:"]
    lines += [f"#   {s} on {', '.join(on) or '?'}" for s, on in sorted(inventory.services.items())]
    lines.append(f"services={sorted(inventory.services)!r},")
    return lines


def _cookies(inventory: Inventory) -> list[str]:
    todo = sorted(name for name, (declared, _) in inventory.cookies.items() if declared is None)
    if not todo:
        return []
    lines = ["cookies={"]
    for name in todo:
        pages = ", ".join(inventory.cookies[name][1]) or "?"
        known = cookiedb.lookup(name)
        if known is not None:
            category = known.category or "necessary"
            note = (
                f"Open Cookie Database: {known.platform}, {known.ocd_category}, "
                f"{known.retention or 'lifetime unknown'}"
            )
        else:
            category = "marketing"
            note = "unknown: say what it is for ('necessary' if the site needs it to work)"
        lines.append(f"    {json.dumps(name)}: {json.dumps(category)},  # set on {pages}; {note}")
    lines.append("},")
    return lines
