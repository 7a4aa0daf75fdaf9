"""Start tags' attributes as the HTML tokenizer reads them, and rebuilding a tag from them.

Works on bytes: names and the markup around values are ASCII in every charset the rewriter
accepts; values stay as written, character references included, unless resolved on purpose.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections.abc import Sequence
from typing import Final

Buf = bytes | bytearray
WS: Final = b"\t\n\f\r "

# One attribute of a complete start tag (the tag's extent is grammar.RUN's business).
_ATTR: Final = re.compile(
    rb"([^\t\n\f\r />][^\t\n\f\r />=]*)"
    rb"(?:[\t\n\f\r ]*=[\t\n\f\r ]*(\"[^\"]*\"|'[^']*'|[^\t\n\f\r >]*))?"
)


class Attr:
    __slots__ = ("end", "name", "raw", "start")

    def __init__(self, name: bytes, raw: bytes | None, start: int, end: int) -> None:
        self.name = name
        self.raw = raw  # the value as written, quotes included; None without '='
        self.start = start
        self.end = end

    @property
    def value(self) -> bytes:
        raw = self.raw
        if raw is None:
            return b""
        if raw[:1] in (b'"', b"'"):
            raw = raw[1:-1]
        return raw

    def quoted(self) -> bytes:
        """The value written so it can follow any attribute: unquoted values get double quotes."""
        raw = self.raw
        if raw is None:
            return b'""'
        if raw[:1] in (b'"', b"'"):
            return raw
        return b'"' + raw.replace(b'"', b"&quot;") + b'"'


def parse_attrs(buf: Buf, start: int, end: int) -> list[Attr]:
    return [
        Attr(m.group(1).lower(), m.group(2), m.start(), m.end())
        for m in _ATTR.finditer(buf, start, end)
    ]


def first(attrs: list[Attr], name: bytes) -> Attr | None:
    for attr in attrs:
        if attr.name == name:
            return attr
    return None


def rebuild(
    buf: Buf,
    start: int,
    name_end: int,
    end: int,
    attrs: list[Attr],
    drop: frozenset[bytes],
    added: Sequence[Buf],
) -> bytes:
    """Start tag buf[start:end] minus the ``drop`` attributes, with ``added`` after its name."""
    parts = [buf[start:name_end], *added]
    cursor = name_end
    for attr in attrs:
        if attr.name in drop:
            cut = attr.start
            while cut > cursor and buf[cut - 1] in b" \t":  # keep newlines: line numbers stay
                cut -= 1
            parts.append(buf[cursor:cut])
            cursor = attr.end
    parts.append(buf[cursor:end])
    return b"".join(parts)


REFERENCE: Final = re.compile(
    rb"&(?:#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[a-zA-Z][a-zA-Z0-9]{1,31});?"
)


def ascii_reference(match: re.Match[bytes]) -> bytes:
    """A character reference resolved when it stands for ASCII (markup: ``&lt;``, ``&quot;`` …);
    any other stays as written, so the page's charset never matters."""
    text = html.unescape(match.group().decode("ascii"))
    return text.encode("ascii") if text.isascii() else match.group()


def resolve_references(value: bytes) -> tuple[bytes, list[tuple[int, int, int, int]]]:
    """value with ASCII character references resolved, and each reference's (start, end) in
    the result and (start, end) in value, to map spans found in the result back."""
    parts: list[bytes] = []
    anchors: list[tuple[int, int, int, int]] = []
    done = raw = 0
    for match in REFERENCE.finditer(value):
        literal = value[raw : match.start()]
        text = ascii_reference(match)
        parts += (literal, text)
        done += len(literal)
        anchors.append((done, done + len(text), match.start(), match.end()))
        done += len(text)
        raw = match.end()
    parts.append(value[raw:])
    return b"".join(parts), anchors


def raw_offset(anchors: list[tuple[int, int, int, int]], starts: list[int], at: int) -> int:
    """Where offset ``at`` of the resolved text falls in the original value."""
    i = bisect_right(starts, at) - 1
    if i < 0:
        return at
    start, end, raw_start, raw_end = anchors[i]
    if at == start:
        return raw_start
    return raw_end + max(0, at - end)


def attr_text(text: str) -> bytes:
    return html.escape(text).encode("ascii", "xmlcharrefreplace")
