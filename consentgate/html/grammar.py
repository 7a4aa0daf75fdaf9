"""Every regular expression of the HTML engine: how its builders compose them, piece by piece.

The engine's speed comes from one compiled pattern, ``RUN``, that skips in C everything that can
never need a change (text, comments, end tags, start tags of uninteresting elements, each tag
matched whole with the tokenizer's attribute-quoting rules, so that ``<div title="<script
src=…>">`` is one token) and stops at a start tag that Python must read (see ``tokenizer.py``).
Its text is over 10,000 characters: it is built here from named pieces, each registered in
``PIECES`` with the HTML tokenizer state it stands for, so that

    python -m consentgate.html.grammar --dump

prints each piece and how the composed patterns are made of them. Which names stop ``RUN``,
and which attributes it refuses on which tags, come from the table in ``elements.py``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from .elements import (
    BREAKOUT,
    FOREIGN_TAGS,
    INTEGRATION_POINTS,
    LETTER_ORDER,
    LOADING_ATTRS,
    RAW_END_TAGS,
    SPECIAL_TAGS,
    URL_CHECKS,
)

# Each named piece: (its pattern text, the tokenizer state or rule it stands for).
PIECES: dict[str, tuple[str, str]] = {}


def piece(name: str, state: str, text: str) -> str:
    """Registers ``text`` as the piece ``name`` (for --dump and the tests); returns it."""
    PIECES[name] = (text, state)
    return text


def ci(word: str) -> str:
    """``word`` in any letter case (ASCII letters: the tokenizer lowercases only those)."""
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
# single test instead of entering it (4% fewer instructions for RUN on the bench pages).
WS: Final = r"\t\n\f\r "
VALUE: Final = piece(
    "value",
    "attribute value (double-quoted, single-quoted, unquoted) states; or none before >",
    r"(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >\"'][^\t\n\f\r >]*+|(?=>))",
)
NAME_VALUE: Final = piece(
    "name_value",
    "after attribute name state: '=' and a value, or no '=' at all",
    rf"(?:[{WS}]*+=[{WS}]*+{VALUE}|(?![{WS}]*+=))",
)
ATTRS: Final = piece(
    "attrs",
    "before attribute name state … up to the tag's '>' (any attributes)",
    rf"(?:>|(?:[{WS}][{WS}]*+[^{WS}/>\"'=][^{WS}/>\"'=]*+=\"[^\"]*+\""
    rf"|[{WS}/][{WS}/]*+|[^{WS}/>][^{WS}/>=]*+{NAME_VALUE})*+>)",
)
# The same for the tags RUN skips, except a ``style`` that may load from another host, or an
# event handler that may: such a tag stops RUN and is read in Python, so a plain <div>/<span>
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
SAFE_REF: Final = piece(
    "safe_ref",
    "character references that spell no '(', '/' or '\\'",
    r"&(?:quot|amp|apos|lt|gt|nbsp);",
)
_QUOTES: Final = {'"': "double-quoted", "'": "single-quoted", "": "unquoted"}


def safe_style(quote: str) -> str:
    """A style value (between ``quote``s, or unquoted) that can load nothing from another host."""
    end, other = (quote, quote) if quote else (r"\t\n\f\r >", r"\t\n\f\r >\"'")
    first = "" if quote else rf"(?=[^{other}])"
    no_paren = rf"(?:[^{end}(&]++|{SAFE_REF})*+"
    no_host = rf"(?:[^{end}&/\\]++|{SAFE_REF}|/(?![/\\]))*+"
    if quote:
        text = rf"{quote}(?:{no_paren}{quote}|{no_host}{quote})"
    else:
        text = rf"{first}(?:{no_paren}(?=[{end}])|{no_host}(?=[{end}]))"
    return piece(
        f"safe_style.{_QUOTES[quote]}",
        f"attribute value ({_QUOTES[quote]}) of a style with no '(' or no other host",
        text,
    )


def handler(quote: str) -> str:
    """A handler's value (between ``quote``s, or unquoted) that names no other host."""
    end = quote or r"\t\n\f\r >"
    first = "" if quote else r"(?=[^\t\n\f\r >\"'])"
    return piece(
        f"handler.{_QUOTES[quote]}",
        f"attribute value ({_QUOTES[quote]}) of an event handler with no '//' or '/\\'",
        rf"{quote}{first}(?![^{end}]*/[/\\])[^{end}]*+{quote}",
    )


