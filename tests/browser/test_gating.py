"""What leaves the page before and after a choice, measured in real Chromium."""

from __future__ import annotations

from .conftest import TRACKER_COOKIES, Visit, VisitFactory

ANALYTICAL_HOSTS = {
    "www.googletagmanager.com",  # gtag.js (GA4) and gtm.js
    "www.google-analytics.com",  # GA4's collect beacon
    "mc.yandex.ru",
    "cloud.umami.is",
    "lib.example-analytics.com",
}
MARKETING_HOSTS = {
    "connect.facebook.net",
    "www.facebook.com",
    "www.youtube.com",
    "px.ads.linkedin.com",
}
ALL_HOSTS = ANALYTICAL_HOSTS | MARKETING_HOSTS
ALL_SCRIPTS = {
    "gtag.js",
    "gtm.js",
    "fbevents.js",
    "tag.js",
    "umami.js",
    "examplelib.js",
    "examplelib.init",
}
ANALYTICAL_COOKIES = {"_ga", "_ga_TEST123", "_ym_uid", "_ym_d", "_exlib"}

# Each tracker's first request, in the order the elements appear in the page (GA4 sits in <head>).
DOCUMENT_ORDER = [
    "https://www.googletagmanager.com/gtag/js",
    "https://lib.example-analytics.com/lib.js",
    "https://www.googletagmanager.com/gtm.js",
    "https://connect.facebook.net/en_US/fbevents.js",
    "https://mc.yandex.ru/metrika/tag.js",
    "https://cloud.umami.is/script.js",
    "https://www.youtube.com/embed/",
    "https://px.ads.linkedin.com/collect/",
]


def first_requests(v: Visit) -> list[str]:
    order = []
    for hit in v.net.hits:
        prefix = next((p for p in DOCUMENT_ORDER if hit.url.startswith(p)), None)
        if prefix and prefix not in order:
            order.append(prefix)
    return order


def fresh(visit: VisitFactory, path: str = "/", **options: object) -> Visit:
    v = visit(**options)
    v.goto(path)
    return v


def banner_visible(v: Visit) -> bool:
    return bool(v.page.is_visible("#consentgate-banner"))


def test_fresh_visitor_contacts_no_tracker_and_gets_no_tracker_cookie(
    visit: VisitFactory,
) -> None:
    v = fresh(visit)
    v.settle(500)
    assert v.net.contacted() == []
    assert v.tracker_cookies() == set()
    assert v.log() == []
    assert banner_visible(v)
    # The YouTube embed waits behind its placeholder.
    assert v.page.is_visible(".consentgate-placeholder[data-consent-service=youtube]")
    assert not v.page.is_visible("iframe[title='YouTube video player']")
    assert v.errors == []


def test_accept_all_loads_everything_in_document_order_without_reload(
    visit: VisitFactory,
) -> None:
    v = fresh(visit)
    v.page.evaluate("window.__sameDocument = true")
    documents = len(v.net.documents())
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.net.wait_for(v.page, ALL_HOSTS)
    v.page.wait_for_function("(window.__cg || []).length >= 7")
    v.settle()

    assert set(v.log()) == ALL_SCRIPTS
    # The inline call ran only once its (slow, blocking) loader had run.
    assert v.log().index("examplelib.js") < v.log().index("examplelib.init")
    # Scripts in document order (each blocking one waited for); the iframe and the pixel after
    # them (the browser starts those two fetches in an order of its own).
    assert first_requests(v)[:6] == DOCUMENT_ORDER[:6]
    assert set(first_requests(v)[6:]) == set(DOCUMENT_ORDER[6:])
    assert v.errors == []
    # No reload: same document, no second navigation.
    assert v.page.evaluate("window.__sameDocument") is True
    assert len(v.net.documents()) == documents
    assert not banner_visible(v)
    assert v.page.is_visible("#consentgate-settings")
    assert v.page.is_visible("iframe[title='YouTube video player']")
    assert v.page.locator(".consentgate-placeholder").count() == 0
    assert {"_ga", "_fbp", "_ym_uid", "_exlib"} <= v.tracker_cookies()

    state = v.page.evaluate("window.consentgate.get()")
    assert state["decided"] is True
    assert set(state["granted"]) == {"necessary", "analytical", "preference", "marketing"}
    changes = v.page.evaluate("window.__changes")
    assert len(changes) == 1 and changes[0]["granted"] == state["granted"]


