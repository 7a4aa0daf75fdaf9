"""URLs in CSS (``<style>`` content and ``style`` attributes): where they are, what they say.

Two passes, so the common case stays cheap. ``hosts`` lists every host a stylesheet could name
in an absolute or protocol-relative URL, with C-speed literal searches and escapes undone first:
only a stylesheet with a blocked vendor's host goes on to ``url_tokens``, which tokenizes it like
a browser (comments, strings, ``url(…)`` with escaped names) and yields each URL with its span,
so that exactly those bytes can be replaced and every other byte stays as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

#: What a URL is replaced by: a data URL needs no request in any browser, and yields no image,
#: font or rule (an empty ``url()`` does the same in current engines, but not in every old one).
INERT: Final = b"data:,"

_ESCAPE: Final = re.compile(
    rb"\\(?:([0-9a-fA-F]{1,6})(?:\r\n|[ \t\n\r\f])?|(\r\n|[\n\r\f])|(.))", re.S
)
_SLASHED_HOST: Final = re.compile(rb"//+([^/\\?#\s\"'()]*)")
# The same, and (in a lookahead: the next "//" is still found) what follows the host as far as a
# URL there could go: a rule on a path (jsdelivr.net serves every package, one of them a vendor's
# tag) is looked at with it. It stops only at bytes that no rule's path holds
# (VendorIndex.path_rules), so that a path cut short still starts with the rule's.
_SLASHED_URL: Final = re.compile(rb"//+([^/\\?#\s\"'()]*)(?=([^\s\"'()]*))")
# An escape that spells an ASCII character a URL's host or slashes could be made of (icon
# fonts' "\\f101" are not): only then are a stylesheet's escapes undone before looking at hosts.
_ASCII_ESCAPE: Final = re.compile(
    rb"\\(?:0{0,4}(?:2[dDeEfF]|[3-7][0-9a-fA-F])(?![0-9a-fA-F])|[^0-9a-fA-F\n\r\f])"
)
_SPACE: Final = rb"(?:\r\n|[ \t\n\r\f])"


def _letter(char: str, escaped_only: bool = False) -> bytes:
    """A letter as CSS may spell it in a name: in either case, or escaped (after its "\")."""
    low, up = char.lower(), char.upper()
    escape = rf"0{{0,4}}(?:{ord(low):x}|{ord(up):x}|{ord(low):X}|{ord(up):X}){_SPACE.decode()}?"
    escape += rf"|[{low}{up}]"
    if escaped_only:
        return f"(?:{escape})".encode("ascii")
    return rf"(?:[{low}{up}]|\\(?:{escape}))".encode("ascii")


# Every token starts with one of six bytes, consumed first: sre then skips all other bytes in C
# (a pattern starting with alternatives would be tried at every byte, ten times slower).
_TOKEN: Final = re.compile(
    rb"[/\"'uU\\](?:"
    rb"(?<=/)\*[^*]*+(?:\*+(?!/)[^*]*+)*+(?:\*+/|\Z)"
    rb"|(?<=\")([^\"\\\n\r\f]*+(?:\\(?:\r\n|.)[^\"\\\n\r\f]*+)*+)(\"?)"
    rb"|(?<=')([^'\\\n\r\f]*+(?:\\(?:\r\n|.)[^'\\\n\r\f]*+)*+)('?)"
    # "url(" (its letters maybe escaped) starting a name, and the spaces after it.
    rb"|(?:(?<=[uU])(?<![\w\\-].)|(?<=\\)(?<![\w\\-].)"
    + _letter("u", escaped_only=True)
    + rb")"
    + _letter("r")
    + _letter("l")
    + rb"\(()"
    + _SPACE
    + rb"*"
    rb")",
    re.S,
)
# The same without escaped names, for stylesheets without escapes that spell ASCII (nearly all):
# "url(" is found at its "(", rarer in CSS than a "u".
_PLAIN_TOKEN: Final = re.compile(
    rb"[/\"'(](?:"
    rb"(?<=/)\*[^*]*+(?:\*+(?!/)[^*]*+)*+(?:\*+/|\Z)"
    rb"|(?<=\")([^\"\\\n\r\f]*+(?:\\(?:\r\n|.)[^\"\\\n\r\f]*+)*+)(\"?)"
    rb"|(?<=')([^'\\\n\r\f]*+(?:\\(?:\r\n|.)[^'\\\n\r\f]*+)*+)('?)"
    rb"|(?<=[uU][rR][lL]\()(?<![\w\\-]....)()" + _SPACE + rb"*"
    rb")",
    re.S,
)
# What _PLAIN_TOKEN never starts at, skipped in one call: sre then tries it only where a token
# may start (three times faster on a big stylesheet full of "(" and "/" than a search).
_PLAIN_SKIP: Final = re.compile(rb"(?:[^/\"'(]++|/(?!\*)|\((?<![uU][rR][lL]\())*+")
_URL_BODY: Final = re.compile(rb"[^)\\]*+(?:\\.[^)\\]*+)*+", re.S)  # (unrolled: long data: URLs)
_BAD_IN_URL: Final = re.compile(rb"[\"'(\x00-\x08\x0b\x0e-\x1f\x7f]|\S\s+\S")


def _unescape_one(match: re.Match[bytes]) -> bytes:
    digits, newline, char = match.groups()
    if digits is not None:
        code = int(digits, 16)
        if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            code = 0xFFFD
        return chr(code).encode("utf-8")
    if newline is not None:
        return b""  # an escaped newline continues a string
    return char


def unescape(text: bytes) -> bytes:
    """CSS escapes resolved (code points as UTF-8: hosts are ASCII in any charset)."""
    return _ESCAPE.sub(_unescape_one, text) if b"\\" in text else text


def _undone(text: bytes | bytearray, start: int, end: int) -> tuple[bytes | bytearray, int, int]:
    """text[start:end] with escapes undone when they may spell a host or its slashes."""
    if text.find(b"\\", start, end) >= 0 and _ASCII_ESCAPE.search(text, start, end):
        # (A backslash is a slash to the URL parser.)
        text = unescape(bytes(text[start:end])).replace(b"\\", b"/")
        return text, 0, len(text)
    return text, start, end


def hosts(text: bytes | bytearray, start: int, end: int) -> set[bytes]:
    """Every ``//host`` in text[start:end], escapes undone, as written.

    A superset of the hosts the stylesheet loads from (comments and plain text count too).
    """
    if text.find(b"\\", start, end) >= 0:
        text, start, end = _undone(text, start, end)
    return set(_SLASHED_HOST.findall(text, start, end))


def urls_on(text: bytes | bytearray, start: int, end: int, host: bytes) -> list[bytes]:
    """Each ``//host…`` in text[start:end] (``host`` as ``hosts`` found it), escapes undone,
    with as much as follows it as a URL could hold: the longest each could be."""
    text, start, end = _undone(text, start, end)
    return [
        b"//" + raw + after for raw, after in _SLASHED_URL.findall(text, start, end) if raw == host
    ]


# Where a string is a URL: after @import, or an argument of a function taking image URLs.
_URL_STRING_BEFORE: Final = re.compile(
    rb"(?:@import|(?:url|image-set|image|src|cross-fade)\([^()]*)[ \t\n\r\f]*\Z", re.I
)


def url_tokens(css: bytes) -> Iterator[tuple[int, int, bytes, bool]]:
    """(start, end, URL with escapes undone, malformed) for each URL in css: ``url(…)`` and the
    strings of ``@import "…"``, ``image-set("…")`` … (not other strings: an attribute selector
    ``a[href^="https://vendor/"]`` must keep working). Malformed tokens (unclosed strings, bad
    unquoted URLs) load nothing in a browser but are reported, to fail closed.
    """
    pos = 0
    string_at = -1  # where url( is followed by a string
    plain = b"\\" not in css or _ASCII_ESCAPE.search(css) is None
    search = _PLAIN_TOKEN.search if plain else _TOKEN.search
    skip, token = _PLAIN_SKIP.match, _PLAIN_TOKEN.match
    while True:
        if plain:
            pos = skip(css, pos).end()  # type: ignore[union-attr]  # (it matches "")
            match = token(css, pos)
            if match is None:  # the end, or "url(" ending a longer name ("myurl(")
                match = search(css, pos)
        else:
            match = search(css, pos)
        if match is None:
            return
        pos = match.end()
        for group in (1, 3):
            if match.group(group) is not None:
                start, body = match.start(), match.group(group)
                # (Only an absolute URL can be a vendor's: look at the context of those alone.)
                if (b"//" in body or b":" in body or b"\\" in body) and (
                    start == string_at or _URL_STRING_BEFORE.search(css, max(0, start - 256), start)
                ):
                    yield (
                        match.start(group),
                        match.end(group),
                        unescape(match.group(group)),
                        not match.group(group + 1),
                    )
                break
        else:
            if match.group(5) is None:
                continue  # a comment
            if css[pos : pos + 1] in b"\"'":
                string_at = pos
                continue
            body = _URL_BODY.match(css, pos)
            assert body is not None  # (it matches the empty string)
            end = body.end()
            bad = end >= len(css) or _BAD_IN_URL.search(body.group()) is not None
            pos = end
            url = unescape(body.group()).strip(b" \t\n\r\f")
            if url:
                yield match.end(), end, url, bad


# Each place a lowercased start tag may have a ``style`` attribute, and the value there. (Only
# the name is consumed, so that every occurrence is tried: one inside another attribute's value
# must not hide the real one after it; those found in other values only cost a closer look.)
_STYLE_VALUE: Final = re.compile(
    rb"style(?<=[\t\n\f\r /\"']style)"
    rb"(?=[\t\n\f\r ]*=[\t\n\f\r ]*(\"[^\"]*\"|'[^']*'|[^\t\n\f\r >]*))"
)


def may_load(lowered: bytes | bytearray) -> bool:
    """Whether a lowercased start tag may have a ``style`` that loads from another host: a
    value with a "(" (or a reference, which may spell one) and "//", "\\" or a reference. A
    cheap test before its attributes are parsed."""
    if lowered.find(b"style") < 0 or (lowered.find(b"(") < 0 and lowered.find(b"&") < 0):
        return False
    for match in _STYLE_VALUE.finditer(lowered):
        value = match.group(1)
        if b"&" in value or (b"(" in value and (b"//" in value or b"\\" in value)):
            return True
    return False


def replace_spans(text: bytes, spans: list[tuple[int, int]]) -> bytes:
    """text with each (start, end) span, in order and disjoint, replaced by ``INERT``."""
    parts: list[bytes] = []
    cursor = 0
    for start, end in spans:
        parts += (text[cursor:start], INERT)
        cursor = end
    parts.append(text[cursor:])
    return b"".join(parts)
