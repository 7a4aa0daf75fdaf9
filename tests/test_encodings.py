"""Pages are read in the encoding a browser reads them in (consentgate/encodings.py): the
byte-order mark over the header, every WHATWG label, the <meta> prescan, ISO-2022-JP detection;
UTF-16 and ISO-2022-JP are transcoded to UTF-8 before they are gated."""

from __future__ import annotations

import pytest
from helpers import SECRET, body, raw_app, run, start

from consentgate import ConsentMiddleware
from consentgate.encodings import LABELS, Source, lookup, prescan, reading, xml_declared
from consentgate.responder import FAILURE_PAGE

GTM = b'<script src="https://www.googletagmanager.com/gtm.js?id=GTM-X"></script>'
LIVE = b' src="https://www.googletagmanager.com'
# ESC $ B: JIS X 0208, in which "<!" and "--" are two characters, not a comment; ESC ( B: ASCII.
HIDDEN = b"\x1b$B<!--\x1b(B" + GTM + b"\x1b$B-->\x1b(B"
PAGE = b"<!doctype html><html><head><title>t</title></head><body><h1>Hello</h1>%s</body></html>"


async def page_of(data: bytes, content_type: bytes, **options: object) -> tuple[bytes, dict]:
    app = ConsentMiddleware(raw_app(start(content_type), body(data)), secret_key=SECRET, **options)
    rec = await run(app)
    return rec.body, dict(rec.messages[0]["headers"]) | {b":status": rec.status}


def gated(text: bytes) -> bool:
    return b'data-consent-src="https://www.googletagmanager.com/gtm.js' in text and LIVE not in text


# -- labels, byte-order marks, the prescan ----------------------------------------------------


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("unicode", "UTF-16LE"),
        ("ucs-2", "UTF-16LE"),
        ("csunicode", "UTF-16LE"),
        ("iso-10646-ucs-2", "UTF-16LE"),
        ("unicodefeff", "UTF-16LE"),
        ("UTF-16", "UTF-16LE"),
        ("unicodefffe", "UTF-16BE"),
        (" latin1\t", "windows-1252"),
        ("x-sjis", "Shift_JIS"),
        ("csiso2022jp", "ISO-2022-JP"),
        ("iso-2022-kr", "replacement"),
        ("hz-gb-2312", "replacement"),
        ("x-user-defined", "x-user-defined"),
    ],
)
def test_every_whatwg_label_names_its_encoding(label: str, name: str) -> None:
    assert lookup(label) == name


def test_labels_the_standard_does_not_know_name_nothing() -> None:
    for label in ("utf-32", "utf-32le", "ucs-4", "utf-7", "x-unknown", ""):
        assert lookup(label) is None
    assert len(LABELS) > 200  # (the whole table: 228 labels of 40 encodings)


def test_the_byte_order_mark_wins_over_the_header() -> None:
    assert reading("UTF-8", b"\xff\xfe<\x00", True) == reading(None, b"\xff\xfe<\x00", True)
    found = reading("ISO-2022-JP", b"\xef\xbb\xbf<p>", True)
    assert found is not None and found.encoding == "UTF-8" and found.source is Source.BOM
    assert reading("UTF-8", b"\xef\xbb", False) is None  # (a mark may be under way)


@pytest.mark.parametrize(
    ("head", "found"),
    [
        (b'<meta charset="ISO-2022-JP">', "ISO-2022-JP"),
        (b"<META CHARSET=shift_jis>", "Shift_JIS"),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=euc-jp">', "EUC-JP"),
        (b'<meta content="text/html; charset=euc-jp" http-equiv=content-type>', "EUC-JP"),
        (b'<meta content="text/html; charset=euc-jp">', None),  # (no http-equiv)
        (b"<meta charset=utf-16>", "UTF-8"),  # (readable as ASCII: not UTF-16)
        (b"<meta charset=x-user-defined>", "windows-1252"),
        (b"<!-- <meta charset=koi8-r> --><meta charset=big5>", "Big5"),
        (b"<!--><meta charset=big5>", "Big5"),
        (b'<div title="<meta charset=koi8-r>"><meta charset=gbk>', "GBK"),
        (b"<meta charset=nonsense><meta charset=gbk>", "GBK"),  # (unknown: the next one)
        (b"<meta charset=utf-8", None),  # (cut short: the prescan aborts)
        (b"<p>" * 400 + b"<meta charset=koi8-r>", None),  # (past 1024 bytes)
    ],
)
def test_the_prescan_reads_meta_as_html_says(head: bytes, found: str | None) -> None:
    assert prescan(head[:1024]) == found


def test_the_xml_declaration_names_an_xml_documents_encoding() -> None:
    assert xml_declared(b'<?xml version="1.0" encoding="ISO-2022-JP"?><html/>') == "ISO-2022-JP"
    assert xml_declared(b"<?xml version='1.0' encoding='utf-16'?>") == "UTF-8"
    assert xml_declared("<?xml version='1.0'?>".encode("utf-16-le")) == "UTF-16LE"
    assert xml_declared(b"<html/>") is None


def test_iso_2022_jp_is_detected_by_an_escape_before_any_high_byte() -> None:
    found = reading(None, b"<p>" + HIDDEN, True)
    assert found is not None and found.encoding == "ISO-2022-JP"
    assert found.source is Source.DETECTED
    found = reading(None, b"<p>\xe9" + HIDDEN, True)
    assert found is not None and found.encoding == "windows-1252"


# -- the middleware: gated as the browser reads the page ----------------------------------------


