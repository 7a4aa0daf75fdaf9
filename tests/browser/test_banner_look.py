"""The banner's look and behaviour in Chromium: the first layer's size in each layout, the
preferences dialog (focus kept inside, never taller than the window), no layout shift, a look that
a site's CSS cannot change (Bootstrap 5, a hostile stylesheet), right-to-left, motion, the
settings control; and the screenshots the README shows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import LiveServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentgate import ConsentMiddleware, Policy
from consentgate.vendors import BUILTIN_VENDORS

from .conftest import SCREENSHOTS, Visit, VisitFactory

BOOTSTRAP_DEFAULT = (
    Path.home()
    / ".cache/consentgate/bootstrap-5.3.8/node_modules/bootstrap/dist/css/bootstrap.min.css"
)
# What a careless or hostile site stylesheet does to every form, button, paragraph and link.
HOSTILE = """
html { font-size: 10px; }
body { font: 13px/1 Georgia, serif; letter-spacing: 2px; text-align: right; color: #f0f; }
form { margin: 40px; padding: 20px; border: 5px dotted red; }
button { text-transform: uppercase; background: yellow; color: black; border-radius: 0;
         padding: 30px; font-size: 30px; width: 50px; float: left; }
p, h2 { margin: 50px; font-size: 40px; line-height: 3; text-indent: 40px; }
a { color: lime; text-decoration: none; display: block; }
div { padding: 10px; box-sizing: content-box; }
input { width: 200px; height: 50px; margin: 20px; }
details, summary, ul, li, label { display: block; margin: 15px; list-style: square; }
dialog { display: block; position: static; }
*::before { content: "!"; }
"""
OPTIONAL = ("analytical", "preference", "marketing")
DIALOG_OPEN = "!!(document.getElementById('consentgate-dialog') || {}).open"
IN_DIALOG = "document.getElementById('consentgate-dialog').contains(document.activeElement)"
# What a click on the page's heading would reach.
HIT_LEAD = """() => {
  const r = document.getElementById('lead').getBoundingClientRect();
  return document.elementFromPoint(r.x + 5, r.y + r.height / 2).id;
}"""


def site(tmp: Path, css: str = "", own_link: bool = False, **options: Any) -> ConsentMiddleware:
    """A page with one stylesheet of the site's, and nothing to gate (no vendor at all)."""
    link = (
        '<p><a href="/consentgate/preferences" class="consentgate-settings-link" '
        "data-consentgate-open>Cookie settings</a></p>"
        if own_link
        else ""
    )
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>A site</title><link rel="stylesheet" href="/site.css"></head><body>'
        '<main class="container"><h1 id="lead">A site</h1>'
        + "<p>Some text of the site's own, long enough to wrap on a small screen.</p>" * 30
        + f"</main><footer>{link}</footer></body></html>"
    )

    async def page(request: Request) -> Response:
        return HTMLResponse(html)

    async def stylesheet(request: Request) -> Response:
        return Response(css, media_type="text/css")

    app = Starlette(routes=[Route("/", page), Route("/site.css", stylesheet)])
    options.setdefault("builtin_vendors", False)
    return ConsentMiddleware(
        app,
        secret_key="banner-look-tests-secret-not-for-production",
        consent_log=str(tmp / "log.sqlite3"),
        **options,
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    servers: list[LiveServer] = []

    def serve(css: str = "", **options: Any) -> LiveServer:
        live = LiveServer(site(tmp_path, css, **options)).__enter__()
        servers.append(live)
        return live

    yield serve
    for live in servers:
        live.__exit__(None, None, None)


def open_page(visit: VisitFactory, live: LiveServer, **context: Any) -> Visit:
    context.setdefault("reduced_motion", "reduce")  # measured where it comes to rest
    v = visit(live=live, **context)
    v.goto("/")
    v.page.wait_for_selector("#consentgate-banner", state="visible")
    return v


def open_dialog(v: Visit) -> None:
    v.page.click("#consentgate-banner [data-consentgate-customise]")
    v.page.wait_for_function(DIALOG_OPEN)


@pytest.mark.parametrize("layout", ["bar", "box", "center"])
def test_first_layer_stays_within_its_height_budget(
    visit: VisitFactory, served: Any, layout: str
) -> None:
    """At most 35 % of a 1280 x 800 window and 60 % of a 320 x 640 one."""
    live = served(banner_layout=layout)
    for (width, height), share in (((1280, 800), 0.35), ((320, 640), 0.60)):
        v = open_page(visit, live, viewport={"width": width, "height": height})
        box = v.page.locator("#consentgate-banner").bounding_box()
        assert box is not None
        assert box["height"] <= share * height, (layout, width, box)
        assert box["y"] >= 0 and box["y"] + box["height"] <= height
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        # Title, purposes, the privacy link and three buttons: nothing else.
        buttons = v.page.locator("#consentgate-banner button")
        assert [b.inner_text() for b in buttons.all()] == ["Reject all", "Accept all", "Customise"]
        assert v.page.is_visible("#consentgate-banner a[href='/privacy']")
        intro = v.page.inner_text("#consentgate-intro")
        assert "Analytics, Preferences, Marketing" in intro


def test_every_language_fits_the_budget(visit: VisitFactory, served: Any) -> None:
    """The built-in languages' texts are longer than English (Russian the longest)."""
    live = served(banner_layout="box")
    for locale in ("de-DE", "fr-FR", "es-ES", "ru-RU"):
        for (width, height), share in (((1280, 800), 0.35), ((320, 640), 0.60)):
            viewport = {"width": width, "height": height}
            v = open_page(visit, live, viewport=viewport, locale=locale)
            box = v.page.locator("#consentgate-banner").bounding_box()
            assert box is not None and box["height"] <= share * height, (locale, width, box)
            assert v.page.locator("#consentgate-banner button").count() == 3


def test_layouts_sit_where_configured(visit: VisitFactory, served: Any) -> None:
    viewport = {"width": 1280, "height": 800}
    boxes = {}
    for layout in ("bar", "box", "center"):
        v = open_page(visit, served(banner_layout=layout), viewport=viewport)
        boxes[layout] = v.page.locator("#consentgate-banner").bounding_box()
    bar, box, center = boxes["bar"], boxes["box"], boxes["center"]
    assert bar["width"] == 1280 and bar["y"] + bar["height"] == 800
    assert box["width"] < 640 and box["x"] > 640 and box["y"] + box["height"] < 800
    middle = center["y"] + center["height"] / 2
    assert abs(middle - 400) <= 1 and abs(center["x"] + center["width"] / 2 - 640) <= 1


def test_layout_options_are_checked_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="banner_layout must be one of 'bar', 'box', 'center'"):
        site(tmp_path, banner_layout="popup")
    with pytest.raises(ValueError, match="settings_position must be one of"):
        site(tmp_path, settings_position="top")


