"""The caching headers consentgate edits on a page it changed: each value once, every line of
the app's header read, nothing of the app's lost (issue 16)."""

from __future__ import annotations

import anyio
import pytest
from helpers import PAGE, SECRET, body, raw_app, run, start

from consentgate import ConsentMiddleware


def headers_of(extra: list[tuple[bytes, bytes]]) -> dict[str, list[str]]:
    app = ConsentMiddleware(
        raw_app(start(extra=extra), body(PAGE.encode())), secret_key=SECRET, consent_log=None
    )
    sent = anyio.run(run, app)
    assert b'id="consentgate-banner"' in sent.body  # a page consentgate changed
    (first,) = (m for m in sent.messages if m["type"] == "http.response.start")
    found: dict[str, list[str]] = {}
    for key, value in first["headers"]:
        found.setdefault(key.decode().lower(), []).append(value.decode())
    return found


@pytest.mark.parametrize(
    ("sent", "leaves"),
    [
        ([], ["Cookie"]),
        ([b"Accept-Encoding"], ["Accept-Encoding, Cookie"]),
        ([b"Accept-Encoding", b"Origin"], ["Accept-Encoding, Origin, Cookie"]),
        ([b"Accept-Encoding, Origin, accept-encoding"], ["Accept-Encoding, Origin, Cookie"]),
        ([b""], ["Cookie"]),
        ([b" , Origin,"], ["Origin, Cookie"]),
        ([b"Accept-Encoding", b"cookie"], ["Accept-Encoding", "cookie"]),  # the app's, kept
        ([b"*"], ["*"]),
    ],
)
def test_vary_names_each_value_once(sent: list[bytes], leaves: list[str]) -> None:
    assert headers_of([(b"vary", value) for value in sent])["vary"] == leaves


@pytest.mark.parametrize(
    ("sent", "leaves"),
    [
        ([], "private"),
        ([b"max-age=60"], "private, max-age=60"),
        ([b"max-age=60", b"public"], "private, max-age=60"),
        ([b"public, s-maxage=600, max-age=60"], "private, max-age=60"),
        ([b"private, max-age=60"], "private, max-age=60"),
        ([b"PRIVATE"], "PRIVATE"),
        ([b'private="Set-Cookie", max-age=60'], "private, max-age=60"),
        ([b"max-age=60, Max-Age=60", b"must-revalidate"], "private, max-age=60, must-revalidate"),
        ([b"no-store"], "no-store"),
        ([b""], "private"),
    ],
)
def test_cache_control_is_one_line_each_directive_once(sent: list[bytes], leaves: str) -> None:
    assert headers_of([(b"cache-control", value) for value in sent])["cache-control"] == [leaves]


def test_other_headers_of_the_app_stay_as_they_were() -> None:
    found = headers_of(
        [
            (b"x-frame-options", b"DENY"),
            (b"link", b"</a.css>; rel=preload; as=style"),
            (b"set-cookie", b"theme=dark; Path=/"),
            (b"set-cookie", b"lang=de; Path=/"),
        ]
    )
    assert found["x-frame-options"] == ["DENY"]
    assert found["link"] == ["</a.css>; rel=preload; as=style"]
    assert found["set-cookie"] == ["theme=dark; Path=/", "lang=de; Path=/"]