# What follows "javascript:" in the do-nothing URLs of links that a click handler serves
# ("javascript:;", "javascript:void(0)", common on news sites), which run no vendor's code.
DO_NOTHING: Final = piece(
    "do_nothing", "the rest of a do-nothing javascript: URL", r"(?:void\(0\))?;?"
)


def no_script_url(quote: str) -> str:
    """A URL value (between ``quote``s, or unquoted) that runs no code: after what the URL
    parser strips, it starts with neither a "j" nor a character reference, or it is one of the
    do-nothing ``javascript:`` URLs of links that a click handler serves (``javascript:;``,
    ``javascript:void(0)``, common on news sites)."""
    end = quote or r"\t\n\f\r >"
    first = "" if quote else r"(?=[^\t\n\f\r >\"'])"
    harmless = rf"{ci('avascript:')}{DO_NOTHING}" + (
        rf"[{WS}]*+{quote}" if quote else rf"(?=[{end}])"
    )
    return piece(
        f"no_script_url.{_QUOTES[quote]}",
        f"attribute value ({_QUOTES[quote]}) of a URL that runs no code",
        rf"{quote}{first}(?![\x00-\x20]*+(?:&|[jJ](?!{harmless})))[^{end}]*+{quote}",
    )


def checked(value: Callable[[str], str]) -> str:
    """The rest of an attribute after its name: its value, if any, is ``value``'s."""
    values = "|".join(value(q) for q in (chr(34), chr(39), ""))
    return rf"(?:[{WS}]*+=[{WS}]*+(?:{values}|(?=>))|(?![{WS}]*+=))"


# After their first letter, the names whose values are checked rather than refused: what the
# other names with that letter must not go on with, and the name's rest with its check.
CHECKED: Final = {
    "s": (
        rf"{ci('tyle')}[{WS}/>=]",
        piece(
            "checked.style",
            "attribute name 'style', then its value checked",
            rf"{ci('tyle')}(?=[{WS}/>=]){checked(safe_style)}",
        ),
    ),
    "o": (
        "[nN]",
        piece(
            "checked.handler",
            "attribute name 'on…', then its value checked",
            rf"[nN][^{WS}/>=]*+{checked(handler)}",
        ),
    ),
}


def plain_attrs(
    refused: Sequence[str] = (),
    checks: Mapping[str, tuple[str, str]] = CHECKED,
    value: str = '[^"]*+',
    admitted: str = "",
) -> str:
    """ATTRS for the tags RUN skips: refuses a style or an event handler that may load from
    another host, any other value ``checks`` refuses, and any attribute named in ``refused``
    (such a tag stops RUN, to be read in Python). The shortcut ` name="value"` takes the values
    ``value`` matches; names starting with a letter of ``admitted`` take it too although
    checked (``value`` must then pass only what their check does)."""
    letters = sorted({n[0] for n in refused} | set(checks))
    apart = "".join(c + c.upper() for c in letters)  # first letters that leave the shortcut
    shortcut = "".join(c + c.upper() for c in letters if c not in admitted)

    def letter(c: str) -> str:
        """A name starting with c: checked, or any other but those refused."""
        check = checks.get(c)
        others = [check[0]] if check else []
        others += [ci(n[1:]) + rf"[{WS}/>=]" for n in refused if n[0] == c]
        rest = rf"(?!{'|'.join(others)})[^{WS}/>=]*+{NAME_VALUE}"
        return rf"(?<=[{c}{c.upper()}])" + (rf"(?:{check[1]}|{rest})" if check else rest)

    branches = [
        rf"[{WS}][{WS}]*+[^{WS}/>\"'={shortcut}][^{WS}/>\"'=]*+=\"{value}\"",
        rf"[{WS}/][{WS}/]*+",
        rf"[^{WS}/>{apart}][^{WS}/>=]*+{NAME_VALUE}",
        rf"[{apart}](?:{'|'.join(letter(c) for c in letters)})",
    ]
    return rf"(?:>|(?:{'|'.join(branches)})*+>)"


def url_check(name: str) -> dict[str, tuple[str, str]]:
    """CHECKED, and a check that the URL attribute ``name`` holds no ``javascript:`` URL."""
    rest = ci(name[1:])
    return {
        **CHECKED,
        name[0]: (rf"{rest}[{WS}/>=]", rf"{rest}(?=[{WS}/>=]){checked(no_script_url)}"),
    }