def test_the_dialog_fits_the_window_and_scrolls_inside(visit: VisitFactory, served: Any) -> None:
    # Every built-in service declared as used: a long list.
    used = Policy(services=[vendor.id for vendor in BUILTIN_VENDORS])
    live = served(builtin_vendors=True, policy=used)
    for width, height in ((1280, 800), (320, 640)):
        v = open_page(visit, live, viewport={"width": width, "height": height})
        open_dialog(v)
        v.page.evaluate(
            "document.querySelectorAll('#consentgate-dialog details').forEach(d => d.open = true)"
        )
        box = v.page.locator("#consentgate-dialog").bounding_box()
        assert box is not None
        assert box["y"] >= 0 and box["y"] + box["height"] <= height
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        body = v.page.locator("#consentgate-dialog .consentgate-body")
        assert body.evaluate("b => b.scrollHeight > b.clientHeight"), "the list scrolls inside"
        # One switch per category (the necessary one on and fixed), and one per service.
        switches = v.page.locator("#consentgate-dialog input[name=category][role=switch]")
        assert switches.count() == 4
        assert v.page.is_disabled("#consentgate-dialog input[value=necessary]")
        assert v.page.is_checked("#consentgate-dialog input[value=necessary]")
        for name in OPTIONAL:
            assert not v.page.is_checked(f"#consentgate-dialog input[value={name}]")
        services = v.page.locator("#consentgate-dialog input[name=service][role=switch]")
        assert services.count() > 50
        # The Save button stays in view while the list scrolls.
        save = v.page.locator("#consentgate-dialog button[value=save]").bounding_box()
        assert save is not None and save["y"] + save["height"] <= height


