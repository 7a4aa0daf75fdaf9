"""The elements the engine treats specially: one row each, and every set derived from them.

A row says what an element loads, what is moved aside when it is gated (``src`` ->
``data-consent-src``, for the client to put back), whether it takes a placeholder, how the HTML
tokenizer reads its content (raw text, RCDATA, script data, markup …) and which reader of
``tokenizer.py`` handles its start tag. Everything else the engine needs (the names that stop
``grammar.RUN``, the tags gated by their sources, the attributes refused by the skipping
grammar, the end tags that end raw text …) is derived here at import, so gating one more kind
of element is one more row (plus at most one small reader in ``tokenizer.py``).

Names are ``str`` in the rows (read by the grammar builders) and ``bytes`` in the derived sets
the scanner looks up (it works on bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final


class Content(Enum):
    """How the HTML tokenizer reads an element's content (its tokenizer state after the tag)."""

    MARKUP = "markup"  # the data state: tags inside are tags
    RAW_TEXT = "raw text"  # up to its end tag, nothing is markup (style, iframe, xmp …)
    RCDATA = "RCDATA"  # raw text with character references (title, textarea)
    SCRIPT_DATA = "script data"  # raw text with the escape states of "<!--" (script)
    NOSCRIPT = "noscript"  # raw text with scripting, markup without: both are rewritten
    PLAINTEXT = "plaintext"  # everything up to the body's end is text
    FOREIGN = "foreign"  # starts SVG/MathML content, where other rules may apply


class Reader(Enum):
    """Which reader of ``tokenizer.py`` takes the element's start tag (SKIPPED: none, the
    skipping grammar copies it, only checking the attributes ``refused``/``script_url``)."""

    SKIPPED = "skipped"
    SCRIPT = "script"  # gated by its source or code; script data follows
    LOADING = "loading"  # gated by its sources (img, iframe, link …)
    STYLE = "style"  # its CSS is read for vendors' URLs
    NOSCRIPT = "noscript"  # its content is rewritten as markup
    PLAINTEXT = "plaintext"
    RAW = "raw"  # raw text or RCDATA: skipped up to its end tag
    FOREIGN = "foreign"  # <svg>, <math>: foreign content may be open from here on
    STYLED = "styled"  # read for its style, event handlers, beacons only (body)
    BASE = "base"  # its href is the base URL of every relative URL after it


SRC_SRCSET: Final = ("src", "srcset")


@dataclass(frozen=True)
class Element:
    """One kind of element and how the engine treats it."""

    tag: str
    reader: Reader
    content: Content = Content.MARKUP
    # The attributes it loads from, in the order a browser reads them (a gated element's URL
    # is looked up in that order; a script loads the first it knows of).
    loads: tuple[str, ...] = ()
    # The attributes moved aside when it is gated, in the order they are written out, each to
    # data-consent-<name> (":" as "-"): what the client puts back once allowed.
    moves: tuple[str, ...] = ()
    placeholder: bool = False  # gated, it is hidden behind a click-to-load placeholder
    kept_when_removed: bool = False  # mode="remove" keeps it, without its sources
    inline_document: str | None = None  # an attribute holding a document of its own (srcdoc)
    # Where a "javascript:" URL runs on it (on a click, a submit, a load).
    script_url: str | None = None
    # Attributes that load something (a beacon, a legacy background, a refresh): the skipping
    # grammar refuses them on every tag whose name starts with this element's first letter.
    # On a loading row: the grammar skips the element unless it has one of them (an <input>
    # loads only with a src), and its reader reads it when it has.
    refused: tuple[str, ...] = ()


def _loading(
    tag: str,
    loads: tuple[str, ...] = ("src",),
    moves: tuple[str, ...] = SRC_SRCSET,
    *,
    content: Content = Content.MARKUP,
    placeholder: bool = False,
    kept_when_removed: bool = False,
    inline_document: str | None = None,
    script_url: str | None = None,
    refused: tuple[str, ...] = (),
) -> Element:
    """A row for an element gated by what it loads (most load from src, and move src and
    srcset aside)."""
    return Element(
        tag,
        Reader.LOADING,
        content,
        loads,
        moves,
        placeholder,
        kept_when_removed,
        inline_document,
        script_url,
        refused,
    )


