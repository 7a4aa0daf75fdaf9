"""Click-to-load placeholders (html/edits.py, pages.py, placeholder.html): only where content a
visitor came to see was, of the embed's own size, naming the vendor and linking its notice."""

from __future__ import annotations

import re

import pytest
from helpers import BENCH_PAGES, bench_pages_missing, client

from consentgate.html import Gate
from consentgate.html.edits import DEFAULT_SIZE, Size, frame_size
from consentgate.html.markup import parse_attrs
from consentgate.policy import Policy, Vendor
from consentgate.vendors import BUILTIN_VENDORS

GATE = Gate(Policy(vendors=BUILTIN_VENDORS))
YOUTUBE = b'<iframe src="https://www.youtube.com/embed/x" width="560" height="315" frameborder="0"'
PLACEHOLDER = re.compile(rb'<div class="(?:consentgate )?consentgate-placeholder".*?</form>', re.S)


def rewrite(html: bytes, gate: Gate = GATE) -> bytes:
    rewriter = gate.rewriter(frozenset())
    assert rewriter is not None
    return rewriter.feed(html) + rewriter.close()


def placeholders(html: bytes) -> list[bytes]:
    return [m.group() for m in PLACEHOLDER.finditer(html)]


def size_of(tag: bytes) -> Size:
    return frame_size(parse_attrs(tag, tag.index(b" "), len(tag)))


def test_a_video_embed_gets_a_placeholder_of_its_own_size() -> None:
    out = rewrite(YOUTUBE + b"></iframe>")
    (found,) = placeholders(out)
    assert b'<svg class="consentgate-sizer" width="560" height="315"' in found
    assert b"Allow YouTube" in found and b'href="https://policies.google.com/privacy"' in found
    # The iframe itself stays, inert, right after its stand-in.
    assert b'data-consent-src="https://www.youtube.com/embed/x"' in out
    assert b' src="https://www.youtube.com' not in out


@pytest.mark.parametrize(
    ("tag", "size"),
    [
        (b"<iframe x>", DEFAULT_SIZE),  # the browser's 300x150, with its 2px border
        (b'<iframe width="640px" height=" 360.5">', Size("640", "360")),
        (b'<iframe width="100%" height="400" frameborder="no">', Size("100%", "400", False)),
        (b'<iframe width="auto" height="0400" frameborder="1">', Size("300", "400", True)),
        (b'<iframe frameborder="0">', Size("300", "150", False)),
        (b'<iframe style="border: 0;">', Size("300", "150", False)),
        (b'<iframe style="margin:0;border:none">', Size("300", "150", False)),
        (b'<iframe style="border-top:0">', Size("300", "150", True)),
    ],
)
def test_the_size_is_read_as_a_browser_reads_it(tag: bytes, size: Size) -> None:
    assert size_of(tag) == size


def test_the_stand_in_of_a_framed_iframe_has_its_border() -> None:
    out = rewrite(b'<iframe src="https://player.vimeo.com/video/1"></iframe>')
    assert b'<svg class="consentgate-sizer consentgate-framed" width="300" height="150"' in out


@pytest.mark.parametrize(
    "html",
    [
        # An ad exchange's slot, visible: no embed, so inert without a word.
        b'<iframe src="https://ib.adnxs.com/tt?id=1" width="300" height="250"></iframe>',
        # Optimizely's and other analytics frames.
        b'<iframe src="https://cdn.optimizely.com/client_storage/a.html" hidden></iframe>',
        b'<iframe src="https://www.googletagmanager.com/ns.html?id=GTM-1" height="0" width="0"'
        b' style="display:none;visibility:hidden"></iframe>',
        # Even an embed vendor's frame, when it was never meant to be seen.
        YOUTUBE.replace(b'height="315"', b'height="1"') + b"></iframe>",
        YOUTUBE + b' style="display: none"></iframe>',
        YOUTUBE + b' style="width:0;height:0"></iframe>',
        YOUTUBE + b' aria-hidden="true"></iframe>',
        YOUTUBE + b" hidden></iframe>",
    ],
)
def test_frames_never_meant_to_be_seen_are_made_inert_silently(html: bytes) -> None:
    out = rewrite(html)
    assert b"consentgate-placeholder" not in out
    assert b"data-consent-src=" in out and b" src=" not in out  # still gated


def test_a_visible_embed_is_not_taken_for_a_hidden_one() -> None:
    for style in (b"max-width:1px", b"width:100%", b"height:10px", b"border:0"):
        out = rewrite(YOUTUBE + b' style="' + style + b'"></iframe>')
        assert len(placeholders(out)) == 1, style


def test_a_site_tagged_frame_and_a_site_embed_vendor_get_one() -> None:
    out = rewrite(b'<iframe data-consent="preference" src="/weather" width="200"></iframe>')
    (found,) = placeholders(out)
    assert b'width="200" height="150"' in found
    tv = Vendor("tv", "Our TV", "marketing", "/privacy#tv", urls=("tv.example",), embed=True)
    ads = Vendor("ads", "Our ads", "marketing", urls=("ads.example",))
    gate = Gate(Policy(vendors=[tv, ads]))
    assert len(placeholders(rewrite(b'<iframe src="https://tv.example/1"></iframe>', gate))) == 1
    assert not placeholders(rewrite(b'<iframe src="https://ads.example/1"></iframe>', gate))


def test_the_middleware_renders_it_sized_naming_the_vendor_with_its_notice() -> None:
    page = (
        "<!doctype html><html><body><p>Watch</p>"
        '<iframe src="https://www.youtube.com/embed/abc" width="560" height="315"'
        ' frameborder="0"></iframe>'
        '<iframe src="https://ib.adnxs.com/tt?id=1" width="300" height="250"></iframe>'
        '<iframe src="https://cdn.optimizely.com/client_storage/a.html" hidden></iframe>'
        "</body></html>"
    )
    html = client(page=page).get("/").content
    (found,) = placeholders(html)
    assert b'data-consent-service="youtube"' in found
    assert b'<svg class="consentgate-sizer" width="560" height="315"' in found
    assert b"YouTube" in found and b'href="https://policies.google.com/privacy"' in found
    body = html[: html.index(b'id="consentgate-root"')]  # (the page, not the banner)
    assert b"Programmatic ad exchanges" not in body and b"Optimizely" not in body
    assert html.count(b"data-consent-hidden hidden") == 3  # all three frames stay inert


@pytest.mark.skipif(bench_pages_missing() is not None, reason=str(bench_pages_missing()))
@pytest.mark.parametrize("name", ["nytimes-1", "nytimes-2", "youth", "synth-big"])
def test_bench_pages_get_placeholders_only_for_content_embeds(name: str) -> None:
    out = rewrite((BENCH_PAGES / f"{name}.html").read_bytes())
    services = re.findall(rb'data-consent-placeholder="[^"]*" data-consent-service="([^"]*)"', out)
    embeds = {v.id.encode() for v in BUILTIN_VENDORS if v.embed}
    assert set(services) <= embeds
    assert len(re.findall(rb"<iframe[^>]*data-consent-hidden", out)) >= 1  # frames were gated
    if name == "synth-big":
        assert services == [b"youtube"]  # its video, of its size
        assert b'<svg class="consentgate-sizer" width="640" height="360"' in out
    else:
        assert services == []