# Per first letter of the skipped tags with attributes that load something or may run code
# (elements.LOADING_ATTRS: <a>/<area> ping, a table part's background …): what is refused, and
# which URL attribute is checked for a "javascript:" URL (elements.URL_CHECKS).
LOADING_CHECKS: Final = {c: url_check(name) for c, name in URL_CHECKS.items()}
# The shortcut of an <a>'s attributes takes its href too, as most links write it: every value
# it takes then is one no_script_url takes (the checked branch, which every href would take
# otherwise, costs a link 40% more).
LOADING_SHORTCUTS: Final = {
    "a": (rf'(?![\x00-\x20&J]|j(?!avascript:{DO_NOTHING}[{WS}]*+"))[^"]*+', "h"),
}
PLAIN_ATTRS: Final = piece(
    "plain_attrs", "attributes of a tag RUN skips: none that may load or run code", plain_attrs()
)
for _c, _names in LOADING_ATTRS.items():
    piece(
        f"plain_attrs.{_c}",
        f"attributes of a tag starting '{_c}' that RUN skips: also no "
        + (", ".join(_names) or "javascript: URL"),
        plain_attrs(_names, LOADING_CHECKS.get(_c, CHECKED), *LOADING_SHORTCUTS.get(_c, ())),
    )

# Start-tag names that need Python. RUN matches other tags with one check of the first letter:
# a letter that starts no special name is skipped at once; after one that does, a lookahead for
# the special names with that letter (delimited: "<scripts" is an ordinary tag) rejects them.
# (Faster in sre than fixed-width lookbehinds at the name's end, which every name paid for.)
END_TAG: Final = piece(
    "end_tag", "end tag open, tag name, … up to '>'", rf"</[a-zA-Z][^\t\n\f\r />]*+{ATTRS}"
)
COMMENT: Final = piece(
    "comment",
    "comment start … comment end (with '<!-->' and '--!>'; unrolled: sre skips in C)",
    r"<!--(?:-?>|[^-]*+(?:-(?!-!?>)[^-]*+)*+--!?>)",
)
BOGUS: Final = piece(
    "bogus_comment",
    "markup declaration open ('<!' not a comment: doctype, CDATA), '<?',"
    " '</' not followed by a letter: a bogus comment up to '>'",
    r"<!(?!--)[^>]*+>|<\?[^>]*+>|</(?![a-zA-Z])[^>]*+>",
)
LONE_LT: Final = piece(
    "lone_lt",
    "tag open state on a character that opens nothing: text (but not at the buffer's end: wait)",
    r"<(?=[^a-zA-Z/!?])",
)
TEXT: Final = piece("text", "data state: characters up to the next '<'", r"[^<]*+")
SPECIAL_START: Final = piece(
    "special_start",
    "a start tag RUN stops at (group 1: its name), when complete",
    rf"(?:<([a-zA-Z][^\t\n\f\r />]*+){ATTRS})?",
)


# In XML (XHTML, SVG documents) a "<?xml-stylesheet …?>" processing instruction loads its href:
# RUN_XML stops at it rather than skip it as a bogus comment.
XML_BOGUS: Final = piece(
    "xml_bogus_comment",
    "bogus_comment, but not an xml-stylesheet processing instruction (XML: it loads)",
    r"<!(?!--)[^>]*+>|<\?(?!xml-stylesheet)[^>]*+>|</(?![a-zA-Z])[^>]*+>",
)


