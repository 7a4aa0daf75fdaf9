"""The streaming HTML rewriter that keeps trackers inert until the visitor consents.

Speed comes from letting one compiled regex (``_RUN``) tokenize, in C, everything that can never
need a change: text, comments, end tags and start tags of uninteresting elements, each tag matched
whole with the tokenizer's attribute-quoting rules so that ``<div title="<script src=…>">`` is one
token. Python code runs only where ``_RUN`` stops: at a start tag of an element that may load
something (script, iframe, img, source, link, video, input …), at elements whose content the
tokenizer treats specially (style, textarea, title, noscript …), at any start tag whose ``style``
may load from another host (rare: a "(" and a "//" in it) or whose event handler may (a "//"
in it), at an ``<a>``/``<area>`` with a ``ping`` or a table part with a ``background``, or where
the buffer ends inside an unfinished token. Strict HTML tokenizing rules are followed where
they decide what is markup: comments (with ``<!-->``, ``--!>``), bogus comments, script data
with its escape states, raw text and RCDATA elements, attribute quoting, any letter case.

Bytes outside the elements it changes are copied untouched, so any ASCII-compatible charset works.
``<noscript>`` content is rewritten as markup (what a browser without scripting loads) but bounded
by the first ``</noscript`` (where a scripting browser ends it), so neither view hides a tracker.
An iframe's ``srcdoc`` document is rewritten like a page of its own.

CSS (``cssgate.py``): a ``<style>`` element is held whole; when it names a blocked vendor's host
its ``url(…)`` and ``@import``/``image-set()`` strings on that vendor become ``data:,`` (no
request, every other byte kept) and the original goes into ``data-consent-css`` for the client to
put back. ``style`` attributes of any element get the same treatment (``data-consent-style``).
Attributes are read and tags rebuilt by ``markup.py``.

``<script … />`` is read as HTML reads it (script data follows) until the first ``<svg>`` or
``<math>``; after one, a browser may read it as SVG does (no content), so it is closed right away
and both readings agree; in XHTML it has no content. Known limits: in CSS, ``https:host``
without slashes is not read. After an ``<svg>``/``<math>`` (and in XHTML) the content of raw
text and RCDATA elements (title, style, textarea, iframe …) is also rewritten as markup up to
their first end tag: in foreign content they hold markup. Foreign content is otherwise read with
HTML rules: a CDATA section is a bogus comment (it ends no later than the CDATA section does, so
nothing after it is missed), markup inside an SVG ``<script>`` is script data. Inline event
handlers are read for vendor snippets on ``<body>`` and the elements the rewriter parses, and
for vendor URLs on every element; URLs built at run time by unknown scripts are not looked at.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Final
from urllib.parse import unquote_to_bytes

from . import css
from .cssgate import CssGate, HostVendors, Moved
from .gate import (
    C0_SPACE,
    HINT_RELS,
    TAB_NEWLINE,
    TAG_SIG,
    TAG_URL,
    VendorIndex,
    decode_attr,
    index_for,
    own_host,
    split_url,
)
from .markup import (
    REFERENCE,
    WS,
    Attr,
    Buf,
    ascii_reference,
    attr_text,
    first,
    parse_attrs,
    rebuild,
)
from .policy import Policy, Vendor

Placeholder = Callable[[Vendor | None, str], bytes]

_Buf = Buf
_Out = list[bytes | bytearray | memoryview]  # what _scan writes: pieces joined once


def _ci(word: str) -> str:
    return "".join(f"[{c}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


# One tag's attributes, as the tokenizer reads them: a quote only opens a value right after `=`,
# a name followed by `=` has a value (quoted, or unquoted not starting with a quote) unless `>`
# follows, and that `=` never starts another name.
# An unclosed quoted value therefore never matches as something shorter: a tag cut short at the
# end of a chunk waits instead of ending inside its value.
# A tag without attributes ends at once (entering sre's loop of branches costs more than that);
# the first branch is a shortcut for the commonest shape, ` name="value"` (25% faster in sre);
# the others are the general rule it is a special case of. Each branch starts with one
# character class (`x` then `x*+`, not `x++`): sre then skips a branch that cannot match with a
# single test instead of entering it (4% fewer instructions for _RUN on the bench pages).
_WS: Final = r"\t\n\f\r "
_VALUE: Final = r"(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >\"'][^\t\n\f\r >]*+|(?=>))"
_NAME_VALUE: Final = rf"(?:[{_WS}]*+=[{_WS}]*+{_VALUE}|(?![{_WS}]*+=))"
_ATTRS: Final = (
    rf"(?:>|(?:[{_WS}][{_WS}]*+[^{_WS}/>\"'=][^{_WS}/>\"'=]*+=\"[^\"]*+\""
    rf"|[{_WS}/][{_WS}/]*+|[^{_WS}/>][^{_WS}/>=]*+{_NAME_VALUE})*+>)"
)
# The same for the tags _RUN skips, except a ``style`` that may load from another host, or an
# event handler that may: such a tag stops _RUN and is read in Python, so a plain <div>/<span>
# pays only when it has one. A style is let through when it holds no "(" (every way to write
# url(…) or image-set(…) has one), or no "//" and no "\\" (no other host); references other
# than the few that cannot spell either ("&quot;" …) count as both. A handler (``on…``) is let
# through when it holds no "//" and no "/\" (its own beacon names a URL; JSON's "\/\/" has a
# "/\"). That check is a lookahead of a greedy ``[^"]*`` then a literal, which sre runs as tight
# loops forward and back: a loop over a character class costs twice as much on a page full of
# handlers. (Names starting with "s" or "o", or a letter of a name refused, leave the shortcut
# and the general branch for one last branch: after one test of that letter, it checks a
# style's or a handler's value and refuses the names refused. Branches sre tries at every
# tag's ">" cost.)
_SAFE_REF: Final = r"&(?:quot|amp|apos|lt|gt|nbsp);"


def _safe_style(quote: str) -> str:
    """A style value (between ``quote``s, or unquoted) that can load nothing from another host."""
    end, other = (quote, quote) if quote else (r"\t\n\f\r >", r"\t\n\f\r >\"'")
    first = "" if quote else rf"(?=[^{other}])"
    no_paren = rf"(?:[^{end}(&]++|{_SAFE_REF})*+"
    no_host = rf"(?:[^{end}&/\\]++|{_SAFE_REF}|/(?![/\\]))*+"
    if quote:
        return rf"{quote}(?:{no_paren}{quote}|{no_host}{quote})"
    return rf"{first}(?:{no_paren}(?=[{end}])|{no_host}(?=[{end}]))"


def _handler(quote: str) -> str:
    """A handler's value (between ``quote``s, or unquoted) that names no other host."""
    end = quote or r"\t\n\f\r >"
    first = "" if quote else r"(?=[^\t\n\f\r >\"'])"
    return rf"{quote}{first}(?![^{end}]*/[/\\])[^{end}]*+{quote}"


# What follows "javascript:" in the do-nothing URLs of links that a click handler serves
# ("javascript:;", "javascript:void(0)", common on news sites), which run no vendor's code.
_DO_NOTHING: Final = r"(?:void\(0\))?;?"


def _no_script_url(quote: str) -> str:
    """A URL value (between ``quote``s, or unquoted) that runs no code: after what the URL
    parser strips, it starts with neither a "j" nor a character reference, or it is one of the
    do-nothing ``javascript:`` URLs of links that a click handler serves (``javascript:;``,
    ``javascript:void(0)``, common on news sites)."""
    end = quote or r"\t\n\f\r >"
    first = "" if quote else r"(?=[^\t\n\f\r >\"'])"
    harmless = (rf"{_ci('avascript:')}{_DO_NOTHING}"
                + (rf"[{_WS}]*+{quote}" if quote else rf"(?=[{end}])"))
    return rf"{quote}{first}(?![\x00-\x20]*+(?:&|[jJ](?!{harmless})))[^{end}]*+{quote}"


def _checked(value: Callable[[str], str]) -> str:
    """The rest of an attribute after its name: its value, if any, is ``value``'s."""
    values = "|".join(value(q) for q in (chr(34), chr(39), ""))
    return rf"(?:[{_WS}]*+=[{_WS}]*+(?:{values}|(?=>))|(?![{_WS}]*+=))"


