"""The consent cookie: a compact JSON payload signed and timestamped with itsdangerous.

Any value that does not verify, for whatever reason, is a ``Refusal``: the visitor has simply not
chosen yet. Nothing here raises on input from the wire, and the value is never echoed or logged.
"""

from __future__ import annotations

import enum
import functools
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from starlette.responses import Response

from .consent import Consent
from .policy import Policy

SALT = "consentgate.consent.v1"
#: Browsers keep at most 4096 bytes per cookie; a longer value is not ours.
MAX_VALUE_LENGTH = 3800
#: Clock skew tolerated between app servers for the time of choice.
CLOCK_SKEW = 60
#: Verified values remembered, so a returning visitor's requests skip the HMAC and the JSON.
CACHE_SIZE = 4096
#: Whole ``cookie`` headers remembered (up to this length each), so a returning browser's
#: request costs one lookup: at most 1024 x 1 KB.
HEADER_CACHE_SIZE = 1024
MAX_CACHED_HEADER = 1024
#: An RFC 6265 cookie-name (an RFC 9110 token).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class Refusal(enum.Enum):
    """Why a cookie value was not taken as a choice."""

    MISSING = "missing"
    OVERSIZED = "oversized"
    BAD_SIGNATURE = "bad signature"
    EXPIRED = "expired"
    FUTURE = "dated in the future"
    WRONG_SHAPE = "payload of the wrong shape"


@dataclass(frozen=True, slots=True)
class Reading:
    """The result of reading a request's cookies."""

    consent: Consent | None
    refusal: Refusal | None = None
    #: Signed with an older key of the rotation list: re-issue with the newest one.
    stale_key: bool = False


_Verified = tuple[Reading, float, float]  # a reading and the times it is valid between
_MISSING = Reading(None, Refusal.MISSING)


def new_consent_id() -> str:
    return secrets.token_urlsafe(12)


DAY = 24 * 60 * 60
#: Shorter keys can be guessed, and a guessed key forges any visitor's consent.
MIN_SECRET_LENGTH = 32
#: A DNS host name as a cookie's Domain attribute may name it (no IP literal, no port).
_HOST_NAME = re.compile(
    r"(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
    r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
)


def host_name(value: str) -> bool:
    """Whether ``value`` is a DNS host name (lowercase, no port): what a Domain may name."""
    return _HOST_NAME.fullmatch(value) is not None


def check_keys(keys: Sequence[str]) -> None:
    """Refuses missing, empty or guessable signing keys (each of a rotation list)."""
    if not keys or any(not isinstance(k, str) or not k for k in keys):
        raise ValueError("secret_key must be a non-empty string or a list of non-empty strings")
    if any(len(key) < MIN_SECRET_LENGTH for key in keys):
        raise ValueError(
            f"secret_key must be at least {MIN_SECRET_LENGTH} characters (each key, when "
            "rotating): a short key can be guessed and every consent cookie forged. Make one "
            "with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CookieSettings:
    """How the consent cookie is set: ``ConsentMiddleware(..., cookie=CookieSettings(...))``.

    ``max_age``: seconds a choice is valid, counted from the time of choice; ``domain`` shares
    one choice across subdomains; ``secure`` None means "when the request is https";
    ``host_prefix`` names the cookie ``__Host-<name>`` (which forces Secure and forbids a
    Domain).
    """

    name: str = "consentgate"
    max_age: int = 180 * DAY
    domain: str | None = None
    secure: bool | None = None
    host_prefix: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.max_age, int) or self.max_age <= 0:
            raise ValueError("CookieSettings.max_age must be a positive number of seconds")
        if self.host_prefix and self.domain:
            raise ValueError(
                "CookieSettings(host_prefix=True) cannot be combined with a domain: "
                "__Host- cookies may not carry a Domain"
            )
        if self.host_prefix and self.secure is False:
            raise ValueError(
                "CookieSettings(host_prefix=True) requires secure cookies; drop secure=False"
            )
        if not self.name or any(ch in self.name for ch in ' ;,=\t\r\n"\\'):
            raise ValueError(f"CookieSettings.name {self.name!r} is not a valid cookie name")
        if self.domain is not None and not host_name(self.domain.lstrip(".").lower()):
            raise ValueError(
                f"CookieSettings.domain {self.domain!r} is not a host name such as 'example.com'"
            )

    @property
    def full_name(self) -> str:
        return f"__Host-{self.name}" if self.host_prefix else self.name

    def header(self, value: str, https: bool) -> str:
        """The ``Set-Cookie`` value that stores ``value``: HttpOnly, SameSite=Lax, Path=/."""
        secure = True if self.host_prefix else (self.secure if self.secure is not None else https)
        response = Response()
        response.set_cookie(
            self.full_name,
            value,
            max_age=self.max_age,
            path="/",
            domain=self.domain,
            secure=secure,
            httponly=True,
            samesite="lax",
        )
        return response.headers["set-cookie"]


