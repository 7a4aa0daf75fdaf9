"""Whether a browser reads a response without a usable ``Content-Type`` as HTML (or XML).

WHATWG MIME Sniffing ("rules for identifying an unknown MIME type", with the scriptable
patterns, as Chromium's sniffer applies them to a response whose type is missing,
``unknown/unknown``, ``application/unknown`` or ``*/*``): after leading white space, one of the
HTML patterns below in any letter case followed by a space or ``>`` is HTML, ``<?xml`` is XML.
Chromium reads the first 1024 bytes; the standard's resource header is up to 1445, the limit
used here (a pattern further on is gated for nothing, never missed). A byte-order mark before the
markup makes it text, for browsers as here.
"""

from __future__ import annotations

import re
from typing import Final

#: How many bytes of a body the sniffer reads.
SNIFF_LIMIT: Final = 1445

_HTML_PATTERN: Final = re.compile(
    rb"[\t\n\f\r ]*+<(?:!DOCTYPE HTML|HTML|HEAD|SCRIPT|IFRAME|H1|DIV|FONT|TABLE|A|STYLE|TITLE"
    rb"|B|BODY|BR|P|!--)[ >]",
    re.IGNORECASE,
)
_XML_PATTERN: Final = re.compile(rb"[\t\n\f\r ]*+<\?xml")


def sniff(head: bytes) -> str | None:
    """``text/html`` or ``text/xml`` when a browser sniffs ``head`` (the body's first bytes) as
    such; None for anything else (text, images, binary: consentgate leaves those alone)."""
    head = head[:SNIFF_LIMIT]
    if _HTML_PATTERN.match(head):
        return "text/html"
    if _XML_PATTERN.match(head):
        return "text/xml"
    return None
