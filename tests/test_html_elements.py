"""The sets the scanner needs, derived from the one table in consentgate/html/elements.py, are
the literal values the engine was written with (so the derivation is proven equal), and a row
added to the table reaches every set it should."""

from __future__ import annotations

from consentgate.html import elements
from consentgate.html.elements import ELEMENTS, Element, Reader

GATED_TAGS = (
    "script",
    "iframe",
    "img",
    "source",
    "link",
    "video",
    "audio",
    "object",
    "embed",
    "image",
    "input",
    "frame",
    "track",
    "feimage",
    "set",
    "animate",
)
RAW_TAGS = ("style", "textarea", "title", "xmp", "noembed", "noframes")
FOREIGN_TAGS = ("svg", "math")
READ_TAGS = (*GATED_TAGS, *RAW_TAGS, *FOREIGN_TAGS, "noscript", "plaintext", "body", "base")
# (An <input> stops the grammar only with a src or an attributionsrc: see LOADING_ATTRS.)
SPECIAL_TAGS = tuple(t for t in READ_TAGS if t != "input")
LOADING = frozenset(
    (
        b"img",
        b"source",
        b"link",
        b"video",
        b"audio",
        b"iframe",
        b"object",
        b"embed",
        b"image",
        b"input",
        b"frame",
        b"track",
        b"feimage",
        b"set",
        b"animate",
    )
)
SCRIPT_SOURCES = (b"src", b"href", b"xlink:href")
SOURCES = {
    b"link": (b"href", b"imagesrcset"),
    b"video": (b"src", b"poster"),
    b"img": (b"src", b"srcset"),
    b"source": (b"src", b"srcset"),
    b"object": (b"data",),
    b"image": (b"href", b"xlink:href", b"src", b"srcset"),
    b"feimage": (b"href", b"xlink:href"),
    b"set": (b"to", b"values", b"from", b"by"),
    b"animate": (b"to", b"values", b"from", b"by"),
}
ANIMATED = {n: b"data-consent-" + n for n in (b"to", b"values", b"from", b"by")}
MOVED = {
    b"script": {
        b"type": b"data-consent-type",
        b"src": b"data-consent-src",
        b"href": b"data-consent-href",
        b"xlink:href": b"data-consent-xlink-href",
    },
    b"link": {b"href": b"data-consent-href", b"imagesrcset": b"data-consent-imagesrcset"},
    b"base": {b"href": b"data-consent-href"},
    b"video": {b"src": b"data-consent-src", b"poster": b"data-consent-poster"},
    b"object": {b"data": b"data-consent-data"},
    b"image": {
        b"href": b"data-consent-href",
        b"xlink:href": b"data-consent-xlink-href",
        b"src": b"data-consent-src",
        b"srcset": b"data-consent-srcset",
    },
    b"feimage": {b"href": b"data-consent-href", b"xlink:href": b"data-consent-xlink-href"},
    b"set": ANIMATED,
    b"animate": ANIMATED,
}
MOVED_SRC = {b"src": b"data-consent-src", b"srcset": b"data-consent-srcset"}
SCRIPT_URL_TAGS = {
    b"a": b"href",
    b"area": b"href",
    b"form": b"action",
    b"button": b"formaction",
    b"input": b"formaction",
    b"iframe": b"src",
    b"frame": b"src",
    b"object": b"data",
    b"embed": b"src",
}
LOADING_ATTRS = {
    "a": ("ping", "xlink:href", "attributionsrc"),
    "b": (),
    "f": (),
    "i": ("src", "attributionsrc"),
    "m": ("http-equiv",),
    "t": ("background",),
}
URL_CHECKS = {"a": "href", "b": "formaction", "f": "action", "i": "formaction"}
LETTER_ORDER = "aslmpitbeofnvx"
RAW_END_TAGS = {*RAW_TAGS, "iframe", "noscript"}


def test_the_tag_lists_are_the_literal_ones_in_their_order() -> None:
    assert elements.GATED_TAGS == GATED_TAGS
    assert elements.RAW_TAGS == RAW_TAGS
    assert elements.FOREIGN_TAGS == FOREIGN_TAGS
    assert {b"svg", b"math"} == elements.FOREIGN
    assert elements.SPECIAL_TAGS == SPECIAL_TAGS  # (its order is the grammar's text)
    assert elements.LOADING == LOADING
    assert set(elements.RAW_END_TAGS) == RAW_END_TAGS


def test_sources_and_moved_attributes_are_the_literal_ones_in_their_order() -> None:
    assert elements.SCRIPT_SOURCES == SCRIPT_SOURCES
    assert {t: SOURCES.get(t, (b"src",)) for t in LOADING} == elements.SOURCES
    expected = {t: MOVED.get(t, MOVED_SRC) for t in (b"script", *LOADING, b"base")}
    # (Moved attributes are written out in this order: compare the order too.)
    assert {t: list(m.items()) for t, m in elements.MOVED.items()} == {
        t: list(m.items()) for t, m in expected.items()
    }


def test_the_grammar_tables_are_the_literal_ones() -> None:
    assert elements.SCRIPT_URL_TAGS == SCRIPT_URL_TAGS
    assert elements.LOADING_ATTRS == LOADING_ATTRS
    assert elements.URL_CHECKS == URL_CHECKS
    assert elements.LETTER_ORDER == LETTER_ORDER


def test_the_elements_special_handling() -> None:
    assert {b"iframe"} == elements.PLACEHOLDERS
    assert {b"video", b"audio"} == elements.KEPT_WHEN_REMOVED
    assert {b"iframe"} == elements.RAW_LOADING
    assert elements.INLINE_DOCUMENTS == {b"iframe": b"srcdoc"}
    assert set(elements.READERS) == {t.encode() for t in READ_TAGS}
    assert {t for t, r in elements.READERS.items() if r is Reader.LOADING} == LOADING


def test_one_more_row_reaches_the_derived_tables() -> None:
    """What the derivation makes of a table with one more skipped element."""
    # (A skipped element's refusals join those of its letter, after them, without repeats.)
    skipped = (
        *ELEMENTS,
        Element("marquee", Reader.SKIPPED, refused=("background",)),
        Element("menu", Reader.SKIPPED, refused=("http-equiv", "background")),
    )
    assert elements._by_letter(
        tuple(r for r in skipped if r.reader is Reader.SKIPPED or r.refused)
    ) == {
        **LOADING_ATTRS,
        "m": ("http-equiv", "background"),
    }
