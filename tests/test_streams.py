from __future__ import annotations

import gzip
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from consentgate.streams import Decoder, Encoder, Injector, Pipeline, Transcoder

SNIPPET = b"<!--SNIPPET-->"

pieces = st.sampled_from(
    [
        b"<html>",
        b"<body>",
        b"</body>",
        b"</BODY>",
        b"</bo",
        b"dy>",
        b"</html>",
        b"<p>x</p>",
        b"<!doctype html>",
        b"text ",
        b"\xd0\x9f",
        b"<script>'</body>'</script>",
        b" " * 3000,
    ]
)
documents = st.lists(pieces, max_size=40).map(b"".join)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def run(stage_factory, chunks: list[bytes]) -> bytes:  # type: ignore[no-untyped-def]
    stage = stage_factory()
    return b"".join(stage.feed(c) for c in chunks) + stage.close()


@settings(max_examples=300, deadline=None)
@given(documents, st.lists(st.integers(min_value=0), max_size=12))
def test_injector_output_does_not_depend_on_chunking(doc: bytes, cuts: list[int]) -> None:
    whole = Injector(SNIPPET).finish(doc)
    assert run(lambda: Injector(SNIPPET), split(doc, cuts)) == whole
    # nothing of the page is lost or changed, the snippet is added at most once
    assert whole.replace(SNIPPET, b"", 1) == doc
    assert whole.count(SNIPPET) <= doc.count(SNIPPET) + 1


@given(documents)
def test_injector_appends_after_a_page_and_leaves_fragments_alone(doc: bytes) -> None:
    out = Injector(SNIPPET).finish(doc)
    lowered = doc.lower()
    marks = (b"<html>", b"<body>", b"<!doctype html>", b"</html>", b"</body>")
    if any(m in lowered[:4096] or m in lowered[-8192:] for m in marks):
        assert out == doc + SNIPPET
    elif not any(m in lowered for m in marks):
        assert out == doc  # a fragment is left alone


@given(documents, st.lists(st.integers(min_value=0), max_size=12))
def test_injector_holds_nothing_back(doc: bytes, cuts: list[int]) -> None:
    injector = Injector(SNIPPET)
    for chunk in split(doc, cuts):
        assert injector.feed(chunk) == chunk  # each chunk goes on as it came


def test_injector_leaves_the_snippet_out_when_markup_would_not_be_read_as_markup() -> None:
    page = b"<!doctype html><p>x</p><script>var a = 1;"
    assert Injector(SNIPPET, ready=lambda: False).finish(page) == page
    assert Injector(SNIPPET, ready=lambda: True).finish(page) == page + SNIPPET


@settings(max_examples=100, deadline=None)
@given(
    st.binary(max_size=5000),
    st.lists(st.integers(min_value=0), max_size=8),
    st.sampled_from(["gzip", "deflate"]),
)
def test_decoder_and_encoder_round_trip_in_any_chunking(
    data: bytes, cuts: list[int], encoding: str
) -> None:
    packed = gzip.compress(data) if encoding == "gzip" else zlib.compress(data)
    assert run(lambda: Decoder(encoding), split(packed, cuts)) == data
    encoded = run(lambda: Encoder(encoding), split(data, cuts))
    assert (gzip.decompress(encoded) if encoding == "gzip" else zlib.decompress(encoded)) == data


def test_raw_deflate_is_understood() -> None:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw = compressor.compress(b"<html>raw</html>") + compressor.flush()
    assert run(lambda: Decoder("deflate"), [raw[:3], raw[3:]]) == b"<html>raw</html>"


@given(st.text(max_size=300), st.lists(st.integers(min_value=0), max_size=8))
def test_transcoder_turns_utf16_into_utf8_in_any_chunking(text: str, cuts: list[int]) -> None:
    data = text.encode("utf-16")
    assert run(lambda: Transcoder("utf-16"), split(data, cuts)) == text.encode(
        "utf-8", "surrogatepass"
    )


def test_pipeline_chains_stages_in_order() -> None:
    page = gzip.compress(b"<html><body>hi</body></html>")
    pipeline = Pipeline([Decoder("gzip"), Injector(SNIPPET), Encoder("gzip")])
    out = pipeline.feed(page[:10]) + pipeline.finish(page[10:])
    assert gzip.decompress(out) == b"<html><body>hi</body></html>" + SNIPPET


@settings(deadline=None)
@given(
    st.text(alphabet="<p>!-aé日本語", max_size=200),
    st.sampled_from(["UTF-16LE", "UTF-16BE", "ISO-2022-JP", "windows-1252", None]),
    st.booleans(),
    st.lists(st.integers(min_value=0), max_size=8),
)
def test_charset_reads_the_same_in_any_chunking(
    text: str, label: str | None, marked: bool, cuts: list[int]
) -> None:
    from consentgate.encodings import TRANSCODED
    from consentgate.streams import Charset

    codec = {**TRANSCODED, "windows-1252": "cp1252", None: "utf-8"}[label]
    data = text.encode(codec, "replace")
    if marked and label in ("UTF-16LE", "UTF-16BE"):
        data = (b"\xff\xfe" if label == "UTF-16LE" else b"\xfe\xff") + data
    whole = run(lambda: Charset(label, strict=False), [data])
    assert run(lambda: Charset(label, strict=False), split(data, cuts)) == whole
    if label in TRANSCODED:
        assert whole == data.decode(codec, "replace").lstrip("\ufeff").encode()
    else:
        assert whole == data  # (ASCII-compatible: the bytes as they came)