# The table. Rows with a reader come first, in this order: it is the order in which the
# skipping grammar tries names of the same length (changing it changes no match, only the
# pattern's text and its speed a little).
ELEMENTS: Final[tuple[Element, ...]] = (
    # An SVG <script> loads from href/xlink:href as an HTML one does from src.
    Element(
        "script",
        Reader.SCRIPT,
        Content.SCRIPT_DATA,
        loads=("src", "href", "xlink:href"),
        moves=("type", "src", "href", "xlink:href"),
    ),
    _loading(
        "iframe",
        content=Content.RAW_TEXT,
        placeholder=True,
        inline_document="srcdoc",
        script_url="src",
    ),
    _loading("img", loads=SRC_SRCSET),
    _loading("source", loads=SRC_SRCSET),
    # What a <link> loads is decided by its rel too (see decisions.LINK_LOADS).
    _loading("link", loads=("href", "imagesrcset"), moves=("href", "imagesrcset")),
    _loading("video", loads=("src", "poster"), moves=("src", "poster"), kept_when_removed=True),
    _loading("audio", kept_when_removed=True),
    _loading("object", loads=("data",), moves=("data",), script_url="data"),
    _loading("embed", script_url="src"),
    # <image> is <img> in HTML and an image in SVG (href, or the older xlink:href).
    _loading(
        "image",
        loads=("href", "xlink:href", "src", "srcset"),
        moves=("href", "xlink:href", "src", "srcset"),
    ),
    # <input type=image> loads its src; the many other inputs of a page (text, hidden,
    # checkbox …) load nothing: the grammar skips an input without a src or attributionsrc
    # (its style, handlers and formaction are checked as on any skipped tag).
    _loading("input", script_url="formaction", refused=("src", "attributionsrc")),
    _loading("frame", script_url="src"),
    _loading("track"),
    # SVG filters' external images (href, or the older xlink:href).
    _loading("feimage", loads=("href", "xlink:href"), moves=("href", "xlink:href")),
    # SVG animations that set an href (on an <image>, <feImage>, <script> …): gated by the
    # values they set when their attributeName is href or xlink:href (decisions.ANIMATES).
    *(
        _loading(t, loads=("to", "values", "from", "by"), moves=("to", "values", "from", "by"))
        for t in ("set", "animate")
    ),
    Element("style", Reader.STYLE, Content.RAW_TEXT),
    Element("textarea", Reader.RAW, Content.RCDATA),
    Element("title", Reader.RAW, Content.RCDATA),
    Element("xmp", Reader.RAW, Content.RAW_TEXT),
    Element("noembed", Reader.RAW, Content.RAW_TEXT),
    Element("noframes", Reader.RAW, Content.RAW_TEXT),
    Element("svg", Reader.FOREIGN, Content.FOREIGN),
    Element("math", Reader.FOREIGN, Content.FOREIGN),
    Element("noscript", Reader.NOSCRIPT, Content.NOSCRIPT),
    Element("plaintext", Reader.PLAINTEXT, Content.PLAINTEXT),
    Element("body", Reader.STYLED),  # (its legacy background and handlers: read in Python)
    # The first <base href> sets the base URL that relative URLs after it resolve against:
    # "gtm.js" after <base href="https://www.googletagmanager.com/"> is the vendor's.
    # A <base> on a blocked vendor's host is gated itself (its href moved aside): relative URLs
    # after it then stay on the site's host, CSS and handlers' too, which no reader resolves.
    Element("base", Reader.BASE, moves=("href",)),
    # Skipped by the grammar unless an attribute says otherwise: a "javascript:" URL runs on a
    # click (links) or a submit (forms); a ping is a beacon on every click of a link; an SVG
    # <a>'s xlink:href, rare, is refused.
    # An attributionsrc (Attribution Reporting) is a background request on a click.
    Element(
        "a", Reader.SKIPPED, script_url="href", refused=("ping", "xlink:href", "attributionsrc")
    ),
    Element("area", Reader.SKIPPED, script_url="href", refused=("ping", "attributionsrc")),
    Element("form", Reader.SKIPPED, script_url="action"),
    Element("button", Reader.SKIPPED, script_url="formaction"),
    # A refresh (<meta http-equiv=refresh content="0;url=…">) navigates to its content's URL as
    # the page loads: such a meta is read (its content waits, as data-consent-content, when it
    # names a blocked vendor's URL; see decisions.blocked_refresh).
    Element("meta", Reader.SKIPPED, refused=("http-equiv",)),
    # The legacy background of tables and their parts (an image).
    *(
        Element(t, Reader.SKIPPED, refused=("background",))
        for t in ("table", "thead", "tbody", "tfoot", "tr", "td", "th")
    ),
)