def test_customise_analytical_only_loads_only_analytics(visit: VisitFactory) -> None:
    v = fresh(visit)
    v.page.click("#consentgate-banner [data-consentgate-customise]")
    v.page.check("#consentgate-dialog input[name=category][value=analytical]")
    v.page.click("#consentgate-dialog button[value=save]")
    v.net.wait_for(v.page, ANALYTICAL_HOSTS)
    v.page.wait_for_function("(window.__cg || []).includes('examplelib.init')")
    v.settle(500)

    assert v.net.hosts == ANALYTICAL_HOSTS
    assert set(v.log()) == {
        "gtag.js",
        "gtm.js",
        "tag.js",
        "umami.js",
        "examplelib.js",
        "examplelib.init",
    }
    assert v.tracker_cookies() == ANALYTICAL_COOKIES
    assert v.page.is_visible(".consentgate-placeholder[data-consent-service=youtube]")
    assert v.page.evaluate("window.consentgate.get().granted") == ["analytical", "necessary"]


def test_placeholder_allows_one_embed_without_anything_else(visit: VisitFactory) -> None:
    v = fresh(visit)
    v.page.click(".consentgate-placeholder[data-consent-service=youtube] button")
    v.net.wait_for(v.page, {"www.youtube.com"})
    v.settle(500)
    assert v.net.hosts == {"www.youtube.com"}
    assert v.page.is_visible("iframe[title='YouTube video player']")
    assert v.page.evaluate("window.consentgate.get().services") == ["youtube"]


def test_returning_visitor_loads_trackers_with_the_page(visit: VisitFactory) -> None:
    v = fresh(visit)
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.net.wait_for(v.page, ALL_HOSTS)
    v.goto("/plain")
    v.net.clear()

    v.goto("/")
    # Served live: nothing inert is left for the client to activate, no banner, no click needed.
    assert v.page.locator("script[type='text/plain'], [data-consent-src]").count() == 0
    v.net.wait_for(v.page, ALL_HOSTS)
    assert first_requests(v)[:2] == DOCUMENT_ORDER[:2]
    assert v.page.locator("#consentgate-banner").count() == 0
    assert v.page.is_visible("#consentgate-settings")
    assert v.page.evaluate("window.consentgate.get().decided") is True


def test_withdrawal_removes_cookies_and_nothing_fires_after_reload(visit: VisitFactory) -> None:
    v = fresh(visit)
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.net.wait_for(v.page, ALL_HOSTS)
    v.page.wait_for_function("(window.__cg || []).length >= 7")
    assert {"_ga", "_fbp", "_ym_uid", "_exlib"} <= v.tracker_cookies()

    v.page.click("#consentgate-settings")
    v.page.wait_for_selector("#consentgate-dialog button[value=reject_all]", state="visible")
    v.net.clear()
    with v.page.expect_navigation(wait_until="networkidle"):
        v.page.click("#consentgate-dialog button[value=reject_all]")
    v.settle(500)

    assert v.tracker_cookies() == set(), v.context.cookies()
    assert v.net.contacted() == []
    assert v.log() == []
    state = v.page.evaluate("window.consentgate.get()")
    assert state["decided"] is True and state["granted"] == ["necessary"]


def test_without_javascript_the_form_records_the_choice(visit: VisitFactory) -> None:
    v = fresh(visit, javascript=False)
    assert v.net.contacted() == []
    # "Customise" is the preferences page, the second layer without JavaScript.
    with v.page.expect_navigation():
        v.page.click("#consentgate-banner [data-consentgate-customise]")
    assert v.page.url == v.server.url("/consentgate/preferences?next=%2F")
    v.page.check("#consentgate-preferences input[name=category][value=analytical]")
    with v.page.expect_navigation(wait_until="networkidle"):
        v.page.click("#consentgate-preferences button[value=save]")

    assert v.page.url == v.server.url("/")
    assert v.page.locator("#consentgate-banner").count() == 0
    assert v.page.is_visible("#consentgate-settings")
    # Without scripts only the <noscript> pixels and the markup elements can load: Metrica's
    # analytical pixel does, the marketing ones (Meta, LinkedIn, YouTube) stay gated.
    v.settle(300)
    assert v.net.hosts == {"mc.yandex.ru"}, v.net.contacted()
    assert not (v.cookie_names() & TRACKER_COOKIES)