@pytest.mark.anyio
async def test_iso_2022_jp_escapes_do_not_hide_a_tracker_behind_a_comment() -> None:
    # To a byte scanner "<!--" hides the script; to a browser reading ISO-2022-JP it is two
    # kanji and the script loads.
    page = PAGE % HIDDEN
    for content_type in (
        b"text/html; charset=ISO-2022-JP",  # declared
        b"text/html",  # detected: nothing declared, an escape sequence first
    ):
        out, headers = await page_of(page, content_type)
        assert headers[b"content-type"] == b"text/html; charset=utf-8"
        assert gated(out), out
        assert "<h1>Hello</h1>" in out.decode("utf-8")


@pytest.mark.anyio
async def test_a_meta_charset_is_followed_when_the_header_names_none() -> None:
    page = b'<!doctype html><meta charset="iso-2022-jp"><title>t</title>' + HIDDEN
    out, headers = await page_of(page, b"text/html")
    assert headers[b"content-type"] == b"text/html; charset=utf-8" and gated(out)


@pytest.mark.anyio
async def test_a_utf16_byte_order_mark_wins_over_a_utf8_header() -> None:
    page = (PAGE % GTM).decode().encode("utf-16-le")
    out, headers = await page_of(b"\xff\xfe" + page, b"text/html; charset=utf-8")
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    assert out.startswith(b"<!doctype html>") and gated(out)
    out, _ = await page_of(b"\xfe\xff" + (PAGE % GTM).decode().encode("utf-16-be"), b"text/html")
    assert gated(out)


@pytest.mark.parametrize("label", [b"unicode", b"ucs-2", b"csunicode", b"UTF-16LE"])
@pytest.mark.anyio
async def test_utf16_by_any_of_its_labels_is_transcoded(label: bytes) -> None:
    page = (PAGE % GTM).decode().encode("utf-16-le")  # (no byte-order mark)
    out, headers = await page_of(page, b"text/html; charset=" + label)
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    assert gated(out) and b"<h1>Hello</h1>" in out


@pytest.mark.anyio
async def test_utf32_is_no_encoding_of_the_web_the_page_is_read_as_bytes() -> None:
    # A browser ignores the unknown label and reads the bytes as windows-1252: the script runs.
    out, headers = await page_of(PAGE % GTM, b"text/html; charset=utf-32")
    assert headers[b"content-type"] == b"text/html; charset=utf-32"
    assert gated(out) and b"<h1>Hello</h1>" in out


@pytest.mark.anyio
async def test_the_replacement_encoding_is_one_replacement_character() -> None:
    out, headers = await page_of(PAGE % GTM, b"text/html; charset=iso-2022-kr")
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    assert out.startswith("\ufffd".encode()) and b"<script src" not in out


@pytest.mark.anyio
async def test_an_escape_after_bytes_went_out_unchanged_fails_closed() -> None:
    # Nothing declared and no escape in the first 1024 bytes: passed as bytes. An escape later
    # means a browser may read it otherwise (its detector, a later <meta>): refused.
    page = PAGE % (b"<p>" + b"x" * 2000 + b"</p>" + HIDDEN)
    out, headers = await page_of(page, b"text/html")
    assert headers[b":status"] == 502 and out == FAILURE_PAGE
    # Declared by the header, the encoding is certain: read as bytes (to windows-1252 the
    # script is in a comment, as it is to the rewriter), nothing to refuse.
    out, headers = await page_of(page, b"text/html; charset=windows-1252")
    assert headers[b":status"] == 200 and HIDDEN in out


@pytest.mark.anyio
async def test_an_iso_2022_jp_xhtml_document_is_read_by_its_xml_declaration() -> None:
    page = (
        b'<?xml version="1.0" encoding="ISO-2022-JP"?>'
        b'<html xmlns="http://www.w3.org/1999/xhtml"><body>'
        + HIDDEN.replace(b"></script>", b"/>")
        + b"</body></html>"
    )
    out, headers = await page_of(page, b"application/xhtml+xml")
    assert headers[b"content-type"] == b"application/xhtml+xml; charset=utf-8"
    assert gated(out)


@pytest.mark.anyio
async def test_a_page_streamed_a_few_bytes_at_a_time_waits_for_its_prescan() -> None:
    page = b'<!doctype html><meta charset="iso-2022-jp"><title>t</title>' + HIDDEN
    pieces = [body(page[i : i + 7], more=True) for i in range(0, len(page), 7)]
    app = ConsentMiddleware(raw_app(start(b"text/html"), *pieces, body(b"")), secret_key=SECRET)
    rec = await run(app)
    assert rec.messages[0]["type"] == "http.response.start"
    headers = dict(rec.messages[0]["headers"])
    assert headers[b"content-type"] == b"text/html; charset=utf-8" and gated(rec.body)


@pytest.mark.anyio
async def test_a_message_sent_while_the_start_waits_goes_after_it() -> None:
    # The header names no charset: the start waits for the prescan's bytes; a debug message
    # the app sends meanwhile follows the start, which then says what the body became.
    debug = {"type": "http.response.debug", "info": {}}
    page = b'<!doctype html><meta charset="iso-2022-jp"><title>t</title>' + HIDDEN
    headers = [(b"content-type", b"text/html"), (b"content-length", b"%d" % len(page))]
    start_message = {"type": "http.response.start", "status": 200, "headers": headers}
    app = ConsentMiddleware(
        raw_app(start_message, body(page[:20], True), debug, body(page[20:])), secret_key=SECRET
    )
    rec = await run(app)
    kinds = [m["type"] for m in rec.messages]
    assert kinds[:2] == ["http.response.start", "http.response.debug"]
    sent = dict(rec.messages[0]["headers"])
    assert sent[b"content-type"].endswith(b"charset=utf-8")
    assert int(sent[b"content-length"]) == len(rec.body)  # (what went out, not the app's)
    assert gated(rec.body)