# Foreign content (<svg>, <math>) is left, as the tree builder leaves it, by the end tag of its
# root, or by a start tag that breaks out of it (HTML Standard, "parsing main inforeign": b, div,
# p … and font with color, face or size); inside an integration point (SVG foreignObject, desc,
# title; MathML mi, mo, mn, ms, mtext, annotation-xml) the content is HTML's. The tokenizer reads
# these to know when foreign content is closed (tokenizer.HtmlRewriter._open).
INTEGRATION_POINTS: Final = {
    "svg": ("foreignobject", "desc", "title"),
    "math": ("mi", "mo", "mn", "ms", "mtext", "annotation-xml"),
}
BREAKOUT: Final = (
    *("b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em"),
    *("embed", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li", "listing"),
    *("menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s", "small", "span", "strong"),
    *("strike", "sub", "sup", "table", "tt", "u", "ul", "var", "font"),
)

# Where each row's loading is specified (HTML Standard sections by name; SVG 2, Filter Effects,
# SVG Animations, Attribution Reporting; Chromium where it goes beyond them). LOADERS and the
# README's list are made from the rows and these.
CITED: Final = {
    "script": "HTML: script (prepare the script element); SVG 2: script href",
    "iframe": "HTML: iframe (process the iframe attributes: src, srcdoc)",
    "img": "HTML: img (update the image data: src, srcset)",
    "source": "HTML: source in picture (srcset) and in media elements (src)",
    "link": "HTML: link (fetch and process the linked resource; the rel values below)",
    "video": "HTML: media elements (src), video (poster)",
    "audio": "HTML: media elements (src)",
    "object": "HTML: object (data)",
    "embed": "HTML: embed (src)",
    "image": "SVG 2: image (href, xlink:href); HTML's parser reads <image> as <img>",
    "input": "HTML: input type=image (src)",
    "frame": "HTML: obsolete frame (src), still loaded by Chromium",
    "track": "HTML: track (src)",
    "feimage": "Filter Effects 1: feImage (href, xlink:href)",
    "set": "SVG Animations: set (to) on an href attribute (Chromium loads what it sets)",
    "animate": "SVG Animations: animate (values, from, to, by) on an href attribute",
    "a": "HTML: hyperlink auditing (ping, on a click); Attribution Reporting (attributionsrc)",
    "area": "HTML: hyperlink auditing (ping); Attribution Reporting (attributionsrc)",
    "meta": "HTML: the refresh pragma (http-equiv=refresh, its content's URL)",
    **{
        t: "HTML Rendering: the legacy background attribute (an image), as Chromium loads it"
        for t in ("table", "thead", "tbody", "tfoot", "tr", "td", "th")
    },
}
# What a <link> loads by its rel, and where that is specified (decisions.LINK_LOADS reads it).
LINK_RELS: Final = {
    "stylesheet": "HTML: link type stylesheet",
    "preload": "HTML: link type preload",
    "modulepreload": "HTML: link type modulepreload",
    "prefetch": "HTML: link type prefetch",
    "preconnect": "HTML: link type preconnect (a connection, no request)",
    "dns-prefetch": "HTML: link type dns-prefetch",
    "prerender": "Chromium: NoState Prefetch (rel=prerender)",
    "icon": "HTML: link type icon",
    "apple-touch-icon": "Chromium and Safari: touch icons",
    "apple-touch-icon-precomposed": "Chromium and Safari: touch icons",
    "mask-icon": "Safari: pinned tab icon",
    "manifest": "HTML: link type manifest (Web App Manifest)",
    "compression-dictionary": "Compression Dictionary Transport (RFC 9842); Chromium",
    "dictionary": "Chromium: the first name of compression-dictionary",
}


@dataclass(frozen=True)
class Loader:
    """One way a page makes the browser fetch something, for the README's list."""

    where: str  # the element(s), or the mechanism
    what: str  # the attributes, rel values or contents read
    source: str  # where it is specified


def _element_loaders() -> tuple[Loader, ...]:
    """One Loader per row that loads or beacons (rows alike in both joined): its attributes,
    as the table says. (A skipped row's other refusals are there for javascript: URLs.)"""
    found: list[Loader] = []
    for row in ELEMENTS:
        beacons = row.refused if row.reader is Reader.SKIPPED else ()  # (a loader's: its loads)
        names = (*row.loads, *(n for n in beacons if n in _BEACONS))
        if row.inline_document:
            names += (row.inline_document,)
        if row.tag in ("img", "script"):
            names += ("attributionsrc",)  # (read as a beacon on every element read)
        if row.tag == "meta":
            names = ("content of http-equiv=refresh",)
        if not names:
            continue
        what = ", ".join(dict.fromkeys(names))
        last = found[-1] if found else None
        if last is not None and (last.what, last.source) == (what, CITED[row.tag]):
            found[-1] = Loader(f"{last.where}, <{row.tag}>", what, last.source)
        else:
            found.append(Loader(f"<{row.tag}>", what, CITED[row.tag]))
    return tuple(found)


_BEACONS: Final = ("ping", "background", "attributionsrc")


# The list: every attribute, rel value, content and header through which a page makes the
# browser contact a host, each gated on a vendor's (tests/test_loader_list.py: the README holds
# exactly this list, and every URL attribute is on it or on NOT_LOADING).
LOADERS: Final = (
    *_element_loaders(),
    Loader("<body>", "background", "HTML Rendering: the legacy background attribute"),
    *(Loader("<link>", f"rel={rel} (href, imagesrcset)", why) for rel, why in LINK_RELS.items()),
    Loader(
        "any element", "style (url(), image-set())", "CSS Values: url(); CSS Images: image-set()"
    ),
    Loader("<style>", "url(), @import, image-set()", "CSS Cascade: @import; CSS Values: url()"),
    Loader("any element", "on* handlers loading a URL", "HTML: event handler content attributes"),
    Loader(
        "<a>, <area>, <form>, <button>, <input>, <iframe>, <frame>, <object>",
        "javascript: URLs (href, action, formaction, src, data)",
        "HTML: javascript: URL navigation",
    ),
    Loader("<script type=speculationrules>", "urls, document rules", "Speculation Rules (WICG)"),
    Loader("<script type=importmap>", "imports, scopes", "HTML: import maps"),
    Loader("<base>", "href (what relative URLs after it mean)", "HTML: the document base URL"),
    Loader("header", "Link (resource hints)", "RFC 8288; HTML: Link headers' preload, preconnect"),
    Loader("header", "Refresh", "HTML: the refresh pragma, as a header"),
    Loader("header", "Speculation-Rules (its rules file)", "Speculation Rules (WICG)"),
    Loader("URL schemes", "http, https (ws, wss from scripts only)", "Fetch: scheme fetch"),
)
# URL attributes that make no request by themselves, and why (a bug if one did).
NOT_LOADING: Final = {
    "a href, area href": "a navigation the visitor starts (prefetched only by speculation rules)",
    "form action, button formaction, input formaction": "a navigation on submit",
    "blockquote cite, q cite, del cite, ins cite": "a reference, never fetched",
    "img longdesc, frame longdesc, iframe longdesc": "a reference, never fetched",
    "img lowsrc": "not supported by Chromium",
    "html manifest": "Application Cache, removed from Chromium",
    "object codebase, object classid, object archive, applet, param value": (
        "plugins, removed from Chromium"
    ),
    "itemtype, itemid": "microdata identifiers, never fetched",
    "svg use href": "external references are fetched in same-origin mode: no cross-origin request",
    "svg a href, textPath/mpath/pattern/gradient href": "links or references inside the document",
    "math href": "a link",
    "link rel=canonical, alternate, author, help, license, next, prev, search, pingback": (
        "not fetched by the browser"
    ),
}


def loader_list() -> str:
    """LOADERS and NOT_LOADING as the README's tables (Markdown)."""
    lines = ["| where | what is read | specified in |", "| --- | --- | --- |"]
    lines += [f"| `{x.where}` | {x.what} | {x.source} |" for x in LOADERS]
    lines += ["", "| URL attribute | why it is no loader |", "| --- | --- |"]
    lines += [f"| {k} | {why} |" for k, why in NOT_LOADING.items()]
    return "\n".join(lines)


# First letters of start tags, commonest first, as counted on the bench pages: the skipping
# grammar tries the branches of the letters it must look at in this order.
START_LETTERS: Final = "asdlmpituhbeofcngvrkqjywxz"


def _b(names: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(n.encode("ascii") for n in names)


def _moved(names: tuple[str, ...]) -> dict[bytes, bytes]:
    return {
        n.encode("ascii"): b"data-consent-" + n.replace(":", "-").encode("ascii") for n in names
    }


def _by_letter(rows: tuple[Element, ...]) -> dict[str, tuple[str, ...]]:
    """Per first letter, the attributes refused on skipped tags with that letter (ordered, no
    repeats), for every letter of a skipped element with something to refuse or check."""
    refused: dict[str, tuple[str, ...]] = {}
    for row in rows:
        if row.refused or row.script_url:
            known = refused.get(row.tag[0], ())
            refused[row.tag[0]] = known + tuple(n for n in row.refused if n not in known)
    return refused


def _url_checks(rows: tuple[Element, ...]) -> dict[str, str]:
    """Per first letter of skipped elements, the one attribute holding a "javascript:" URL."""
    checks: dict[str, str] = {}
    for row in rows:
        if row.script_url is not None and (
            checks.setdefault(row.tag[0], row.script_url) != row.script_url
        ):
            raise ValueError(f"two script URL attributes for tags starting {row.tag[0]!r}")
    return checks


_READ: Final = tuple(row for row in ELEMENTS if row.reader is not Reader.SKIPPED)
# Rows the skipping grammar skips unless an attribute is refused (or a check fails).
_SKIPPED: Final = tuple(row for row in ELEMENTS if row.reader is Reader.SKIPPED or row.refused)
_RAW_CONTENT: Final = (Content.RAW_TEXT, Content.RCDATA)

# Start tags that always stop the skipping grammar (read in Python), in the table's order.
SPECIAL_TAGS: Final = tuple(row.tag for row in _READ if not row.refused)
# Elements gated as a whole by what they load.
GATED_TAGS: Final = tuple(row.tag for row in _READ if row.reader in (Reader.SCRIPT, Reader.LOADING))
LOADING: Final = frozenset(t.encode("ascii") for t in GATED_TAGS if t != "script")
# Raw text and RCDATA elements read by their reader only for that (not loading anything).
RAW_TAGS: Final = tuple(row.tag for row in _READ if row.content in _RAW_CONTENT and not row.loads)
FOREIGN_TAGS: Final = tuple(row.tag for row in _READ if row.content is Content.FOREIGN)
FOREIGN: Final = frozenset(_b(FOREIGN_TAGS))
# The elements whose content ends at the first end tag of theirs (grammar.RAW_END compiles it).
RAW_END_TAGS: Final = tuple(
    row.tag for row in _READ if row.content in (*_RAW_CONTENT, Content.NOSCRIPT)
)
_SCRIPT: Final = next(row for row in _READ if row.reader is Reader.SCRIPT)
SCRIPT_SOURCES: Final = _b(_SCRIPT.loads)
# The attributes each loading element loads from, and those moved aside when it is gated.
SOURCES: Final = {
    row.tag.encode("ascii"): _b(row.loads) for row in _READ if row.reader is Reader.LOADING
}
MOVED: Final = {
    row.tag.encode("ascii"): _moved(row.moves)
    for row in _READ
    if row.reader in (Reader.SCRIPT, Reader.LOADING, Reader.BASE)
}
PLACEHOLDERS: Final = frozenset(row.tag.encode("ascii") for row in _READ if row.placeholder)
KEPT_WHEN_REMOVED: Final = frozenset(
    row.tag.encode("ascii") for row in _READ if row.kept_when_removed
)
# Loading elements whose content is raw text (iframe): after the start tag, up to the end tag.
RAW_LOADING: Final = frozenset(
    row.tag.encode("ascii")
    for row in _READ
    if row.reader is Reader.LOADING and row.content in _RAW_CONTENT
)
INLINE_DOCUMENTS: Final = {
    row.tag.encode("ascii"): row.inline_document.encode("ascii")
    for row in _READ
    if row.inline_document is not None
}
# The elements where a "javascript:" URL runs, and the attribute it must then be in.
SCRIPT_URL_TAGS: Final = {
    row.tag.encode("ascii"): row.script_url.encode("ascii")
    for row in ELEMENTS
    if row.script_url is not None
}
# The attributes in which each such element runs a "javascript:" URL (an SVG <a> also by its
# xlink:href); on other elements, or in other attributes, such a URL runs nothing.
SCRIPT_RUNS: Final = {
    tag: frozenset({attr, b"xlink:href"} if tag == b"a" else {attr})
    for tag, attr in SCRIPT_URL_TAGS.items()
}
# Per first letter of skipped tags: attributes the skipping grammar refuses, and the attribute
# it checks for a "javascript:" URL.
LOADING_ATTRS: Final = _by_letter(_SKIPPED)
URL_CHECKS: Final = _url_checks(_SKIPPED)
# The letters the skipping grammar must look at, commonest first (see START_LETTERS).
LETTER_ORDER: Final = "".join(
    c for c in START_LETTERS if c in {t[0] for t in SPECIAL_TAGS} | set(LOADING_ATTRS)
)
# Which reader takes each special start tag.
READERS: Final = {row.tag.encode("ascii"): row.reader for row in _READ}

__all__ = [
    "BREAKOUT",
    "ELEMENTS",
    "FOREIGN",
    "FOREIGN_TAGS",
    "GATED_TAGS",
    "INLINE_DOCUMENTS",
    "INTEGRATION_POINTS",
    "KEPT_WHEN_REMOVED",
    "LETTER_ORDER",
    "LINK_RELS",
    "LOADERS",
    "LOADING",
    "LOADING_ATTRS",
    "MOVED",
    "NOT_LOADING",
    "PLACEHOLDERS",
    "RAW_END_TAGS",
    "RAW_LOADING",
    "RAW_TAGS",
    "READERS",
    "SCRIPT_RUNS",
    "SCRIPT_SOURCES",
    "SCRIPT_URL_TAGS",
    "SOURCES",
    "SPECIAL_TAGS",
    "START_LETTERS",
    "URL_CHECKS",
    "Content",
    "Element",
    "Loader",
    "Reader",
    "loader_list",
]
