"""Browser privacy signals and jurisdiction: the consent a visitor has before making a choice.

Pure functions of the request headers; the middleware calls them only for a visitor without a
valid choice. An explicit choice always wins over every signal here.

- *Opt-in* (the default everywhere, and the rule in the EEA, the UK, Switzerland and similar):
  nothing optional before consent.
- *Opt-out* (where the law allows it, e.g. most US states): optional categories are granted until
  refused, except those a browser signal refuses.
- *Global Privacy Control* (``Sec-GPC: 1``) refuses ``gpc_refuses`` (marketing by default) and
  *Do Not Track* (``DNT: 1``) likewise when ``honour_dnt`` is set.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from .consent import Consent
from .policy import Policy

Regime = Literal["opt-in", "opt-out"]
OPT_IN: Regime = "opt-in"
OPT_OUT: Regime = "opt-out"

#: Reads the request headers (a case-insensitive mapping such as Starlette's ``Headers``).
Jurisdiction = Callable[[Mapping[str, str]], Regime]

DEFAULT_GPC_REFUSES: frozenset[str] = frozenset({"marketing"})

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Signals:
    """What the request says about the visitor before any choice."""

    gpc: bool = False
    dnt: bool = False
    regime: Regime = OPT_IN
    #: Optional categories refused by a browser signal (GPC / DNT).
    refused: frozenset[str] = frozenset()

    @property
    def honoured(self) -> bool:
        """True when a browser signal changed the defaults (the banner says so)."""
        return bool(self.refused) and (self.gpc or self.dnt)


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalSettings:
    """How browser signals and the visitor's jurisdiction set the consent before a choice:
    ``ConsentMiddleware(..., signals=SignalSettings(...))``.

    ``gpc_refuses``: the optional categories a Global Privacy Control signal refuses (None:
    marketing, when the policy has it); ``honour_dnt``: Do Not Track refuses them too;
    ``jurisdiction``: a resolver from the request headers to "opt-in" or "opt-out" (see
    :func:`country_header`; None: opt-in everywhere); ``consent_mode``: put Google Consent
    Mode v2 defaults at the start of every page's ``<head>``.
    """

    gpc_refuses: Iterable[str] | None = None
    honour_dnt: bool = False
    jurisdiction: Jurisdiction | None = None
    consent_mode: bool = False

    def __post_init__(self) -> None:
        if self.jurisdiction is not None and not callable(self.jurisdiction):
            raise ValueError(
                "SignalSettings.jurisdiction must be a callable taking the request headers"
            )
        if self.gpc_refuses is not None:
            object.__setattr__(self, "gpc_refuses", frozenset(self.gpc_refuses))

    def refused_by_gpc(self, policy: Policy) -> frozenset[str]:
        """``gpc_refuses`` for ``policy``, checked against its optional categories."""
        if self.gpc_refuses is None:
            return frozenset(DEFAULT_GPC_REFUSES & set(policy.optional))
        refused = frozenset(self.gpc_refuses)
        unknown = refused - set(policy.optional)
        if unknown:
            raise ValueError(
                f"gpc_refuses names {', '.join(sorted(unknown))}, which are not optional "
                f"categories; choose from {', '.join(policy.optional)}"
            )
        return refused


def _flag(headers: Mapping[str, str], name: str) -> bool:
    value = headers.get(name)
    # The specs define exactly "1"; anything else (including huge garbage) means "no signal".
    return value is not None and value.strip() == "1"


def read_signals(
    headers: Mapping[str, str],
    *,
    gpc_refuses: frozenset[str] = DEFAULT_GPC_REFUSES,
    honour_dnt: bool = False,
    jurisdiction: Jurisdiction | None = None,
) -> Signals:
    """Read GPC, DNT and the jurisdiction's regime from ``headers``.

    A resolver that raises or answers anything but ``"opt-out"`` yields opt-in: privacy fails
    closed.
    """
    gpc = _flag(headers, "sec-gpc")
    dnt = honour_dnt and _flag(headers, "dnt")
    regime: Regime = OPT_IN
    if jurisdiction is not None:
        try:
            answer = jurisdiction(headers)
        except Exception:  # a site's resolver failing must not take pages down, nor open them
            answer = OPT_IN
        regime = OPT_OUT if answer == OPT_OUT else OPT_IN
    refused = gpc_refuses if (gpc or dnt) else frozenset()
    return Signals(gpc=gpc, dnt=dnt, regime=regime, refused=frozenset(refused))


def default_consent(policy: Policy, signals: Signals, previous: Consent | None = None) -> Consent:
    """The undecided consent for a visitor: required categories, plus under opt-out every
    optional category not refused by a signal or by the visitor's choice for an older revision.
    """
    granted = set(policy.required)
    if signals.regime == OPT_OUT:
        refused = set(signals.refused)
        if previous is not None and not previous.implied:
            # A refusal given for an older revision still stands until the visitor decides again.
            # (An implied one, recorded for a browser signal, was no choice: the signal decides.)
            refused.update(c for c in policy.optional if c not in previous.granted)
        granted.update(c for c in policy.optional if c not in refused)
    return Consent(granted=frozenset(granted), decided=False, previous=previous)


def country_header(header: str = "CF-IPCountry", opt_out: Iterable[str] = ("US",)) -> Jurisdiction:
    """A resolver reading an ISO 3166 country code set by a trusted proxy (Cloudflare's
    ``CF-IPCountry``, or e.g. ``CloudFront-Viewer-Country``).

    Only the listed countries get opt-out; every other country, a missing header and anything
    that is not a two-letter code (``XX``, ``T1`` for Tor, garbage) stay opt-in. Only use it
    behind a proxy that overwrites the header, or visitors can pick their own regime.
    """
    if not _HEADER_NAME.match(header):
        raise ValueError(f"country header {header!r} is not a valid header name")
    countries = frozenset(code.upper() for code in opt_out)
    for code in countries:
        if not _COUNTRY.match(code):
            raise ValueError(f"{code!r} is not a two-letter ISO 3166 country code")
    name = header.lower()

    def resolve(headers: Mapping[str, str]) -> Regime:
        value = (headers.get(name) or "")[:8].strip().upper()
        return OPT_OUT if _COUNTRY.match(value) and value in countries else OPT_IN

    return resolve
