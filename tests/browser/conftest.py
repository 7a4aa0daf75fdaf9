"""Real Chromium (Debian's /usr/bin/chromium driven by Playwright) against a real uvicorn server.

Two records of what a page contacts, each for what the other cannot do:
- every request the page makes goes through ``context.route``: requests to the test server pass,
  everything else is recorded and answered locally from ``fakes.py`` (the tests need vendors'
  scripts to run);
- every connection Chromium opens by itself (a preconnect, a speculative prefetch …) or for a
  request the route let through reaches the ``connections`` listener (``connections.py``): the
  browser maps every host name to it, so nothing leaves the machine.
``Network.contacted()`` joins the two: it is the authority on "nothing was contacted".

Each visit gets a fresh regular profile of its own (``launch_persistent_context``), not an
off-the-record context (``browser.new_context()``): Chromium carries out ``<link rel=preconnect>``
only in a regular profile, as a visitor's normal window does.

Every test under tests/browser/ carries the ``browser`` marker (tests/conftest.py gives it), so
``pytest -m "not browser"`` leaves them out. Nothing here imports Playwright before a browser test
runs: without it, the rest of the suite is collected and runs as usual.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from helpers import LiveServer

from consentgate.vendors import BUILTIN_VENDORS

from .connections import ConnectionLog, Contact
from .fakes import fake_for
from .site import build_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route
    from playwright.sync_api import Request as PwRequest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AXE_DEFAULT = Path.home() / ".cache/consentgate/axe-core-4.14.1/node_modules/axe-core/axe.min.js"

TRACKER_COOKIES = frozenset({"_ga", "_ga_TEST123", "_fbp", "_ym_uid", "_ym_d", "_exlib"})


# Module scope, not session: the sync API keeps an asyncio loop running in this thread while it
# is open, which would break every later test that calls asyncio.run().
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def vendor_hosts() -> set[str]:
    """The hosts the built-in registry gives wholly to a vendor, and the test site's vendor. A
    pattern with a path (google.com/pagead, facebook.com/tr) does not make its host a vendor's:
    a connection carries no path, and accounts.google.com is no tracker."""
    hosts = {url for vendor in BUILTIN_VENDORS for url in vendor.urls if "/" not in url}
    return hosts | {"example-analytics.com"}


@pytest.fixture(scope="session")
def connections() -> Iterator[ConnectionLog]:
    """A listener every host name maps to (see connections.py), for tests that launch
    browsers one after another (each visit has a log of its own)."""
    with ConnectionLog(vendor_hosts()) as log:
        yield log


@pytest.fixture(scope="module")
def browser(playwright: Playwright, connections: ConnectionLog) -> Iterator[Browser]:
    """A browser for off-the-record contexts; ``visit`` launches regular profiles instead."""
    # Playwright gives every launch a fresh temporary user-data-dir.
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + connections.chromium_args()
    )
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def axe_js() -> Path:
    path = Path(os.environ.get("CONSENTGATE_AXE_JS") or AXE_DEFAULT)
    if not path.is_file():
        pytest.fail(f"axe-core not found at {path}: run `source .ci/browser.sh <python>` first")
    return path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(build_app(consent_log=consent_log(tmp_path_factory))) as live:
        yield live


def consent_log(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A consent log of a test server's own: never the ./consentgate.sqlite3 of whoever runs
    the demo from the same folder."""
    return str(tmp_path_factory.mktemp("log") / "consentgate.sqlite3")


@dataclass
class Hit:
    url: str
    host: str
    path: str
    resource_type: str
    method: str