def test_without_javascript_accept_all_lets_markup_trackers_load(visit: VisitFactory) -> None:
    v = fresh(visit, javascript=False)
    with v.page.expect_navigation(wait_until="networkidle"):
        v.page.click("#consentgate-banner button[value=accept_all]")
    v.settle(300)
    assert v.net.hosts == {
        "mc.yandex.ru",
        "www.facebook.com",
        "www.youtube.com",
        "px.ads.linkedin.com",
    }


def test_activation_restores_every_attribute_and_element_kind(visit: VisitFactory) -> None:
    v = fresh(visit, "/elements")
    assert v.net.contacted() == []
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.page.wait_for_function("(window.__cg || []).includes('module.js')")
    v.settle()
    module = v.page.evaluate(
        """() => { const s = document.getElementById('mod');
          return [s.type, s.integrity, s.crossOrigin, s.referrerPolicy, s.src]; }"""
    )
    assert module[0] == "module" and module[1].startswith("sha384-")
    assert module[2:] == ["anonymous", "no-referrer", "https://lib.example-analytics.com/module.js"]
    requested = {h.url.split("?", 1)[1] for h in v.net.hits if h.host == "px.ads.linkedin.com"}
    # <picture> picks its <source>; the 1x srcset wins over src; the preloads are fetched, and
    # the poster, the image button, the table's background and the captions track.
    assert requested == {
        "preload=1",
        "source=1",
        "srcset=1",
        "imagesrcset=1",
        "poster=1",
        "input=1",
        "background=1",
        "track=1",
    }
    assert v.errors == []


def test_a_link_pings_a_vendor_only_after_consent(visit: VisitFactory) -> None:
    v = fresh(visit, "/elements")
    v.page.click("#pinged")
    v.settle(300)
    assert v.net.contacted() == []
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.page.wait_for_function("(window.__cg || []).includes('module.js')")
    v.settle()
    v.net.clear()
    v.page.click("#pinged")
    v.net.wait_for(v.page, {"px.ads.linkedin.com"})
    assert [(h.method, h.url.split("?", 1)[1]) for h in v.net.hits] == [("POST", "ping=1")]


def test_preferences_page_withdraws_without_javascript(visit: VisitFactory) -> None:
    v = fresh(visit, javascript=False)
    with v.page.expect_navigation(wait_until="networkidle"):
        v.page.click("#consentgate-banner button[value=accept_all]")
    assert "www.youtube.com" in v.net.hosts

    with v.page.expect_navigation():
        v.page.click("#consentgate-settings")
    assert v.page.url == v.server.url("/consentgate/preferences")
    assert "Marketing: allowed" in v.page.inner_text("#consentgate-preferences")
    assert v.page.is_checked("input[name=category][value=marketing]")

    v.net.clear()
    with v.page.expect_navigation(wait_until="networkidle"):
        v.page.click("button[value=reject_all]")
    assert v.page.url == v.server.url("/")  # back where the visitor came from
    v.settle(300)
    assert v.net.contacted() == []
    assert v.page.is_visible(".consentgate-placeholder[data-consent-service=youtube]")


def test_vendor_urls_in_css_load_only_after_consent_without_reload(visit: VisitFactory) -> None:
    v = fresh(visit, "/css")
    v.settle(300)
    assert v.net.contacted() == []
    # The page's own CSS still works: its background was fetched.
    assert any(h.path == "/plain" and "own=1" in h.url for h in v.net.local)
    v.page.evaluate("window.__sameDocument = true")
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.net.wait_for(v.page, {"lib.example-analytics.com"})
    v.settle(300)
    assert {h.path for h in v.net.hits} == {"/bg.png", "/attr.png", "/span.png"}
    assert v.page.evaluate("window.__sameDocument") is True
    assert (
        v.page.evaluate("document.querySelector('[data-consent-css],[data-consent-style]')") is None
    )
    assert v.errors == []


