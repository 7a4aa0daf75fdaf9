"""Linear costs: a tag or element of megabytes arriving in small chunks is read on from where
the last chunk left it, not again from its start at each chunk.

Nothing here is timed: the output in 4 KB chunks must be the one-shot output, and the bytes
handed to the rewriter's scanning patterns (counted through a hook) must stay within a small
multiple of the body, where reading again from the start would hand them the body ~100 times.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from test_rewriter import GATE, NONE, PIXEL, rewrite

from consentgate.html import grammar, scriptdata, tokenizer

SIZE = 1 << 20  # 1 MB: 256 chunks of 4 KB
CHUNK = 4096
_FILLER = b"a>b </p> <i> x=' y=\" " * (SIZE // 20)  # ">" in every chunk, quotes of both kinds
_GT = b"a>b <i> " * (SIZE // 8)  # ">" but no quotes (inside values quoted with either)
_SVG = b"<svg></svg>"

# Each shape once was read again from its start at each chunk holding a ">".
SHAPES: dict[str, bytes] = {
    "start tag, double-quoted value": b'<div data-x="' + _GT + b"'" + b'">' + PIXEL,
    "start tag, single-quoted value": b"<div data-x='" + _GT + b'"' + b"'>" + PIXEL,
    "start tag, many attributes": b"<div" + b" a=b c='>'" * (SIZE // 10) + b">" + PIXEL,
    "end tag, quoted value": b'<p>x</p x="' + _GT + b'">' + PIXEL,
    "script start tag and content": (
        b'<script data-x="' + _GT + b'">' + _FILLER + b"</script>" + PIXEL
    ),
    "script end tag": b"<script>x</script y='" + _GT + b"'>" + PIXEL,
    "style start tag and content": b'<style media="' + _GT + b'">' + _FILLER + b"</style>" + PIXEL,
    "noscript content": b"<noscript>" + _FILLER + b"</noscript>" + PIXEL,
    "noscript start tag and content": (
        b'<noscript data-x="' + _GT + b'">' + _FILLER + b"</noscript>" + PIXEL
    ),
    "title after svg": _SVG + b"<title>" + _FILLER + b"</title>" + PIXEL,
    "textarea after svg": _SVG + b"<textarea>" + _FILLER + b"</textarea>" + PIXEL,
    "iframe content after svg": _SVG + b"<iframe>" + _FILLER + b"</iframe>" + PIXEL,
    "iframe end tag": b"<iframe>x</iframe y='" + _GT + b"'>" + PIXEL,
    "style after svg": _SVG + b"<style>" + _FILLER + b"</style>" + PIXEL,
    "comment": b"<!--" + _FILLER + b"-->" + PIXEL,
    "title": b"<title>" + _FILLER + b"</title>" + PIXEL,
}


def chunks(body: bytes) -> bytes:
    rewriter_ = GATE.rewriter(NONE)
    assert rewriter_ is not None
    out = [rewriter_.feed(body[i : i + CHUNK]) for i in range(0, len(body), CHUNK)]
    return b"".join(out) + rewriter_.close()


class _Counted:
    """A compiled pattern that adds up the length of what it is given to read."""

    def __init__(self, pattern: re.Pattern[bytes], spans: list[int]) -> None:
        self._pattern = pattern
        self._spans = spans

    def _count(self, string: Any, pos: int, endpos: int) -> None:
        self._spans[0] += max(0, min(endpos, len(string)) - pos)

    def match(self, string: Any, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        self._count(string, pos, endpos)
        return self._pattern.match(string, pos, endpos)

    def search(self, string: Any, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        self._count(string, pos, endpos)
        return self._pattern.search(string, pos, endpos)


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """[bytes handed to the rewriter's scanning patterns and to its tag reader so far]."""
    spans = [0]
    for module in (tokenizer, scriptdata):  # (each pattern where the engine looks it up)
        for name in (
            "RUN",
            "RUN_FOREIGN",
            "COMMENT_END",
            "SCRIPT_END",
            "SCRIPT_TOKEN",
            "END_TAG_REST",
            "TAG_OPEN",
            "TAG_TOKENS",
            "QUOTE_OPEN",
        ):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, _Counted(getattr(module, name), spans))
    for key, pattern in list(grammar.RAW_END.items()):
        monkeypatch.setitem(grammar.RAW_END, key, _Counted(pattern, spans))
    tag_end: Callable[..., tuple[int, int, int]] = tokenizer._tag_end

    def counted_tag_end(buf: Any, pos: int, end: int, mode: int) -> tuple[int, int, int]:
        spans[0] += end - pos  # (its searches for a closing quote are not patterns)
        return tag_end(buf, pos, end, mode)

    monkeypatch.setattr(tokenizer, "_tag_end", counted_tag_end)
    yield spans


@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES))
def test_huge_tags_and_elements_in_small_chunks_give_the_one_shot_output(shape: str) -> None:
    body = SHAPES[shape]
    whole = rewrite(body)
    assert chunks(body) == whole
    assert whole.endswith(
        b'<img data-consent-src="https://www.facebook.com/tr?id=1&amp;ev='
        b'PageView" data-consent="marketing" data-consent-service="meta-pixel"'
        b' alt="">'
    ) or shape in ("comment", "title")


@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES))
def test_huge_tags_and_elements_in_small_chunks_are_read_a_few_times_at_most(
    shape: str, scanned: list[int]
) -> None:
    body = SHAPES[shape]
    chunks(body)
    # (Reading again from the start at each chunk would hand the patterns ~128 times the body.)
    assert scanned[0] <= 6 * len(body), scanned[0] / len(body)


def test_the_hook_sees_the_rewriter_read(scanned: list[int]) -> None:
    body = SHAPES["noscript content"]
    rewrite(body)
    assert len(body) <= scanned[0] <= 6 * len(body)
