"""The streaming HTML rewriter: ``HtmlRewriter.feed``/``close`` and its scanning loop.

Speed comes from letting one compiled regex (``grammar.RUN``) tokenize, in C, everything that can
never need a change. Python code runs only where ``RUN`` stops: at a start tag of an element that
may load something (script, iframe, img, source, link, video, input …), at elements whose content
the tokenizer treats specially (style, textarea, title, noscript …), at any start tag whose
``style`` may load from another host (rare: a "(" and a "//" in it) or whose event handler may (a
"//" in it), at an ``<a>``/``<area>`` with a ``ping``, a table part with a ``background`` or a
``<meta>`` with an ``http-equiv`` (a refresh), or where the buffer ends inside an unfinished token.
There ``_scan`` hands the start tag to the reader its element's row names (``elements.READERS``:
``_on_script``, ``_on_loading``, ``_on_style``, ``_on_noscript``, ``_on_plaintext``, ``_on_raw``,
``_on_foreign``, ``_on_styled``), and the comment, raw text and dropped-content states to
``_in_text``. Strict HTML tokenizing rules are followed where they decide what is markup: comments
(with ``<!-->``, ``--!>``), bogus comments, script data with its escape states (``scriptdata.py``),
raw text and RCDATA elements, attribute quoting, any letter case.

Bytes outside the elements it changes are copied untouched, so any ASCII-compatible charset works.
``<noscript>`` content is rewritten as markup (what a browser without scripting loads) but bounded
by the first ``</noscript`` (where a scripting browser ends it), so neither view hides a tracker.
An iframe's ``srcdoc`` document is rewritten like a page of its own.

CSS (``cssgate.py``): a ``<style>`` element is held whole; when it names a blocked vendor's host
its ``url(…)`` and ``@import``/``image-set()`` strings on that vendor become ``data:,`` (no
request, every other byte kept) and the original goes into ``data-consent-css`` for the client to
put back. ``style`` attributes of any element get the same treatment (``data-consent-style``).
Attributes are read and tags rebuilt by ``markup.py``; what is gated is ``decisions.py``'s call,
how it is rewritten ``edits.py``'s.

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

import functools
import html
import json
import re
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any, Final, Protocol

from .. import speculation
from ..gate import TAG_SIG, TAG_URL, VendorIndex, base_url, decode_attr, split_url
from ..policy import Vendor
from . import css, importmap
from .cssgate import CssGate, HostVendors, Moved
from .decisions import (
    Context,
    Decision,
    all_granted,
    blocked,
    blocked_url,
    cut_inline,
    decide,
    decide_script,
    lookup,
    script_type,
    tagged,
)
from .edits import Placeholder, extras, inert_tag, placeholder_for
from .elements import (
    BREAKOUT,
    ELEMENTS,
    FOREIGN,
    INLINE_DOCUMENTS,
    INTEGRATION_POINTS,
    KEPT_WHEN_REMOVED,
    PLACEHOLDERS,
    RAW_LOADING,
    READERS,
    SCRIPT_RUNS,
    SCRIPT_URL_TAGS,
    Reader,
)
from .grammar import (
    BEACON,
    COMMENT_END,
    END_TAG_NAMED,
    END_TAG_REST,
    FOREIGN_IP,
    FOREIGN_ROOT,
    HANDLER,
    PLAIN_TAG,
    QUOTE_OPEN,
    RAW_END,
    RUN,
    RUN_FOREIGN,
    RUN_XML,
    SCRIPT_END,
    SCRIPT_URL,
    SPACED_EQUAL,
    SPACED_EQUALS,
    TAG_OPEN,
    TAG_START,
    TAG_TOKENS,
)
from .loaders import loaded_vendors
from .markup import REFERENCE, Attr, Buf, ascii_reference, first, parse_attrs, rebuild
from .scriptdata import S_DATA, script_close


class Rules(Protocol):
    """What a rewriter reads of the ``Gate`` that builds it (engine.py): built once per
    policy, shared by every response."""

    @property
    def remove(self) -> bool: ...
    @property
    def placeholder(self) -> Placeholder: ...
    @property
    def index(self) -> VendorIndex: ...
    @property
    def vendors(self) -> dict[str, Vendor]: ...
    @property
    def css_hosts(self) -> HostVendors: ...
    def speculation_exclusions(
        self, granted: frozenset[str], services: frozenset[str]
    ) -> list[dict[str, str]]: ...


_Out = list[bytes | bytearray | memoryview]  # what _scan writes: pieces joined once

_AT_OPEN: Final = 0  # _tag_end's modes: at the tag's "<", between attributes, or in a value
_IN_ATTRS: Final = 1  # (quoted with the byte the mode is: '"' or "'")
_STYLE_END: Final = len("</style") + 1
_CLOSE_SCRIPT: Final = b"</script>"
_NOTHING: Final[frozenset[bytes]] = frozenset()

_MAX_SRCDOC_DEPTH: Final = 4
_MAX_NESTED: Final = 16  # contents read as markup inside one another (see _nested_scan)
_FLAGS_KEPT: Final = 1024  # tags remembered per response, each at most _FLAGS_KEY_MAX bytes
_FLAGS_KEY_MAX: Final = 512
_LOADER_MAX: Final = 8 * 1024

# Tokenizer states kept between chunks.
_DATA, _COMMENT, _RAW, _DROP, _PLAINTEXT = range(5)


class _Scan:
    """One call of ``_scan``: the input, the output, and the tokenizer state its readers
    change. (A reader returns where the scan goes on; ``~pos`` to stop it at pos.)"""

    __slots__ = (
        "buf",
        "closes",
        "emitted",
        "end",
        "ended",
        "final",
        "out",
        "raw_name",
        "run",
        "state",
        "top",
        "view",
        "waits",
    )

    def __init__(
        self,
        buf: Buf,
        end: int,
        final: bool,
        out: _Out,
        top: bool,
        emitted: int,
        state: int,
        raw_name: bytes,
        closes: int,
        run: re.Pattern[bytes],
    ) -> None:
        self.buf = buf
        self.end = end
        self.final = final
        self.out = out
        self.top = top
        self.emitted = emitted  # buf[emitted:pos] is unchanged input not yet copied to out
        # Unchanged runs go out as views of the input: joined once, copied once.
        self.view = memoryview(buf)
        self.state = state
        self.raw_name = raw_name
        self.closes = closes  # where an end tag starts that ends raw text (script, style …)
        # At the body's end (final), whether the tokenizer is in the data state.
        self.ended = True
        self.waits = False  # stopping at an element that waits for its end tag
        self.run: Callable[[Buf, int, int], re.Match[bytes] | None] = run.match


class HtmlRewriter:
    """Rewrites one HTML body for one visitor; feed it chunks, then close it."""

    def __init__(
        self,
        gate: Rules,
        granted: frozenset[str],
        services: frozenset[str],
        host: bytes | None,
        depth: int = 0,
        *,
        placeholder: Placeholder | None = None,
        xml: bool = False,
        base: str | None = None,
    ) -> None:
        self._depth = depth  # of srcdoc documents inside srcdoc documents
        self._xml = xml
        # The prefix ("h:") of the XML element being read by its local name (see _on_prefixed).
        self._prefix = b""
        # Whether foreign content (<svg>, <math>) may be open: set at the first such start tag,
        # cleared when what is open of it closes (see _foreign_start, _foreign_end). _open holds
        # the roots (svg, math) and at most one integration point above them, each as [name,
        # whether its content so far has no "<", where in the buffer its content is unread].
        # _stuck: the tokenizer cannot tell (an <svg> read as markup inside raw text, in one
        # reading only; too deep): foreign content may be open for the rest of the body.
        self._foreign = False
        self._open: list[list[Any]] = []
        self._stuck = False
        self._gate = gate
        self._remove = gate.remove
        self._placeholder = placeholder or gate.placeholder
        self._index = gate.index
        self._ctx = Context(granted, services, host, gate.index, gate.vendors, base)
        # Whether a <base href> was read (the first wins), and TAG_URL when it names a host with
        # a vendor's rule: every URL after it may be that vendor's, spelt relative.
        self._base_seen = False
        self._base_gate: Decision | None = None  # (the blocked vendor's <base> is gated)
        self._base_flags = 0 if base is None else TAG_URL
        self._pending = bytearray()
        self._state = _DATA
        self._raw_name = b""
        # Offsets into _pending (which starts at the waiting element's "<"): where the search
        # for a waiting element's end tag reads on (with a script's sub-state) …
        self._script_resume: tuple[int, int] | None = None
        self._content_resume: int | None = None  # (style, noscript, content read as markup)
        # … the start tag of that element, as RUN matched it (not matched again at each chunk) …
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
        self._css = CssGate(
            self._index,
            gate.css_hosts,
            host,
            gate.remove,
            partial(blocked, self._ctx),
            partial(tagged, self._ctx),
        )

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
        buf: Buf
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
                self._tag_resume = None  # complete: RUN reads it once, whole
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

    # -- reading tags cheaply ----------------------------------------------------------------

    def _tag_flags(self, lowered: bytes) -> int:
        """``VendorIndex.tag_flags``, remembered for this response: nearly half the start tags
        Python looks at repeat one seen before in the same page (icons, "<script>" …)."""
        flags = self._flags.get(lowered)
        if flags is None:
            flags = self._index.tag_flags(lowered)
            if len(self._flags) < _FLAGS_KEPT and len(lowered) <= _FLAGS_KEY_MAX:
                self._flags[lowered] = flags
        return flags | self._base_flags

    def _scripted(self, name: bytes, lowered: bytes) -> bool:
        """Whether the start tag of element ``name`` (lowercased) has a ``javascript:`` URL that
        may hold a vendor's code: the tag names a vendor or a signature, or has an escape that
        could hide one (a percent-escape anywhere: such a URL's code is percent-decoded)."""
        attr = SCRIPT_URL_TAGS.get(name)
        return (
            attr is not None
            and lowered.find(attr) >= 0
            and SCRIPT_URL.search(lowered) is not None
            and (bool(self._tag_flags(lowered)) or lowered.find(b"%") >= 0)
        )

    def _extras(
        self,
        attrs: list[Attr],
        decision: Decision | None,
        srcdoc: bytes | None,
        styled: bool,
        handled: bool,
        beacons: int = 0,
        css_moved: Moved | None = None,
        name: bytes = b"",
    ) -> tuple[frozenset[bytes], list[bytes]]:
        return extras(
            self._ctx,
            self._css,
            self._remove,
            attrs,
            decision,
            srcdoc,
            styled,
            handled,
            beacons,
            css_moved,
            SCRIPT_RUNS.get(name, _NOTHING),
        )

    def _srcdoc(self, attrs: list[Attr], name: bytes) -> bytes | None:
        """A rewritten ``srcdoc`` attribute when the iframe's inline document holds trackers."""
        attr = first(attrs, INLINE_DOCUMENTS[name])
        if attr is None or attr.raw is None:
            return None
        if self._depth >= _MAX_SRCDOC_DEPTH:
            return b' srcdoc=""'  # an iframe in an iframe in … : fail closed, not recurse on
        inner = REFERENCE.sub(ascii_reference, attr.value)
        ctx = self._ctx
        nested = HtmlRewriter(
            self._gate,
            ctx.granted,
            ctx.services,
            ctx.host,
            self._depth + 1,
            placeholder=self._placeholder,
            base=ctx.base,  # (an inline document's base URL is its parent's)
        )
        rewritten = nested.feed(inner) + nested.close()
        if rewritten == inner:
            return None
        escaped = rewritten.replace(b"&", b"&amp;").replace(b'"', b"&quot;")
        return b' srcdoc="' + escaped + b'"'

    # -- the scanning loop -------------------------------------------------------------------

    def _run(self, buf: Buf, final: bool) -> tuple[bytes, int]:
        out: _Out = []
        pos = self._scan(buf, 0, len(buf), final, out, top=True)
        return b"".join(out), pos

    def _scan(self, buf: Buf, pos: int, end: int, final: bool, out: _Out, top: bool) -> int:
        """Rewrites buf[pos:end] into ``out``; returns where undecided bytes begin.

        The tokenizer state is ``self._state`` for the top-level stream; nested scans (the inside
        of ``<noscript>``) start in data state and run to their end.
        """
        s = _Scan(
            buf,
            end,
            final,
            out,
            top,
            pos,
            self._state if top else _DATA,
            self._raw_name if top else b"",
            0 if top and self._closing else -1,
            RUN_XML if self._xml else RUN_FOREIGN if self._foreign else RUN,
        )
        if self._foreign and not self._xml:
            self._foreign_resume(s, top)
        # The start tag of an element that waited for its end (at buf[0], top level only).
        waiting = self._waiting if top else None
        tag: _Match
        while pos < end:
            if s.state:  # inside a comment, raw text or plaintext (data state is 0)
                pos = self._in_text(s, pos)
                if pos < 0:
                    pos = ~pos
                    break
                continue
            again = waiting is not None
            if waiting is not None:
                tag, waiting = waiting, None  # (pos is 0, its "<")
            else:
                matched = s.run(buf, pos, end)
                if matched is None or matched.start(1) < 0:  # (never None: all is optional)
                    # Stopped at the end, or at an unfinished token: a tag or comment cut short.
                    pos = self._stopped(s, matched.end() if matched is not None else pos)
                    if pos < 0:
                        pos = ~pos
                        break
                    continue
                tag = matched
            # A start tag, complete: a special one, or one with a style that may load something
            # (refused by PLAIN_ATTRS, so read by the last group of RUN).
            pos = tag.start(1) - 1
            name = tag.group(1).lower()
            if self._foreign and s.top and not again and name in _FOREIGN_STARTS:
                self._foreign_start(s, tag, name)
            if self._xml and name.find(b":") >= 0:
                pos = self._on_prefixed(s, pos, tag, name, again)
            else:
                pos = _READER.get(name, _ON_STYLED)(self, s, pos, tag, name, again)
            if pos < 0:
                pos = ~pos
                break
        if top:
            self._scan_end(s, pos, final, tag if s.waits else None)
        out.append(s.view[s.emitted : pos])
        return pos

    def _scan_end(self, s: _Scan, pos: int, final: bool, tag: _Match | None) -> None:
        """What a top-level scan that stops at pos leaves for the next (``tag``: the start tag
        of the element that waits for its end)."""
        if self._open and self._open[-1][2] is not None and not self._xml:
            self._read_ip(s.buf, pos)
        if final:
            self._ended = s.ended and s.state in (_DATA, _DROP)  # (in a comment, title …: no)
        self._state = _DATA if final else s.state
        self._raw_name = s.raw_name
        # (Its start tag is not matched again: a tag of megabytes waits once.)
        self._waiting = (
            _Tag(tag.group(1), tag.end(1) - pos, tag.end() - pos) if tag is not None else None
        )
        self._closing = s.closes == pos

    def _in_text(self, s: _Scan, pos: int) -> int:
        """Reads on in a comment, raw text (its end tag is then an ordinary end tag for RUN),
        content dropped with its element (mode="remove") or plaintext."""
        state, buf, end = s.state, s.buf, s.end
        if state == _PLAINTEXT:
            s.ended = False
            return ~end
        if state == _COMMENT:
            found = COMMENT_END.search(buf, pos, end)
            if found is None:
                s.ended = False
                return ~(end if s.final else max(pos, end - 3))
            s.state = _DATA
            return found.end()
        found = (RAW_END.get(s.raw_name) or _raw_end(s.raw_name)).search(buf, pos, end)
        if found is None:
            stop = end if s.final else max(pos, end - len(s.raw_name) - 3)
            if state == _DROP:
                s.out.append(s.view[s.emitted : pos])
                s.emitted = stop
            if s.final:
                s.ended = state == _DROP  # (a dropped element is not in the output)
                s.state = _DATA
            return ~stop
        s.state = _DATA
        if state == _RAW:
            s.closes = found.start()
            return found.start()
        return self._dropped_end(s, pos, found.start())

    def _dropped_end(self, s: _Scan, pos: int, start: int) -> int:
        """The end tag at ``start`` of content dropped with its element: dropped too."""
        tail = END_TAG_REST.match(s.buf, start + 2, s.end)
        if tail is None and not s.final:
            s.state = _DROP
            s.emitted = start
            if s.top:
                self._tag_resume = _resume_tag(s.buf, start, start, s.end)
            return ~start
        s.out.append(s.view[s.emitted : pos])
        s.emitted = tail.end() if tail is not None else s.end
        return s.emitted

    def _stopped(self, s: _Scan, pos: int) -> int:
        """Where RUN stopped short of a start tag to read: at the end, or at an unfinished
        token (a tag or comment cut short)."""
        buf, end, final = s.buf, s.end, s.final
        if pos >= end:
            return ~pos
        if self._foreign and buf.startswith(b"</", pos) and not self._xml:
            closed = self._foreign_end(s, pos)
            if closed >= 0:
                return closed
        if self._xml and buf.startswith(b"<?xml-stylesheet", pos):
            return self._stylesheet_pi(s, pos)
        if buf.startswith(b"<!--", pos) and (final or end - pos >= 6):
            s.state = _COMMENT  # (with fewer bytes it could still become "<!-->")
            return pos + 4
        if TAG_START.match(buf, pos, end) is None:
            # "<", "</", "<!", "<?", a bogus comment or doctype: at the body's end, emitted as
            # it is (the tokenizer emits it as text or a comment).
            if final:
                s.ended = False
                return ~end
            return ~pos
        if not final:
            if s.top and pos == 0:
                # Cut short again (most tags a chunk cuts are complete with the next): from now
                # on read on from where it stops (see feed()).
                self._tag_resume = _resume_tag(buf, pos, pos, end)
            return ~pos
        if (s.top or self._cut_end) and not self._depth:
            # A start or end tag cut short by the body's end: the tokenizer drops it, and so
            # must we, or markup appended after the body would complete it (its src running
            # into the banner). After an end tag of raw text (title, script …), the output then
            # ends inside that element. (The same at the end of content read as markup that the
            # body's end cuts short; nothing follows a srcdoc document: its tags pass as they
            # are.)
            s.out.append(s.view[s.emitted : pos])
            s.emitted = end
            s.ended = pos != s.closes
        return ~end  # (inside content read as markup, it passes as it is)

    # -- the readers of start tags, one per kind of element (elements.READERS) ----------------

    def _on_script(self, s: _Scan, pos: int, tag: _Match, name: bytes, again: bool) -> int:
        result = self._script(s.buf, pos, tag, s.end, s.final, s.top, again)
        if result is None:
            s.waits = True
            return ~pos
        element_end, replacement, close = result
        if self._xml and close > tag.end() and s.buf.find(b"<", tag.end(), close) >= 0:
            replacement = self._script_children(s.buf, pos, tag, close, element_end, replacement)
        if close >= 0:
            s.closes = close
        elif close == -1:
            s.ended = False
            s.closes = element_end  # (where an end tag cut short by the body's end may be)
        if replacement is not None:
            s.out.append(s.view[s.emitted : pos])
            s.out.append(replacement)
            s.emitted = element_end
        return element_end

    def _script_children(
        self,
        buf: Buf,
        pos: int,
        tag: _Match,
        close: int,
        element_end: int,
        replacement: bytes | None,
    ) -> bytes | None:
        """XML: a script's content is parsed, and an element in it is an element (an ``<img>``
        there loads), so its content outside CDATA sections is rewritten as markup too, in the
        script as it goes out (gated or not). None: nothing changed."""
        content = tag.end()
        pieces: _Out = []
        prefix, self._prefix = self._prefix, b""  # (the children's names are their own)
        at = content
        while at < close:
            cdata = buf.find(b"<![CDATA[", at, close)
            stop = cdata if cdata >= 0 else close
            if buf.find(b"<", at, stop) >= 0:
                self._nested_scan(buf, at, stop, pieces, False)
            else:
                pieces.append(buf[at:stop])
            if cdata < 0:
                break
            ends = buf.find(b"]]>", cdata, close)
            at = ends + 3 if ends >= 0 else close
            pieces.append(buf[cdata:at])
        self._prefix = prefix
        inner = b"".join(pieces)
        if inner == buf[content:close]:
            return replacement
        if replacement is None:
            start = bytes(buf[pos:content])
        else:  # (its start tag, made inert: what precedes the content in the replacement)
            start = replacement[: len(replacement) - (element_end - content)]
        return start + inner + bytes(buf[close:element_end])

    def _content_end(self, s: _Scan, pos: int, tag: _Match, name: bytes, again: bool) -> int:
        """Where the content of element ``name`` ends (its end tag, or the body's end); -1 to
        wait for more input. Sets where its end tag starts and whether the body ends first."""
        found = self._end_tag(s.buf, pos, tag.end(), s.end, name, again)
        if found is None and not s.final:
            s.waits = True
            return -1
        inner_end = s.closes = found.start() if found is not None else s.end
        s.ended = found is not None
        return inner_end

    def _on_loading(self, s: _Scan, pos: int, tag: _Match, name: bytes, again: bool) -> int:
        buf, tag_end = s.buf, tag.end()
        inner_end = -1  # where the content of an iframe to read as markup too ends
        if name in RAW_LOADING and self._xml_rules:
            inner_end = self._content_end(s, pos, tag, name, again)
            if inner_end < 0:
                return ~pos
        lowered = bytes(buf[pos:tag_end].lower())
        flags = self._flags.get(lowered)  # (_tag_flags, inlined: 2,700 tags a pass)
        flags = self._tag_flags(lowered) if flags is None else flags | self._base_flags
        styled = lowered.find(b"style") >= 0 and css.may_load(lowered)
        scripted = name in SCRIPT_URL_TAGS and self._scripted(name, lowered)
        if flags or styled or scripted:
            decision = self._loading_tag(s, pos, tag, name, lowered, flags, styled, scripted)
        else:
            decision = None
        if name not in RAW_LOADING:
            return tag_end
        # iframe content is raw text; in remove mode it goes with its element.
        if decision is not None and self._remove:
            s.state, s.raw_name = _DROP, self._prefix + name
            s.emitted = tag_end
            s.ended = True
        elif inner_end >= 0:
            s.emitted = self._markup_in(
                buf, tag_end, inner_end, s.out, s.emitted, not s.ended and (s.top or self._cut_end)
            )
            return inner_end
        else:
            s.state, s.raw_name = _RAW, name
        return tag_end

    def _loading_tag(
        self,
        s: _Scan,
        pos: int,
        tag: _Match,
        name: bytes,
        lowered: bytes,
        flags: int,
        styled: bool,
        scripted: bool,
    ) -> Decision | None:
        """Rewrites the start tag of a loading element that may need it; returns the decision
        (not None: gated)."""
        buf, tag_end, name_end = s.buf, tag.end(), tag.end(1)
        attrs = parse_attrs(buf, name_end, tag_end - 1)
        decision = decide(self._ctx, name, attrs, [], flags) if flags else None
        drop, added = self._extras(
            attrs,
            decision,
            self._srcdoc(attrs, name) if name in INLINE_DOCUMENTS and flags else None,
            styled,
            scripted or HANDLER.search(lowered) is not None,
            flags if flags and _beacon(lowered) else 0,  # (an attributionsrc)
            name=name,
        )
        if decision is not None:
            s.out.append(s.view[s.emitted : pos])
            if name in PLACEHOLDERS and not self._xml:  # (HTML of ours would break XML)
                s.out.append(placeholder_for(self._placeholder, decision, attrs))
            if not self._remove or name in KEPT_WHEN_REMOVED:
                inert = inert_tag(
                    buf, pos, name_end, tag_end, name, attrs, decision, self._remove, drop, added
                )
                if self._xml:  # (XML has no attribute without a value)
                    inert = inert.replace(_HIDDEN, b' data-consent-hidden="" hidden=""')
                s.out.append(inert)
            s.emitted = tag_end
        elif drop:
            s.out.append(s.view[s.emitted : pos])
            s.out.append(rebuild(buf, pos, name_end, tag_end, attrs, drop, added))
            s.emitted = tag_end
        return decision

    def _on_style(self, s: _Scan, pos: int, tag: _Match, name: bytes, again: bool) -> int:
        inner_end = self._content_end(s, pos, tag, name, again)
        if inner_end < 0:
            return ~pos
        buf, tag_end = s.buf, tag.end()
        inert = self._css.style_element(buf, tag.end(1), tag_end, inner_end)
        # (The start tag: its CSS's original, and its own handlers: a <style> fires load and
        # error events too.)
        s.emitted = self._restyled(buf, pos, tag, s.out, s.emitted, inert[0] if inert else None)
        if self._xml_rules and buf.find(b"<", tag_end, inner_end) >= 0:
            # CSS to HTML, markup to SVG (and XHTML): both readings are rewritten.
            content = inert[1] if inert else buf[tag_end:inner_end]
            s.out.append(s.view[s.emitted : tag_end])
            self._nested_scan(
                content, 0, len(content), s.out, not s.ended and (s.top or self._cut_end)
            )
            s.emitted = inner_end
        elif inert is not None:
            s.out.append(s.view[s.emitted : tag_end])
            s.out.append(inert[1])
            s.emitted = inner_end
        return inner_end  # its end tag is an ordinary end tag for RUN

    def _on_noscript(self, s: _Scan, pos: int, tag: _Match, name: bytes, again: bool) -> int:
        # Without scripting the inside of a noscript is markup (pixels load); with it, raw text
        # up to the first </noscript. The same for raw text and RCDATA elements (title,
        # textarea …) once foreign content may be open: in SVG or MathML they are elements of
        # its own, with markup inside (and so in XHTML). Rewriting the inside as markup bounded
        # by the first end tag covers both readings.
        inner_end = self._content_end(s, pos, tag, name, again)
        if inner_end < 0:
            return ~pos
        s.emitted = self._restyled(s.buf, pos, tag, s.out, s.emitted)
        s.emitted = self._markup_in(
            s.buf, tag.end(), inner_end, s.out, s.emitted, not s.ended and (s.top or self._cut_end)
        )
        return inner_end

    def _on_plaintext(self, s: _Scan, pos: int, tag: _Match, name: bytes, again: bool) -> int:
        s.emitted = self._restyled(s.buf, pos, tag, s.out, s.emitted)
        if self._xml_rules:
            if s.top:
                self._plaintext = True  # (to HTML, the rest is text: see close())
            return tag.end()  # (maybe an SVG element; to HTML, text: read as markup)
        s.state = _PLAINTEXT
        return s.end

    def _on_raw(self, s: _Scan, pos: int, tag: _Match, name: bytes, again: bool) -> int:
        if self._xml_rules:
            return self._on_noscript(s, pos, tag, name, again)
        # Raw text / RCDATA element: its content is never markup.
        s.emitted = self._restyled(s.buf, pos, tag, s.out, s.emitted)
        s.state, s.raw_name = _RAW, name
        return tag.end()

    def _on_foreign(self, s: _Scan, pos: int, tag: _Match, name: bytes, again: bool) -> int:
        end = self._on_styled(s, pos, tag, name, again)
        if name in FOREIGN and not self._foreign and not self._xml:  # (XML: RUN_XML throughout)
            if not s.top:  # (markup inside raw text: foreign in one reading, up to we know not)
                self._stuck = self._foreign = True
                s.run = RUN_FOREIGN.match
            elif not _closes_itself(s.buf, tag):  # ("<svg/>" opens nothing)
                closed = _closed_at_once(s.buf, end, s.end, name)
                if closed >= 0:
                    return closed  # (an icon: nothing in it to read; HTML again after it)
                self._open.append([name, True, None])
                self._foreign = True
                s.run = self._foreign_run().match
        return end

    # -- leaving foreign content -------------------------------------------------------------

    def _foreign_resume(self, s: _Scan, top: bool) -> None:
        """A scan where foreign content may be open: its pattern, and where the content of an
        integration point on top reads on (the start of this buffer)."""
        if top and self._open and self._open[-1][2] is None and self._open[-1][0] not in FOREIGN:
            # An integration point's content reads on from here (a root's entry holds None for
            # good: text read in it never makes foreign content stuck). (When it waits, the
            # buffer starts at its own start tag: after that.)
            waiting = self._waiting
            ip = waiting is not None and waiting.group(1).lower() == self._open[-1][0]
            self._open[-1][2] = waiting.end() if ip and waiting is not None else 0
        s.run = self._foreign_run().match

    def _foreign_run(self) -> re.Pattern[bytes]:
        """The pattern that reads on where foreign content may be open."""
        if self._stuck or not self._open:
            return RUN_FOREIGN
        return FOREIGN_ROOT if self._open[-1][0] in FOREIGN else FOREIGN_IP

    def _foreign_changed(self, s: _Scan) -> None:
        """After what is open changed: HTML rules again once nothing is, else the pattern."""
        if len(self._open) > _MAX_OPEN:
            self._stuck = True
        if not self._open and not self._stuck:
            self._foreign = False
            s.run = RUN.match
        else:
            s.run = self._foreign_run().match

    def _foreign_start(self, s: _Scan, tag: _Match, name: bytes) -> None:
        """A start tag (top level) that may open or leave foreign content, as the tree builder
        reads it inside <svg>/<math> proper: a breakout tag closes every root up to the
        integration point around them (or all); a root or an integration point of the root's
        namespace opens, unless self-closing. Inside an integration point the content is HTML:
        nothing here changes what is open (FOREIGN_IP does not stop at these)."""
        if self._stuck or not self._open or self._open[-1][0] not in FOREIGN:
            return
        if name in _BREAKOUT and (name != b"font" or _font_breaks(s.buf, tag)):
            while self._open and self._open[-1][0] in FOREIGN:
                self._open.pop()
        elif name in FOREIGN or name in _IP_OF[self._open[-1][0]]:
            if _closes_itself(s.buf, tag):
                return
            self._open.append([name, True, None if name in FOREIGN else tag.end()])
        else:
            return
        self._foreign_changed(s)

    def _foreign_end(self, s: _Scan, pos: int) -> int:
        """An end tag where foreign content may be open: its end (-1 when it is cut short),
        having closed the root or integration point on top when it is that element's. (A root
        closes by its end tag inside <svg>/<math> proper, as the tree builder's "any other end
        tag" walks up foreign elements only; an integration point only when nothing but text
        came inside it, else an HTML element may still be open in it, which ignores the tag.)
        Anything less certain leaves foreign content open, as before: both readings."""
        buf = s.buf
        tail = END_TAG_NAMED.match(buf, pos, s.end)
        if tail is None:
            return -1
        if s.top and self._open and not self._stuck:
            top = self._open[-1]
            name = tail.group(1).lower()
            if name == top[0] and (top[0] in FOREIGN or self._read_ip(buf, pos)):
                self._open.pop()
                self._foreign_changed(s)
            elif self._stuck:
                s.run = RUN_FOREIGN.match
        return tail.end()

    def _read_ip(self, buf: Buf, pos: int) -> bool:
        """Reads the content of the integration point on top up to pos: whether it is all
        text so far."""
        top = self._open[-1]
        if top[1] and top[2] is not None:
            top[1] = buf.find(b"<", top[2], pos) < 0
        top[2] = None
        if not top[1]:
            # It can never close now, nor what it is in: foreign content stays open, and only
            # what the old reading stops at is read (no end tag of it any more).
            self._stuck = True
        return bool(top[1])

    def _on_base(self, s: _Scan, pos: int, tag: _Match, name: bytes, again: bool) -> int:
        if self._base_seen and self._base_gate is None:
            return self._on_styled(s, pos, tag, name, again)
        attrs = parse_attrs(s.buf, tag.end(1), tag.end() - 1)
        href = first(attrs, b"href")
        if href is None:
            return self._on_styled(s, pos, tag, name, again)
        if not self._base_seen:  # (the first <base> with an href sets the document's base URL)
            self._base_seen = True
            self._set_base(href.value)
            vendor = self._index.lookup_url(href.value, self._ctx.host)[1]
            if vendor is not None and blocked(self._ctx, vendor):
                # Gated itself: what no reader resolves against it (a relative url() in CSS, a
                # handler's URL) then stays on the site's host. Decisions still read relative
                # URLs against it, so that what the client puts back once allowed, after it,
                # is that vendor's again. (A later <base> would take its place: gated too.)
                self._base_gate = (vendor.category, vendor)
        if self._base_gate is None:
            return self._on_styled(s, pos, tag, name, again)
        s.out.append(s.view[s.emitted : pos])
        s.out.append(
            inert_tag(
                s.buf, pos, tag.end(1), tag.end(), b"base", attrs, self._base_gate, self._remove
            )
        )
        s.emitted = tag.end()
        return tag.end()

    def _set_base(self, href: bytes) -> None:
        """Relative URLs from here on resolve against ``href`` when it names another host."""
        parts = split_url(decode_attr(href))
        if parts is None or parts[0] == self._ctx.host:
            return  # (relative, or on the site's own host: relative URLs stay on it)
        self._ctx = replace(self._ctx, base=base_url(href))
        if self._index.host_vendors(parts[0]):
            self._base_flags = TAG_URL

    def _on_prefixed(self, s: _Scan, pos: int, tag: _Match, name: bytes, again: bool) -> int:
        """An XML element with a prefixed name (``<h:script>``): whatever namespace its prefix
        is bound to (XHTML, for all the rewriter knows: fail closed), read by its local name,
        its content up to its own prefixed end tag."""
        prefix, _, local = name.rpartition(b":")
        self._prefix = prefix + b":"
        try:
            return _READER.get(local, HtmlRewriter._on_styled)(self, s, pos, tag, local, again)
        finally:
            self._prefix = b""

    def _stylesheet_pi(self, s: _Scan, pos: int) -> int:
        """``<?xml-stylesheet href="…"?>`` (XML): the browser loads its ``href`` (CSS or XSLT).
        On a blocked vendor's URL the pseudo-attribute becomes ``data-consent-href`` (the
        instruction then loads nothing; the client cannot run it again), or, with
        mode="remove", the instruction goes."""
        buf, end = s.buf, s.end
        close = buf.find(b"?>", pos)
        if close < 0:
            if not s.final:
                return ~pos
            close = end - 2
        pi_end = close + 2
        text = bytes(buf[pos:pi_end])
        href = _PI_HREF.search(text)
        if href is None or not blocked_url(self._ctx, _pi_value(href.group(2))):
            return pi_end
        s.out.append(s.view[s.emitted : pos])
        if not self._remove:
            s.out.append(text[: href.start(1)] + b"data-consent-" + text[href.start(1) :])
        s.emitted = pi_end
        return pi_end

    def _on_styled(self, s: _Scan, pos: int, tag: _Match, name: bytes, again: bool) -> int:
        # <body>, or a tag with a style that may load (refused by PLAIN_ATTRS); or one read for
        # foreign content only (<svg>, <mi>, <div> …), which RUN would skip when plain.
        end = tag.end()
        if name in _PLAIN_SKIPPED and (m := PLAIN_TAG.match(s.buf, pos, end)) and m.end() == end:
            return end
        s.emitted = self._restyled(s.buf, pos, tag, s.out, s.emitted, name=name)
        return tag.end()

    # -- content read as markup --------------------------------------------------------------

    def _end_tag(
        self, buf: Buf, pos: int, tag_end: int, end: int, name: bytes, again: bool
    ) -> re.Match[bytes] | None:
        """The end tag that ends the content of element ``name`` starting at pos (its start tag
        ends at tag_end); None if it is not in buf yet: the search then goes on from where it
        stops when more arrives (``again``: for the element that waited), so long elements
        stay linear."""
        resume = self._content_resume if again else None
        self._content_resume = None
        pattern = _raw_end(self._prefix + name) if self._prefix else RAW_END[name]
        found = pattern.search(buf, pos + resume if resume is not None else tag_end, end)
        if found is None:
            self._content_resume = max(tag_end, end - len(name) - 3) - pos
        return found

    def _markup_in(
        self, buf: Buf, start: int, end: int, out: _Out, emitted: int, at_end: bool
    ) -> int:
        """Emits buf[emitted:start] as it is, then buf[start:end] rewritten as markup; returns
        where unchanged input begins again (``emitted`` when buf[start:end] stays as it is).
        ``at_end``: the body ends there (its end cuts the content short)."""
        if buf.find(b"<", start, end) < 0:
            return emitted  # text only (most titles, empty iframes): nothing to rewrite
        out.append(memoryview(buf)[emitted:start])
        self._nested_scan(buf, start, end, out, at_end)
        return end

    def _nested_scan(self, buf: Buf, start: int, end: int, out: _Out, at_end: bool) -> None:
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
        self,
        buf: Buf,
        pos: int,
        tag: _Match,
        out: _Out,
        emitted: int,
        css_moved: Moved | None = None,
        name: bytes = b"",
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
        handled = (HANDLER.search(lowered) is not None and bool(self._tag_flags(lowered))) or (
            bool(name) and self._scripted(name, lowered)
        )
        beacons = _beacon(lowered) and self._tag_flags(lowered)
        if not styled and not handled and not beacons and css_moved is None:
            return emitted
        name_end = tag.end(1)
        attrs = parse_attrs(buf, name_end, end - 1)
        drop, added = self._extras(attrs, None, None, styled, handled, beacons, css_moved, name)
        if not drop and not added:
            return emitted
        out.append(buf[emitted:pos])
        out.append(rebuild(buf, pos, name_end, end, attrs, drop, added))
        return end

    # -- scripts -----------------------------------------------------------------------------

    def _script(
        self, buf: Buf, pos: int, tag: _Match, end: int, final: bool, top: bool, again: bool
    ) -> tuple[int, bytes | None, int] | None:
        """(end of the element, replacement or None, where its end tag starts) or None to wait
        for more input (``again``: for the script that waited). Where its end tag starts is -1
        when the body ends inside it, -2 when it needs none (closed by "/>", or by our own
        "</script>")."""
        content = tag.end()
        if self._xml_rules and buf[content - 2 : content - 1] == b"/" and (_self_closing(buf, tag)):
            # "<script … />": in XHTML and SVG an element without content; in HTML the slash
            # means nothing and script data follows. After an <svg> or <math> either reading
            # may be the browser's, so the element is closed right away ("</script>" is an
            # ignored stray end tag in SVG): both read what follows as markup, as we do.
            # (Before any foreign content, the HTML reading is certain, and followed below.)
            self._script_resume = None
            closed = self._self_closed(buf, content, end, final)
            if closed is None:
                return None
            closing, ends = closed
            element_end = close = content
        else:
            found = self._script_end(buf, pos, tag, end, final, top, again)
            if found is None:
                return None
            element_end, close, ends = found
            closing = b""
        return self._script_element(buf, pos, tag, close, element_end, ends, closing)

    def _self_closed(
        self, buf: Buf, content: int, end: int, final: bool
    ) -> tuple[bytes, int] | None:
        """For "<script … />" after foreign content: (what closes it in HTML, where its end tag
        starts: -2, none needed, or the one already there); None to wait for more input."""
        if self._xml:
            return b"", -2
        after = bytes(buf[content : min(end, content + len(_CLOSE_SCRIPT))])
        if len(after) < len(_CLOSE_SCRIPT) and not final:
            return None  # (an end tag may be on its way)
        if SCRIPT_END.match(after + b">") is None:  # (none there already)
            return _CLOSE_SCRIPT, -2
        return b"", content  # (to HTML, that end tag ends it)

    def _script_end(
        self, buf: Buf, pos: int, tag: _Match, end: int, final: bool, top: bool, again: bool
    ) -> tuple[int, int, int] | None:
        """(end of the element, where its content ends, where its end tag starts or -1 when
        the body ends inside it) for script data; None to wait for more input."""
        resume = self._script_resume if again else None
        self._script_resume = None
        start, sub = resume if resume is not None else (tag.end(), S_DATA)
        if self._prefix:  # (XML: no script data states; its end tag, prefixed as it is)
            found = _raw_end(self._prefix + b"script").search(buf, start, end)
            close = found.start() if found is not None else -1
            scanned = max(start, end - len(self._prefix) - 9)
        else:
            close, scanned, sub = script_close(buf, start, end, sub, final)
        if close < 0:
            if not final:
                if top:
                    self._script_resume = (scanned - pos, sub)
                return None
            return end, end, -1
        if buf[close + 8 : close + 9] == b">":  # the usual plain "</script>"
            return close + 9, close, close
        tail = END_TAG_REST.match(buf, close + 2, end)
        if tail is not None:
            return tail.end(), close, close
        if not final:
            if top:
                self._script_resume = (close - pos, S_DATA)
                self._tag_resume = _resume_tag(buf, pos, close, end)
            return None
        # Its end tag, cut short by the body's end, is dropped (as the tokenizer drops it): the
        # body then ends inside the script, which a browser never runs, and which is read as
        # one that is not closed ("<script>x", made inert: the same output when read again).
        return close, close, -1

    def _code_vendors(self, buf: Buf, lowered: bytes, tag: _Match, close: int) -> list[Vendor]:
        """The vendors a script's content is a snippet or a loader of (``lowered``: its start
        tag)."""
        content = tag.end()
        index = self._index
        if close - content > _LOADER_MAX:
            # A large script (a bundle, a site's config) may name a vendor's URL as data, a
            # property's value, that it never loads: loaders.py (one pass, as match_code's).
            in_code = loaded_vendors(index, memoryview(buf)[content:close])
        else:
            in_code = index.match_code(memoryview(buf)[content:close]) if close > content else []
        if (
            lowered.find(b"speculationrules") >= 0
            and close > content
            and script_type(parse_attrs(buf, tag.end(1), content - 1)) == b"speculationrules"
        ):
            # Speculation rules: Chromium prefetches (or prerenders) every URL they list, vendors'
            # too, before anything on the page asks for them.
            in_code += index.code_url_vendors(bytes(buf[content:close]).lower(), every=True)
        elif (
            not in_code
            and 0 < close - content <= _LOADER_MAX
            and (buf.find(b"src", content, close) >= 0 or buf.find(b".js", content, close) >= 0)
        ):
            # A small inline script that names a vendor's URL is a loader (document.write of a
            # tag, s.src = "//host/…"), whatever its shape. Big ones are bundles or data.
            # (Hosts and "src" are looked for as written, in lower case: this is a heuristic
            # for hand-written loaders, the signatures above are the rule.)
            code = bytes(buf[content:close])
            if index.find_needles(code):
                in_code = index.code_url_vendors(code)
        return index.tag_vendors(in_code, memoryview(buf)[content:close]) if in_code else in_code

    def _script_element(
        self,
        buf: Buf,
        pos: int,
        tag: _Match,
        close: int,
        element_end: int,
        ends: int,
        closing: bytes,
    ) -> tuple[int, bytes | None, int]:
        """A script element whose extent is known: (its end, replacement or None, where its
        end tag starts)."""
        content = tag.end()
        # Loader attributes (data-website-id …) are signatures too; the content only counts for
        # scripts without src, since a browser ignores the content of the others.
        lowered = bytes(buf[pos:content].lower())
        if SPACED_EQUAL.search(lowered) is not None:
            # Loader attributes are signatures as "name=": an attribute name in any case is
            # read lowered above; one with spaces around its "=" is read without them.
            lowered = SPACED_EQUALS.sub(b"=", lowered)
        if lowered.find(b"speculationrules") >= 0 and close > content:
            rules = self._speculation_rules(buf, pos, tag, close, element_end, ends, closing)
            if rules is not None:
                return rules
        if lowered.find(b"importmap") >= 0 and close > content:
            mapped = self._import_map(buf, pos, tag, close, element_end, ends, closing)
            if mapped is not None:
                return mapped
        flags = self._tag_flags(lowered)
        in_code = self._code_vendors(buf, lowered, tag, close)
        if not flags and not in_code and ends != -1:
            return element_end, (bytes(buf[pos:content]) + closing) if closing else None, ends
        index = self._index
        in_tag = index.match_code(memoryview(buf)[pos:content], js=False) if flags & TAG_SIG else []
        if flags & TAG_SIG and not in_tag:  # (a signature the tag spells in capitals, spaced)
            in_tag = index.match_code(lowered, js=False)
        name_end = tag.end(1)
        attrs = parse_attrs(buf, name_end, content - 1)
        if first(attrs, b"src") is None:  # (an SVG script's href: its content counts, fail closed)
            in_tag += in_code
        decision = decide_script(self._ctx, attrs, in_tag, flags)
        # An attributionsrc is requested whether the script runs or not.
        beacons = flags if flags and _beacon(lowered) else 0
        # Its own handlers may still send a vendor a beacon (onload="new Image().src=…").
        handled = HANDLER.search(lowered) is not None
        if decision is not None:
            if self._remove:
                return element_end, b"", -2  # (nothing of it is left open)
            drop, added = (
                self._extras(attrs, decision, None, False, handled, beacons)
                if handled or beacons
                else (frozenset(), [])
            )
            start_tag = inert_tag(
                buf, pos, name_end, content, b"script", attrs, decision, self._remove, drop, added
            )
            return element_end, start_tag + buf[content:element_end] + closing, ends
        if ends == -1 and cut_inline(attrs) and not all_granted(self._ctx):
            return self._cut_script(
                buf, pos, name_end, content, element_end, attrs, handled, beacons
            )
        drop, added = (
            self._extras(attrs, None, None, False, handled, beacons)
            if handled or beacons
            else (frozenset(), [])
        )
        if not drop:
            return element_end, (bytes(buf[pos:content]) + closing) if closing else None, ends
        return (
            element_end,
            (
                rebuild(buf, pos, name_end, content, attrs, drop, added)
                + buf[content:element_end]
                + closing
            ),
            ends,
        )

    def _speculation_rules(
        self,
        buf: Buf,
        pos: int,
        tag: _Match,
        close: int,
        element_end: int,
        ends: int,
        closing: bytes,
    ) -> tuple[int, bytes | None, int] | None:
        """Speculation rules read as JSON (escapes decoded): inert as a whole when a string of
        theirs is a blocked vendor's URL (or pattern); else with their document rules narrowed
        so that no link to a blocked vendor is prefetched (``speculation.py``). None when the
        script is no such rules, or they are not JSON (then read as code, failing closed)."""
        content = tag.end()
        attrs = parse_attrs(buf, tag.end(1), content - 1)
        if script_type(attrs) != b"speculationrules" or first(attrs, b"data-consent") is not None:
            return None
        try:
            rules = json.loads(bytes(buf[content:close]))
        except (ValueError, RecursionError):
            return None
        if not isinstance(rules, dict):
            return None
        ctx = self._ctx
        hit: list[Vendor] = []
        for url in speculation.strings(rules):
            vendor = self._rules_vendor(url)
            if vendor is not None and blocked(ctx, vendor) and vendor not in hit:
                hit.append(vendor)
        if hit:
            if self._remove:
                return element_end, b"", -2
            decision = (hit[0].category, hit[0])
            start_tag = inert_tag(buf, pos, tag.end(1), content, b"script", attrs, decision, False)
            return element_end, start_tag + buf[content:element_end] + closing, ends
        exclusions = self._gate.speculation_exclusions(ctx.granted, ctx.services)
        kept, changed = speculation.filter_rules(
            rules, partial(blocked_url, ctx), exclusions, relative_safe=ctx.base is None
        )
        if not changed:
            return element_end, (bytes(buf[pos:content]) + closing) if closing else None, ends
        narrowed = speculation.dumps(kept)
        return (
            element_end,
            bytes(buf[pos:content]) + narrowed + buf[close:element_end] + closing,
            ends,
        )

    def _rules_vendor(self, url: bytes) -> Vendor | None:
        """The vendor of a URL, or of a URL pattern's host (``https://*.vendor.com/*``)."""
        vendor = lookup(self._ctx, url)[1]
        if vendor is None and url.find(b"*") >= 0:
            parts = split_url(url)
            found = self._index.host_vendors(parts[0], self._ctx.host) if parts else []
            vendor = found[0] if found else None
        return vendor

    def _import_map(
        self,
        buf: Buf,
        pos: int,
        tag: _Match,
        close: int,
        element_end: int,
        ends: int,
        closing: bytes,
    ) -> tuple[int, bytes | None, int] | None:
        """An import map (``importmap.py``): without its entries on blocked vendors' URLs; inert
        as a whole when it is not JSON and names one. None when the script is no import map
        (or one the site tagged: its data-consent decides, as for any script)."""
        content = tag.end()
        attrs = parse_attrs(buf, tag.end(1), content - 1)
        if script_type(attrs) != b"importmap" or first(attrs, b"data-consent") is not None:
            return None
        ctx = self._ctx
        code = bytes(buf[content:close])
        kept = importmap.filtered(code, partial(blocked_url, ctx))
        if kept is None:
            return element_end, (bytes(buf[pos:content]) + closing) if closing else None, ends
        if kept is not importmap.UNREADABLE:
            return (
                element_end,
                bytes(buf[pos:content]) + kept + buf[close:element_end] + closing,
                ends,
            )
        hit = [v for v in self._index.code_url_vendors(code.lower(), every=True) if blocked(ctx, v)]
        if not hit:
            return element_end, (bytes(buf[pos:content]) + closing) if closing else None, ends
        if self._remove:
            return element_end, b"", -2
        decision = (hit[0].category, hit[0])
        start_tag = inert_tag(buf, pos, tag.end(1), content, b"script", attrs, decision, False)
        return element_end, start_tag + buf[content:element_end] + closing, ends

    def _cut_script(
        self,
        buf: Buf,
        pos: int,
        name_end: int,
        content: int,
        element_end: int,
        attrs: list[Attr],
        handled: bool,
        beacons: int,
    ) -> tuple[int, bytes | None, int]:
        """Inline code the body's end cuts short runs as far as it goes: the start of a
        vendor's snippet, for all we know (its signature may be in the part cut off). Its
        handlers and beacons are read as on any script (as they are when read again)."""
        if self._remove:
            return element_end, b"", -2
        drop, added = (
            self._extras(attrs, None, None, False, handled, beacons)
            if handled or beacons
            else (frozenset(), [])
        )
        kind = first(attrs, b"type")
        added.append(b' type="text/plain"')
        if kind is not None and kind.raw is not None:
            added.append(b" data-consent-type=" + kind.quoted())
        return (
            element_end,
            (
                rebuild(buf, pos, name_end, content, attrs, drop | {b"type"}, added)
                + buf[content:element_end]
            ),
            -1,
        )


@functools.lru_cache(maxsize=64)
def _raw_end(name: bytes) -> re.Pattern[bytes]:
    """The end tag that ends element ``name``'s content: RAW_END's, or for a prefixed XML name
    (``h:style``) one made for it."""
    found = RAW_END.get(name)
    if found is not None:
        return found
    return re.compile(b"</" + re.escape(name) + rb"[\t\n\f\r />]", re.IGNORECASE)


_HIDDEN: Final = b" data-consent-hidden hidden"  # (what inert_tag adds to a placeholder's element)
# A pseudo-attribute href of a processing instruction (quoted, as XML requires).
_PI_HREF: Final = re.compile(rb"[\t\n\r ](href)[\t\n\r ]*=[\t\n\r ]*(\"[^\"]*\"|'[^']*')")


def _pi_value(quoted: bytes) -> bytes:
    """A pseudo-attribute's value, its character references resolved."""
    value = quoted[1:-1]
    if value.find(b"&") < 0:
        return value
    return html.unescape(value.decode("latin-1")).encode("latin-1", "replace")


_BREAKOUT: Final = frozenset(n.encode() for n in BREAKOUT)
_ROWS: Final = frozenset(row.tag.encode() for row in ELEMENTS)
_IP_OF: Final = {
    k.encode(): frozenset(n.encode() for n in v) for k, v in INTEGRATION_POINTS.items()
}
_FOREIGN_STARTS: Final = FOREIGN | _BREAKOUT | frozenset().union(*_IP_OF.values())
# Tags read for foreign content only that no row reads: when RUN would skip them, so may we.
_PLAIN_SKIPPED: Final = (_FOREIGN_STARTS - READERS.keys() - _ROWS) | FOREIGN
_MAX_OPEN: Final = 64  # roots open in one another: deeper, the tokenizer stops telling


def _font_breaks(buf: Buf, tag: _Match) -> bool:
    """Whether a <font> start tag breaks out of foreign content (with color, face or size)."""
    names = {a.name for a in parse_attrs(buf, tag.end(1), tag.end() - 1)}
    return bool(names & {b"color", b"face", b"size"})


def _closed_at_once(buf: Buf, start: int, end: int, name: bytes) -> int:
    """Where the end tag of the root ``name`` whose content starts at ``start`` ends, when
    nothing in that content would stop FOREIGN_ROOT (what reading it tag by tag finds then);
    -1 otherwise."""
    skipped = FOREIGN_ROOT.match(buf, start, end)
    if skipped is None or skipped.start(1) >= 0:
        return -1
    tail = END_TAG_NAMED.match(buf, skipped.end(), end)
    return tail.end() if tail is not None and tail.group(1).lower() == name else -1


def _closes_itself(buf: Buf, tag: _Match) -> bool:
    """Whether a start tag is self-closing ("<svg/>": in foreign content, an element without
    content; in HTML, only for <svg> and <math>)."""
    return buf[tag.end() - 2 : tag.end() - 1] == b"/" and _self_closing(buf, tag)


def _self_closing(buf: Buf, tag: _Match) -> bool:
    """Whether a start tag ending in "/>" is self-closing: its slash ends no unquoted value."""
    attrs = parse_attrs(buf, tag.end(1), tag.end() - 1)
    return not attrs or attrs[-1].end < tag.end() - 1


class _Tag:
    """The start tag of an element waiting for its end tag, as RUN matched it: what the
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
_Reader = Callable[[HtmlRewriter, _Scan, int, _Match, bytes, bool], int]
_READERS: Final[dict[Reader, _Reader]] = {
    Reader.SCRIPT: HtmlRewriter._on_script,
    Reader.LOADING: HtmlRewriter._on_loading,
    Reader.STYLE: HtmlRewriter._on_style,
    Reader.NOSCRIPT: HtmlRewriter._on_noscript,
    Reader.PLAINTEXT: HtmlRewriter._on_plaintext,
    Reader.RAW: HtmlRewriter._on_raw,
    Reader.FOREIGN: HtmlRewriter._on_foreign,
    Reader.STYLED: HtmlRewriter._on_styled,
    Reader.BASE: HtmlRewriter._on_base,
}
# The reader of each special start tag (any other that stops RUN is read by _on_styled).
_READER: Final = {name: _READERS[reader] for name, reader in READERS.items()}
_ON_STYLED: Final = HtmlRewriter._on_styled  # (any other tag that stops RUN)


def _beacon(lowered: bytes) -> bool:
    """Whether a lowercased tag has a ping, background, attributionsrc or http-equiv attribute
    (BEACON): the names are looked for first, at C speed, as most tags have none of them."""
    return (
        lowered.find(b"ping") >= 0
        or lowered.find(b"background") >= 0
        or lowered.find(b"attributionsrc") >= 0
        or lowered.find(b"http-equiv") >= 0
    ) and BEACON.search(lowered) is not None


def _resume_tag(buf: Buf, start: int, pos: int, end: int) -> tuple[int, int] | None:
    """Where (as an offset from ``start``, where the pending bytes will begin) and how to read
    on the tag at pos, unfinished in buf[:end]; None if _tag_end finds it complete (it then
    says otherwise than RUN: nothing is skipped, it is read whole at each chunk)."""
    done, at, mode = _tag_end(buf, pos, end, _AT_OPEN)
    return (at - start, mode) if done < 0 else None


def _tag_end(buf: Buf, pos: int, end: int, mode: int) -> tuple[int, int, int]:
    """Reads a tag in buf[pos:end] as the tokenizer does, from ``mode`` (_AT_OPEN: pos is its
    "<"; _IN_ATTRS: between attributes; a quote byte: inside a value in those quotes).

    Returns (the end of the tag, just past its ">", or -1 when it goes on past ``end``; and
    then where to read on, in which mode, when more bytes have arrived).
    """
    if mode == _AT_OPEN:
        name = TAG_OPEN.match(buf, pos, end)
        if name is None:
            return -1, pos, _AT_OPEN
        pos, mode = name.end(), _IN_ATTRS
    while True:
        if mode != _IN_ATTRS:
            close = buf.find(b"'" if mode == 0x27 else b'"', pos, end)
            if close < 0:
                return -1, end, mode
            pos = close + 1
        pos = TAG_TOKENS.match(buf, pos, end).end()  # type: ignore[union-attr] # (never None)
        if pos >= end:
            return -1, pos, _IN_ATTRS
        if buf[pos] == 0x3E:  # ">"
            return pos + 1, pos + 1, _IN_ATTRS
        opened = QUOTE_OPEN.match(buf, pos, end)
        if opened is None:  # an attribute cut short by the end (it holds no ">"): read it again
            return -1, pos, _IN_ATTRS
        pos, mode = opened.end(), buf[opened.end() - 1]


__all__ = ["HtmlRewriter"]