# After their first letter, the names whose values are checked rather than refused: what the
# other names with that letter must not go on with, and the name's rest with its check.
_CHECKED: Final = {
    "s": (rf"{_ci('tyle')}[{_WS}/>=]", rf"{_ci('tyle')}(?=[{_WS}/>=]){_checked(_safe_style)}"),
    "o": ("[nN]", rf"[nN][^{_WS}/>=]*+{_checked(_handler)}"),
}


def _plain_attrs(
    refused: Sequence[str] = (), checked: Mapping[str, tuple[str, str]] = _CHECKED,
    value: str = '[^"]*+', admitted: str = "",
) -> str:
    """_ATTRS for the tags _RUN skips: refuses a style or an event handler that may load from
    another host, any other value ``checked`` refuses, and any attribute named in ``refused``
    (such a tag stops _RUN, to be read in Python). The shortcut ` name="value"` takes the values
    ``value`` matches; names starting with a letter of ``admitted`` take it too although
    checked (``value`` must then pass only what their check does)."""
    letters = sorted({n[0] for n in refused} | set(checked))
    apart = "".join(c + c.upper() for c in letters)  # first letters that leave the shortcut
    shortcut = "".join(c + c.upper() for c in letters if c not in admitted)

    def letter(c: str) -> str:
        """A name starting with c: checked, or any other but those refused."""
        check = checked.get(c)
        others = [check[0]] if check else []
        others += [_ci(n[1:]) + rf"[{_WS}/>=]" for n in refused if n[0] == c]
        rest = rf"(?!{'|'.join(others)})[^{_WS}/>=]*+{_NAME_VALUE}"
        return rf"(?<=[{c}{c.upper()}])" + (rf"(?:{check[1]}|{rest})" if check else rest)

    branches = [
        rf"[{_WS}][{_WS}]*+[^{_WS}/>\"'={shortcut}][^{_WS}/>\"'=]*+=\"{value}\"",
        rf"[{_WS}/][{_WS}/]*+",
        rf"[^{_WS}/>{apart}][^{_WS}/>=]*+{_NAME_VALUE}",
        rf"[{apart}](?:{'|'.join(letter(c) for c in letters)})",
    ]
    return rf"(?:>|(?:{'|'.join(branches)})*+>)"


# Attributes that load something on a few elements only, refused by the grammar of the tags
# whose name starts with that letter: <a>/<area> ping (a beacon on every click of the link), and
# the legacy background of <table> and its parts (<body> is read in Python anyway). URLs that
# may run code are checked instead: a "javascript:" URL runs on a click (an <a>'s href) or a
# submit (a <form>'s action, a <button>'s formaction), as an onclick does; an SVG <a>'s
# xlink:href, rare, is refused.
_LOADING_ATTRS: Final = {"a": ("ping", "xlink:href"), "b": (), "f": (), "t": ("background",)}


def _url_check(name: str) -> dict[str, tuple[str, str]]:
    """_CHECKED, and a check that the URL attribute ``name`` holds no ``javascript:`` URL."""
    rest = _ci(name[1:])
    return {**_CHECKED, name[0]: (rf"{rest}[{_WS}/>=]",
                                  rf"{rest}(?=[{_WS}/>=]){_checked(_no_script_url)}")}


_LOADING_CHECKS: Final = {"a": _url_check("href"), "b": _url_check("formaction"),
                          "f": _url_check("action")}
# The shortcut of an <a>'s attributes takes its href too, as most links write it: every value
# it takes then is one _no_script_url takes (the checked branch, which every href would take
# otherwise, costs a link 40% more).
_LOADING_SHORTCUTS: Final = {
    "a": (rf'(?![\x00-\x20&J]|j(?!avascript:{_DO_NOTHING}[{_WS}]*+"))[^"]*+', "h"),
}
_PLAIN_ATTRS: Final = _plain_attrs()

_GATED_TAGS: Final = (
    "script", "iframe", "img", "source", "link", "video", "audio", "object", "embed", "image",
    "input", "frame", "track",
)
_RAW_TAGS: Final = ("style", "textarea", "title", "xmp", "noembed", "noframes")
# <svg>/<math> start foreign content, where "<script … />" has no content (see _script).
_FOREIGN_TAGS: Final = ("svg", "math")
_SPECIAL_TAGS: Final = (
    *_GATED_TAGS, *_RAW_TAGS, *_FOREIGN_TAGS, "noscript", "plaintext", "body",
)

# Start-tag names that need Python. _RUN matches other tags with one check of the first letter:
# a letter that starts no special name is skipped at once; after one that does, a lookahead for
# the special names with that letter (delimited: "<scripts" is an ordinary tag) rejects them.
# (Faster in sre than fixed-width lookbehinds at the name's end, which every name paid for.)


def _run(special: Sequence[str]) -> re.Pattern[bytes]:
    """The pattern that skips everything but the start tags named in ``special``."""
    firsts = {t[0] for t in special}
    others = "".join(c for c in "abcdefghijklmnopqrstuvwxyz" if c not in firsts)

    def letter(c: str) -> str:
        return (
            f"[{c}{c.upper()}](?!(?:"
            + "|".join(_ci(t[1:]) for t in sorted(special, key=len, reverse=True) if t[0] == c)
            + r")[\t\n\f\r />])"
        )

    # (Tried in turn, the commonest first letters on the bench pages first: "a", "span" …)
    order = sorted(firsts | set(_LOADING_ATTRS), key="aslmpitbeofnvx".find)
    shared = "|".join(
        [f"[{others}{others.upper()}]"]
        + [letter(c) for c in order if c in firsts and c not in _LOADING_ATTRS]
    )
    plain_start_tag = "|".join(
        f"<(?:{shared})[^\t\n\f\r />]*+{_PLAIN_ATTRS}" if c == "" else
        f"<{letter(c) if c in firsts else f'[{c}{c.upper()}]'}[^\t\n\f\r />]*+"
        + _plain_attrs(_LOADING_ATTRS[c], _LOADING_CHECKS.get(c, _CHECKED),
                       *_LOADING_SHORTCUTS.get(c, ()))
        for c in ["a", "", *sorted(set(_LOADING_ATTRS) - {"a"})]
    )
    return re.compile(
        (
            r"[^<]*+(?:(?:"
            rf"</[a-zA-Z][^\t\n\f\r />]*+{_ATTRS}"
            rf"|{plain_start_tag}"
            r"|<!--(?:-?>|[^-]*+(?:-(?!-!?>)[^-]*+)*+--!?>)"  # (unrolled: sre skips in C)
            r"|<!(?!--)[^>]*+>|<\?[^>]*+>|</(?![a-zA-Z])[^>]*+>"
            r"|<(?=[^a-zA-Z/!?])"  # a lone '<' is text (but not at the buffer's end: wait)
            r")[^<]*+)*+"
            # … then, in the same call, the special start tag it stopped at (when complete).
            rf"(?:<([a-zA-Z][^\t\n\f\r />]*+){_ATTRS})?"
        ).encode("ascii"),
        re.S,
    )