def test_object_embed_and_svg_load_only_after_consent_without_reload(visit: VisitFactory) -> None:
    v = fresh(visit, "/foreign")
    v.settle(300)
    assert v.net.contacted() == []
    assert v.page.is_visible("#after")  # the SVG script did not swallow the markup after it
    assert v.page.evaluate("window.__svgInline") is None
    v.page.evaluate("window.__sameDocument = true")
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.page.wait_for_function("(window.__cg || []).includes('svg-script.js')")
    expected = {
        "/object.gif",
        "/embed.gif",
        "/svg-href.gif",
        "/svg-xlink.gif",
        "/svg-script.js",
        "/svg-title.gif",
        "/svg-style.gif",
    }
    v.net.wait_for(v.page, {"lib.example-analytics.com"})
    deadline = 50
    while not expected <= {h.path for h in v.net.hits} and deadline:
        v.settle(100)
        deadline -= 1
    assert {h.path for h in v.net.hits} == expected
    assert v.page.evaluate("window.__svgInline") == 1  # re-created in the SVG namespace
    assert v.page.evaluate("window.__sameDocument") is True
    assert v.errors == []


def test_event_handlers_with_a_vendor_snippet_wait_for_consent(visit: VisitFactory) -> None:
    v = fresh(visit, "/handlers")
    v.settle(300)
    # Moved out of the way: neither handler ran, so fbq was never called (nor missing), and the
    # handler that sends a beacon of its own sent nothing, nor did the button's when clicked.
    v.page.click("#clicked")
    v.settle(300)
    assert v.page.evaluate("[window.__handled, window.__bodyload]") == [None, None]
    assert v.net.contacted() == []
    assert v.errors == []
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.page.wait_for_function("document.getElementById('clicked').hasAttribute('onclick')")
    v.net.clear()
    v.page.click("#clicked")
    v.net.wait_for(v.page, {"px.ads.linkedin.com"})
    assert [h.url.split("?", 1)[1] for h in v.net.hits] == ["click=1"]
    v.page.wait_for_function("document.getElementById('broken').hasAttribute('onerror')")
    assert v.page.evaluate("document.getElementById('beacon').getAttribute('onerror')").startswith(
        "new Image()"
    )
    assert v.page.evaluate("document.body.getAttribute('onload')").startswith("window.__bodyload")
    left = v.page.evaluate("document.querySelector('[data-consent-onerror],[data-consent-onload]')")
    assert left is None


def test_javascript_urls_with_a_vendor_beacon_wait_for_consent(visit: VisitFactory) -> None:
    v = fresh(visit, "/js-urls")
    v.page.click("#link")
    v.settle(300)
    assert v.net.contacted() == []
    assert v.errors == []
    v.page.click("#consentgate-banner button[value=accept_all]")
    # Without a reload: the frame's URL is put back, and runs.
    v.net.wait_for(v.page, {"px.ads.linkedin.com"})
    assert [h.url.split("?", 1)[1] for h in v.net.hits] == ["frame=1"]
    v.page.wait_for_function("document.getElementById('link').hasAttribute('href')")
    v.net.clear()
    v.page.click("#link")
    v.net.wait_for(v.page, {"px.ads.linkedin.com"})
    assert [h.url.split("?", 1)[1] for h in v.net.hits] == ["link=1"]


def requests_of(v: Visit) -> list[str]:
    """Every URL the page requests from now on, also those Chromium makes itself (speculation
    rules' prefetches pass no route: the connection log sees them, this says which URL)."""
    requested: list[str] = []
    v.page.on("request", lambda r: requested.append(r.url))
    return requested


def test_speculation_rules_prefetch_from_a_vendor_only_after_consent(visit: VisitFactory) -> None:
    v = visit()
    requested = requests_of(v)
    v.goto("/speculation")
    v.settle(500)
    assert v.net.contacted() == []
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.net.wait_for_contact(v.page, {"px.ads.linkedin.com"})
    assert v.net.hosts == {"px.ads.linkedin.com"}
    assert [u for u in requested if "linkedin" in u] == [
        "https://px.ads.linkedin.com/collect/?prefetch=1"
    ]


def test_a_speculation_rules_file_prefetches_from_a_vendor_only_after_consent(
    visit: VisitFactory,
) -> None:
    v = visit()
    requested = requests_of(v)
    v.goto("/speculation-header")
    v.settle(500)
    assert any(u.endswith("/rules.json") for u in requested), requested  # it was read
    assert v.net.contacted() == []
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.page.wait_for_selector("#consentgate-settings")
    v.goto("/speculation-header")
    v.net.wait_for_contact(v.page, {"px.ads.linkedin.com"})
    assert v.net.hosts == {"px.ads.linkedin.com"}
    assert [u for u in requested if "linkedin" in u] == [
        "https://px.ads.linkedin.com/collect/?rules=1"
    ]


