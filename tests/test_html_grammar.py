"""Each branch of the engine's grammar (consentgate/html/grammar.py) on its own: a small input it
takes whole, and one it must refuse (not match, or not take whole). Every registered piece has a
case here, so a new branch comes with its own."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from consentgate.html import grammar
from consentgate.html.elements import BREAKOUT, INTEGRATION_POINTS, SPECIAL_TAGS

# piece: (taken whole, refused, what may follow both: the pieces that look ahead need it)
CASES: dict[str, tuple[str, str, str]] = {
    "value": ('"a b"', '"a b', ">"),
    "name_value": ('="x"', '="x', ">"),
    "attrs": (' a=1 b="2">', ' a="1>', ">"),
    "safe_ref": ("&amp;", "&#40;", ">"),
    "do_nothing": ("void(0);", "alert(1)", ">"),
    "safe_style.double-quoted": ('"color: red"', '"background: url(//t.example/p.gif)"', ">"),
    "safe_style.single-quoted": ("'color: red'", "'background: url(//t.example/p.gif)'", ">"),
    "safe_style.unquoted": ("color:red", "url(//t.example/p.gif)", ">"),
    "checked.style": ('tyle="color: red"', 'tyle="background:url(//t.example/p)"', ">"),
    "handler.double-quoted": ('"go()"', "\"new Image().src='//t.example/p'\"", ">"),
    "handler.single-quoted": ("'go()'", "'x(\"//t.example\")'", ">"),
    "handler.unquoted": ("go()", "x(//t.example)", ">"),
    "checked.handler": ('nclick="go()"', "nclick=\"x('//t.example')\"", ">"),
    "no_script_url.double-quoted": ('"/page"', '"javascript:alert(1)"', ">"),
    "no_script_url.single-quoted": ("'javascript:;'", "'&#106;avascript:x()'", ">"),
    "no_script_url.unquoted": ("/page", "javascript:x()", ">"),
    "plain_attrs": (' class="a" id=b>', ' style="background:url(//t.example/p)">', ""),
    "plain_attrs.a": (' href="/x" class=y>', ' ping="//t.example/p">', ""),
    "plain_attrs.b": (' formaction="/post">', ' formaction="javascript:x()">', ""),
    "plain_attrs.f": (' action="/post">', ' action="javascript:send()">', ""),
    "plain_attrs.t": (' width="1">', ' background="//t.example/bg.gif">', ""),
    "plain_attrs.m": (' name="viewport" content="x">', ' http-equiv="refresh">', ""),
    "plain_attrs.i": (' type="text" name="q" value="//x">', ' type=image SRC="/go.png">', ""),
    "end_tag": ("</div class=x>", '</div title=">', ""),
    "comment": ("<!-- a -- b -->", "<!-- open", ">"),
    "bogus_comment": ("<!DOCTYPE html>", "<!-- c -->", ""),
    "xml_bogus_comment": ("<?xml version='1.0'?>", "<?xml-stylesheet href='x'?>", ""),
    "lone_lt": ("<", "<a", " "),
    "text": ("a > b", "<p>", "<"),
    "special_start": ("<script src=x>", '<script src="x>', ""),
    "run.plain_start_tag": ("<div class=a>", "<script>", ""),
    "run_foreign.plain_start_tag": ("<svg>", "<script>", ""),
    "run_xml.plain_start_tag": ("<svg>", "<h:svg>", ""),
    "run": ("<div>text</div><!-- c --><p>a < b</p><script>", '<div><script src="x', ""),
    "run_foreign": ('<svg><path d="M0"/></svg><script>', "<p><img src=x><b>", ""),
    "foreign_end_tag": ("</path>", "</SVG>", ""),
    "cdata": ("<![CDATA[ </svg> ]]>", "<![CDATA[ open", ""),
    "run_foreign_root.plain_start_tag": ("<path>", "<div>", ""),
    "run_foreign_ip.plain_start_tag": ("<div>", "<script>", ""),
    "run_foreign_root": ('<path d="M0"/><![CDATA[</svg>]]></g>', "</svg>", ""),
    "run_foreign_ip": ("<div><b>x</b><![CDATA[</div>", "</foreignObject>", ""),
    "simple_svg": (
        '<svg class=i><title>Logo</title><path d="M0"/><![CDATA[</svg>]]></svg>',
        "<svg><title><b>",
        "",
    ),
    "simple_svg_text": ("<desc>A logo</DESC >", "<title>x</desc>", ""),
    "simple_token": ("<mi>x</MI >", "<mi>x<b>", ""),
    "simple_math": ("<math><mrow><mi>x</mi><mo>+</mo></mrow></math>", "<math><mi><b>", ""),
    "run_xml": ("<svg><?pi x?><path d='M0'/></svg><h:p>", "<p><?xml-stylesheet href='x'?>", ""),
    "comment_end": ("--!>", "->", ""),
    "script_end": ("</SCRIPT>", "</scripts>", ""),
    "script_token": ("<!--", "<scrip", ""),
    "end_tag_rest": ("div class=x>", 'div title=">', ""),
    "tag_open": ("<div", "<1", " "),
    "tag_tokens": (" a=1 b='2'", ' a="1', ">"),
    "quote_open": ('title="', "title=x", ""),
    "tag_start": ("</a", "<1", ""),
    "handler_name": ("on", "xon", ""),
    "script_url": (' href="j', ' href="/x"', "avascript:x()"),
    "spaced_equals": (" = ", "=", "x"),
    "spaced_equal": ("=", "x", " "),
    "beacon": (" ping=", " pin=", ""),
}
ROOT = Path(__file__).resolve().parent.parent  # (so that -m finds this checkout's package)
FAMILIES = (
    "run.letter.",
    "run_foreign.letter.",
    "run_xml.letter.",
    "run_foreign_root.letter.",
    "run_foreign_ip.letter.",
    "raw_end.",
)
# The names each pattern stops at (the foreign content ones: see grammar.FOREIGN_ROOT).
_IP = [n for names in INTEGRATION_POINTS.values() for n in names]
STOPS = {
    "run": list(SPECIAL_TAGS),
    "run_foreign_root": list(dict.fromkeys([*SPECIAL_TAGS, *_IP, *BREAKOUT])),
}


def _pattern(name: str) -> re.Pattern[bytes]:
    return re.compile(grammar.PIECES[name][0].encode("ascii"), re.S)


# What precedes the input, for the pieces that look behind (they are searched for, not matched).
BEFORE = {"handler_name": " ", "spaced_equal": " "}


def _takes(name: str, text: str, after: str) -> bool:
    before = BEFORE.get(name, "")
    found = _pattern(name).match((before + text + after).encode("ascii"), len(before))
    return found is not None and found.end() == len(before + text)


@pytest.mark.parametrize(
    ("fast", "plain"),
    [
        (grammar.HANDLER, rb"[\t\n\f\r /\"']on"),
        (grammar.SPACED_EQUAL, rb"[\t\n\f\r ]+=|=[\t\n\f\r ]"),
    ],
)
def test_a_search_written_literal_first_finds_what_its_plain_form_finds(
    fast: re.Pattern[bytes], plain: bytes
) -> None:
    # (A leading literal lets sre skip to it at C speed; the lookbehind keeps the meaning.)
    slow = re.compile(plain)
    pieces = [b"on", b"=", b" ", b"\t", b"\n", b"/", b'"', b"'", b"x", b"o", b"n", b"\x0c"]
    for a in pieces:
        for b in pieces:
            for c in pieces:
                text = b"<a" + a + b + c + b"x"
                assert (fast.search(text) is None) == (slow.search(text) is None), text


def test_every_piece_has_a_case() -> None:
    missing = [n for n in grammar.PIECES if n not in CASES and not n.startswith(FAMILIES)]
    assert not missing


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_branch_takes_its_input_and_refuses_another(name: str) -> None:
    taken, refused, after = CASES[name]
    assert _takes(name, taken, after)
    assert not _takes(name, refused, after)


@pytest.mark.parametrize("name", sorted(n for n in grammar.PIECES if n.startswith(FAMILIES[:5])))
def test_a_letter_branch_takes_other_names_and_refuses_those_read_in_python(name: str) -> None:
    prefix, letter = name.rsplit(".", 1)
    special = STOPS.get(prefix.split(".")[0]) or [
        t for t in SPECIAL_TAGS if t not in ("svg", "math")
    ]
    if letter == "other":
        firsts = {t[0] for t in special}
        letters = [c for c in "abcdefghijklmnopqrstuvwxyz" if c not in firsts]
        assert _takes(name, letters[0].upper(), "x ")
        assert not _takes(name, special[0][0], "x ")
        return
    assert _takes(name, letter.upper(), "zz ")
    for tag in (t for t in special if t[0] == letter):
        assert not _takes(name, letter, tag[1:] + " ")


@pytest.mark.parametrize("name", sorted(n for n in grammar.PIECES if n.startswith("raw_end.")))
def test_an_end_tag_of_raw_text_is_its_own_name_delimited(name: str) -> None:
    tag = name.split(".", 1)[1]
    assert _takes(name, f"</{tag.upper()}>", "")
    assert not _takes(name, f"</{tag}s>", "")


def test_the_compiled_patterns_are_made_of_the_pieces() -> None:
    assert grammar.RUN.pattern == grammar.PIECES["run"][0].encode("ascii")
    assert grammar.RUN_FOREIGN.pattern == grammar.PIECES["run_foreign"][0].encode("ascii")
    assert grammar.PIECES["plain_attrs"][0] in grammar.PIECES["run"][0]
    assert set(grammar.RAW_END) == {
        n.split(".", 1)[1].encode() for n in grammar.PIECES if n.startswith("raw_end.")
    }


def test_dump_shows_each_piece_by_name() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "consentgate.html.grammar", "--dump"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    dumped = done.stdout
    for name in grammar.PIECES:
        assert f"\n{name}  (" in "\n" + dumped
    assert "${plain_attrs}" in dumped and "${comment}" in dumped