_RUN: Final = _run(_SPECIAL_TAGS)
# Once foreign content may be open, <svg> and <math> tell nothing more: they no longer stop it.
_RUN_FOREIGN: Final = _run([t for t in _SPECIAL_TAGS if t not in _FOREIGN_TAGS])
_COMMENT_END: Final = re.compile(rb"--!?>")
_SCRIPT_END: Final = re.compile(rf"</{_ci('script')}[\t\n\f\r />]".encode("ascii"))
_SCRIPT_TOKEN: Final = re.compile(rf"<!--|-->|<(/?){_ci('script')}[\t\n\f\r />]".encode("ascii"))
_END_TAG_REST: Final = re.compile(rf"[^\t\n\f\r />]*+{_ATTRS}".encode("ascii"))
# An unfinished tag is read on from where the last chunk left it (``_tag_end``), not from its
# "<" again at each chunk: a value of megabytes holding ">"s would make that quadratic. Its
# name, complete once a delimiter follows; then its complete attributes, each only when what
# follows settles it (a name not followed by "=", an unquoted value followed by a space or ">");
# then the opening of a quoted value, read on with a search for its closing quote. After a
# quoted value, a "/" or spaces, the tokenizer reads on as between attributes (a "=" starts a
# name), as the tokens here do.
_TAG_OPEN: Final = re.compile(rf"</?[a-zA-Z][^{_WS}/>]*+(?=[{_WS}/>])".encode("ascii"))
_TAG_TOKENS: Final = re.compile(
    (rf"(?:[{_WS}/]++|[^{_WS}/>][^{_WS}/>=]*+(?:[{_WS}]*+=[{_WS}]*+"
     rf"(?:\"[^\"]*+\"|'[^']*+'|[^{_WS}>\"'][^{_WS}>]*+(?=[{_WS}>])|(?=>))"
     rf"|(?=[{_WS}]*+[^{_WS}=])))*+").encode("ascii")
)
_QUOTE_OPEN: Final = re.compile(
    rf"[^{_WS}/>][^{_WS}/>=]*+[{_WS}]*+=[{_WS}]*+[\"']".encode("ascii")
)
_TAG_START: Final = re.compile(rb"</?[a-zA-Z]")  # (a tag, where _RUN stops: not yet complete)
_AT_OPEN: Final = 0  # _tag_end's modes: at the tag's "<", between attributes, or in a value
_IN_ATTRS: Final = 1  # (quoted with the byte the mode is: '"' or "'")
_LOADING: Final = frozenset(
    (b"img", b"source", b"link", b"video", b"audio", b"iframe", b"object", b"embed", b"image",
     b"input", b"frame", b"track")
)
# The attributes an element loads from (and whose values the client puts back), by tag name.
# <image> is <img> in HTML and an image in SVG (href, or the older xlink:href); an SVG <script>
# loads from href/xlink:href as an HTML one does from src.
_SCRIPT_SOURCES: Final = (b"src", b"href", b"xlink:href")
# (Others load from src: <iframe>, <frame>, <audio>, <embed>, <input type=image>, <track> …)
_SOURCES: Final = {
    b"link": (b"href", b"imagesrcset"),
    b"video": (b"src", b"poster"),
    b"img": (b"src", b"srcset"),
    b"source": (b"src", b"srcset"),
    b"object": (b"data",),
    b"image": (b"href", b"xlink:href", b"src", b"srcset"),
}
_MOVED: Final = {
    b"script": {b"type": b"data-consent-type", b"src": b"data-consent-src",
                b"href": b"data-consent-href", b"xlink:href": b"data-consent-xlink-href"},
    b"link": {b"href": b"data-consent-href", b"imagesrcset": b"data-consent-imagesrcset"},
    b"video": {b"src": b"data-consent-src", b"poster": b"data-consent-poster"},
    b"object": {b"data": b"data-consent-data"},
    b"image": {b"href": b"data-consent-href", b"xlink:href": b"data-consent-xlink-href",
               b"src": b"data-consent-src", b"srcset": b"data-consent-srcset"},
}
_HANDLER: Final = re.compile(rb"[\t\n\f\r /\"']on")  # where an event handler's name may start
# Where a "javascript:" URL may be: a URL attribute whose value starts, after what the URL parser
# strips, with a "j" or a character reference (in a lowercased tag); but not the do-nothing
# "javascript:void(0)" of links that a click handler serves.
_JS_URL: Final = (rb"(?:href|src|action|formaction|data)[\t\n\f\r ]*+=[\t\n\f\r ]*+[\"']?"
                  rb"[\x00-\x20]*+(?:&|j(?!avascript:" + _DO_NOTHING.encode()
                  + rb"[\t\n\f\r ]*+[\"'>]))")
_SCRIPT_URL: Final = re.compile(rb"[\t\n\f\r /\"':]" + _JS_URL)
_SCRIPT_URL_ATTRS: Final = frozenset((b"href", b"src", b"action", b"formaction", b"data",
                                      b"xlink:href"))
# The elements where such a URL runs, and in which attribute it must then be: on a click
# (links), on a submit (forms), on load (frames).
_SCRIPT_URL_TAGS: Final = {
    b"a": b"href", b"area": b"href", b"form": b"action", b"button": b"formaction",
    b"input": b"formaction", b"iframe": b"src", b"frame": b"src", b"object": b"data",
    b"embed": b"src",
}
_SPACED_EQUALS: Final = re.compile(rb"[\t\n\f\r ]+=[\t\n\f\r ]*|=[\t\n\f\r ]+")
_BEACON: Final = re.compile(rb"[\t\n\f\r /\"'](?:ping|background)[\t\n\f\r ]*+=")
# Attributes other than sources that are moved aside with a data-consent of their own (besides
# event handlers, data-consent-on…).
_MOVED_ATTRS: Final = frozenset(
    (b"data-consent-style", b"data-consent-ping", b"data-consent-background")
)
_MOVED_SRC: Final = {b"src": b"data-consent-src", b"srcset": b"data-consent-srcset"}
# What a <link> loads: the hints, and icons and the manifest (fetched as the page loads too).
_LINK_LOADS: Final = HINT_RELS | {b"icon", b"apple-touch-icon", b"apple-touch-icon-precomposed",
                                  b"mask-icon", b"manifest"}
_STYLE_END: Final = len("</style") + 1
_FOREIGN: Final = frozenset(t.encode() for t in _FOREIGN_TAGS)
_CLOSE_SCRIPT: Final = b"</script>"
_RAW_END: Final = {
    name.encode(): re.compile(rf"</{_ci(name)}[\t\n\f\r />]".encode("ascii"))
    for name in (*_RAW_TAGS, "iframe", "noscript")
}

_JS_TYPES: Final = frozenset(
    t.encode()
    for t in (
        "", "module", "text/javascript", "application/javascript", "application/ecmascript",
        "application/x-ecmascript", "application/x-javascript", "text/ecmascript",
        "text/javascript1.0", "text/javascript1.1", "text/javascript1.2", "text/javascript1.3",
        "text/javascript1.4", "text/javascript1.5", "text/jscript", "text/livescript",
        "text/x-ecmascript", "text/x-javascript",
    )
)

_MAX_SRCDOC_DEPTH: Final = 4
_MAX_NESTED: Final = 16  # contents read as markup inside one another (see _nested_scan)
_FLAGS_KEPT: Final = 1024  # tags remembered per response, each at most _FLAGS_KEY_MAX bytes
_FLAGS_KEY_MAX: Final = 512
_LOADER_MAX: Final = 8 * 1024

# Tokenizer states kept between chunks.
_DATA, _COMMENT, _RAW, _DROP, _PLAINTEXT = range(5)
# Script data sub-states (HTML "script data", "escaped" and "double escaped").
_S_DATA, _S_ESCAPED, _S_DOUBLE = range(3)


def default_placeholder(vendor: Vendor | None, category: str, *, allowable: bool = True) -> bytes:
    """A plain click-to-load placeholder (the middleware normally renders its own template).

    ``category`` is whatever the page wrote in ``data-consent`` (any text: it is escaped);
    ``allowable=False`` (a category the policy does not have, which nobody can grant) leaves
    out the button."""
    esc = html.escape
    if vendor is not None:
        name = esc(vendor.name)
        field = f'<input type="hidden" name="service" value="{esc(vendor.id)}">'
        service = f' data-consent-service="{esc(vendor.id)}"'
        privacy = (
            f' <a href="{esc(vendor.privacy_url)}" rel="noopener" target="_blank">'
            f"{name} privacy notice</a>"
            if vendor.privacy_url
            else ""
        )
    else:
        name = f"{esc(category)} content"
        field = f'<input type="hidden" name="category" value="{esc(category)}">'
        service = privacy = ""
    form = (
        f'<form method="post" action="/consentgate/consent">'
        f'<input type="hidden" name="action" value="allow">{field}'
        f'<button type="submit">Allow {name}</button></form>'
    ) if allowable else ""
    text = (
        f'<div class="consentgate-placeholder" data-consent-placeholder="{esc(category)}"'
        f'{service}><p>This content is hosted by {name} and is blocked until you allow it.'
        f'{privacy}</p>{form}</div>'
    )
    return text.encode("ascii", "xmlcharrefreplace")  # (never raises, whatever the text)