def run(special: Sequence[str], label: str = "run", xml: bool = False) -> re.Pattern[bytes]:
    """The pattern that skips everything but the start tags named in ``special``; with
    ``xml``, also every start tag with a prefixed name (``<h:script>``: an XHTML element, for
    all it knows, read by its local name) and ``<?xml-stylesheet``."""
    # (A prefixed name must not read as a short name and an attribute: "<h" and ":script".)
    name_rest = "[^\t\n\f\r />:]*+(?=[\t\n\f\r />])" if xml else "[^\t\n\f\r />]*+"
    firsts = {t[0] for t in special}
    others = "".join(c for c in "abcdefghijklmnopqrstuvwxyz" if c not in firsts)

    def letter(c: str) -> str:
        return piece(
            f"{label}.letter.{c}",
            f"tag name starting '{c}', but none of those read in Python",
            f"[{c}{c.upper()}](?!(?:"
            + "|".join(ci(t[1:]) for t in sorted(special, key=len, reverse=True) if t[0] == c)
            + r")[\t\n\f\r />])",
        )

    # (Tried in turn, the commonest first letters on the bench pages first: "a", "span" …)
    order = sorted(firsts | set(LOADING_ATTRS), key=LETTER_ORDER.find)
    shared = "|".join(
        [
            piece(
                f"{label}.letter.other",
                "tag name starting a letter no special name starts",
                f"[{others}{others.upper()}]",
            )
        ]
        + [letter(c) for c in order if c in firsts and c not in LOADING_ATTRS]
    )
    plain_start_tag = piece(
        f"{label}.plain_start_tag",
        "start tag open, tag name, attributes: a tag RUN skips",
        "|".join(
            f"<(?:{shared}){name_rest}{PLAIN_ATTRS}"
            if c == ""
            else f"<{letter(c) if c in firsts else f'[{c}{c.upper()}]'}{name_rest}"
            + PIECES[f"plain_attrs.{c}"][0]
            for c in ["a", "", *sorted(set(LOADING_ATTRS) - {"a"})]
        ),
    )
    text = piece(
        label,
        "the data state's tokens skipped in one call, then the start tag it stops at",
        rf"{TEXT}(?:(?:"
        + "|".join((END_TAG, plain_start_tag, COMMENT, XML_BOGUS if xml else BOGUS, LONE_LT))
        + rf"){TEXT})*+{SPECIAL_START}",
    )
    return re.compile(text.encode("ascii"), re.S)


_RUN_ALONE: Final = run(SPECIAL_TAGS)  # (RUN, before SIMPLE_SVG joins it: see below)
# Once foreign content may be open, <svg> and <math> tell nothing more: they no longer stop it.
RUN_FOREIGN: Final = run([t for t in SPECIAL_TAGS if t not in FOREIGN_TAGS], "run_foreign")
# While the tokenizer knows which foreign content is open (tokenizer.HtmlRewriter._open), it reads
# what may close it. FOREIGN_ROOT (inside <svg> or <math> proper) also stops at the end tags of
# the roots and integration points, at the start tags that break out of foreign content or open
# an integration point, and skips a CDATA section whole (in SVG it is text, "</svg>" in it is no
# end tag). FOREIGN_IP (inside an integration point, whose content is HTML's) stops at those end
# tags only.
_IP_NAMES: Final = tuple(dict.fromkeys(n for names in INTEGRATION_POINTS.values() for n in names))
FOREIGN_ENDS: Final = (*FOREIGN_TAGS, *_IP_NAMES)
FOREIGN_END_TAG: Final = piece(
    "foreign_end_tag",
    "end tag open, tag name, … '>': any but those that may close foreign content",
    rf"</(?!(?:{'|'.join(ci(n) for n in FOREIGN_ENDS)})[\t\n\f\r />])"
    rf"[a-zA-Z][^\t\n\f\r />]*+{ATTRS}",
)
CDATA: Final = piece(
    "cdata",
    "CDATA section (in foreign content): up to ']]>'",
    r"<!\[CDATA\[(?:[^\]]|\](?!\]>))*+\]\]>",
)


def _foreign_run(special: Sequence[str], label: str, cdata: bool) -> re.Pattern[bytes]:
    """RUN over ``special``, with FOREIGN_END_TAG for its end tags (and CDATA sections)."""
    text = run(special, label).pattern.decode("ascii")
    assert text.count(END_TAG) == 1 and text.count(BOGUS) == 1
    text = text.replace(END_TAG, FOREIGN_END_TAG)
    if cdata:
        bogus = BOGUS.replace("<!(?!--)", r"<!(?!--|\[CDATA\[)", 1)
        text = text.replace(BOGUS, f"{CDATA}|{bogus}")
    state = PIECES[label][1] + ", and the end tags that may close foreign content"
    return re.compile(piece(label, state, text).encode("ascii"), re.S)


FOREIGN_ROOT: Final = _foreign_run(
    list(dict.fromkeys([*SPECIAL_TAGS, *_IP_NAMES, *BREAKOUT])), "run_foreign_root", True
)
# An <svg> element with nothing in it to read (an icon: paths, groups, a plain style), skipped
# whole by RUN as HtmlRewriter._on_foreign would skip it tag by tag (FOREIGN_ROOT, then its end
# tag), so that pages full of icons pay no Python for them. Not "<svg/>", which opens nothing
# in HTML (a CDATA section after it is a bogus comment there, not text).
_SVG_BODY: Final = FOREIGN_ROOT.pattern.decode("ascii").removesuffix(SPECIAL_START)