class ConsentCookie:
    """Encodes a ``Consent`` into a cookie value and reads it back.

    ``secret_keys`` is newest first; values signed with any of them are accepted, and only the
    newest signs.
    """

    def __init__(self, secret_keys: Sequence[str], *, policy: Policy, max_age: int) -> None:
        if not secret_keys or any(not isinstance(k, str) or not k for k in secret_keys):
            raise ValueError("secret_key must be a non-empty string or a list of non-empty strings")
        self.policy = policy
        self.max_age = max_age
        self._newest = URLSafeTimedSerializer(secret_keys[0], salt=SALT)
        # itsdangerous wants oldest first and signs with the last one.
        self._any = URLSafeTimedSerializer(list(reversed(secret_keys)), salt=SALT)
        # value -> (reading, valid from, valid until); only values that verified get in.
        self._verified: dict[str, _Verified] = {}
        # the same, by whole cookie header
        self._headers: dict[bytes, _Verified] = {}

    def dumps(self, consent: Consent) -> str:
        payload = {
            "v": 1,
            "c": sorted(consent.granted - self.policy.required),
            "s": sorted(consent.services),
            "r": consent.revision or self.policy.revision,
            "t": int(consent.given_at.timestamp()) if consent.given_at else int(time.time()),
            "i": consent.consent_id or new_consent_id(),
        }
        if consent.implied:
            payload["g"] = 1
        return self._newest.dumps(payload)

    def read_request(self, headers: Sequence[tuple[bytes, bytes]], name: str) -> Reading:
        """The consent in a request's ``cookie`` header(s), under cookie ``name``.

        A returning browser sends the same header again and again: once it verified, it costs
        one lookup and a clock read, whatever other cookies it carries.
        """
        raw: bytes | None = None
        for key, value in headers:
            if key == b"cookie":
                if raw is not None:  # split over several headers (HTTP/2): read them all
                    return self.read(cookie_values(headers, name))
                raw = value
        if raw is None:
            return _MISSING
        cached = self._headers.get(raw)
        if cached is not None:
            reading, valid_from, valid_until = cached
            if valid_from <= time.time() <= valid_until:
                return reading
            del self._headers[raw]  # expired: read again, another value may still verify
        values = _values_in(raw, name) if len(raw) <= 512 else _values(raw, name)
        reading = self.read(values)
        if reading.consent is not None and len(raw) <= MAX_CACHED_HEADER:
            verified = next(
                (v for v in map(self._verified.get, values) if v and v[0] is reading), None
            )
            if verified is not None:
                if len(self._headers) >= HEADER_CACHE_SIZE:
                    self._headers.clear()
                self._headers[raw] = verified
        return reading

    def read(self, values: Iterable[str]) -> Reading:
        """The first value that verifies wins: browsers may send several cookies of one name."""
        refusal = Refusal.MISSING
        for value in values:
            reading = self.loads(value)
            if reading.consent is not None:
                return reading
            refusal = reading.refusal or refusal
        return Reading(None, refusal)

    def loads(self, value: str) -> Reading:
        if len(value) > MAX_VALUE_LENGTH:
            return Reading(None, Refusal.OVERSIZED)
        cached = self._verified.get(value)
        if cached is not None:
            reading, valid_from, valid_until = cached
            now = time.time()
            if valid_from <= now <= valid_until:
                return reading
            return Reading(None, Refusal.FUTURE if now < valid_from else Refusal.EXPIRED)
        stale = False
        try:
            payload, signed = self._newest.loads(value, max_age=self.max_age, return_timestamp=True)
        except SignatureExpired as exc:
            return Reading(None, _expiry_refusal(exc))
        except BadData:
            try:
                payload, signed = self._any.loads(
                    value, max_age=self.max_age, return_timestamp=True
                )
            except SignatureExpired as exc:
                return Reading(None, _expiry_refusal(exc))
            except BadData:
                return Reading(None, Refusal.BAD_SIGNATURE)
            stale = True
        reading = self._consent(payload, stale)
        if reading.consent is not None and reading.consent.given_at is not None:
            if len(self._verified) >= CACHE_SIZE:
                self._verified.clear()
            # The window _age_refusal accepts, precomputed: a returning visitor costs a lookup.
            given, at = reading.consent.given_at.timestamp(), signed.timestamp()
            window = (max(given, at) - CLOCK_SKEW, min(given, at) + self.max_age)
            self._verified[value] = (reading, *window)
        return reading

    def _consent(self, payload: object, stale: bool) -> Reading:
        if not isinstance(payload, dict) or payload.get("v") != 1:
            return Reading(None, Refusal.WRONG_SHAPE)
        categories, services = payload.get("c"), payload.get("s")
        revision, given, consent_id = payload.get("r"), payload.get("t"), payload.get("i")
        implied = payload.get("g", 0)
        if not (
            isinstance(categories, list)
            and isinstance(services, list)
            and _str_list(categories)
            and _str_list(services)
            and isinstance(revision, str)
            and isinstance(given, int)
            and not isinstance(given, bool)
            and isinstance(consent_id, str)
            and 0 < len(consent_id) <= 64
            and implied in (0, 1)
            and not isinstance(implied, bool)
        ):
            return Reading(None, Refusal.WRONG_SHAPE)
        refusal = _age_refusal(time.time(), given, self.max_age)
        if refusal is not None:
            return Reading(None, refusal)
        policy = self.policy
        # Categories or services that left the policy since are dropped, never trusted.
        consent = Consent(
            granted=policy.required | (frozenset(categories) & policy.names),
            services=frozenset(services) & policy.vendor_ids,
            revision=revision,
            given_at=datetime.fromtimestamp(given, UTC),
            consent_id=consent_id,
            decided=revision == policy.revision and not implied,
            implied=bool(implied),
        )
        return Reading(consent, None, stale)