class Gate:
    """Compiled once per middleware: vendor lookups and the rewriting rules of a policy."""

    def __init__(self, policy: Policy, *, placeholder: Placeholder | None = None) -> None:
        self.policy = policy
        self.index: VendorIndex = index_for(policy)
        self.placeholder: Placeholder = placeholder or self._default_placeholder
        self.remove = policy.mode == "remove"
        self.required = policy.required
        self.optional = frozenset(policy.optional)
        self.vendors = {v.id: v for v in policy.vendors}
        self.css_hosts = HostVendors(self.index)

    def _default_placeholder(self, vendor: Vendor | None, category: str) -> bytes:
        """default_placeholder, with a button only for a category this policy has."""
        known = category in self.optional or (vendor is not None and vendor.category == category)
        return default_placeholder(vendor, category, allowable=known)
    def rewriter(
        self,
        granted: frozenset[str],
        services: frozenset[str] = frozenset(),
        *,
        host: str | None = None,
        placeholder: Placeholder | None = None,
        xml: bool = False,
    ) -> HtmlRewriter | None:
        """A rewriter for one response, or None when this visitor needs nothing gated.

        ``host`` (the request's host) makes URLs on the site's own host never count as vendors;
        ``placeholder`` renders this response's iframe placeholders (e.g. in the visitor's
        language) instead of the Gate's. ``xml``: the body is XHTML (``application/xhtml+xml``),
        where ``<script … />`` is an element without content.
        """
        if self.optional <= granted:
            return None
        return HtmlRewriter(self, granted | self.required, services, own_host(host),
                            placeholder=placeholder or self.placeholder, xml=xml)

    def cookie_category(self, name: str) -> tuple[str, str | None] | None:
        """(category, vendor id or None) of a cookie name; None when unknown or necessary."""
        return self.index.cookie_category(name)

    def vendor_for_url(self, url: str) -> Vendor | None:
        """The vendor a URL belongs to (None when allow-listed or unknown)."""
        return self.index.match_url(url.encode("utf-8", "replace"))