def simple_tokens(label: str, names: Sequence[str]) -> str:
    """Integration points ``names`` holding text only, each with its own end tag: skipped whole
    (what _foreign_end needs to close one: nothing but text came inside it)."""
    return piece(
        label,
        "an integration point holding text only, with its end tag",
        "<(?:"
        + "|".join(
            rf"{ci(n)}(?=[\t\n\f\r />]){PLAIN_ATTRS}(?<!/>)[^<]*+</{ci(n)}(?=[\t\n\f\r />]){ATTRS}"
            for n in names
        )
        + ")",
    )


assert _SVG_BODY.count(f"|{LONE_LT})") == 1
# Icons name themselves for screen readers: <title>/<desc> text inside is skipped too.
SIMPLE_SVG: Final = piece(
    "simple_svg",
    "an <svg> element whose content FOREIGN_ROOT skips but for text-only <title>/<desc>, up to"
    " its end tag",
    rf"<{ci('svg')}(?=[\t\n\f\r />]){PLAIN_ATTRS}(?<!/>)"
    + _SVG_BODY.replace(
        f"|{LONE_LT})", f"|{simple_tokens('simple_svg_text', ('title', 'desc'))}|{LONE_LT})"
    )
    + rf"</{ci('svg')}{ATTRS}",
)
# The same for <math>, whose token elements (mi, mo, mn, ms, mtext: integration points) are
# skipped when they hold text only, as formulas do.
SIMPLE_MATH: Final = piece(
    "simple_math",
    "a <math> element whose content FOREIGN_ROOT skips but for text-only token elements",
    rf"<{ci('math')}(?=[\t\n\f\r />]){PLAIN_ATTRS}(?<!/>)"
    + _SVG_BODY.replace(
        f"|{LONE_LT})",
        f"|{simple_tokens('simple_token', INTEGRATION_POINTS['math'][:5])}|{LONE_LT})",
    )
    + rf"</{ci('math')}{ATTRS}",
)
_RUN_TEXT: Final = PIECES["run"][0]
assert _RUN_TEXT.count(f"{BOGUS}|{LONE_LT})") == 1
RUN: Final = re.compile(
    piece(
        "run",
        PIECES["run"][1] + " (simple <svg> elements skipped whole)",
        _RUN_TEXT.replace(f"{BOGUS}|{LONE_LT})", f"{BOGUS}|{SIMPLE_SVG}|{SIMPLE_MATH}|{LONE_LT})"),
    ).encode("ascii"),
    re.S,
)
FOREIGN_IP: Final = _foreign_run(
    [t for t in SPECIAL_TAGS if t not in FOREIGN_TAGS], "run_foreign_ip", False
)
END_NAME: Final = re.compile(rb"[^\t\n\f\r />]*+")  # (an end tag's name, after "</")
# An end tag whole, its name in group 1; and a start tag RUN would skip (no style or handler that
# may load): what the foreign content readers ask of the tags they stop at.
END_TAG_NAMED: Final = re.compile(rf"</([^\t\n\f\r />]*+){ATTRS}".encode("ascii"))
PLAIN_TAG: Final = re.compile(rf"<[a-zA-Z][^\t\n\f\r />]*+{PLAIN_ATTRS}".encode("ascii"))
# XML documents: read by XML rules throughout (<svg> tells nothing more), prefixed names too.
RUN_XML: Final = run([t for t in SPECIAL_TAGS if t not in FOREIGN_TAGS], "run_xml", xml=True)


def _compiled(name: str, state: str, text: str) -> re.Pattern[bytes]:
    return re.compile(piece(name, state, text).encode("ascii"))


