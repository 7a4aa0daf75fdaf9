"""Content codings: what consentgate cannot decode, the app is not asked for, and what still
arrives in one is not sent as it is; zstd and stacked codings are decoded and re-encoded."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from helpers import SECRET, body, raw_app, run, start

from consentgate import ConsentMiddleware
from consentgate.responder import FAILURE_PAGE
from consentgate.streams import (
    ZSTD_WINDOW_LOG,
    Decoder,
    Encoder,
    Pipeline,
    Unreadable,
    narrow_accept,
    zstd,
)

GTM = b'<script src="https://www.googletagmanager.com/gtm.js?id=GTM-X"></script>'
PAGE = b"<!doctype html><html><head><title>t</title></head><body><h1>Hi</h1>%s</body></html>"


def gated(text: bytes) -> bool:
    return b"data-consent-src=" in text and b' src="https://www.googletagmanager.com' not in text


async def serve(data: bytes, coding: bytes, **options: Any) -> Any:
    app = ConsentMiddleware(
        raw_app(start(extra=[(b"content-encoding", coding)]), body(data)),
        secret_key=SECRET,
        **options,
    )
    return await run(app)


def test_zstd_is_decodable() -> None:
    assert zstd is not None  # (a dependency: backports.zstd, or the standard library's)


@pytest.mark.anyio
async def test_a_zstd_page_is_gated_and_sent_in_zstd() -> None:
    rec = await serve(zstd.compress(PAGE % GTM), b"zstd")
    headers = dict(rec.messages[0]["headers"])
    assert rec.status == 200 and headers[b"content-encoding"] == b"zstd"
    assert gated(zstd.decompress(rec.body))


@pytest.mark.anyio
async def test_stacked_codings_are_undone_in_reverse_and_applied_again() -> None:
    packed = zstd.compress(gzip.compress(PAGE % GTM))  # gzip first, then zstd
    rec = await serve(packed, b"gzip, zstd")
    assert rec.status == 200
    assert gated(gzip.decompress(zstd.decompress(rec.body)))
    rec = await serve(gzip.compress(gzip.compress(PAGE % GTM)), b"gzip, gzip")
    assert gated(gzip.decompress(gzip.decompress(rec.body)))


@pytest.mark.anyio
async def test_x_gzip_goes_out_in_gzip_again() -> None:
    rec = await serve(gzip.compress(PAGE % GTM), b"x-gzip")
    assert gated(gzip.decompress(rec.body))


def test_zstd_frames_one_after_another_are_all_read_and_streamed_output_too() -> None:
    decoder = Decoder("zstd")
    data = zstd.compress(b"<p>one</p>") + zstd.compress(b"<p>two</p>")
    out = b"".join(decoder.feed(data[i : i + 5]) for i in range(0, len(data), 5))
    assert out + decoder.close() == b"<p>one</p><p>two</p>"
    encoder = Encoder("zstd")
    first = encoder.feed(b"<p>streamed</p>")
    assert zstd.ZstdDecompressor().decompress(first) == b"<p>streamed</p>"  # (flushed at once)
    assert zstd.decompress(first + encoder.close()) == b"<p>streamed</p>"


def test_a_zstd_window_larger_than_chromium_decodes_is_unreadable() -> None:
    options = {zstd.CompressionParameter.window_log: ZSTD_WINDOW_LOG + 1}
    compressor = zstd.ZstdCompressor(options=options)
    data = compressor.compress(b"x" * 1000) + compressor.flush()  # (no size: the window says)
    with pytest.raises(Unreadable):
        Pipeline([Decoder("zstd")]).finish(data)


@pytest.mark.parametrize(
    ("asked", "kept"),
    [
        (b"gzip, deflate, br, zstd", b"gzip, deflate, br, zstd"),
        (b"gzip, compress, sdch", b"gzip"),
        (b"dcb, dcz, gzip;q=0.8", b"gzip;q=0.8"),
        (b"gzip;q=1.0, *;q=0.5", b"gzip;q=1.0, deflate;q=0.5, br;q=0.5, zstd;q=0.5"),
        (b"*", b"gzip, deflate, br, zstd"),
        (b"identity;q=0, *;q=0", b"identity;q=0, *;q=0"),  # (refusals stay)
        (b"compress", b""),  # (identity only)
    ],
)
def test_accept_encoding_is_narrowed_to_what_can_be_decoded(asked: bytes, kept: bytes) -> None:
    assert narrow_accept(asked) == kept


@pytest.mark.anyio
async def test_the_app_is_asked_only_for_codings_consentgate_decodes() -> None:
    seen: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.extend(v for k, v in scope["headers"] if k == b"accept-encoding")
        await send(start(b"application/json"))
        await send(body(b"{}"))

    asked = [(b"host", b"testserver"), (b"accept-encoding", b"gzip, dcz, zstd, xpress")]
    await run(ConsentMiddleware(app, secret_key=SECRET), headers=asked)
    assert seen == [b"gzip, zstd"]


@pytest.mark.anyio
async def test_a_coding_that_cannot_be_decoded_is_not_sent_as_it_is() -> None:
    for options in ({}, {"policy": None}):
        rec = await serve(b"\x1f\x9d\x90" + GTM, b"compress", **options)
        assert rec.status == 502 and rec.body == FAILURE_PAGE