class HtmlRewriter:
    """Rewrites one HTML body for one visitor; feed it chunks, then close it."""

    def __init__(
        self, gate: Gate, granted: frozenset[str], services: frozenset[str], host: bytes | None,
        depth: int = 0, *, placeholder: Placeholder | None = None, xml: bool = False,
    ) -> None:
        self._depth = depth  # of srcdoc documents inside srcdoc documents
        self._xml = xml
        # Whether foreign content (<svg>, <math>) may be open: set at the first such start tag,
        # never cleared, since a browser may stay in it after an end tag we would count (one
        # inside an integration point such as <foreignObject> is ignored).
        self._foreign = False
        self._gate = gate
        self._placeholder = placeholder or gate.placeholder
        self._index = gate.index
        self._granted = granted
        self._services = services
        self._host = host
        self._pending = bytearray()
        self._state = _DATA
        self._raw_name = b""
        # Offsets into _pending (which starts at the waiting element's "<"): where the search
        # for a waiting element's end tag reads on (with a script's sub-state) …
        self._script_resume: tuple[int, int] | None = None
        self._content_resume: int | None = None  # (style, noscript, content read as markup)
        # … the start tag of that element, as _RUN matched it (not matched again at each chunk) …
        self._waiting: _Tag | None = None
        # … and where reading an unfinished tag goes on, in which mode (see _tag_end).
        self._tag_resume: tuple[int, int] | None = None
        self._closed = False
        # Whether markup appended after the output would be read as markup (see close()).
        self.ended_in_data = False
        self._ended = True  # (what the last scan with the body's end found)
        self._closing = False  # whether _pending starts with an end tag that ends raw text
        self._nested = 0  # scans of content read as markup inside one another
        self._cut_end = False  # whether the one under way ends where the body does
        self._plaintext = False  # a <plaintext> read as markup (maybe SVG's): see close()
        self._flags: dict[bytes, int] = {}  # tag_flags of tags seen (pages repeat their tags)
        self._css = CssGate(self._index, gate.css_hosts, host, gate.remove, self._blocked,
                            self._tagged)

    @property
    def _xml_rules(self) -> bool:
        """Whether the browser may read elements by XML rules (an SVG ``<script/>`` has no
        content, a ``<title>`` holds markup): after an ``<svg>``/``<math>``, or in XHTML."""
        return self._foreign or self._xml

    # -- public API --------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> bytes:
        """Rewrites what can be decided now; returns it (maybe b"") and keeps the undecided rest."""
        if self._closed:
            raise RuntimeError("HtmlRewriter.feed() after close()")
        if not chunk:
            return b""
        # An element split over many chunks grows in place (amortised), not by re-concatenation.
        buf: _Buf
        if self._pending:
            self._pending += chunk
            if self._state == _DATA and b">" not in chunk:
                # What waits (a tag, comment, script or noscript element) can only be completed
                # by a '>': without one, scanning it again would make long elements quadratic.
                return b""
            resume = self._tag_resume
            if resume is not None:  # an unfinished tag: read on from where it stopped
                pending = self._pending
                done, at, mode = _tag_end(pending, resume[0], len(pending), resume[1])
                if done < 0:
                    self._tag_resume = (at, mode)
                    return b""
                self._tag_resume = None  # complete: _RUN reads it once, whole
            buf = self._pending
        else:
            buf = bytes(chunk)
        out, pos = self._run(buf, False)
        if buf is self._pending:
            del self._pending[:pos]
        else:
            self._pending = bytearray(memoryview(buf)[pos:])
        return out

    def close(self) -> bytes:
        """Flushes the rest. A start or end tag cut short by the end of the body is dropped, as
        the tokenizer drops it (else markup appended after the body, such as a banner, would
        complete it); any other unfinished token or element at the end is emitted as it is.

        Then sets ``ended_in_data``: True when the tokenizer, having read the whole output, is
        in the data state, so that markup appended after it is read as markup; False when the
        body ended inside a comment (or bogus comment, doctype, "<", "</", "<!"), a script,
        style, noscript, iframe, raw text or RCDATA element (textarea, title, xmp …), or after
        a ``<plaintext>``; and before close().
        """
        if self._closed:
            return b""
        self._closed = True
        buf, self._pending = self._pending, bytearray()
        self._tag_resume = None
        out = b""
        if buf:
            out, _ = self._run(buf, True)
        else:
            self._ended = self._state in (_DATA, _DROP)  # (_DROP: its element is not in out)
        self.ended_in_data = self._ended and not self._plaintext
        return out

    # -- decisions ---------------------------------------------------------------------------

    def _tag_flags(self, lowered: bytes) -> int:
        """``VendorIndex.tag_flags``, remembered for this response: nearly half the start tags
        Python looks at repeat one seen before in the same page (icons, "<script>" …)."""
        flags = self._flags.get(lowered)
        if flags is None:
            flags = self._index.tag_flags(lowered)
            if len(self._flags) < _FLAGS_KEPT and len(lowered) <= _FLAGS_KEY_MAX:
                self._flags[lowered] = flags
        return flags

    def _scripted(self, name: bytes, lowered: bytes) -> bool:
        """Whether the start tag of element ``name`` (lowercased) has a ``javascript:`` URL that
        may hold a vendor's code: the tag names a vendor or a signature, or has an escape that
        could hide one (a percent-escape anywhere: such a URL's code is percent-decoded)."""
        attr = _SCRIPT_URL_TAGS.get(name)
        return (attr is not None and lowered.find(attr) >= 0
                and _SCRIPT_URL.search(lowered) is not None
                and (bool(self._tag_flags(lowered)) or lowered.find(b"%") >= 0))

    def _all_granted(self) -> bool:
        """Whether this visitor granted every vendor of the policy (by category or one by one)."""
        return not any(self._blocked(v) for v in self._gate.vendors.values())

    def _blocked(self, vendor: Vendor) -> bool:
        return vendor.category not in self._granted and vendor.id not in self._services

    def _tagged(self, attrs: list[Attr]) -> tuple[bool, tuple[str, Vendor | None] | None]:
        """(tagged, decision) for a ``data-consent`` element: a site's own tag is final."""
        tag = first(attrs, b"data-consent")
        if tag is None:
            return False, None
        category = tag.value.strip(WS).lower().decode("latin-1")
        service = first(attrs, b"data-consent-service")
        vendor = (
            self._gate.vendors.get(service.value.strip(WS).decode("latin-1"))
            if service is not None
            else None
        )
        if category in self._granted or (vendor is not None and vendor.id in self._services):
            return True, None
        return True, (category, vendor)

    def _site_tag(self, attrs: list[Attr]) -> tuple[bool, tuple[str, Vendor | None] | None]:
        """``_tagged`` for an element's own sources. With attributes moved aside, the
        data-consent is ours, for them: the element is judged as if untagged, so that rewriting
        the output changes nothing."""
        tagged, decision = self._tagged(attrs)
        if tagged and any(a.name in _MOVED_ATTRS or a.name.startswith(b"data-consent-on")
                          for a in attrs):
            return False, None
        return tagged, decision

    def _url_vendor(
        self, attrs: list[Attr], names: tuple[bytes, ...], flags: int
    ) -> Vendor | None:
        """The first vendor the URLs of the attributes ``names`` (in that order) point at."""
        for name in names:
            attr = first(attrs, name)
            if attr is not None and attr.raw:
                for vendor in self._attr_vendors(attr, flags):
                    return vendor
        return None

    def _attr_vendors(self, attr: Attr, flags: int) -> Iterator[Vendor]:
        """The vendors an attribute's URLs point at: one URL, or a list (``srcset``, by
        commas; ``ping``, by spaces)."""
        if attr.name.endswith(b"srcset"):
            urls = [c.strip(WS).split(None, 1)[0] for c in attr.value.split(b",") if c.strip(WS)]
        elif attr.name == b"ping":
            urls = attr.value.split()
        else:
            urls = [attr.value]
        index, host = self._index, self._host
        for url in urls:
            covered, vendor = index.lookup_url(url, host) if flags & TAG_URL else (False, None)
            if vendor is not None:
                yield vendor
            # A self-hosted tracker endpoint (matomo.php …) is known by a signature alone.
            elif not covered and flags & TAG_SIG:
                yield from index.match_code(decode_attr(url))[:1]

    def _decide(
        self, name: bytes, attrs: list[Attr], code_vendors: list[Vendor], flags: int
    ) -> tuple[str, Vendor | None] | None:
        """(category, vendor) when the element must be gated for this visitor."""
        if name == b"script":
            js_type = _script_type(attrs)
            if js_type not in _JS_TYPES and js_type != b"speculationrules":
                return None  # already inert (text/plain, JSON, templates …)
            tagged, decision = self._site_tag(attrs)
            if tagged:
                return decision
            for source in _SCRIPT_SOURCES if flags & TAG_URL else ():
                src = first(attrs, source)
                if src is None:
                    continue
                covered, vendor = self._index.lookup_url(src.value, self._host)
                if vendor is not None:
                    return (vendor.category, vendor) if self._blocked(vendor) else None
                if covered:
                    return None  # allow-listed, or the site's own host
                break  # (a browser loads the first it knows of: src, href in SVG)
            for vendor in code_vendors:
                if self._blocked(vendor):
                    return vendor.category, vendor
            return None
        if name == b"link":
            rel = first(attrs, b"rel")
            if rel is None or not _LINK_LOADS.intersection(rel.value.lower().split()):
                return None
        names = _SOURCES.get(name, (b"src",))
        if not any(a.name in names for a in attrs):
            return None  # nothing to load (already inert, or empty)
        tagged, decision = self._site_tag(attrs)
        if tagged:
            return decision
        vendor = self._url_vendor(attrs, names, flags)
        if vendor is not None and self._blocked(vendor):
            return vendor.category, vendor
        return None

    # -- rewriting ---------------------------------------------------------------------------

    def _inert_tag(
        self, buf: _Buf, start: int, name_end: int, end: int, name: bytes,
        attrs: list[Attr], category: str, vendor: Vendor | None,
        drop: frozenset[bytes] = frozenset(), extra: Sequence[_Buf] = (),
    ) -> bytes:
        added: list[_Buf] = list(extra)
        moved = _MOVED.get(name, _MOVED_SRC)
        if name == b"script":
            added.append(b' type="text/plain"')
        remove = self._gate.remove  # remove mode keeps video/audio but without their sources
        for old, new in moved.items():
            attr = first(attrs, old)
            if attr is not None and attr.raw is not None and not remove:
                added.append(b" " + new + b"=" + attr.quoted())
        if first(attrs, b"data-consent") is None:
            added.append(b' data-consent="' + attr_text(category) + b'"')
        if vendor is not None and first(attrs, b"data-consent-service") is None:
            added.append(b' data-consent-service="' + attr_text(vendor.id) + b'"')
        if name == b"iframe":
            added.append(b" data-consent-hidden hidden")
        return rebuild(buf, start, name_end, end, attrs, drop | frozenset(moved), added)

    def _srcdoc(self, attrs: list[Attr]) -> bytes | None:
        """A rewritten ``srcdoc`` attribute when the iframe's inline document holds trackers."""
        attr = first(attrs, b"srcdoc")
        if attr is None or attr.raw is None:
            return None
        if self._depth >= _MAX_SRCDOC_DEPTH:
            return b' srcdoc=""'  # an iframe in an iframe in … : fail closed, not recurse on
        inner = REFERENCE.sub(ascii_reference, attr.value)
        nested = HtmlRewriter(self._gate, self._granted, self._services, self._host,
                              self._depth + 1, placeholder=self._placeholder)
        rewritten = nested.feed(inner) + nested.close()
        if rewritten == inner:
            return None
        escaped = rewritten.replace(b"&", b"&amp;").replace(b'"', b"&quot;")
        return b' srcdoc="' + escaped + b'"'

    # -- the tokenizer -----------------------------------------------------------------------

    def _run(self, buf: _Buf, final: bool) -> tuple[bytes, int]:
        out: _Out = []
        pos = self._scan(buf, 0, len(buf), final, out, top=True)
        return b"".join(out), pos

    def _scan(
        self, buf: _Buf, pos: int, end: int, final: bool, out: _Out, top: bool
    ) -> int:
        """Rewrites buf[pos:end] into ``out``; returns where undecided bytes begin.

        The tokenizer state is ``self._state`` for the top-level stream; nested scans (the inside
        of ``<noscript>``) start in data state and run to their end.
        """
        state = self._state if top else _DATA
        raw_name = self._raw_name if top else b""
        emitted = pos  # buf[emitted:pos] is unchanged input not yet copied to out
        run = (_RUN_FOREIGN if self._foreign else _RUN).match
        tag_flags = self._tag_flags
        # Unchanged runs go out as views of the input: joined once, copied once.
        view = memoryview(buf)
        # The start tag of an element that waited for its end (at buf[0], top level only).
        waiting = self._waiting if top else None
        waits = False  # stopping at an element that waits for its end tag
        closes = 0 if top and self._closing else -1  # where an end tag starts that ends raw
        # text (script, style, title …)
        ended = True  # at the body's end (final), whether the tokenizer is in the data state
        tag: _Match
        while pos < end:
            if state:  # inside a comment, raw text or plaintext (data state is 0)
                if state == _PLAINTEXT:
                    pos = end
                    ended = False
                    break
                if state == _COMMENT:
                    found = _COMMENT_END.search(buf, pos, end)
                    if found is None:
                        pos = end if final else max(pos, end - 3)
                        ended = False
                        break
                    pos = found.end()
                    state = _DATA
                    continue
                if state in (_RAW, _DROP):
                    found = _RAW_END[raw_name].search(buf, pos, end)
                    if found is None:
                        stop = end if final else max(pos, end - len(raw_name) - 3)
                        if state == _DROP:
                            out.append(view[emitted:pos])
                            emitted = stop
                        pos = stop
                        if final:
                            ended = state == _DROP  # (a dropped element is not in the output)
                            state = _DATA
                        break
                    if state == _RAW:
                        pos = closes = found.start()
                        state = _DATA  # the end tag is an ordinary end tag for _RUN
                        continue
                    tail = _END_TAG_REST.match(buf, found.start() + 2, end)
                    if tail is None and not final:
                        emitted = pos = found.start()
                        if top:
                            self._tag_resume = _resume_tag(buf, pos, pos, end)
                        break
                    out.append(view[emitted:pos])
                    emitted = pos = tail.end() if tail is not None else end
                    state = _DATA
                    continue

            again = waiting is not None
            if waiting is not None:
                tag, waiting = waiting, None  # (pos is 0, its "<")
            else:
                matched = run(buf, pos, end)
                if matched is None or matched.start(1) < 0:  # (never None: all is optional)
                    # Stopped at the end, or at an unfinished token: a tag or comment cut short.
                    pos = matched.end() if matched is not None else pos
                    if pos >= end:
                        break
                    if buf.startswith(b"<!--", pos) and (final or end - pos >= 6):
                        state = _COMMENT  # (with fewer bytes it could still become "<!-->")
                        pos += 4
                        continue
                    if _TAG_START.match(buf, pos, end) is None:
                        # "<", "</", "<!", "<?", a bogus comment or doctype: at the body's end,
                        # emitted as it is (the tokenizer emits it as text or a comment).
                        if final:
                            pos = end
                            ended = False
                        break
                    if not final:
                        if top and pos == 0:
                            # Cut short again (most tags a chunk cuts are complete with the
                            # next): from now on read on from where it stops (see feed()).
                            self._tag_resume = _resume_tag(buf, pos, pos, end)
                        break
                    if (top or self._cut_end) and not self._depth:
                        # A start or end tag cut short by the body's end: the tokenizer drops
                        # it, and so must we, or markup appended after the body would complete
                        # it (its src running into the banner). After an end tag of raw text
                        # (title, script …), the output then ends inside that element. (The
                        # same at the end of content read as markup that the body's end cuts
                        # short; nothing follows a srcdoc document: its tags pass as they are.)
                        out.append(view[emitted:pos])
                        emitted = end
                        ended = pos != closes
                    pos = end  # (inside content read as markup, it passes as it is)
                    break
                tag = matched
            # A start tag, complete: a special one, or one with a style that may load something
            # (refused by _PLAIN_ATTRS, so read by the last group of _RUN).
            pos = tag.start(1) - 1
            tag_end = tag.end()
            name = tag.group(1).lower()
            if name == b"script":
                result = self._script(buf, pos, tag, end, final, top, again)
                if result is None:
                    waits = True
                    break
                element_end, replacement, close = result
                if close >= 0:
                    closes = close
                elif close == -1:
                    ended = False
                if replacement is not None:
                    out.append(view[emitted:pos])
                    out.append(replacement)
                    emitted = element_end
                pos = element_end
            elif name in _LOADING:
                inner_end = -1  # where the content of an iframe to read as markup too ends
                if name == b"iframe" and self._xml_rules:
                    found = self._end_tag(buf, pos, tag_end, end, name, again)
                    if found is None and not final:
                        waits = True
                        break
                    inner_end = closes = found.start() if found is not None else end
                    ended = found is not None
                lowered = bytes(buf[pos:tag_end].lower())
                flags = tag_flags(lowered)
                styled = lowered.find(b"style") >= 0 and css.may_load(lowered)
                scripted = self._scripted(name, lowered)
                if not flags and not styled and not scripted:
                    pos = tag_end
                    if inner_end >= 0:
                        emitted = self._markup_in(buf, tag_end, inner_end, out, emitted,
                                                  not ended and (top or self._cut_end))
                        pos = inner_end
                    elif name == b"iframe":
                        state, raw_name = _RAW, name
                    continue
                name_end = tag.end(1)
                attrs = parse_attrs(buf, name_end, tag_end - 1)
                decision = self._decide(name, attrs, [], flags) if flags else None
                drop, added = self._extras(
                    attrs, decision, self._srcdoc(attrs) if name == b"iframe" and flags else None,
                    styled, scripted or _HANDLER.search(lowered) is not None,
                )
                if decision is not None:
                    category, vendor = decision
                    out.append(view[emitted:pos])
                    if name == b"iframe":
                        out.append(self._placeholder(vendor, category))
                    if not self._gate.remove or name in (b"video", b"audio"):
                        out.append(
                            self._inert_tag(buf, pos, name_end, tag_end, name, attrs,
                                            category, vendor, drop, added)
                        )
                    emitted = tag_end
                elif drop:
                    out.append(view[emitted:pos])
                    out.append(rebuild(buf, pos, name_end, tag_end, attrs, drop, added))
                    emitted = tag_end
                pos = tag_end
                if name == b"iframe":
                    # iframe content is raw text; in remove mode it goes with its element.
                    state = _DROP if decision is not None and self._gate.remove else _RAW
                    raw_name = name
                    if state == _DROP:
                        emitted = pos
                        ended = True
                    elif inner_end >= 0:
                        state = _DATA
                        emitted = self._markup_in(buf, tag_end, inner_end, out, emitted,
                                                  not ended and (top or self._cut_end))
                        pos = inner_end
            elif name == b"style":
                found = self._end_tag(buf, pos, tag_end, end, name, again)
                if found is None and not final:
                    waits = True
                    break
                inner_end = closes = found.start() if found is not None else end
                ended = found is not None
                inert = self._css.style_element(buf, tag.end(1), tag_end, inner_end)
                # (The start tag: its CSS's original, and its own handlers: a <style> fires load
                # and error events too.)
                emitted = self._restyled(buf, pos, tag, out, emitted, inert[0] if inert else None)
                if self._xml_rules and buf.find(b"<", tag_end, inner_end) >= 0:
                    # CSS to HTML, markup to SVG (and XHTML): both readings are rewritten.
                    content = inert[1] if inert else buf[tag_end:inner_end]
                    out.append(view[emitted:tag_end])
                    self._nested_scan(content, 0, len(content), out,
                                      not ended and (top or self._cut_end))
                    emitted = inner_end
                elif inert is not None:
                    out.append(view[emitted:tag_end])
                    out.append(inert[1])
                    emitted = inner_end
                pos = inner_end  # its end tag is an ordinary end tag for _RUN
            elif name == b"noscript" or (name in _RAW_END and self._xml_rules):
                # Without scripting the inside of a noscript is markup (pixels load); with it,
                # raw text up to the first </noscript. The same for raw text and RCDATA elements
                # (title, textarea …) once foreign content may be open: in SVG or MathML they
                # are elements of its own, with markup inside (and so in XHTML). Rewriting the
                # inside as markup bounded by the first end tag covers both readings.
                found = self._end_tag(buf, pos, tag_end, end, name, again)
                if found is None and not final:
                    waits = True
                    break
                inner_end = closes = found.start() if found is not None else end
                ended = found is not None
                emitted = self._restyled(buf, pos, tag, out, emitted)
                emitted = self._markup_in(buf, tag_end, inner_end, out, emitted,
                                          not ended and (top or self._cut_end))
                pos = inner_end
            elif name == b"plaintext":
                emitted = self._restyled(buf, pos, tag, out, emitted)
                if self._xml_rules:
                    pos = tag_end  # (maybe an SVG element; to HTML, text: read as markup)
                    if top:
                        self._plaintext = True  # (to HTML, the rest is text: see close())
                else:
                    state = _PLAINTEXT
                    pos = end
            elif name in _RAW_END:  # raw text / RCDATA element: its content is never markup
                emitted = self._restyled(buf, pos, tag, out, emitted)
                pos = tag_end
                state = _RAW
                raw_name = name
            else:  # <svg>, <math>, or a tag with a style that may load (refused by _PLAIN_ATTRS)
                if name in _FOREIGN and not self._foreign:
                    self._foreign = True
                    run = _RUN_FOREIGN.match
                emitted = self._restyled(buf, pos, tag, out, emitted, name=name)
                pos = tag_end
        if top:
            if final:
                self._ended = ended and state in (_DATA, _DROP)  # (in a comment, title …: no)
            self._state = _DATA if final else state
            self._raw_name = raw_name
            # (Its start tag is not matched again: a tag of megabytes waits once.)
            self._waiting = _Tag(tag.group(1), tag.end(1) - pos, tag.end() - pos) if waits else None
            self._closing = closes == pos
        out.append(view[emitted:pos])
        return pos

    def _end_tag(
        self, buf: _Buf, pos: int, tag_end: int, end: int, name: bytes, again: bool
    ) -> re.Match[bytes] | None:
        """The end tag that ends the content of element ``name`` starting at pos (its start tag
        ends at tag_end); None if it is not in buf yet: the search then goes on from where it
        stops when more arrives (``again``: for the element that waited), so long elements
        stay linear."""
        resume = self._content_resume if again else None
        self._content_resume = None
        found = _RAW_END[name].search(buf, pos + resume if resume is not None else tag_end, end)
        if found is None:
            self._content_resume = max(tag_end, end - len(name) - 3) - pos
        return found

    def _markup_in(
        self, buf: _Buf, start: int, end: int, out: _Out, emitted: int, at_end: bool
    ) -> int:
        """Emits buf[emitted:start] as it is, then buf[start:end] rewritten as markup; returns
        where unchanged input begins again (``emitted`` when buf[start:end] stays as it is).
        ``at_end``: the body ends there (its end cuts the content short)."""
        if buf.find(b"<", start, end) < 0:
            return emitted  # text only (most titles, empty iframes): nothing to rewrite
        out.append(memoryview(buf)[emitted:start])
        self._nested_scan(buf, start, end, out, at_end)
        return end

    def _nested_scan(self, buf: _Buf, start: int, end: int, out: _Out, at_end: bool) -> None:
        """buf[start:end], the content of an element read as markup too, rewritten into out
        (``at_end``: the body ends there). Such elements inside one another (each bounded by
        the same end tag, or an earlier one) are read so only _MAX_NESTED deep: deeper content
        is no page's, and is dropped (else ``<noscript>`` ten thousand times would exhaust the
        stack)."""
        if self._nested >= _MAX_NESTED:
            return
        self._nested += 1
        cut_end, self._cut_end = self._cut_end, at_end
        self._scan(buf, start, end, True, out, top=False)
        self._nested -= 1
        self._cut_end = cut_end

    def _restyled(
        self, buf: _Buf, pos: int, tag: _Match, out: _Out, emitted: int,
        css_moved: Moved | None = None, name: bytes = b"",
    ) -> int:
        """Emits the start tag at pos rewritten if its style loads a blocked vendor's URL, an
        event handler holds a blocked vendor's snippet (``<body onload="ga(…)">``), or its
        ``ping`` or ``background`` points at a blocked vendor, or (given the element's
        ``name``) a ``javascript:`` URL runs a vendor's code; and, for a ``<style>`` whose CSS
        was made inert, with the original CSS (``css_moved``)."""
        end = tag.end()
        lowered = bytes(buf[pos:end].lower())
        styled = lowered.find(b"style") >= 0 and css.may_load(lowered)
        # (The searches first: a tag with a huge attribute costs the flags' automaton time.)
        handled = (_HANDLER.search(lowered) is not None and bool(self._tag_flags(lowered))) or (
            bool(name) and self._scripted(name, lowered))
        beacons = _BEACON.search(lowered) is not None and self._tag_flags(lowered)
        if not styled and not handled and not beacons and css_moved is None:
            return emitted
        name_end = tag.end(1)
        attrs = parse_attrs(buf, name_end, end - 1)
        drop, added = self._extras(attrs, None, None, styled, handled, beacons, css_moved)
        if not drop and not added:
            return emitted
        out.append(buf[emitted:pos])
        out.append(rebuild(buf, pos, name_end, end, attrs, drop, added))
        return end

    def _extras(
        self, attrs: list[Attr], decision: tuple[str, Vendor | None] | None,
        srcdoc: bytes | None, styled: bool, handled: bool, beacons: int = 0,
        css_moved: Moved | None = None,
    ) -> tuple[frozenset[bytes], list[bytes]]:
        """The attributes to drop from a start tag, and those to add, besides its own sources:
        a rewritten srcdoc, a style made inert, event handlers and (with ``beacons``, the tag's
        flags) ``ping``/``background`` URLs moved out of the way, and a ``<style>``'s original
        CSS (``css_moved``).

        The originals go into ``data-consent-<name>`` for the client to put back, under one
        ``data-consent`` for them all: with vendors of several categories, an element gated for
        something else, or in mode="remove", nothing could restore them, and they are dropped.
        """
        drop: set[bytes] = set()
        added: list[bytes] = []
        if srcdoc is not None:
            drop.add(b"srcdoc")
            added.append(srcdoc)
        found = [moved for moved in (
            css_moved,
            self._css.restyle(attrs) if styled else None,
            self._handlers(attrs) if handled else None,
            self._beacons(attrs, beacons) if beacons else None,
        ) if moved is not None]
        if not found:
            return frozenset(drop), added
        if decision is None:
            tagged, own = self._tagged(attrs)
            if tagged and own is None:
                return frozenset(drop), added  # the site's own tag, granted
        originals: list[bytes] = []
        vendors: list[Vendor] = []
        for moved in found:
            drop |= moved.names
            added += moved.replaced
            originals += moved.originals
            vendors += [v for v in moved.vendors if v not in vendors]
        if not self._gate.remove:
            # (No vendor: only URLs of an element the site tagged, which its tag restores.)
            consent = self._css.consent(attrs, vendors, decision) if vendors else []
            if consent is not None:
                added += originals + consent
        return frozenset(drop), added

    def _handlers(self, attrs: list[Attr]) -> Moved | None:
        """Event handlers (``on*``) and ``javascript:`` URLs holding a blocked vendor's snippet,
        or loading from its URL (``new Image().src='https://…/tr?…'``: a beacon of its own)."""
        index, hits = self._index, []
        for attr in attrs:
            code = _code(attr) if attr.raw else None
            if code is not None:
                found = index.match_code(code)
                lowered = code.lower()
                if index.find_needles(lowered):
                    found += index.code_url_vendors(lowered)
                hit = [v for v in found if self._blocked(v)]
                if hit:
                    hits.append((attr, hit))
        return _moved(hits)

    def _beacons(self, attrs: list[Attr], flags: int) -> Moved | None:
        """``ping`` (sent on every click of a link) and legacy ``background`` (an image) URLs
        of a blocked vendor, and any of them on an element the site tagged with a category not
        granted (its own data-consent then restores them)."""
        tagged, own = self._tagged(attrs)
        site = tagged and own is not None
        hits = []
        for attr in attrs:
            if attr.name in (b"ping", b"background") and attr.raw:
                hit = [v for v in self._attr_vendors(attr, flags) if self._blocked(v)]
                if hit or site:
                    hits.append((attr, hit))
        return _moved(hits)

    def _script(
        self, buf: _Buf, pos: int, tag: _Match, end: int, final: bool, top: bool, again: bool
    ) -> tuple[int, bytes | None, int] | None:
        """(end of the element, replacement or None, where its end tag starts) or None to wait
        for more input (``again``: for the script that waited). Where its end tag starts is -1
        when the body ends inside it, -2 when it needs none (closed by "/>", or by our own
        "</script>")."""
        content = tag.end()
        resume = self._script_resume if again else None
        self._script_resume = None
        start, sub = resume if resume is not None else (content, _S_DATA)
        closing = b""  # what closes the element in HTML when it has no content in SVG
        if self._xml_rules and buf[content - 2 : content - 1] == b"/" and (
            _self_closing(buf, tag)
        ):
            # "<script … />": in XHTML and SVG an element without content; in HTML the slash
            # means nothing and script data follows. After an <svg> or <math> either reading
            # may be the browser's, so the element is closed right away ("</script>" is an
            # ignored stray end tag in SVG): both read what follows as markup, as we do.
            # (Before any foreign content, the HTML reading is certain, and followed below.)
            close = element_end = content
            ends = -2
            if not self._xml:
                after = bytes(buf[content : min(end, content + len(_CLOSE_SCRIPT))])
                if len(after) < len(_CLOSE_SCRIPT) and not final:
                    return None  # (an end tag may be on its way)
                if _SCRIPT_END.match(after + b">") is None:  # (none there already)
                    closing = _CLOSE_SCRIPT
                else:
                    ends = content  # (to HTML, that end tag ends it)
        else:
            close, scanned, sub = _script_close(buf, start, end, sub, final)
            element_end = -1
        if element_end == content:
            pass
        elif close < 0:
            if not final:
                if top:
                    self._script_resume = (scanned - pos, sub)
                return None
            close = element_end = end
            ends = -1
        elif buf[close + 8 : close + 9] == b">":  # the usual plain "</script>"
            element_end = close + 9
            ends = close
        else:
            tail = _END_TAG_REST.match(buf, close + 2, end)
            ends = close
            if tail is None:
                if not final:
                    if top:
                        self._script_resume = (close - pos, _S_DATA)
                        self._tag_resume = _resume_tag(buf, pos, close, end)
                    return None
                element_end = close  # (its end tag, cut short by the body's end, is dropped)
            else:
                element_end = tail.end()
        index = self._index
        # Loader attributes (data-website-id …) are signatures too; the content only counts for
        # scripts without src, since a browser ignores the content of the others.
        lowered = bytes(buf[pos : tag.end()].lower())
        if _SPACED_EQUALS.search(lowered) is not None:
            # Loader attributes are signatures as "name=": an attribute name in any case is
            # read lowered above; one with spaces around its "=" is read without them.
            lowered = _SPACED_EQUALS.sub(b"=", lowered)
        flags = self._tag_flags(lowered)
        in_code = index.match_code(memoryview(buf)[tag.end() : close]) if close > tag.end() else []
        if lowered.find(b"speculationrules") >= 0 and close > content and _script_type(
            parse_attrs(buf, tag.end(1), tag.end() - 1)
        ) == b"speculationrules":
            # Speculation rules: Chromium prefetches (or prerenders) every URL they list, vendors'
            # too, before anything on the page asks for them.
            in_code += index.code_url_vendors(bytes(buf[content:close]).lower(), every=True)
        elif not in_code and 0 < close - content <= _LOADER_MAX and (
            buf.find(b"src", content, close) >= 0 or buf.find(b".js", content, close) >= 0
        ):
            # A small inline script that names a vendor's URL is a loader (document.write of a
            # tag, s.src = "//host/…"), whatever its shape. Big ones are bundles or data.
            # (Hosts and "src" are looked for as written, in lower case: this is a heuristic
            # for hand-written loaders, the signatures above are the rule.)
            code = bytes(buf[content:close])
            if index.find_needles(code):
                in_code = index.code_url_vendors(code)
        if not flags and not in_code and ends != -1:
            return element_end, (bytes(buf[pos:content]) + closing) if closing else None, ends
        in_tag = index.match_code(memoryview(buf)[pos : tag.end()]) if flags & TAG_SIG else []
        if flags & TAG_SIG and not in_tag:  # (a signature the tag spells in capitals, spaced)
            in_tag = index.match_code(lowered)
        name_end = tag.end(1)
        attrs = parse_attrs(buf, name_end, tag.end() - 1)
        if first(attrs, b"src") is None:  # (an SVG script's href: its content counts, fail closed)
            in_tag += in_code
        decision = self._decide(b"script", attrs, in_tag, flags)
        if decision is None and ends == -1 and _cut_inline(attrs) and not self._all_granted():
            # Inline code the body's end cuts short runs as far as it goes: the start of a
            # vendor's snippet, for all we know (its signature may be in the part cut off).
            if self._gate.remove:
                return element_end, b"", -2
            kind = first(attrs, b"type")
            added = [b' type="text/plain"']
            if kind is not None and kind.raw is not None:
                added.append(b" data-consent-type=" + kind.quoted())
            return element_end, (rebuild(buf, pos, name_end, content, attrs,
                                         frozenset((b"type",)), added)
                                 + buf[content:element_end]), ends
        if decision is None:
            # Its own handlers may still send a vendor a beacon (onload="new Image().src=…").
            drop, added = (self._extras(attrs, None, None, False, True)
                           if _HANDLER.search(lowered) is not None else (frozenset(), []))
            if not drop:
                return element_end, (bytes(buf[pos:content]) + closing) if closing else None, ends
            return element_end, (rebuild(buf, pos, name_end, content, attrs, drop, added)
                                 + buf[content:element_end] + closing), ends
        if self._gate.remove:
            return element_end, b"", -2  # (nothing of it is left open)
        category, vendor = decision
        start_tag = self._inert_tag(buf, pos, name_end, tag.end(), b"script", attrs, category,
                                    vendor)
        return element_end, start_tag + buf[tag.end() : element_end] + closing, ends