def test_focus_stays_in_the_dialog_and_returns(visit: VisitFactory, served: Any) -> None:
    v = open_page(visit, served())
    v.page.focus("#consentgate-banner [data-consentgate-customise]")
    assert v.page.evaluate(HIT_LEAD) == "lead"
    v.page.keyboard.press("Enter")
    v.page.wait_for_function(DIALOG_OPEN)
    assert v.page.evaluate(IN_DIALOG)
    seen = set()
    for key in ["Tab"] * 30 + ["Shift+Tab"] * 30:
        v.page.keyboard.press(key)
        assert v.page.evaluate(IN_DIALOG), key
        seen.add(v.page.evaluate("document.activeElement.outerHTML.slice(0, 60)"))
    assert len(seen) >= 8  # it went round, through every control
    # Modal: the page behind is inert (a click on it reaches nothing of the page).
    assert v.page.evaluate("document.getElementById('consentgate-dialog').matches(':modal')")
    assert v.page.evaluate(HIT_LEAD) == "consentgate-dialog"  # its backdrop, not the heading
    v.page.keyboard.press("Escape")
    v.page.wait_for_function(f"!{DIALOG_OPEN}")
    assert v.page.evaluate("document.activeElement.hasAttribute('data-consentgate-customise')")
    assert v.page.is_visible("#consentgate-banner")  # still undecided: the first layer stays
    # The close button does the same.
    open_dialog(v)
    v.page.click("#consentgate-dialog [data-consentgate-close]")
    v.page.wait_for_function(f"!{DIALOG_OPEN}")
    assert v.page.evaluate("document.activeElement.hasAttribute('data-consentgate-customise')")


def test_no_layout_shift_from_either_layer(visit: VisitFactory, served: Any) -> None:
    for layout in ("bar", "box", "center"):
        v = open_page(visit, served(banner_layout=layout), reduced_motion="no-preference")
        open_dialog(v)
        v.page.check("#consentgate-dialog input[value=preference]")
        v.page.click("#consentgate-dialog button[value=save]")
        v.page.wait_for_selector("#consentgate-banner", state="hidden")
        v.page.wait_for_selector("#consentgate-settings", state="visible")
        v.settle(300)
        assert v.page.evaluate("window.__shift") == 0, v.page.evaluate("window.__shifts")
        assert v.page.evaluate("window.__changes.map(c => c.granted)") == [
            ["necessary", "preference"]
        ]


LOOK = """() => {
  const props = ['font-size', 'font-family', 'font-weight', 'line-height', 'text-transform',
    'letter-spacing', 'text-indent', 'text-align', 'color', 'background-color', 'margin-top',
    'margin-left', 'padding-top', 'padding-left', 'border-top-width', 'border-top-style',
    'width', 'height', 'display', 'position', 'float', 'border-radius'];
  const out = [];
  for (const root of ['consentgate-banner', 'consentgate-dialog']) {
    const all = [document.getElementById(root),
                 ...document.getElementById(root).querySelectorAll('*')];
    for (const el of all) {
      const s = getComputedStyle(el), r = el.getBoundingClientRect();
      const before = getComputedStyle(el, '::before').content;
      out.push([el.tagName, el.className, props.map(p => s.getPropertyValue(p)).join('|'),
                before, Math.round(r.width), Math.round(r.height)].join(' '));
    }
  }
  return out;
}"""


def look(v: Visit) -> dict[str, list[str]]:
    first = v.page.evaluate(LOOK)
    open_dialog(v)
    v.page.evaluate("document.querySelector('#consentgate-dialog details').open = true")
    return {"closed": first, "open": v.page.evaluate(LOOK)}


def bootstrap() -> str:
    path = Path(os.environ.get("CONSENTGATE_BOOTSTRAP_CSS") or BOOTSTRAP_DEFAULT)
    if not path.is_file():
        pytest.fail(f"Bootstrap's CSS not found at {path}: run `source .ci/browser.sh <python>`")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("sheet", ["hostile", "bootstrap"])
