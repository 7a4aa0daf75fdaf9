from __future__ import annotations

import time
from datetime import UTC, datetime
from unittest import mock

import pytest
from itsdangerous import URLSafeTimedSerializer

from consentgate.consent import Consent
from consentgate.cookie import (
    SALT,
    ConsentCookie,
    Refusal,
    cookie_names,
    cookie_values,
)
from consentgate.policy import Policy, Vendor

POLICY = Policy(vendors=(Vendor("youtube", "YouTube", "marketing"),), revision="3")
DAY = 86400


def codec(*keys: str, max_age: int = 30 * DAY, policy: Policy = POLICY) -> ConsentCookie:
    return ConsentCookie(list(keys) or ["k1"], policy=policy, max_age=max_age)


def choice(**kw: object) -> Consent:
    base: dict[str, object] = {
        "granted": frozenset({"necessary", "analytical"}),
        "revision": "3",
        "consent_id": "abc123",
        "given_at": datetime.now(UTC).replace(microsecond=0),
        "decided": True,
    }
    base.update(kw)
    return Consent(**base)  # type: ignore[arg-type]


def test_round_trip_keeps_the_choice() -> None:
    c = codec()
    original = choice(services=frozenset({"youtube"}))
    reading = c.loads(c.dumps(original))
    assert reading.refusal is None and not reading.stale_key
    assert reading.consent == original


def test_refusal_is_a_choice_too() -> None:
    c = codec()
    reading = c.loads(c.dumps(choice(granted=frozenset({"necessary"}))))
    assert reading.consent is not None and reading.consent.decided
    assert reading.consent.granted == {"necessary"}


def test_older_revision_is_not_decided_but_kept_for_prefill() -> None:
    c = codec()
    value = c.dumps(choice(revision="2"))
    reading = c.loads(value)
    assert reading.consent is not None
    assert reading.consent.revision == "2" and not reading.consent.decided


def test_tampered_value_is_refused() -> None:
    c = codec()
    value = c.dumps(choice())
    payload, _, rest = value.partition(".")
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + rest
    assert c.loads(tampered).refusal is Refusal.BAD_SIGNATURE
    assert c.loads(value[:-3]).refusal is Refusal.BAD_SIGNATURE


@pytest.mark.parametrize(
    "garbage",
    ["", "x", "....", "%%%%", "eyJ2IjoxfQ", "\x00\xff", "a.b.c", "é" * 50, "null.null.null"],
)
def test_garbage_is_refused_without_raising(garbage: str) -> None:
    assert codec().loads(garbage).consent is None


def test_oversized_value_is_refused_before_parsing() -> None:
    assert codec().loads("a" * 5000).refusal is Refusal.OVERSIZED


def test_expired_signature_is_refused() -> None:
    c = codec(max_age=60)
    value = c.dumps(choice(given_at=datetime.fromtimestamp(time.time() - 30, UTC)))
    with mock.patch("time.time", return_value=time.time() + 120):
        assert c.loads(value).refusal is Refusal.EXPIRED


def test_resigning_does_not_extend_the_life_of_a_choice() -> None:
    c = codec(max_age=60)
    old = choice(given_at=datetime.fromtimestamp(time.time() - 3600, UTC))
    # A fresh signature over a choice made an hour ago is still an expired choice.
    assert c.loads(c.dumps(old)).refusal is Refusal.EXPIRED


def test_future_dated_signature_is_refused() -> None:
    c = codec()
    with mock.patch("time.time", return_value=time.time() + 3600):
        value = c.dumps(choice(given_at=datetime.fromtimestamp(time.time() + 3600, UTC)))
    assert c.loads(value).refusal is Refusal.FUTURE


def test_future_time_of_choice_is_refused() -> None:
    c = codec()
    future = choice(given_at=datetime.fromtimestamp(time.time() + 7200, UTC))
    assert c.loads(c.dumps(future)).refusal is Refusal.FUTURE


def test_key_rotation_accepts_old_keys_and_asks_for_reissue() -> None:
    old = codec("old-key")
    value = old.dumps(choice())
    rotated = codec("new-key", "old-key")
    reading = rotated.loads(value)
    assert reading.consent is not None and reading.stale_key
    reissued = rotated.dumps(reading.consent)
    assert not rotated.loads(reissued).stale_key
    assert codec("new-key").loads(reissued).consent == reading.consent
    assert codec("new-key").loads(value).refusal is Refusal.BAD_SIGNATURE


def test_same_secret_other_purpose_is_refused() -> None:
    other = URLSafeTimedSerializer("k1", salt="itsdangerous.Signer").dumps(
        {"v": 1, "c": ["marketing"], "s": [], "r": "3", "t": int(time.time()), "i": "x"}
    )
    assert codec("k1").loads(other).refusal is Refusal.BAD_SIGNATURE


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        {"v": 2},
        {"v": 1, "c": "analytical", "s": [], "r": "3", "t": 1, "i": "x"},
        {"v": 1, "c": [1], "s": [], "r": "3", "t": 1, "i": "x"},
        {"v": 1, "c": [], "s": [], "r": 3, "t": 1, "i": "x"},
        {"v": 1, "c": [], "s": [], "r": "3", "t": "1", "i": "x"},
        {"v": 1, "c": [], "s": [], "r": "3", "t": True, "i": "x"},
        {"v": 1, "c": [], "s": [], "r": "3", "t": 1, "i": ""},
        {"v": 1, "c": [], "s": None, "r": "3", "t": 1, "i": "x"},
    ],
)
def test_signed_payload_of_wrong_shape_is_refused(payload: object) -> None:
    value = URLSafeTimedSerializer("k1", salt=SALT).dumps(payload)
    assert codec("k1").loads(value).refusal is Refusal.WRONG_SHAPE