def _cut_inline(attrs: list[Attr]) -> bool:
    """Whether a script runs inline code of its own: of a type that runs, loading no source,
    not tagged by the site (whose ``data-consent`` decides)."""
    return (_script_type(attrs) in _JS_TYPES and first(attrs, b"data-consent") is None
            and not any(first(attrs, name) for name in _SCRIPT_SOURCES))


def _script_type(attrs: list[Attr]) -> bytes:
    """A script's type, lowercased, without parameters ("" when it has none)."""
    kind = first(attrs, b"type")
    return kind.value.split(b";", 1)[0].strip(WS).lower() if kind else b""


def _code(attr: Attr) -> bytes | None:
    """The code an attribute runs: an event handler's, or a ``javascript:`` URL's as the URL
    parser reads it (tabs and newlines dropped, percent-escapes decoded); None for others."""
    value = attr.value
    if value.find(b"&") >= 0:  # (all of them: "?" starts no query in code)
        value = html.unescape(value.decode("latin-1")).encode("latin-1", "replace")
    if attr.name.startswith(b"on"):
        return value
    if attr.name not in _SCRIPT_URL_ATTRS:
        return None
    url = TAB_NEWLINE.sub(b"", value).lstrip(C0_SPACE)
    if url[:11].lower() != b"javascript:":
        return None
    return unquote_to_bytes(url[11:])