def test_a_sites_stylesheet_cannot_restyle_the_banner(
    visit: VisitFactory, served: Any, sheet: str
) -> None:
    css = HOSTILE if sheet == "hostile" else bootstrap()
    for layout, width in (("bar", 1280), ("box", 1280), ("center", 320)):
        viewport = {"width": width, "height": 800 if width == 1280 else 640}
        bare = look(open_page(visit, served(banner_layout=layout), viewport=viewport))
        styled_visit = open_page(visit, served(css, banner_layout=layout), viewport=viewport)
        # The site's stylesheet is applied to the page itself …
        lead = styled_visit.page.evaluate(
            "getComputedStyle(document.querySelector('main p')).getPropertyValue('margin-top')"
        )
        assert lead != "16px"
        # … and changes nothing in either layer of the banner.
        styled = look(styled_visit)
        for state in ("closed", "open"):
            diff = [(a, b) for a, b in zip(bare[state], styled[state], strict=True) if a != b]
            assert diff == [], (sheet, layout, state, diff[:3])


def test_right_to_left_languages_are_mirrored(visit: VisitFactory, served: Any) -> None:
    texts = {"ar": {"accept_all": "قبول الكل", "reject_all": "رفض الكل", "customise": "تخصيص"}}
    live = served(banner_layout="box", language="ar", texts=texts)
    v = open_page(visit, live, viewport={"width": 1280, "height": 800})
    assert v.page.get_attribute("#consentgate-root", "dir") == "rtl"
    box = v.page.locator("#consentgate-banner").bounding_box()
    assert box is not None and box["x"] < 100  # the corner box sits in the left corner
    reject = v.page.locator("#consentgate-banner button[value=reject_all]").bounding_box()
    accept = v.page.locator("#consentgate-banner button[value=accept_all]").bounding_box()
    assert reject is not None and accept is not None and reject["x"] > accept["x"]
    open_dialog(v)
    label = v.page.locator("#consentgate-dialog label[for=consentgate-c-analytical]").bounding_box()
    switch = v.page.locator("#consentgate-dialog input[value=analytical]").bounding_box()
    assert label is not None and switch is not None and switch["x"] < label["x"]
    # A switch turned on moves its knob to the line's end: the left, in RTL.
    knob = "el => getComputedStyle(el, '::before').left"
    before = v.page.locator("#consentgate-dialog input[value=analytical]").evaluate(knob)
    v.page.check("#consentgate-dialog input[value=analytical]")
    v.settle(300)
    after = v.page.locator("#consentgate-dialog input[value=analytical]").evaluate(knob)
    assert float(after.rstrip("px")) < float(before.rstrip("px"))
    # The preferences page (the second layer without JavaScript) is mirrored as well.
    v.goto("/consentgate/preferences")
    assert v.page.get_attribute("html", "dir") == "rtl"
    edges = """() => {
      const main = document.querySelector('main').getBoundingClientRect();
      const title = document.createRange();
      title.selectNodeContents(document.querySelector('h1'));
      return [main.right - title.getBoundingClientRect().right,
              title.getBoundingClientRect().left - main.left];
    }"""
    right_gap, left_gap = v.page.evaluate(edges)
    assert right_gap < left_gap  # the title starts at the right


def test_motion_only_for_those_who_allow_it(visit: VisitFactory, served: Any) -> None:
    live = served()
    moving = open_page(visit, live, reduced_motion="no-preference")
    still = open_page(visit, live, reduced_motion="reduce")
    name = "getComputedStyle(document.getElementById('consentgate-banner')).animationName"
    assert moving.page.evaluate(name) == "consentgate-in"
    assert still.page.evaluate(name) == "none"


def test_light_and_dark_follow_the_system(visit: VisitFactory, served: Any) -> None:
    live = served()
    colours = {}
    for scheme in ("light", "dark"):
        v = open_page(visit, live, color_scheme=scheme)
        colours[scheme] = v.page.evaluate(
            "getComputedStyle(document.getElementById('consentgate-banner')).backgroundColor"
        )
    assert colours == {"light": "rgb(255, 255, 255)", "dark": "rgb(28, 33, 40)"}


def settings_control(v: Visit) -> dict[str, Any]:
    return dict(
        v.page.evaluate(
            """() => {
              const a = document.getElementById('consentgate-settings');
              const r = a.getBoundingClientRect(), s = getComputedStyle(a);
              return {x: r.x, y: r.y + scrollY, w: r.width, h: r.height, position: s.position,
                      display: s.display, name: a.textContent, title: a.title,
                      icon: getComputedStyle(a, '::before').width};
            }"""
        )
    )


