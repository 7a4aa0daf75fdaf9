"""Which character encoding a browser reads a page in, and whether the byte scanner can read it.

The rewriter works on bytes: it is right for every encoding in which the bytes of HTML's syntax
(``<``, ``>``, quotes, ``=``, ``/``, ``!``, ``-``, ``?``, ASCII letters starting a name, white
space) mean those characters wherever a browser sees them. UTF-8, every single-byte legacy
encoding of the WHATWG Encoding standard, ``x-user-defined`` and the multi-byte CJK ones (GBK,
gb18030, Big5, EUC-JP, EUC-KR, Shift_JIS) are such: their decoders never take one of those
bytes into a multi-byte character (an ASCII byte after a lead byte is given back), so the scanner
sees every piece of markup the browser sees. UTF-16 is not ASCII-compatible at all, and
ISO-2022-JP switches, by escape sequences of plain ASCII, into a mode where ASCII bytes are
halves of kanji (``ESC $ B`` then ``<!--`` is two kanji, not a comment): those are transcoded to
UTF-8 first. The "replacement" encoding (ISO-2022-KR, HZ, ISO-2022-CN) decodes to a single
U+FFFD: nothing in it is markup.

Which encoding: the WHATWG rules (HTML's "determining the character encoding"): a byte-order
mark wins; then a ``charset`` the ``Content-Type`` header names (any WHATWG label: ``unicode``,
``ucs-2``, ``csunicode`` are UTF-16LE; a label the standard does not know, such as ``utf-32``,
counts as none, as in browsers); then, in HTML, a ``<meta charset>`` or ``http-equiv`` found by
the prescan of the first 1024 bytes, in XML the XML declaration's ``encoding`` (or UTF-16 read
from ``<?x`` itself); else a default that is ASCII-compatible. Chromium (like every browser)
also detects ISO-2022-JP in a page that declares nothing: an escape sequence before any byte
above 0x7F. Such a page is transcoded as ISO-2022-JP; one in which an escape byte shows up
later, where we already passed bytes on unchanged, cannot be read as the browser would (its
detector or a late ``<meta>`` may still switch), and is refused (fail closed).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

# The WHATWG Encoding standard's labels (https://encoding.spec.whatwg.org/#names-and-labels),
# each encoding with all of its labels.
_TABLE: Final = {
    "UTF-8": "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8",
    "IBM866": "866 cp866 csibm866 ibm866",
    "ISO-8859-2": "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 "
    "iso_8859-2:1987 l2 latin2",
    "ISO-8859-3": "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 "
    "iso_8859-3:1988 l3 latin3",
    "ISO-8859-4": "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 "
    "iso_8859-4:1988 l4 latin4",
    "ISO-8859-5": "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 "
    "iso_8859-5 iso_8859-5:1988",
    "ISO-8859-6": "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 "
    "iso-8859-6 iso-8859-6-e iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6 "
    "iso_8859-6:1987",
    "ISO-8859-7": "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 "
    "iso8859-7 iso88597 iso_8859-7 iso_8859-7:1987 sun_eu_greek",
    "ISO-8859-8": "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 "
    "iso8859-8 iso88598 iso_8859-8 iso_8859-8:1988 visual",
    "ISO-8859-8-I": "csiso88598i iso-8859-8-i logical",
    "ISO-8859-10": "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6",
    "ISO-8859-13": "iso-8859-13 iso8859-13 iso885913",
    "ISO-8859-14": "iso-8859-14 iso8859-14 iso885914",
    "ISO-8859-15": "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9",
    "ISO-8859-16": "iso-8859-16",
    "KOI8-R": "cskoi8r koi koi8 koi8-r koi8_r",
    "KOI8-U": "koi8-ru koi8-u",
    "macintosh": "csmacintosh mac macintosh x-mac-roman",
    "windows-874": "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874",
    "windows-1250": "cp1250 windows-1250 x-cp1250",
    "windows-1251": "cp1251 windows-1251 x-cp1251",
    "windows-1252": "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 "
    "iso-ir-100 iso8859-1 iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii "
    "windows-1252 x-cp1252",
    "windows-1253": "cp1253 windows-1253 x-cp1253",
    "windows-1254": "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 "
    "iso_8859-9:1989 l5 latin5 windows-1254 x-cp1254",
    "windows-1255": "cp1255 windows-1255 x-cp1255",
    "windows-1256": "cp1256 windows-1256 x-cp1256",
    "windows-1257": "cp1257 windows-1257 x-cp1257",
    "windows-1258": "cp1258 windows-1258 x-cp1258",
    "x-mac-cyrillic": "x-mac-cyrillic x-mac-ukrainian",
    "GBK": "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk",
    "gb18030": "gb18030",
    "Big5": "big5 big5-hkscs cn-big5 csbig5 x-x-big5",
    "EUC-JP": "cseucpkdfmtjapanese euc-jp x-euc-jp",
    "ISO-2022-JP": "csiso2022jp iso-2022-jp",
    "Shift_JIS": "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis",
    "EUC-KR": "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 "
    "ksc5601 ksc_5601 windows-949",
    "replacement": "csiso2022kr hz-gb-2312 iso-2022-cn iso-2022-cn-ext iso-2022-kr replacement",
    "UTF-16BE": "unicodefffe utf-16be",
    "UTF-16LE": "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le",
    "x-user-defined": "x-user-defined",
}
LABELS: Final[dict[str, str]] = {
    label: name for name, labels in _TABLE.items() for label in labels.split()
}

#: The encodings the rewriter cannot read as bytes, and the Python codec that reads each.
TRANSCODED: Final = {
    "UTF-16LE": "utf-16-le",
    "UTF-16BE": "utf-16-be",
    # (The _ext codec also reads ESC ( I, half-width katakana, as WHATWG's decoder does.)
    "ISO-2022-JP": "iso2022_jp_ext",
}
_WS: Final = b"\t\n\f\r "
_BOMS: Final = ((b"\xef\xbb\xbf", "UTF-8"), (b"\xfe\xff", "UTF-16BE"), (b"\xff\xfe", "UTF-16LE"))
#: How much of a body the prescan reads (HTML's limit) and waits for.
PRESCAN: Final = 1024


def lookup(label: str | bytes) -> str | None:
    """The encoding a WHATWG label names ("get an encoding"), or None for an unknown label."""
    if isinstance(label, bytes):
        label = label.decode("latin-1")
    return LABELS.get(label.strip("\t\n\f\r ").lower())


def bom(head: bytes) -> str | None:
    """The encoding a byte-order mark at the start of ``head`` names (it wins over all else)."""
    for mark, name in _BOMS:
        if head.startswith(mark):
            return name
    return None


class Source(enum.Enum):
    """Where the encoding was read: how sure the browser is of it."""

    BOM = "bom"
    HEADER = "header"
    META = "meta"  # (or, in XML, the XML declaration)
    DETECTED = "detected"  # ISO-2022-JP by its escape sequences, nothing declared
    DEFAULT = "default"


class Action(enum.Enum):
    """What the body needs before the byte scanner reads it."""

    PASS = "pass"  # ASCII-compatible as the scanner needs: read as it is
    TRANSCODE = "transcode"  # to UTF-8 first
    REPLACE = "replace"  # the replacement encoding: the whole body is one U+FFFD


@dataclass(frozen=True, slots=True)
class Reading:
    encoding: str
    source: Source

    @property
    def action(self) -> Action:
        if self.encoding in TRANSCODED:
            return Action.TRANSCODE
        if self.encoding == "replacement":
            return Action.REPLACE
        return Action.PASS

    @property
    def settled(self) -> bool:
        """Whether a browser keeps this encoding whatever follows: declared by a byte-order
        mark or the header. Otherwise an escape byte later on may mean it switches (see the
        module's docstring)."""
        return self.source in (Source.BOM, Source.HEADER)


def reading(header: str | None, head: bytes, final: bool, xml: bool = False) -> Reading | None:
    """How a browser reads a body whose ``Content-Type`` names encoding ``header`` (already
    looked up: None when it names none, or an unknown label) and which starts with ``head``;
    None when more of the body is needed to tell (``final``: the body ends with ``head``)."""
    found = bom(head)
    if found is not None:
        return Reading(found, Source.BOM)
    if not final and len(head) < 3 and any(mark.startswith(head) for mark, _ in _BOMS):
        return None  # (a byte-order mark may be under way)
    if header is not None:
        return Reading(header, Source.HEADER)
    if len(head) < PRESCAN and not final:
        return None
    window = head[:PRESCAN]
    declared = xml_declared(window) if xml else prescan(window)
    if declared is not None:
        return Reading(declared, Source.META)
    if iso2022jp(window):
        return Reading("ISO-2022-JP", Source.DETECTED)
    return Reading("UTF-8" if xml else "windows-1252", Source.DEFAULT)


# -- detection of ISO-2022-JP (as the WHATWG's proposal for Japanese detection writes it) -----

_ESCAPES: Final = re.compile(rb"\x1b(?:\(B|\(J|\(I|\$@|\$B)")


def iso2022jp(head: bytes) -> bool:
    """Whether a browser detects ISO-2022-JP in a page that declares no encoding: one of its
    escape sequences before any byte above 0x7F (and no other escape before it)."""
    first = head.find(b"\x1b")
    if first < 0:
        return False
    if any(byte > 0x7F for byte in head[:first]):
        return False
    return _ESCAPES.match(head, first) is not None


# -- the XML declaration --------------------------------------------------------------------

_XML_DECLARATION: Final = re.compile(
    rb"<\?xml[\t\n\r ][^>]*?encoding[\t\n\r ]*=[\t\n\r ]*([\"'])([^\"'>]*)\1"
)


def xml_declared(head: bytes) -> str | None:
    """The encoding an XML document's declaration names (``<?xml … encoding="…"?>``), or UTF-16
    when ``<?x`` itself is spelt in it, as Chromium reads XML without a byte-order mark."""
    if head.startswith(b"<\x00?\x00x\x00"):
        return "UTF-16LE"
    if head.startswith(b"\x00<\x00?\x00x"):
        return "UTF-16BE"
    found = _XML_DECLARATION.match(head)
    if found is None:
        return None
    name = lookup(found.group(2))
    # (A declaration readable as ASCII is not UTF-16, whatever it says: HTML's prescan rule.)
    return "UTF-8" if name in ("UTF-16LE", "UTF-16BE") else name


# -- HTML's prescan (https://html.spec.whatwg.org/#prescan-a-byte-stream-to-determine-its-encoding)


_META_END: Final = (b"\t", b"\n", b"\f", b"\r", b" ", b"/")


class _End(Exception):
    """The prescan ran past the bytes it has: it aborts, finding nothing."""


def prescan(head: bytes) -> str | None:
    """The encoding a ``<meta charset>`` or ``<meta http-equiv="content-type" content=…>`` in
    ``head`` names, by the HTML standard's prescan algorithm; None when it finds none."""
    try:
        return _prescan(head)
    except _End:
        return None


def _prescan(head: bytes) -> str | None:
    pos, end = 0, len(head)
    while True:
        pos = head.find(b"<", pos)
        if pos < 0:
            return None
        if head.startswith(b"<!--", pos):
            close = head.find(b"-->", pos + 2)  # (the dashes may be those of "<!--")
            if close < 0:
                return None
            pos = close + 3
            continue
        if head[pos + 1 : pos + 5].lower() == b"meta" and head[pos + 5 : pos + 6] in _META_END:
            found, pos = _meta(head, pos + 6)
            if found is not None:
                return found
            continue
        nxt = head[pos + 1 : pos + 2]
        if nxt.isalpha() or (nxt == b"/" and head[pos + 2 : pos + 3].isalpha()):
            pos += 2
            while pos < end and head[pos] not in b"\t\n\f\r >":
                pos += 1
            while True:
                attr, pos = _attribute(head, pos)
                if attr is None:
                    break
            pos += 1
            continue
        if nxt in (b"!", b"/", b"?"):
            close = head.find(b">", pos + 1)
            if close < 0:
                return None
            pos = close + 1
            continue
        pos += 1


def _meta(head: bytes, pos: int) -> tuple[str | None, int]:
    """The attributes of a ``<meta`` from ``pos``: (what it declares, where the scan goes on)."""
    seen: set[bytes] = set()
    pragma, need_pragma, charset = False, None, None
    while True:
        attr, pos = _attribute(head, pos)
        if attr is None:
            break
        name, value = attr
        if name in seen:
            continue
        seen.add(name)
        if name == b"http-equiv":
            pragma = pragma or value == b"content-type"
        elif name == b"content" and charset is None:
            found = _from_content(value)
            if found is not None:
                charset, need_pragma = found, True
        elif name == b"charset":
            charset, need_pragma = lookup(value) or "", False
    if need_pragma is None or (need_pragma and not pragma) or not charset:
        return None, pos + 1
    if charset in ("UTF-16LE", "UTF-16BE"):
        charset = "UTF-8"
    elif charset == "x-user-defined":
        charset = "windows-1252"
    return charset, pos


def _attribute(head: bytes, pos: int) -> tuple[tuple[bytes, bytes] | None, int]:
    """HTML's "get an attribute": ((name, value) lowercased, or None at the tag's end, where
    ``pos`` then is), past the bytes it has: _End."""
    end = len(head)

    def at(i: int) -> int:
        if i >= end:
            raise _End
        return head[i]

    while at(pos) in b"\t\n\f\r /":
        pos += 1
    if at(pos) == 0x3E:
        return None, pos
    name = bytearray()
    while True:
        byte = at(pos)
        if byte == 0x3D and name:
            pos += 1
            break
        if byte in _WS:
            while at(pos) in _WS:
                pos += 1
            if at(pos) != 0x3D:
                return (bytes(name), b""), pos
            pos += 1
            break
        if byte in b"/>":
            return (bytes(name), b""), pos
        name.append(byte + 0x20 if 0x41 <= byte <= 0x5A else byte)
        pos += 1
    while at(pos) in _WS:
        pos += 1
    value, pos = _value(head, pos, at)
    return (bytes(name), value), pos


def _value(head: bytes, pos: int, at: Callable[[int], int]) -> tuple[bytes, int]:
    """An attribute's value from ``pos`` (lowercased): (value, where the prescan goes on)."""
    value = bytearray()
    quote = at(pos)
    if quote in b"\"'":
        pos += 1
        while at(pos) != quote:
            value.append(_lower(head[pos]))
            pos += 1
        return bytes(value), pos + 1
    if quote == 0x3E:
        return b"", pos
    while at(pos) not in b"\t\n\f\r >":
        value.append(_lower(head[pos]))
        pos += 1
    return bytes(value), pos


def _lower(byte: int) -> int:
    return byte + 0x20 if 0x41 <= byte <= 0x5A else byte


_CONTENT_CHARSET: Final = re.compile(rb"charset[\t\n\f\r ]*=[\t\n\f\r ]*", re.IGNORECASE)


def _from_content(value: bytes) -> str | None:
    """HTML's "extracting a character encoding from a meta element" (``content`` value)."""
    for found in re.finditer(rb"charset", value, re.IGNORECASE):
        spaced = _CONTENT_CHARSET.match(value, found.start())
        if spaced is None:
            continue  # (no "=": look for the next "charset")
        rest = value[spaced.end() :]
        if not rest:
            return None
        if rest[:1] in (b'"', b"'"):
            close = rest.find(rest[:1], 1)
            return lookup(rest[1:close]) if close > 0 else None
        return lookup(re.split(rb"[\t\n\f\r ;]", rest, maxsplit=1)[0])
    return None
