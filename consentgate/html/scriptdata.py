"""Where a script element ends: the HTML tokenizer's script data states.

Script data ends at the first ``</script`` unless a ``<!--`` opened the "escaped" state and a
``<script`` inside it the "double escaped" one, where ``</script`` only returns to "escaped"
(``<!--<script>…</script>…-->``). The common case, no ``<!--`` before the first ``</script``,
costs one search; the escape states are followed token by token otherwise. The reader of a
script's start tag and content is ``tokenizer.HtmlRewriter._script``.
"""

from __future__ import annotations

from typing import Final

from .grammar import SCRIPT_END, SCRIPT_TOKEN
from .markup import Buf

# Script data sub-states (HTML "script data", "escaped" and "double escaped").
S_DATA: Final = 0
S_ESCAPED: Final = 1
S_DOUBLE: Final = 2


def script_close(buf: Buf, pos: int, end: int, sub: int, final: bool) -> tuple[int, int, int]:
    """Finds the ``</script`` that ends script data starting at ``pos`` in sub-state ``sub``.

    Returns (its position or -1, where to resume scanning, sub-state there).
    """
    if sub == S_DATA:
        found = SCRIPT_END.search(buf, pos, end)
        limit = found.start() if found is not None else end
        if buf.find(b"<!--", pos, limit) < 0:  # the common case: no escape states involved
            if found is not None:
                return found.start(), found.start(), S_DATA
            return -1, max(pos, end - 9), S_DATA
    while True:
        token = SCRIPT_TOKEN.search(buf, pos, end)
        if token is None:
            return -1, max(pos, end - 9), sub
        text = token.group()
        if text == b"<!--":
            if sub == S_DATA:
                sub = S_ESCAPED
            pos = token.start() + 2  # its dashes may also close it: "<!-->"
        elif text == b"-->":
            sub = S_DATA
            pos = token.end()
        elif token.group(1):  # </script
            if sub != S_DOUBLE:
                return token.start(), token.start(), sub
            sub = S_ESCAPED
            pos = token.end() - 1
        else:  # <script
            if sub == S_ESCAPED:
                sub = S_DOUBLE
            pos = token.end() - 1
