"""Whether a large inline script loads a vendor's URL or only names it as data.

A vendor's snippet is small; a script of many kilobytes is a site's bundle or its configuration,
and may name a vendor's URL as data: the Guardian's 321 KB bootstrap holds
``"googletagJsUrl":"//www.googletagservices.com/tag/js/gpt.js"`` in its config object, for
another file to load some day. Gating such a script for a URL it never loads leaves a visitor
without consent a site whose JavaScript never starts.

So, in a script over the tokenizer's loader size (8 KB) that matched a signature, an occurrence
of a signature that names a URL is set aside as data when all of these hold, and counts in any
other case (privacy fails closed):

- it lies in a quoted string (``"…"``, ``'…'``, or ``\\"…\\"`` inside another string) with no
  space in it, that is the whole value of an object property: ``{`` or ``,``, a key, ``:``,
  the string, then ``,`` or ``}`` (a JSON-like ``"key": "url"``);
- the key is not one a loader reads a URL from (``src``, ``url``, ``href``, … or ``*src``);
- the key's name occurs nowhere else in the script (code that could read it back and load it);
- nothing around it (256 bytes before, 128 after) is a loader's shape: creating an element,
  ``.src``/``src=``/``setAttribute(``, ``fetch(``/``sendBeacon(``/``XMLHttpRequest``/``.open(``,
  ``document.write``, ``import(``/``importScripts(``, ``getScript(``/``loadScript(``, AMD
  ``require``/``define(``/``paths``, ``new Image``, ``appendChild(``/``insertBefore(``.

A URL passed to a call (the snippet's IIFE ``})(window, document, "script", "//…/x.js")``, an
AMD ``require(["//…"])``), assigned (``s.src = "//…"``), concatenated or in an array is never set
aside; neither is a call or a name of the vendor's (``gtag(``, ``NREUM``, ``googletag.cmd``): a
vendor stays found when any of its occurrences counts (one in a comment too: see
``VendorIndex.signature_hits``).
"""

from __future__ import annotations

import re
from typing import Final

from ..gate import VendorIndex
from ..policy import Vendor

#: Bytes that end a URL written in a string: a quote or a space.
_STOPS: Final = frozenset(b"\"'` \t\n\r\f\v")
_LONGEST_URL: Final = 2048
#: What comes before a property's string value: "{" or ",", a key, ":" (the key as group 2).
_KEY_BEFORE = re.compile(
    rb"[{,]\s*(?:(\\?[\"'])([^\"'\\\n\r]{1,128})\1|([A-Za-z_$][\w$]{0,127}))\s*:\s*\Z"
)
#: What comes after it: "," or "}".
_VALUE_AFTER = re.compile(rb"\s*[,}]")
#: Keys a loader reads a URL from ({src: "…"} handed to a loader): such a value is a load.
_LOADER_KEYS: Final = frozenset(
    (b"src", b"url", b"uri", b"href", b"source", b"script", b"file", b"js", b"path", b"paths")
)
#: A loader's shape near a URL (looked for in lower case).
_LOADER_WORDS: Final = (
    b"createelement",
    b".src",
    b"src=",
    b"src =",
    b"setattribute(",
    b"fetch(",
    b"sendbeacon(",
    b"xmlhttprequest",
    b".open(",
    b"document.write",
    b"import(",
    b"importscripts(",
    b"getscript(",
    b"loadscript(",
    b"require",
    b"define(",
    b"paths",
    b"new image",
    b"appendchild(",
    b"insertbefore(",
)
_BEFORE: Final = 256
_AFTER: Final = 128


def loaded_vendors(index: VendorIndex, code: memoryview) -> list[Vendor]:
    """The vendors a large script ``code`` may load: those ``index.match_code`` finds in it,
    but the ones each of whose occurrences is a URL set aside as data. The signatures are
    looked for once, without the comment scanner; ``match_code`` (which runs it) only when
    some occurrence counts, so a bundle with no signature, or only URLs as data, costs one
    pass, as it did before."""
    hits = index.signature_hits(code)
    if not hits:
        return []
    text = bytes(code)
    counted: list[Vendor] = []
    for start, end, url, vendors in hits:
        if not url or not names_as_data(text, start, end):
            counted.extend(v for v in vendors if v not in counted)
    return [v for v in index.match_code(code) if v in counted] if counted else []


def names_as_data(code: bytes, start: int, end: int) -> bool:
    """Whether the URL signature at ``code[start:end]`` is a JSON-like property value that
    nothing near it loads (see the module's doc); False in doubt."""
    return why_counted(code, start, end) is None


def why_counted(code: bytes, start: int, end: int) -> str | None:
    """Why the URL signature at ``code[start:end]`` counts as a load (None: it is set aside
    as data). Said by bench/coverage.py of each large script it lists."""
    string = _string_around(code, start, end)
    if string is None:
        return "not in a quoted string"
    opened, closed = string
    head = _KEY_BEFORE.search(code, max(0, opened - 160), opened)
    if head is None or _VALUE_AFTER.match(code, closed) is None:
        return "not a property's value"
    key = head.group(2) or head.group(3)
    lowered = key.lower()
    if lowered in _LOADER_KEYS or lowered.endswith(b"src"):
        return f"a loader's key ({key.decode('ascii', 'replace')})"
    if _named_outside(code, key, head.start(), closed):
        return f"its key ({key.decode('ascii', 'replace')}) is read elsewhere"
    near = code[max(0, head.start() - _BEFORE) : closed + _AFTER].lower()
    shapes = [word.decode("ascii") for word in _LOADER_WORDS if near.find(word) >= 0]
    return f"a loader's shape near it ({', '.join(shapes)})" if shapes else None


def _string_around(code: bytes, start: int, end: int) -> tuple[int, int] | None:
    """(where the quote that opens the string holding ``code[start:end]`` starts, where the
    one that closes it ends), when it is a quoted string with no space in it; else None."""
    i = start - 1
    low = max(-1, start - _LONGEST_URL)
    while i > low and code[i] not in _STOPS:
        i -= 1
    if i <= low or code[i] not in b"\"'":
        return None
    quote = code[i : i + 1]
    opened = i - 1 if i and code[i - 1] == 0x5C else i  # \" : a string inside a string
    j, high = end, min(len(code), end + _LONGEST_URL)
    while j < high and code[j] not in _STOPS:
        j += 1
    if j >= high or code[j : j + 1] != quote:
        return None
    if (code[j - 1] == 0x5C) != (opened < i):  # escaped on one side only: not one string
        return None
    return opened, j + 1


def _named_outside(code: bytes, name: bytes, start: int, end: int) -> bool:
    """Whether ``name`` occurs in ``code`` as a whole name (not inside a longer one) outside
    ``code[start:end]`` (the property itself)."""
    at, size = code.find(name), len(name)
    while at >= 0:
        if not start <= at < end:
            before = code[at - 1 : at] if at else b""
            after = code[at + size : at + size + 1]
            if not (before.isalnum() or before in (b"_", b"$")) and not (
                after.isalnum() or after in (b"_", b"$")
            ):
                return True
        at = code.find(name, at + size)
    return False