def _age_refusal(signed: float, given: int, max_age: int) -> Refusal | None:
    now = time.time()
    if given > now + CLOCK_SKEW or signed > now + CLOCK_SKEW:
        return Refusal.FUTURE
    # Re-signing with a new key must not extend the choice's life: the time of choice counts.
    if now - given > max_age or now - signed > max_age:
        return Refusal.EXPIRED
    return None


def _str_list(value: object) -> bool:
    return isinstance(value, list) and len(value) <= 256 and all(isinstance(v, str) for v in value)


def _expiry_refusal(exc: SignatureExpired) -> Refusal:
    # itsdangerous reports a signature from the future as "expired" with a negative age.
    date = exc.date_signed
    if date is not None and date.timestamp() > time.time() + CLOCK_SKEW:
        return Refusal.FUTURE
    return Refusal.EXPIRED


def cookie_values(headers: Iterable[tuple[bytes, bytes]], name: str) -> list[str]:
    """All values of cookie ``name`` in the request, across every ``cookie`` header.

    Parsing is deliberately lenient: a malformed neighbour must not hide ours.
    """
    found: list[str] = []
    for key, raw in headers:
        if key == b"cookie":
            found.extend(_values_in(raw, name) if len(raw) <= 512 else _values(raw, name))
    return found


def _values(raw: bytes, name: str) -> tuple[str, ...]:
    found = []
    for part in raw.decode("latin-1").split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            found.append(value)
    return tuple(found)


# A returning browser sends the same cookie header again and again; the bound on its length
# bounds the cache's memory (1024 x 512 bytes) whatever headers arrive.
_values_in = functools.lru_cache(maxsize=1024)(_values)


def cookie_names(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Names of all cookies the browser sent (for expiring withdrawn categories' cookies)."""
    names: dict[str, None] = {}  # (a dict: first-seen order, and linear in the header's size)
    for key, raw in headers:
        if key == b"cookie":
            for part in raw.decode("latin-1").split(";"):
                name, sep, _ = part.partition("=")
                name = name.strip()
                # Only RFC 6265 tokens: a name goes back out in a Set-Cookie header.
                if sep and name and _TOKEN.fullmatch(name):
                    names[name] = None
    return list(names)