def test_unknown_categories_and_services_are_dropped() -> None:
    value = URLSafeTimedSerializer("k1", salt=SALT).dumps(
        {
            "v": 1,
            "c": ["analytical", "spying"],
            "s": ["youtube", "evil"],
            "r": "3",
            "t": int(time.time()),
            "i": "x",
        }
    )
    consent = codec("k1").loads(value).consent
    assert consent is not None
    assert consent.granted == {"necessary", "analytical"}
    assert consent.services == {"youtube"}


def test_worst_case_cookie_stays_well_under_4096_bytes() -> None:
    from consentgate import CookieSettings
    from consentgate.middleware import ConsentMiddleware
    from consentgate.policy import DEFAULT_CATEGORIES, Category

    extra = tuple(Category(f"custom{i:02d}", "t", "d") for i in range(20))
    mw = ConsentMiddleware(
        lambda s, r, se: None,  # type: ignore[arg-type, return-value]
        secret_key="k" * 64,
        policy=Policy(categories=DEFAULT_CATEGORIES + extra),
        revision="r" * 32,
        cookie=CookieSettings(domain="example.com"),
    )
    everything = Consent(
        granted=mw.policy.names,
        services=frozenset(v.id for v in mw.policy.vendors),
        revision="r" * 32,
        consent_id="i" * 16,
        decided=True,
    )
    header = mw.cookie_header({"type": "http", "scheme": "https"}, everything)
    assert len(header.encode()) < 3000


def test_cookie_values_across_headers_and_malformed_neighbours() -> None:
    headers = [
        (b"cookie", b"a=1; broken; =x; consentgate=first"),
        (b"user-agent", b"consentgate=not-a-cookie"),
        (b"cookie", b'b="2"; consentgate="second"'),
    ]
    assert cookie_values(headers, "consentgate") == ["first", "second"]
    assert cookie_names(headers) == ["a", "consentgate", "b"]


def test_first_valid_value_wins_over_garbage_duplicates() -> None:
    c = codec()
    good = c.dumps(choice())
    reading = c.read(["garbage", good])
    assert reading.consent is not None and reading.consent.decided
    assert c.read(["garbage"]).refusal is Refusal.BAD_SIGNATURE
    assert c.read([]).refusal is Refusal.MISSING


def test_empty_key_fails_fast() -> None:
    with pytest.raises(ValueError, match="secret_key"):
        ConsentCookie([""], policy=POLICY, max_age=10)
    with pytest.raises(ValueError, match="secret_key"):
        ConsentCookie([], policy=POLICY, max_age=10)


def test_a_remembered_value_still_expires() -> None:
    c = codec(max_age=60)
    value = c.dumps(choice())
    assert c.loads(value).consent is not None  # verified once, now remembered
    with mock.patch("time.time", return_value=time.time() + 120):
        assert c.loads(value).refusal is Refusal.EXPIRED
    assert codec("other-key", max_age=60).loads(value).refusal is Refusal.BAD_SIGNATURE


def test_an_implied_refusal_round_trips_but_is_no_choice() -> None:
    c = codec()
    reading = c.loads(c.dumps(choice(implied=True, decided=False)))
    assert reading.consent is not None
    assert reading.consent.implied and not reading.consent.decided
    assert reading.consent.consent_id == "abc123"
    forged = URLSafeTimedSerializer("k1", salt=SALT).dumps(
        {"v": 1, "c": [], "s": [], "r": "3", "t": int(time.time()), "i": "x", "g": True}
    )
    assert codec("k1").loads(forged).refusal is Refusal.WRONG_SHAPE


def test_a_remembered_cookie_header_still_expires_and_a_second_value_still_counts() -> None:
    c = codec(max_age=60)
    young = c.dumps(choice())
    old = c.dumps(choice(given_at=datetime.fromtimestamp(time.time() - 50, UTC)))
    headers = [(b"host", b"x"), (b"cookie", f"a=1; cg={old}; cg={young}".encode())]
    first = c.read_request(headers, "cg")
    assert first.consent is not None and first.consent.given_at is not None
    assert c.read_request(headers, "cg") is first  # remembered: the same reading, no HMAC
    with mock.patch("time.time", return_value=time.time() + 30):
        # The first value has expired; the remembered header must not keep answering with it.
        later = c.read_request(headers, "cg")
        assert later.consent is not None and later.consent.given_at != first.consent.given_at
    with mock.patch("time.time", return_value=time.time() + 120):
        assert c.read_request(headers, "cg").consent is None


def test_a_cookie_header_split_in_two_is_read_whole() -> None:
    c = codec()
    value = c.dumps(choice())
    split = [(b"cookie", b"a=1"), (b"cookie", f"cg={value}".encode())]
    assert c.read_request(split, "cg").consent is not None
    assert c.read_request([(b"cookie", b"a=1")], "cg").refusal is Refusal.MISSING
    assert c.read_request([], "cg").refusal is Refusal.MISSING
    assert c.read_request([(b"cookie", b"cg=forged")], "cg").refusal is Refusal.BAD_SIGNATURE
