"""Compiled lookups over the vendor registry: URL → vendor, code → vendors, cookie → category.

Built once per middleware. Everything works on bytes so the rewriter never decodes a page: hosts
and paths are ASCII in every charset the rewriter accepts.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

# Aho-Corasick (Rust): one pass over a tag or a script for hundreds of needles; Python's re tries
# an alternation of them at every byte, 20 to 40 times slower.
from ahocorasick_rs import BytesAhoCorasick, Implementation

# UTS #46 (the mapping the URL parser applies to a host before the request): the idna package's
# tables, which follow each Unicode release; a hand-made NFKC-casefold would miss its ignored and
# deviation code points. Only hosts with a non-ASCII byte or a "%" come near it.
from idna import IDNAError, uts46_remap

from .policy import Policy, Vendor

_URL = re.compile(rb"[\x00-\x20]*(?:[a-z][a-z0-9+.-]*:[/\\]*|[/\\]{2,})([^/\\?#]*)([^?#]*)", re.S)
#: A URL in code: "//host/path" (with or without a scheme) or a string starting "host/path".
_CODE_URL = re.compile(
    rb"//([a-z0-9][a-z0-9.-]*\.[a-z]{2,})(/[^\s'\"\\?#)]*)?"
    rb"|['\"]([a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z]{2,})(/[^\s'\"\\?#)]*)"
)
#: JS string escapes that spell a slash, or a backslash (which URLs read as one): "https:\/\/…".
_JS_SLASH = re.compile(rb"\\(?:/|\\|x2f|x5c|u002f|u005c|u\{0*(?:2f|5c)\}|0?57|134)")
#: ``rel`` values of a ``<link>`` (or a ``Link`` header) that make the browser contact the URL
#: before anything on the page asks for it.
HINT_RELS = frozenset(
    (
        b"preconnect",
        b"dns-prefetch",
        b"preload",
        b"prefetch",
        b"modulepreload",
        b"prerender",
        b"stylesheet",
    )
)
#: What comes shortly before a URL in code that loads it rather than links to it.
_LOADS = (b"src", b"fetch", b"sendbeacon")
_SCHEME = re.compile(rb"[\x00-\x20]*([a-z][a-z0-9+.-]*):")
_NETWORK_SCHEMES = frozenset({b"http", b"https", b"ws", b"wss", b"ftp"})
#: What the URL parser drops anywhere in a URL.
TAB_NEWLINE = re.compile(rb"[\t\n\r]")
#: What the URL parser strips from both ends of a URL: C0 controls and spaces.
C0_SPACE = bytes(range(0x21))
_PERCENT = re.compile(rb"%([0-9a-fA-F]{2})")
#: Ways a URL in markup can spell a host so that its plain text is not in the tag: character
#: references, percent-escapes, and tabs or newlines (the URL parser drops them).
_HIDING: tuple[bytes, ...] = (
    b"&#",
    b"&period",
    b"&sol",
    b"&bsol",
    b"&colon",
    b"&newline",
    b"&tab",
    b"%",
    b"\t",
    b"\n",
    b"\r",
)
#: Named character references to characters that the host's UTS #46 mapping makes ASCII or
#: drops ("&shy;" is ignored, "&fopf;" is an "f"): they hide a host from the needles as well,
#: each with its semicolon and, for the few a browser reads without one, without.
#: (tests/test_idna_hosts.py derives the list from html.entities and idna.)
HOST_REFERENCES = (
    "af;",
    "afr;",
    "aopf;",
    "applyfunction;",
    "ascr;",
    "bernou;",
    "bernoullis;",
    "bfr;",
    "bopf;",
    "bscr;",
    "capitaldifferentiald;",
    "cayleys;",
    "cfr;",
    "circleds;",
    "colone;",
    "complexes;",
    "copf;",
    "cscr;",
    "dd;",
    "dfr;",
    "differentiald;",
    "dopf;",
    "dscr;",
    "ee;",
    "efr;",
    "ell;",
    "emsp13;",
    "emsp14;",
    "emsp;",
    "ensp;",
    "eopf;",
    "equal;",
    "escr;",
    "expectation;",
    "exponentiale;",
    "ffilig;",
    "fflig;",
    "ffllig;",
    "ffr;",
    "filig;",
    "fllig;",
    "fopf;",
    "fouriertrf;",
    "fscr;",
    "gfr;",
    "gopf;",
    "gscr;",
    "hairsp;",
    "hamilt;",
    "hfr;",
    "hilbertspace;",
    "hopf;",
    "hscr;",
    "ic;",
    "ifr;",
    "ii;",
    "ijlig;",
    "im;",
    "image;",
    "imaginaryi;",
    "imagline;",
    "imagpart;",
    "incare;",
    "integers;",
    "invisiblecomma;",
    "invisibletimes;",
    "iopf;",
    "iscr;",
    "it;",
    "jfr;",
    "jopf;",
    "jscr;",
    "kfr;",
    "kopf;",
    "kscr;",
    "lagran;",
    "laplacetrf;",
    "lfr;",
    "lopf;",
    "lscr;",
    "mediumspace;",
    "mellintrf;",
    "mfr;",
    "mopf;",
    "mscr;",
    "naturals;",
    "nbsp",
    "nbsp;",
    "negativemediumspace;",
    "negativethickspace;",
    "negativethinspace;",
    "negativeverythinspace;",
    "nfr;",
    "nobreak;",
    "nonbreakingspace;",
    "nopf;",
    "nscr;",
    "numero;",
    "numsp;",
    "ofr;",
    "oopf;",
    "order;",
    "orderof;",
    "ordf",
    "ordf;",
    "ordm",
    "ordm;",
    "os;",
    "oscr;",
    "pfr;",
    "phmmat;",
    "planckh;",
    "poincareplane;",
    "popf;",
    "primes;",
    "pscr;",
    "puncsp;",
    "qfr;",
    "qopf;",
    "qscr;",
    "quaternions;",
    "rationals;",
    "re;",
    "real;",
    "realine;",
    "realpart;",
    "reals;",
    "rfr;",
    "ropf;",
    "rscr;",
    "sfr;",
    "shy",
    "shy;",
    "sopf;",
    "sscr;",
    "sup1",
    "sup1;",
    "sup2",
    "sup2;",
    "sup3",
    "sup3;",
    "tfr;",
    "thickspace;",
    "thinsp;",
    "thinspace;",
    "topf;",
    "trade;",
    "tscr;",
    "ufr;",
    "uopf;",
    "uscr;",
    "verythinspace;",
    "vfr;",
    "vopf;",
    "vscr;",
    "wfr;",
    "wopf;",
    "wscr;",
    "xfr;",
    "xopf;",
    "xscr;",
    "yfr;",
    "yopf;",
    "yscr;",
    "zeetrf;",
    "zerowidthspace;",
    "zfr;",
    "zopf;",
    "zscr;",
)
_LEGACY_REFERENCES = ("nbsp", "ordf", "ordm", "shy", "sup1", "sup2", "sup3")
_HIDING += tuple(b"&" + n.encode() for n in HOST_REFERENCES + _LEGACY_REFERENCES)
_ESCAPES = frozenset((b"%", b"\t", b"\n", b"\r"))
_TAGGED = b"data-consent"
_SRCDOC = b"srcdoc"  # an iframe's inline document: always looked at
TAG_URL = 1
TAG_SIG = 2
#: A percent-escape, tab or newline inside a URL's authority (after "//" or a scheme's ':'): only
#: then can it hide a host; elsewhere in a tag (a query string, between attributes) it cannot.
#: (Written to start at a single byte of a class, the second slash or the ':', so that sre skips
#: the bytes between candidates in C: three times faster than starting with an alternation.)
_HIDDEN_HOST = re.compile(rb"[/\\:](?:(?<=:)|(?<=[/\\][/\\]))[^ \"'>/\\?#\f%\t\n\r]*+[%\t\n\r]")
#: A non-ASCII byte inside a URL's authority: a host the URL parser maps by UTS #46 (fullwidth
#: letters, ideographic full stops, ignored code points) may be a vendor's.
_WIDE_HOST = re.compile(rb"[/\\:](?:(?<=:)|(?<=[/\\][/\\]))[^ \"'>/\\?#\f:\x80-\xff]*+[\x80-\xff]")
_ESCAPED = 4  # a needle that is an escape: look at _HIDDEN_HOST
_HOST = 8  # a needle that is a host: a URL's only when one of these bytes comes before it
_BEFORE_HOST = frozenset(b"/\\.@:;'\"")
#: Bytes of a JS identifier (letters, digits, "_", "$", and any byte of a non-ASCII character):
#: a signature that starts (ends) with one is a name, not matched inside a longer name.
_IDENT = bytes(1 if b >= 0x80 or b in b"_$" or chr(b).isalnum() else 0 for b in range(256))
#: What may be skipped in JS code: strings (which end at a line's end if unclosed), template
#: literals (their ``${…}`` read as text), comments, and what may start a regex literal. A
#: comment or a string that does not end is not one (``/*`` with no ``*/`` is read on as code).
_SKIPS = (
    rb'"(?:[^"\\\n\r]|\\[\s\S])*"?'
    rb"|'(?:[^'\\\n\r]|\\[\s\S])*'?"
    rb"|`(?:[^`\\]|\\[\s\S])*`?"
    rb"|//[^\n\r]*"
)
_JS_SKIP = re.compile(_SKIPS + rb"|/\*[\s\S]*?\*/|/")
#: The same past the last "*/", where no "/*" ends: not looked for to the end again and again.
_JS_SKIP_OPEN = re.compile(_SKIPS + rb"|/")
#: Where a line comment may start: not at a URL's "//", after a ":" or a quote.
_MAY_COMMENT = re.compile(rb"//(?<![:\"'`]//)")  # (a literal first: searched for fast)
#: A regex literal (from its opening slash): classes may hold a slash, no line break.
_JS_REGEX = re.compile(rb"/(?![*/])(?:[^/\\\n\r\[]|\\.|\[(?:[^\]\\\n\r]|\\.)*\])+/")
#: What a regex literal may follow: punctuation, or a keyword that an expression follows (a
#: slash after a name, a number, ")" or "]" or "}" divides).
_BEFORE_REGEX = frozenset(b"(,=:[!&|?{};+-*%<>~^")
_REGEX_KEYWORDS = re.compile(
    rb"(?<![\w$])(?:return|typeof|case|do|else|in|of|new|delete|void|throw|yield|await)$"
)


def js_comments(code: bytes | memoryview, until: int) -> list[tuple[int, int]]:
    """The comments of JS ``code`` (``(start, end)``, in order) that start before ``until``.

    Not a parser: a scanner that knows strings, template literals (their ``${…}`` are read as
    text), comments and, roughly, regex literals, well enough to say that a signature is in a
    comment. Where it may be wrong it errs towards code (privacy fails closed): a template
    literal that does not end runs to the end, a ``/*`` that does not end is no comment, and a
    ``//`` right after a ``:`` is a URL's (``"https://…"`` read out of step), not a comment."""
    spans: list[tuple[int, int]] = []
    search, regex = _JS_SKIP.search, _JS_REGEX.match
    closes = bytes(code).rfind(b"*/")  # (a "/*" after closes - 2 is left open)
    pos = 0
    while pos < until:
        if pos > closes - 2:
            search = _JS_SKIP_OPEN.search
        found = search(code, pos)
        if found is None or found.start() >= until:
            break
        start, end = found.span()
        if code[start] == 0x2F:  # "/"
            second = code[start + 1] if end > start + 1 else 0
            if second == 0x2F or second == 0x2A:  # "//" or "/*"
                if second == 0x2A or not (start and code[start - 1] == 0x3A):
                    spans.append((start, end))
            else:
                before = bytes(code[max(0, start - 16) : start]).rstrip()
                if not before or before[-1] in _BEFORE_REGEX or _REGEX_KEYWORDS.search(before):
                    literal = regex(code, start)
                    if literal is not None:
                        end = literal.end()
        pos = end
    return spans


class _Comments:
    """Whether places in JS ``code`` are in comments: its comments are scanned (as far as the
    last of ``hits``) once, the first time a place may be in one."""

    __slots__ = ("code", "hits", "opens", "spans", "starts")

    def __init__(self, code: bytes | memoryview, hits: list[tuple[int, int, int]]) -> None:
        self.code = bytes(code)  # (searched in place: rfind)
        self.hits = hits
        self.opens = -2  # where the first "/*" is (-1: nowhere before the last hit), once asked
        self.spans: list[tuple[int, int]] | None = None
        self.starts: list[int] = []

    def hold(self, at: int) -> bool:
        code = self.code
        line = code.rfind(b"\n", 0, at) + 1  # (a line that ends in "\r" alone: looked at too)
        if _MAY_COMMENT.search(code, line, at) is None:  # no "//" before it on its line
            if self.opens == -2:
                self.opens = code.find(b"/*", 0, max(h[1] for h in self.hits))
            if not 0 <= self.opens < at:
                return False
            opened = code.rfind(b"/*", 0, at)
            if code.find(b"*/", opened + 2, at) >= 0:  # no "/*" left open before it
                return False
        if self.spans is None:
            self.spans = js_comments(code, max(h[1] for h in self.hits) + 1)
            self.starts = [start for start, _ in self.spans]
        i = bisect_right(self.starts, at) - 1
        return i >= 0 and at < self.spans[i][1]


def _unpercent(match: re.Match[bytes]) -> bytes:
    return bytes((int(match.group(1), 16),))


def decode_attr(raw: bytes) -> bytes:
    """An attribute value's bytes with character references resolved (hosts are ASCII).

    References after a literal '?' (the usual ``&amp;`` of a query) cannot change the host or
    the path, so such values are returned as they are: only the query would differ.
    """
    amp = raw.find(b"&")
    if amp < 0:
        return raw
    query = raw.find(b"?")
    if 0 <= query < amp:
        return raw
    text = html.unescape(raw.decode("latin-1"))
    if text.isascii():
        return text.encode("ascii")
    # A reference to a non-ASCII character ("&#xFF47;", a fullwidth "g"): as UTF-8, as the
    # page's own bytes are read for a host (see idna_host); those bytes stay as they are.
    return _REFERENCE.sub(_reference_utf8, raw)


#: A character reference, as ``html.unescape`` finds them.
_REFERENCE = re.compile(rb"&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")


def _reference_utf8(match: re.Match[bytes]) -> bytes:
    return html.unescape(match.group().decode("latin-1")).encode("utf-8", "surrogatepass")


def idna_host(raw: bytes) -> bytes | None:
    """A non-ASCII host as the URL parser reads it (lowercased bytes), or None when it fails.

    The parser maps a host by UTS #46 before the request (non-transitional, as Chromium and
    the URL Standard do): fullwidth letters become ASCII, the ideographic full stops (U+3002,
    U+FF0E, U+FF61) become ".", soft hyphens and other ignored code points vanish; a label left
    non-ASCII is sent as punycode ("xn--…"). Its bytes are read as UTF-8 (what percent-escapes
    always spell, and the encoding of nearly every page), else as windows-1252.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", "replace")
    try:
        mapped = uts46_remap(text, std3_rules=False, transitional=False)
    except (IDNAError, ValueError):
        return None
    if mapped.isascii():
        return mapped.encode("ascii")
    labels = []
    for label in mapped.split("."):
        if label.isascii():
            labels.append(label.encode("ascii"))
        else:
            try:
                labels.append(b"xn--" + label.encode("punycode"))
            except UnicodeError:
                return None
    return b".".join(labels)


def own_host(host: str | None) -> bytes | None:
    """The request's ``Host`` header as URLs are compared with it: lowercased, without a port."""
    return host.lower().partition(":")[0].encode("ascii", "replace") if host else None


def split_url(value: bytes) -> tuple[bytes, bytes] | None:
    """(host, path) of an absolute or protocol-relative URL, lowercased; None for relative URLs.

    Follows the URL parser where it could hide a host: tabs and newlines anywhere are dropped,
    backslashes count as slashes, ``https:host`` without slashes still names a host, userinfo and
    port are cut, percent-escapes and a trailing dot in the host are undone.
    """
    # (Hot paths test bytes with find, not ``in``: CPython 3.11's ``in`` first tries the needle
    # as an int, and builds and drops a TypeError, ~1.8 k instructions a test.)
    if value.find(b"\t") >= 0 or value.find(b"\n") >= 0 or value.find(b"\r") >= 0:
        value = TAB_NEWLINE.sub(b"", value)
    if value and value[-1] <= 0x20:  # the parser strips C0 controls and spaces at both ends
        value = value.rstrip(C0_SPACE)
    value = value.lower()
    scheme = _SCHEME.match(value)
    if scheme is not None and scheme.group(1) not in _NETWORK_SCHEMES:
        return None
    match = _URL.match(value)
    if match is None:
        return None
    host = match.group(1).rpartition(b"@")[2]
    if host.startswith(b"["):
        return None
    host = host.partition(b":")[0]
    if host.find(b"%") >= 0:
        host = _PERCENT.sub(_unpercent, host)
    if not host.isascii():
        mapped = idna_host(host)
        if mapped is None:
            return None  # (the URL parser fails on it: no request)
        host = mapped
    host = host.rstrip(b".")
    if not host:
        return None
    path = match.group(2).replace(b"\\", b"/")
    if path.find(b"/.") >= 0 or path.find(b"/%2e") >= 0:
        path = _dot_segments(path)
    if path.find(b"%") >= 0:
        path = _PERCENT.sub(_unpercent, path)
    return host, path or b"/"


def _dot_segments(path: bytes) -> bytes:
    """A (lowercased) path with its "." and ".." segments resolved, as the URL parser does
    before the request ("%2e" is a dot there; other escapes stay: "%2f" is no slash to it),
    so that ``/npm/x/../vendor/tag.js`` is read as the vendor's path it loads."""
    segments = path.split(b"/")[1:]
    kept: list[bytes] = []
    for segment in segments:
        dots = segment.replace(b"%2e", b".")
        if dots == b"..":
            if kept:
                kept.pop()
        elif dots != b".":
            kept.append(segment)
    last = segments[-1].replace(b"%2e", b".") if segments else b""
    return b"/" + b"/".join(kept) + (b"/" if last in (b".", b"..") and kept else b"")


def base_url(value: bytes) -> str | None:
    """The base URL a ``<base href>`` sets when it names a host (``https://host/path``, host
    and path as ``split_url`` reads them); None when it is relative, on the document's host."""
    parts = split_url(decode_attr(value))
    if parts is None:
        return None
    return "https://" + b"".join(parts).decode("latin-1")


def resolve_url(value: bytes, base: str) -> bytes | None:
    """A relative URL (an attribute's raw value) resolved against ``base``; None when it is
    absolute (``split_url`` reads it), empty (nothing is fetched), or of another scheme."""
    url = decode_attr(value)
    if url.find(b"\t") >= 0 or url.find(b"\n") >= 0 or url.find(b"\r") >= 0:
        url = TAB_NEWLINE.sub(b"", url)
    url = url.strip(C0_SPACE).replace(b"\\", b"/")
    if not url or url.startswith(b"//") or _SCHEME.match(url.lower()) is not None:
        return None
    return urljoin(base, url.decode("latin-1")).encode("latin-1", "replace")


def _pattern(pattern: str) -> tuple[bytes, bytes]:
    host, slash, path = pattern.strip().lower().partition("/")
    return host.strip(".").encode("ascii", "replace"), (slash + path).encode("ascii", "replace")


@dataclass(frozen=True, slots=True)
class _Rule:
    path: bytes
    vendor: Vendor | None  # None: an allow-list entry


_ALLOWED = _Rule(b"", None)
_PATH_STOPS = re.compile(rb"[\s\"'()]")
# The Google tag (gtag.js): its loader's path, the ID its URL loads, and the IDs its inline
# config calls name (Vendor.tag_ids).
_GOOGLE_TAG_LOADER = (b"www.googletagmanager.com", b"/gtag/js")
_GOOGLE_TAG = re.compile(rb"/gtag/")
_LOADER_TAG_ID = re.compile(rb"[?&]id=([a-z]{1,4}-)")
_CONFIG_TAG_ID = re.compile(rb"""gtag\(\s*(?:'config'|"config")\s*,\s*['"]([A-Za-z]{1,4}-)""")


class VendorIndex:
    """URL, inline-code and cookie lookups for a fixed set of vendors and an allow-list."""

    def __init__(
        self,
        vendors: Sequence[Vendor],
        allow: Iterable[str] = (),
        cookies: Iterable[tuple[str, str]] = (),
        required: Iterable[str] = (),
    ) -> None:
        rules: dict[bytes, list[_Rule]] = {}
        for pattern in allow:
            host, path = _pattern(pattern)
            rules.setdefault(host, []).append(_Rule(path, None))
        for vendor in vendors:
            for pattern in vendor.urls:
                host, path = _pattern(pattern)
                rules.setdefault(host, []).append(_Rule(path, vendor))
        # Most specific path first; at equal length the allow-list wins (it was added first).
        self._rules = {h: sorted(r, key=lambda r: -len(r.path)) for h, r in rules.items()}
        # A tag can only point at a vendor if its text holds a vendor host, or hides one behind a
        # character reference or a percent-escape: a cheap test that skips most tags unparsed.
        # Hosts are looked for with the byte that must precede a host in a URL, or a quote in code
        # (so "t.co" does not fire on every "nyt.com"); a host hidden by an escape is caught by
        # the escape instead.
        signatures = {s.encode("utf-8").lower() for v in vendors for s in v.inline if s}
        hosts = {bytes((b,)) + h for h in self._rules if h for b in _BEFORE_HOST}
        needles = sorted(hosts | (set(_HIDING) - _ESCAPES) | signatures | {_TAGGED, _SRCDOC})
        self._tag_needles = BytesAhoCorasick(needles, implementation=Implementation.DFA)
        url_needles = hosts | {_TAGGED, _SRCDOC} | (set(_HIDING) - _ESCAPES)
        self._needle_flags = [
            (TAG_SIG if n in signatures else 0) | (TAG_URL if n in url_needles else 0)
            for n in needles
        ]
        # For tags: one pass gives all the flags, escapes included (left out above, where hits
        # mean "a host may be named", in code). Hosts are needles without the byte before them,
        # which is looked at per hit: an automaton an eighth the size stays in the CPU's cache
        # between tags, and a tag is scanned twice as fast.
        bare = {h for h in self._rules if h}
        flagged = sorted(bare | set(_HIDING) | signatures | {_TAGGED, _SRCDOC})
        self._flag_needles = BytesAhoCorasick(flagged, implementation=Implementation.DFA)
        self._flagged = [
            (TAG_SIG if n in signatures else 0)
            | (_HOST if n in bare else 0)
            | (TAG_URL if n in (_TAGGED, _SRCDOC) or (n in _HIDING and n not in _ESCAPES) else 0)
            | (_ESCAPED if n in _ESCAPES else 0)
            for n in flagged
        ]
        self._max_labels = max((h.count(b".") + 1 for h in self._rules), default=0)
        # The Google tag's ID prefixes, and the vendors they name (see Vendor.tag_ids).
        self._tag_ids = {p.lower().encode("ascii"): v for v in vendors for p in v.tag_ids}
        # The vendor the Google tag's loader and shared calls are found as (Google Analytics):
        # what its IDs re-attribute.
        loader = self._rule(*_GOOGLE_TAG_LOADER, None)
        self._tag_owner = (
            loader.vendor if loader and loader.vendor in self._tag_ids.values() else None
        )

        by_signature: dict[bytes, list[Vendor]] = {}
        for vendor in vendors:
            for sig in vendor.inline:
                if sig:
                    by_signature.setdefault(sig.encode("utf-8"), []).append(vendor)
        self._signatures = list(by_signature)
        self._signature_vendors = [by_signature[s] for s in self._signatures]
        # Signatures are code tokens: one that starts (ends) with a name's byte is not found
        # inside a longer name ("s_account" in "is_account_page"). A signature that ends in
        # "_" is a prefix ("adfox_…"), and one with a "/" a URL whose path may go on
        # ("hm.baidu.com/h" in "…/hm.js"): their ends are not looked at.
        self._edges = [
            (
                bool(_IDENT[s[0]]),
                bool(_IDENT[s[-1]]) and not s.endswith(b"_") and b"/" not in s,
            )
            for s in self._signatures
        ]
        self._automaton = (
            BytesAhoCorasick(self._signatures, implementation=Implementation.DFA)
            if self._signatures
            else None
        )
        # Signatures that name a URL (a path, a script's file name, a host of the registry):
        # in a large script such a name may be data, a config object's value, rather than a
        # load (html/loaders.py tells them apart). Calls and names ("gtag('config'", "NREUM")
        # are the vendor's code wherever they are.
        self._url_signatures = [self._names_url(s) for s in self._signatures]

        required_set = set(required)
        exact: dict[str, tuple[str, str | None] | None] = {}
        prefixes: list[tuple[str, tuple[str, str | None] | None]] = []

        def add(name: str, found: tuple[str, str | None] | None) -> None:
            if name.endswith("*"):
                prefixes.append((name[:-1], found))
            else:
                exact.setdefault(name, found)

        # The site's own declarations come first: it knows its cookies better than the registry.
        for name, category in cookies:
            add(name, None if category in required_set else (category, None))
        for vendor in vendors:
            for name in vendor.cookies:
                add(name, None if vendor.category in required_set else (vendor.category, vendor.id))
        self._cookie_exact = exact
        self._cookie_prefixes = sorted(prefixes, key=lambda p: -len(p[0]))

    # -- URLs --------------------------------------------------------------------------------

    def match_url(self, value: bytes, own_host: bytes | None = None) -> Vendor | None:
        """The vendor an attribute value (raw bytes, maybe with character references) points at."""
        return self.lookup_url(value, own_host)[1]

    def lookup_url(self, value: bytes, own_host: bytes | None = None) -> tuple[bool, Vendor | None]:
        """(whether a rule covers the URL, its vendor): (True, None) means allow-listed or own."""
        url = decode_attr(value)
        parts = split_url(url)
        rule = self._rule(*parts, own_host=own_host) if parts is not None else None
        if rule is None or parts is None:
            return False, None
        vendor = rule.vendor
        # (An allow-list entry or the site's own host: no vendor to re-attribute.)
        if vendor is not None and vendor is self._tag_owner and _GOOGLE_TAG.match(parts[1]):
            # The Google tag's loader is one URL for several products: its id tells which.
            named = _LOADER_TAG_ID.search(url.lower())
            vendor = self._tag_ids.get(named.group(1), vendor) if named else vendor
        return True, vendor

    def tag_vendors(self, vendors: list[Vendor], code: bytes | memoryview) -> list[Vendor]:
        """``vendors`` found in ``code``, with the Google tag's calls attributed to the products
        its config IDs name: ``gtag('js', …); gtag('config', 'AW-…')`` is Google Ads' snippet,
        not Google Analytics' (whose calls it shares). Only when every ID named is known: an ID
        of another kind (``GT-``) or none at all leaves them as they are; vendors found by
        signatures of their own (DoubleClick's gpt.js) stay."""
        owner = self._tag_owner
        if owner is None or owner not in vendors:
            return vendors
        named = [self._tag_ids.get(p.lower()) for p in _CONFIG_TAG_ID.findall(code)]
        if not named or None in named:
            return vendors
        # (In the owner's place: the first blocked one names the script's gate.)
        found = (w for v in vendors for w in (named if v is owner else (v,)))
        return [v for v in dict.fromkeys(found) if v is not None]

    def match_host(self, host: bytes, path: bytes, own_host: bytes | None = None) -> Vendor | None:
        rule = self._rule(host, path, own_host)
        return rule.vendor if rule is not None else None

    def host_vendors(self, host: bytes, own_host: bytes | None = None) -> list[Vendor]:
        """Vendors with a rule on ``host`` (lowercased) or a parent domain, whatever the path:
        a cheap first test before the URLs on that host are looked at one by one."""
        if host == own_host:
            return []
        labels = host.split(b".")
        rules = self._rules
        found: list[Vendor] = []
        for i in range(max(0, len(labels) - self._max_labels), len(labels)):
            for rule in rules.get(b".".join(labels[i:]), ()):
                if rule.vendor is not None and rule.vendor not in found:
                    found.append(rule.vendor)
        return found

    def path_rules(self, host: bytes) -> bool:
        """Whether every vendor's rule on ``host`` (or a parent domain) names a path, one
        without a space, quote or parenthesis (css.urls_on reads URLs up to those): then
        only a URL on such a path can be a vendor's (jsdelivr.net serves every package)."""
        labels = host.split(b".")
        found = False
        for i in range(max(0, len(labels) - self._max_labels), len(labels)):
            for rule in self._rules.get(b".".join(labels[i:]), ()):
                if rule.vendor is not None:
                    if len(rule.path) <= 1 or _PATH_STOPS.search(rule.path) is not None:
                        return False
                    found = True
        return found

    def vendor_hosts(self, refused: Callable[[Vendor], bool]) -> list[bytes]:
        """The hosts (sorted) with a rule of a vendor ``refused`` refuses, whatever its path."""
        return sorted(
            host
            for host, rules in self._rules.items()
            if host and any(r.vendor is not None and refused(r.vendor) for r in rules)
        )

    def _rule(self, host: bytes, path: bytes, own_host: bytes | None) -> _Rule | None:
        if host == own_host:
            return _ALLOWED
        labels = host.split(b".")
        rules = self._rules
        for i in range(max(0, len(labels) - self._max_labels), len(labels)):
            found = rules.get(b".".join(labels[i:]))
            if found is None:
                continue
            for rule in found:
                if path.startswith(rule.path):
                    return rule
        return None

    def find_needles(self, lowered: bytes | bytearray) -> list[tuple[int, int, int]]:
        """The raw needle hits in lowercased text (empty: it names no vendor host)."""
        return self._tag_needles.find_matches_as_indexes(lowered, True)

    def tag_flags(self, lowered: bytes | bytearray) -> int:
        """``TAG_URL`` / ``TAG_SIG`` of a lowercased start tag (0: nothing to look at), in one
        pass: vendor hosts, signatures, references, and escapes that may hide a host."""
        hits = self._flag_needles.find_matches_as_indexes(lowered, True)
        if not hits:
            # (A non-ASCII host, mapped to a vendor's by the URL parser: no needle finds it.)
            return TAG_URL if not lowered.isascii() and _WIDE_HOST.search(lowered) else 0
        flags = 0
        flagged = self._flagged
        for i, start, _ in hits:
            found = flagged[i]
            if found & _HOST:
                found ^= _HOST
                if start and lowered[start - 1] in _BEFORE_HOST:
                    found |= TAG_URL
            flags |= found
        if flags & _ESCAPED:
            flags &= ~_ESCAPED
            if not flags & TAG_URL and _HIDDEN_HOST.search(lowered) is not None:
                flags |= TAG_URL
        if not flags & TAG_URL and not lowered.isascii() and _WIDE_HOST.search(lowered):
            flags |= TAG_URL
        return flags

    def code_url_vendors(self, lowered: bytes, *, every: bool = False) -> list[Vendor]:
        """Vendors a piece of code loads from (lower-case URLs only): a URL ``"//host/…"`` or
        ``'host/…'`` (built as ``protocol + 'host/path'``) that is a script, or that comes right
        after a ``src`` (``s.src = …``, ``document.write('<img src="…``), a ``fetch(`` or a
        ``sendBeacon(``. Links (share buttons, profile URLs in a config object) are not loads;
        allow-listed hosts do not count. Slashes spelt as JS escapes (``"https:\\/\\/…"``, as
        JSON often writes them) count as slashes; URLs in JS comments do not. With ``every``,
        every URL counts as a load (speculation rules: each one is prefetched or prerendered)."""
        found = self._code_urls(lowered, every)
        if found and (lowered.find(b"/*") >= 0 or _MAY_COMMENT.search(lowered) is not None):
            # (Rare: code that loads from a vendor. URLs in its comments do not count.)
            spans = js_comments(lowered, len(lowered))
            if spans:
                blanked = bytearray(lowered)
                for start, end in spans:
                    blanked[start:end] = b" " * (end - start)
                found = self._code_urls(bytes(blanked), every)
        return found

    def _code_urls(self, lowered: bytes, every: bool) -> list[Vendor]:
        found: list[Vendor] = []
        if lowered.find(b"\\") >= 0:
            lowered = _JS_SLASH.sub(b"/", lowered)
        for match in _CODE_URL.finditer(lowered):
            host = match.group(1) or match.group(3)
            path = match.group(2) if match.group(1) else match.group(4)
            start = match.start()
            before = lowered[max(0, start - 48) : start]
            if (
                not every
                and not (path or b"").endswith(b".js")
                and all(before.find(w) < 0 for w in _LOADS)
            ):
                continue
            rule = self._rule(host, path or b"/", None)
            if rule is not None and rule.vendor is not None and rule.vendor not in found:
                found.append(rule.vendor)
        return found

    # -- inline code -------------------------------------------------------------------------

    def match_code(self, code: bytes | memoryview, *, js: bool = True) -> list[Vendor]:
        """Vendors whose snippet signatures occur in ``code`` as tokens (not inside a longer
        name), in order of first occurrence. With ``js`` (script content, event handlers),
        signatures in JS comments do not count; without (a start tag, a URL), ``//`` is no
        comment."""
        found: list[Vendor] = []
        if self._automaton is None:
            return found
        hits = self._automaton.find_matches_as_indexes(code, True)
        if not hits:
            return found
        size = len(code)
        edges, by_index = self._edges, self._signature_vendors
        done: set[int] = set()  # signatures found as tokens
        comments: _Comments | None = None
        for i, start, end in hits:
            if i in done:
                continue
            head, tail = edges[i]
            if (head and start and _IDENT[code[start - 1]]) or (
                tail and end < size and _IDENT[code[end]]
            ):
                continue
            if js:
                if comments is None:
                    comments = _Comments(code, hits)
                if comments.hold(start):
                    continue
            done.add(i)
            for vendor in by_index[i]:
                if vendor not in found:
                    found.append(vendor)
        return found

    def signature_hits(self, code: bytes | memoryview) -> list[tuple[int, int, bool, list[Vendor]]]:
        """Every occurrence in JS ``code`` of a signature as a token (not inside a longer
        name): (start, end, whether it names a URL, its vendors), in order. For large scripts
        (html/loaders.py): ``match_code`` stops looking at a signature once found, this looks
        at each occurrence. Those in comments are here too, since the comment scanner costs
        a Python pass over the script up to the last hit: an occurrence can only keep a vendor
        that ``match_code`` (which does look at comments) found."""
        found: list[tuple[int, int, bool, list[Vendor]]] = []
        hits = self._automaton.find_matches_as_indexes(code, True) if self._automaton else []
        size = len(code)
        edges, urls, by_index = self._edges, self._url_signatures, self._signature_vendors
        for i, start, end in hits:
            head, tail = edges[i]
            if (head and start and _IDENT[code[start - 1]]) or (
                tail and end < size and _IDENT[code[end]]
            ):
                continue
            found.append((start, end, urls[i], by_index[i]))
        return found

    def _names_url(self, signature: bytes) -> bool:
        """Whether a signature names a URL: a path ("googletagservices.com/tag/js/gpt.js"), a
        script's or an endpoint's file ("fbevents.js", "matomo.php?"), a host the registry
        knows or the parent domain of one ("crwdcntrl.net", "simpleanalyticscdn.com"); not a
        call or a name ("googletag.cmd", "NREUM")."""
        host, slash, _ = signature.lower().strip(b".").partition(b"/")
        if slash or host.rstrip(b"?").endswith((b".js", b".php")):
            return True
        dotted = b"." + host
        return self._rule(host, b"/", None) is not None or any(
            h.endswith(dotted) for h in self._rules
        )

    # -- cookies -----------------------------------------------------------------------------

    def cookie_category(self, name: str) -> tuple[str, str | None] | None:
        if name in self._cookie_exact:
            return self._cookie_exact[name]
        for prefix, found in self._cookie_prefixes:
            if name.startswith(prefix):
                return found
        return None


def index_for(policy: Policy) -> VendorIndex:
    return VendorIndex(policy.vendors, policy.allow, policy.cookie_pairs, policy.required)