@dataclass
class Network:
    """Records every request (answering third parties from the fakes) and reads the connection
    log: together, everything the visit contacted."""

    origin: str
    connections: ConnectionLog
    hits: list[Hit] = field(default_factory=list)
    local: list[Hit] = field(default_factory=list)
    mark: float = 0.0

    def __post_init__(self) -> None:
        self.mark = self.connections.mark()

    def handle(self, route: Route, request: PwRequest) -> None:
        parts = urlsplit(request.url)
        hit = Hit(
            request.url, parts.hostname or "", parts.path, request.resource_type, request.method
        )
        if f"{parts.scheme}://{parts.netloc}" == self.origin:
            self.local.append(hit)
            route.continue_()
            return
        self.hits.append(hit)
        fake = fake_for(hit.host, parts.path)
        if fake.delay:
            time.sleep(fake.delay)
        route.fulfill(
            status=200,
            body=fake.body,
            content_type=fake.content_type,
            headers={"access-control-allow-origin": "*", "cache-control": "no-store"},
        )

    @property
    def hosts(self) -> set[str]:
        """The third-party hosts requested or connected to ("" for a connection that named none)."""
        return {h.host for h in self.hits} | self.connections.hosts(self.mark)

    def connected(self) -> list[Contact]:
        return self.connections.since(self.mark)

    def contacted(self) -> list[str]:
        """Every third-party request and connection since the visit began (or the last clear)."""
        return [h.url for h in self.hits] + [str(c) for c in self.connected()]

    def clear(self) -> None:
        self.hits.clear()
        self.local.clear()
        self.mark = self.connections.mark()

    def documents(self) -> list[Hit]:
        return [h for h in self.local if h.resource_type == "document"]

    def wait_for(self, page: Page, hosts: set[str], timeout: float = 8.0) -> None:
        """Until each of ``hosts`` was requested (a connection alone does not count: Chromium
        may connect before it asks, a navigation's preconnect)."""
        self._wait(page, hosts, lambda: {h.host for h in self.hits}, timeout)

    def wait_for_contact(self, page: Page, hosts: set[str], timeout: float = 8.0) -> None:
        """Until each of ``hosts`` was requested or connected to."""
        self._wait(page, hosts, lambda: self.hosts, timeout)

    def _wait(
        self, page: Page, hosts: set[str], seen: Callable[[], set[str]], timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        while not hosts <= seen():
            if time.monotonic() > deadline:
                raise AssertionError(f"never reached: {sorted(hosts - seen())}; {self.contacted()}")
            page.wait_for_timeout(50)


@dataclass
class Visit:
    context: BrowserContext
    page: Page
    net: Network
    server: LiveServer
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(self.server.url(path), wait_until="networkidle")

    def cookie_names(self) -> set[str]:
        return {c["name"] for c in self.context.cookies()}

    def tracker_cookies(self) -> set[str]:
        return self.cookie_names() & TRACKER_COOKIES

    def log(self) -> list[str]:
        return list(self.page.evaluate("window.__cg || []"))

    def settle(self, ms: int = 300) -> None:
        self.page.wait_for_timeout(ms)


# Runs before any page script: collects consentgate:change events and layout shifts.
PROBE = """
window.__changes = [];
document.addEventListener('consentgate:change', function (e) { window.__changes.push(e.detail); });
window.__shift = 0;
window.__shifts = [];
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (e) {
    if (e.hadRecentInput) return;
    window.__shift += e.value;
    window.__shifts.push(e.sources.map(function (s) {
      return (s.node && s.node.outerHTML || '').slice(0, 80) + ' ' +
        JSON.stringify(s.previousRect) + ' -> ' + JSON.stringify(s.currentRect);
    }));
  });
}).observe({type: 'layout-shift', buffered: true});
"""


VisitFactory = Callable[..., Visit]


def launch_profile(
    playwright: Playwright, connections: ConnectionLog, profile: Path, **options: Any
) -> BrowserContext:
    """Chromium with a fresh regular profile in ``profile``, every connection mapped to the
    listener."""
    return playwright.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS + connections.chromium_args(),
        **options,
    )


@pytest.fixture
def visit(playwright: Playwright, server: LiveServer, tmp_path: Path) -> Iterator[VisitFactory]:
    """Opens visits: each a browser with a fresh regular profile and a connection log of its
    own (a test that has two visitors at once knows whose browser contacted what)."""
    contexts: list[BrowserContext] = []
    with contextlib.ExitStack() as stack:

        def open_visit(
            *, live: LiveServer | None = None, javascript: bool = True, **options: Any
        ) -> Visit:
            target = live or server
            connections = stack.enter_context(ConnectionLog(vendor_hosts()))
            profile = tmp_path / f"profile-{len(contexts)}"
            context = launch_profile(
                playwright, connections, profile, java_script_enabled=javascript, **options
            )
            contexts.append(context)
            net = Network(target.origin, connections)
            return start_visit(context, net, target, javascript=javascript)

        yield open_visit
        for context in contexts:
            context.close()


def start_visit(
    context: BrowserContext, net: Network, target: LiveServer, *, javascript: bool
) -> Visit:
    context.route("**/*", net.handle)
    page = context.pages[0] if context.pages else context.new_page()
    if javascript:
        page.add_init_script(PROBE)
    v = Visit(context, page, net, target)
    page.on("console", lambda m: v.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: v.errors.append(str(e)))
    return v