def test_a_link_header_preloads_from_a_vendor_only_after_consent(visit: VisitFactory) -> None:
    v = fresh(visit, "/link-header")
    v.settle(300)
    assert v.net.contacted() == []
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.page.wait_for_selector("#consentgate-settings")
    v.goto("/link-header")
    v.net.wait_for(v.page, {"px.ads.linkedin.com"})
    assert [h.url.split("?", 1)[1] for h in v.net.hits] == ["link=1"]


def test_a_refresh_header_navigates_to_a_vendor_only_after_consent(visit: VisitFactory) -> None:
    v = fresh(visit, "/refresh-header")
    v.settle(500)
    assert v.net.contacted() == []
    assert v.page.url == v.server.url("/refresh-header")
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.page.wait_for_selector("#consentgate-settings")
    # Served with the header from now on: the browser follows it (the page itself is the proof
    # that the header is one Chromium follows).
    v.page.goto(v.server.url("/refresh-header"))
    v.net.wait_for(v.page, {"px.ads.linkedin.com"})
    assert [(h.url.split("?", 1)[1], h.resource_type) for h in v.net.hits] == [
        ("refresh=header", "document")
    ]


def test_a_meta_refresh_to_a_vendor_waits_for_the_next_page_load_after_consent(
    visit: VisitFactory,
) -> None:
    v = fresh(visit, "/refresh-meta")
    v.page.evaluate("window.__sameDocument = true")
    inert = "meta[http-equiv=refresh][data-consent-content]:not([content])"
    v.settle(500)
    assert v.net.contacted() == []
    assert v.page.url == v.server.url("/refresh-meta")
    assert v.page.locator(inert).count() == 1
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.page.wait_for_selector("#consentgate-settings")
    # Accepting does not take the visitor away from the page they accepted on: the refresh
    # stays inert on it (put back, Chromium would follow it then) …
    v.settle(500)
    assert v.net.contacted() == []
    assert v.page.evaluate("window.__sameDocument") is True
    assert v.page.locator(inert).count() == 1
    # … and is served live from the next page load on, when Chromium follows it.
    v.page.goto(v.server.url("/refresh-meta"))
    v.net.wait_for(v.page, {"px.ads.linkedin.com"})
    assert [(h.url.split("?", 1)[1], h.resource_type) for h in v.net.hits] == [
        ("refresh=meta", "document")
    ]


def test_self_closing_script_hides_no_tracker_in_either_reading(visit: VisitFactory) -> None:
    v = fresh(visit, "/self-closing")
    v.settle(300)
    assert v.net.contacted() == []
    # In HTML each script's data runs up to its "</script>" (a "/>" is ignored): the pixel after
    # it is real markup, made inert, so it waits for consent. The <svg> is closed before the
    # second script, so that script is HTML's too, and so is its pixel.
    assert v.page.evaluate(
        "[!!document.getElementById('px1'), !!document.getElementById('px2')]"
    ) == [True, True]
    assert v.page.is_visible("#end")
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.net.wait_for(v.page, {"px.ads.linkedin.com"})
    v.settle(300)
    assert {h.url.split("?", 1)[1] for h in v.net.hits} == {"html=1", "svg=1"}


def test_allowing_meta_pixel_alone_runs_its_whole_snippet(visit: VisitFactory) -> None:
    v = fresh(visit)
    v.page.evaluate("window.consentgate.save('allow', [], ['meta-pixel'])")
    # The inline loader runs (fbevents.js, and the PageView it sends to facebook.com/tr) …
    v.net.wait_for(v.page, {"connect.facebook.net", "www.facebook.com"})
    v.page.wait_for_function("(window.__cg || []).includes('fbevents.js')")
    v.settle(300)
    assert v.net.hosts == {"connect.facebook.net", "www.facebook.com"}
    assert v.log() == ["fbevents.js"]
    # … and without scripts, its <noscript> pixel loads, and nothing of anyone else's.
    quiet = visit(javascript=False)
    response = quiet.context.request.post(
        quiet.server.url("/consentgate/consent"),
        form={"action": "allow", "service": "meta-pixel"},
        max_redirects=0,
    )
    assert response.status == 303
    quiet.goto("/")
    quiet.settle(300)
    assert [(h.host, h.path) for h in quiet.net.hits] == [("www.facebook.com", "/tr")]
    assert quiet.net.connected() == []