def _moved(hits: list[tuple[Attr, list[Vendor]]]) -> Moved | None:
    """Attributes dropped whole (each with its blocked vendors), kept as data-consent-<name>."""
    if not hits:
        return None
    # (An SVG xlink:href as data-consent-xlink-href, as the client knows it.)
    return Moved({attr.name for attr, _ in hits}, [],
                 [b" data-consent-" + attr.name.replace(b":", b"-") + b"=" + attr.quoted()
                  for attr, _ in hits],
                 [v for _, hit in hits for v in hit])


def _self_closing(buf: _Buf, tag: _Match) -> bool:
    """Whether a start tag ending in "/>" is self-closing: its slash ends no unquoted value."""
    attrs = parse_attrs(buf, tag.end(1), tag.end() - 1)
    return not attrs or attrs[-1].end < tag.end() - 1


class _Tag:
    """The start tag of an element waiting for its end tag, as _RUN matched it: what the
    element's reader asks of the match (the pending bytes start at its "<")."""

    __slots__ = ("_end", "_name", "_name_end")

    def __init__(self, name: bytes, name_end: int, end: int) -> None:
        self._name = name
        self._name_end = name_end
        self._end = end

    def start(self, group: int = 0) -> int:
        return 1 if group else 0

    def end(self, group: int = 0) -> int:
        return self._name_end if group else self._end

    def group(self, group: int = 0) -> bytes:
        return self._name


