"""Large first-party scripts in Chromium (issue 15): one that names a vendor's URL as data runs
for a visitor without consent and contacts nothing; one that loads it (any size) waits for
consent, and then loads it. The connection log sees every contact (tests/browser/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import LiveServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentgate import ConsentMiddleware

from .conftest import VisitFactory

GPT = "https://www.googletagservices.com/tag/js/gpt.js"
#: 9 KB of site code naming no vendor: a script with it is over the 8 KB snippet size.
BUNDLE = "".join(f"app.f{i} = function (x) {{ return x * {i}; }};\n" for i in range(300))

# The Guardian's shape (../shared/bench-pages/guardian-1.html): a config object naming gpt.js
# for another file to load; the bootstrap itself starts the site.
DATA = f"""<script>
var app = {{}};
window.guardian = {{"config": {{"page": {{"shouldHideAdverts": false,
  "googletagJsUrl": "{GPT}", "idApiUrl": "https://idapi.example.com"}}}}}};
{BUNDLE}
window.__started = "site";
</script>"""

# The same bundle with a loader of gpt.js inside: DoubleClick's, whatever the size.
LOADER = f"""<script>
var app = {{}};
{BUNDLE}
var gpt = document.createElement("script");
gpt.async = true;
gpt.src = "{GPT}";
document.head.appendChild(gpt);
window.__started = "site";
</script>"""

PAGES = {"data": DATA, "loader": LOADER}


def page(request: Request) -> Response:
    body = PAGES.get(request.path_params["name"])
    if body is None:
        return Response("", status_code=404)
    return HTMLResponse(f"<!doctype html><html><head><title>bundle</title></head><body>{body}")


@pytest.fixture(scope="module")
def bundles() -> Iterator[LiveServer]:
    app = ConsentMiddleware(
        Starlette(routes=[Route("/page/{name}", page)]),
        secret_key="loader-shapes-secret-not-for-prod",
        consent_log=None,
    )
    with LiveServer(app) as live:
        yield live


def test_a_bundle_naming_a_vendor_url_as_data_runs_and_contacts_nothing(
    visit: VisitFactory, bundles: LiveServer
) -> None:
    v = visit(live=bundles)
    v.goto("/page/data")
    v.settle(500)
    assert v.page.evaluate("window.__started") == "site"
    assert v.page.evaluate("window.guardian.config.page.googletagJsUrl") == GPT
    assert v.net.contacted() == []
    assert v.errors == []


def test_a_bundle_that_loads_the_vendor_waits_for_consent(
    visit: VisitFactory, bundles: LiveServer
) -> None:
    fresh = visit(live=bundles)
    fresh.goto("/page/loader")
    fresh.settle(500)
    assert fresh.page.evaluate("window.__started === undefined")
    assert fresh.net.contacted() == []
    # The control: with marketing granted, the same page loads gpt.js in Chromium.
    granted = visit(live=bundles)
    response = granted.context.request.post(
        granted.server.url("/consentgate/consent"),
        form={"action": "save", "category": "marketing"},
        max_redirects=0,
    )
    assert response.status == 303
    granted.goto("/page/loader")
    granted.net.wait_for(granted.page, {"www.googletagservices.com"})
    assert granted.page.evaluate("window.__started") == "site"