@pytest.mark.parametrize("position", ["bottom-left", "bottom-right", "end"])
def test_the_settings_control_is_small_or_inline(
    visit: VisitFactory, served: Any, position: str
) -> None:
    v = open_page(visit, served(settings_position=position), viewport={"width": 320, "height": 640})
    v.page.click("#consentgate-banner button[value=reject_all]")
    v.page.wait_for_selector("#consentgate-settings", state="visible")
    # Focus moved to it, and the page did not scroll there.
    assert v.page.evaluate("[document.activeElement.id, scrollY]") == ["consentgate-settings", 0]
    made_by_script = settings_control(v)
    v.goto("/")  # now rendered by the server
    control = settings_control(v)
    assert control == made_by_script
    assert control["name"] == "Cookie settings" == control["title"]  # labelled, either way
    if position == "end":
        # A link after the page's content, in the flow: it covers nothing.
        assert control["position"] == "static"
        main = v.page.locator("main").bounding_box()
        assert main is not None and control["y"] >= main["y"] + main["height"]
    else:
        assert control["position"] == "fixed"
        # Small, but a target a finger can hit (WCAG 2.5.8: 24 px), with its icon drawn.
        assert 32 <= control["w"] <= 44 and 32 <= control["h"] <= 44
        assert control["icon"] == "22px"
        v.page.evaluate("scrollTo(0, 0)")
        control = settings_control(v)
        assert control["y"] + control["h"] <= 640 and control["y"] > 560
        assert (control["x"] < 40) == (position == "bottom-left")
    v.page.click("#consentgate-settings")
    v.page.wait_for_function(DIALOG_OPEN)


def test_no_second_control_where_the_page_has_its_own(visit: VisitFactory, served: Any) -> None:
    v = open_page(visit, served(own_link=True))
    v.page.click("#consentgate-banner button[value=accept_all]")
    v.page.wait_for_selector("#consentgate-banner", state="hidden")
    # Focus is not lost: it lands on the page's own control (the injected one is hidden).
    assert v.page.evaluate("document.activeElement.className") == "consentgate-settings-link"
    v.goto("/")
    assert v.page.locator("#consentgate-settings").count() == 1  # injected …
    assert not v.page.is_visible("#consentgate-settings")  # … but not shown
    v.page.click(".consentgate-settings-link")  # the page's own opens the dialog
    v.page.wait_for_function(DIALOG_OPEN)


def test_without_javascript_customise_is_the_preferences_page(
    visit: VisitFactory, served: Any
) -> None:
    live = served()
    v = visit(live=live, javascript=False)
    v.goto("/")
    assert v.page.is_visible("#consentgate-banner")
    assert not v.page.is_visible("#consentgate-dialog")
    with v.page.expect_navigation():
        v.page.click("#consentgate-banner [data-consentgate-customise]")
    assert v.page.url == live.url("/consentgate/preferences?next=%2F")
    v.page.check("#consentgate-preferences input[value=marketing]")
    with v.page.expect_navigation():
        v.page.click("#consentgate-preferences button[value=save]")
    assert v.page.url == live.url("/")
    assert v.page.locator("#consentgate-banner").count() == 0
    assert v.page.is_visible("#consentgate-settings")


SHOTS = [
    (f"{layer}-{layout}-{scheme}-{width}.png", layer, layout, scheme, width)
    for layer, layouts in (("banner", ("bar", "box", "center")), ("dialog", ("box",)))
    for layout in layouts
    for scheme in ("light", "dark")
    for width in (1280, 320)
]


def test_screenshots(visit: VisitFactory, served: Any) -> None:
    """Each layout, layer and theme at 1280 x 800 and 320 x 640, for the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    servers = {layout: served(banner_layout=layout) for layout in ("bar", "box", "center")}
    for name, layer, layout, scheme, width in SHOTS:
        viewport = {"width": width, "height": 800 if width == 1280 else 640}
        v = open_page(visit, servers[layout], viewport=viewport, color_scheme=scheme)
        if layer == "dialog":
            open_dialog(v)
            v.page.click("#consentgate-dialog summary >> nth=1")
        path = SCREENSHOTS / name
        v.page.screenshot(path=str(path))
        assert path.stat().st_size > 1000