_Match = re.Match[bytes] | _Tag


def _resume_tag(buf: _Buf, start: int, pos: int, end: int) -> tuple[int, int] | None:
    """Where (as an offset from ``start``, where the pending bytes will begin) and how to read
    on the tag at pos, unfinished in buf[:end]; None if _tag_end finds it complete (it then
    says otherwise than _RUN: nothing is skipped, it is read whole at each chunk)."""
    done, at, mode = _tag_end(buf, pos, end, _AT_OPEN)
    return (at - start, mode) if done < 0 else None


def _tag_end(buf: _Buf, pos: int, end: int, mode: int) -> tuple[int, int, int]:
    """Reads a tag in buf[pos:end] as the tokenizer does, from ``mode`` (_AT_OPEN: pos is its
    "<"; _IN_ATTRS: between attributes; a quote byte: inside a value in those quotes).

    Returns (the end of the tag, just past its ">", or -1 when it goes on past ``end``; and
    then where to read on, in which mode, when more bytes have arrived).
    """
    if mode == _AT_OPEN:
        name = _TAG_OPEN.match(buf, pos, end)
        if name is None:
            return -1, pos, _AT_OPEN
        pos, mode = name.end(), _IN_ATTRS
    while True:
        if mode != _IN_ATTRS:
            close = buf.find(b"'" if mode == 0x27 else b'"', pos, end)
            if close < 0:
                return -1, end, mode
            pos = close + 1
        pos = _TAG_TOKENS.match(buf, pos, end).end()  # type: ignore[union-attr] # (never None)
        if pos >= end:
            return -1, pos, _IN_ATTRS
        if buf[pos] == 0x3E:  # ">"
            return pos + 1, pos + 1, _IN_ATTRS
        opened = _QUOTE_OPEN.match(buf, pos, end)
        if opened is None:  # an attribute cut short by the end (it holds no ">"): read it again
            return -1, pos, _IN_ATTRS
        pos, mode = opened.end(), buf[opened.end() - 1]


def _script_close(buf: _Buf, pos: int, end: int, sub: int, final: bool) -> tuple[int, int, int]:
    """Finds the ``</script`` that ends script data starting at ``pos`` in sub-state ``sub``.

    Returns (its position or -1, where to resume scanning, sub-state there).
    """
    if sub == _S_DATA:
        found = _SCRIPT_END.search(buf, pos, end)
        limit = found.start() if found is not None else end
        if buf.find(b"<!--", pos, limit) < 0:  # the common case: no escape states involved
            if found is not None:
                return found.start(), found.start(), _S_DATA
            return -1, max(pos, end - 9), _S_DATA
    while True:
        token = _SCRIPT_TOKEN.search(buf, pos, end)
        if token is None:
            return -1, max(pos, end - 9), sub
        text = token.group()
        if text == b"<!--":
            if sub == _S_DATA:
                sub = _S_ESCAPED
            pos = token.start() + 2  # its dashes may also close it: "<!-->"
        elif text == b"-->":
            sub = _S_DATA
            pos = token.end()
        elif token.group(1):  # </script
            if sub != _S_DOUBLE:
                return token.start(), token.start(), sub
            sub = _S_ESCAPED
            pos = token.end() - 1
        else:  # <script
            if sub == _S_ESCAPED:
                sub = _S_DOUBLE
            pos = token.end() - 1


__all__ = ["Gate", "HtmlRewriter", "Placeholder", "default_placeholder", "split_url"]