COMMENT_END: Final = _compiled("comment_end", "comment end state ('-->' or '--!>')", r"--!?>")
SCRIPT_END: Final = _compiled(
    "script_end",
    "script data end tag open: '</script' delimited",
    rf"</{ci('script')}[\t\n\f\r />]",
)
SCRIPT_TOKEN: Final = _compiled(
    "script_token",
    "script data (escaped, double escaped): what changes the sub-state",
    rf"<!--|-->|<(/?){ci('script')}[\t\n\f\r />]",
)
END_TAG_REST: Final = _compiled(
    "end_tag_rest", "an end tag's name and attributes, after '</'", rf"[^\t\n\f\r />]*+{ATTRS}"
)
# An unfinished tag is read on from where the last chunk left it (``tokenizer._tag_end``), not
# from its "<" again at each chunk: a value of megabytes holding ">"s would make that
# quadratic. Its name, complete once a delimiter follows; then its complete attributes, each
# only when what follows settles it (a name not followed by "=", an unquoted value followed by
# a space or ">"); then the opening of a quoted value, read on with a search for its closing
# quote. After a quoted value, a "/" or spaces, the tokenizer reads on as between attributes
# (a "=" starts a name), as the tokens here do.
TAG_OPEN: Final = _compiled(
    "tag_open",
    "tag open, tag name (complete: a delimiter follows)",
    rf"</?[a-zA-Z][^{WS}/>]*+(?=[{WS}/>])",
)
TAG_TOKENS: Final = _compiled(
    "tag_tokens",
    "before/after attribute name states: the attributes that are complete",
    rf"(?:[{WS}/]++|[^{WS}/>][^{WS}/>=]*+(?:[{WS}]*+=[{WS}]*+"
    rf"(?:\"[^\"]*+\"|'[^']*+'|[^{WS}>\"'][^{WS}>]*+(?=[{WS}>])|(?=>))"
    rf"|(?=[{WS}]*+[^{WS}=])))*+",
)
QUOTE_OPEN: Final = _compiled(
    "quote_open",
    "attribute name, '=', the quote that opens a value (read on by a search)",
    rf"[^{WS}/>][^{WS}/>=]*+[{WS}]*+=[{WS}]*+[\"']",
)
TAG_START: Final = _compiled(
    "tag_start", "tag open: a tag, where RUN stops (not yet complete)", r"</?[a-zA-Z]"
)
# (Searched for in every start tag read: written to start with a literal, which sre finds at C
# speed, four times as fast on a tag as a character class first.)
HANDLER: Final = _compiled(
    "handler_name", "where an event handler's name may start", r"on(?<=[\t\n\f\r /\"']on)"
)
# Where a "javascript:" URL may be: a URL attribute whose value starts, after what the URL parser
# strips, with a "j" or a character reference (in a lowercased tag); but not the do-nothing
# "javascript:void(0)" of links that a click handler serves.
SCRIPT_URL: Final = _compiled(
    "script_url",
    "a URL attribute of a lowercased tag that may hold a javascript: URL",
    r"[\t\n\f\r /\"':](?:href|src|action|formaction|data)[\t\n\f\r ]*+=[\t\n\f\r ]*+[\"']?"
    r"[\x00-\x20]*+(?:&|j(?!avascript:" + DO_NOTHING + r"[\t\n\f\r ]*+[\"'>]))",
)
SPACED_EQUALS: Final = _compiled(
    "spaced_equals", "spaces around an attribute's '='", r"[\t\n\f\r ]+=[\t\n\f\r ]*|=[\t\n\f\r ]+"
)
SPACED_EQUAL: Final = _compiled(
    "spaced_equal",
    "an '=' with a space before or after it (searched for before SPACED_EQUALS: see HANDLER)",
    r"=(?:(?<=[\t\n\f\r ]=)|(?=[\t\n\f\r ]))",
)
BEACON: Final = _compiled(
    "beacon",
    "a ping, background, attributionsrc or http-equiv (a refresh's) attribute (in a lowercased"
    " tag)",
    r"[\t\n\f\r /\"'](?:ping|background|attributionsrc|http-equiv)[\t\n\f\r ]*+=",
)
# The end tag that ends the content of each element not read as markup (elements.RAW_END_TAGS).
RAW_END: Final = {
    name.encode(): _compiled(
        f"raw_end.{name}",
        f"RCDATA/raw text end tag open: '</{name}'",
        rf"</{ci(name)}[\t\n\f\r />]",
    )
    for name in RAW_END_TAGS
}


def dump() -> str:
    """Every piece, each written with the names of the pieces it is made of (``${name}``)."""
    by_length = sorted(PIECES.items(), key=lambda item: len(item[1][0]), reverse=True)
    lines = []
    for name, (text, state) in PIECES.items():
        shown = text
        for other, (part, _) in by_length:
            if other != name and len(part) < len(text) and len(part) > 8 and part in shown:
                shown = shown.replace(part, f"${{{other}}}")
        lines += [f"{name}  ({len(text)} characters): {state}", f"    {shown}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] != ["--dump"]:
        sys.exit("usage: python -m consentgate.html.grammar --dump")
    print(dump())
