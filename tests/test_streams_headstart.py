"""The <head> snippet lands right after the start tag, however the body is chunked."""

from __future__ import annotations

import pytest

from consentgate.streams import HEAD_LIMIT as LIMIT
from consentgate.streams import HeadStart

SNIP = b"<SNIP>"


def run(chunks: list[bytes]) -> bytes:
    stage = HeadStart(SNIP)
    return b"".join(stage.feed(c) for c in chunks) + stage.close()


def every_split(page: bytes) -> list[bytes]:
    return [run([page[:i], page[i:]]) for i in range(len(page) + 1)] + [
        run([bytes([b]) for b in page])
    ]


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            b"<!doctype html><html lang=en><head><title>x</title></head><body>hi</body>",
            b"<!doctype html><html lang=en><head><SNIP><title>x</title></head><body>hi</body>",
        ),
        (
            b"<!DOCTYPE html>\n<HTML>\n<HEAD profile='x'>\n<meta charset=utf-8>",
            b"<!DOCTYPE html>\n<HTML>\n<HEAD profile='x'><SNIP>\n<meta charset=utf-8>",
        ),
        (  # <header> is not <head>; no head at all: after <html>
            b"<html><body><header>h</header></body></html>",
            b"<html><SNIP><body><header>h</header></body></html>",
        ),
        (  # implied head: the snippet still precedes the page's first script
            b"<!doctype html><html><script src=a.js></script>",
            b"<!doctype html><html><SNIP><script src=a.js></script>",
        ),
        (b"<p>a fragment</p>", b"<p>a fragment</p>"),
        (b"", b""),
    ],
)
def test_snippet_placement_under_any_chunking(page: bytes, expected: bytes) -> None:
    assert set(every_split(page)) == {expected}


def test_head_far_down_is_not_searched_for_and_nothing_is_lost() -> None:
    page = b"<!--" + b"x" * (LIMIT * 2) + b"--><html><head></head><body></body></html>"
    assert run([page[:100], page[100:5000], page[5000:]]) == page


def test_streams_after_placing() -> None:
    stage = HeadStart(SNIP)
    assert stage.feed(b"<html><head>") == b"<html><head><SNIP>"
    assert stage.feed(b"<title>t</title>") == b"<title>t</title>"
    assert stage.close() == b""
