"""GPC, DNT and jurisdiction: the consent of a visitor who has not chosen yet."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from starlette.datastructures import Headers

from consentgate.consent import Consent
from consentgate.policy import Policy
from consentgate.signals import (
    OPT_IN,
    OPT_OUT,
    Regime,
    country_header,
    default_consent,
    read_signals,
)

POLICY = Policy()
ALL = frozenset({"necessary", "analytical", "preference", "marketing"})


def headers(**values: str) -> Headers:
    return Headers({k.replace("_", "-"): v for k, v in values.items()})


def opt_out(_: Mapping[str, str]) -> Regime:
    return OPT_OUT


def test_without_signals_or_resolver_nothing_optional_is_granted() -> None:
    signals = read_signals(headers())
    assert signals.regime == OPT_IN and not signals.gpc and not signals.honoured
    consent = default_consent(POLICY, signals)
    assert consent.granted == {"necessary"} and not consent.decided


def test_opt_out_grants_every_optional_category_until_refused() -> None:
    consent = default_consent(POLICY, read_signals(headers(), jurisdiction=opt_out))
    assert consent.granted == ALL
    assert not consent.decided


def test_gpc_refuses_marketing_under_opt_out_and_says_so() -> None:
    signals = read_signals(headers(sec_gpc="1"), jurisdiction=opt_out)
    assert signals.gpc and signals.honoured
    assert default_consent(POLICY, signals).granted == ALL - {"marketing"}


def test_gpc_can_be_configured_to_refuse_analytics_too() -> None:
    signals = read_signals(
        headers(sec_gpc="1"),
        gpc_refuses=frozenset({"marketing", "analytical"}),
        jurisdiction=opt_out,
    )
    assert default_consent(POLICY, signals).granted == {"necessary", "preference"}


def test_gpc_under_opt_in_grants_nothing_but_is_still_reported() -> None:
    signals = read_signals(headers(sec_gpc="1"))
    assert signals.honoured
    assert default_consent(POLICY, signals).granted == {"necessary"}


@pytest.mark.parametrize("value", ["0", "", "true", "11", "1" * 10_000, "yes"])
def test_only_the_exact_gpc_value_counts(value: str) -> None:
    assert not read_signals(headers(sec_gpc=value), jurisdiction=opt_out).gpc


def test_dnt_is_ignored_unless_honoured() -> None:
    assert (
        default_consent(POLICY, read_signals(headers(dnt="1"), jurisdiction=opt_out)).granted == ALL
    )
    signals = read_signals(headers(dnt="1"), honour_dnt=True, jurisdiction=opt_out)
    assert signals.dnt and signals.honoured
    assert default_consent(POLICY, signals).granted == ALL - {"marketing"}


def test_refusal_for_an_older_revision_still_stands_under_opt_out() -> None:
    previous = Consent(granted=frozenset({"necessary", "preference"}), revision="1", decided=False)
    consent = default_consent(POLICY, read_signals(headers(), jurisdiction=opt_out), previous)
    assert consent.granted == {"necessary", "preference"}
    assert consent.previous is previous


def test_a_failing_resolver_fails_closed() -> None:
    def broken(_: Mapping[str, str]) -> Regime:
        raise RuntimeError("geo database missing")

    assert read_signals(headers(), jurisdiction=broken).regime == OPT_IN


def test_a_resolver_answering_nonsense_means_opt_in() -> None:
    assert read_signals(headers(), jurisdiction=lambda _: "maybe").regime == OPT_IN  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize(
    ("value", "regime"),
    [
        ("US", OPT_OUT),
        ("us", OPT_OUT),
        (" US ", OPT_OUT),
        ("DE", OPT_IN),
        ("GB", OPT_IN),
        ("CH", OPT_IN),
        ("XX", OPT_IN),
        ("T1", OPT_IN),
        ("USA", OPT_IN),
        ("U" * 100_000, OPT_IN),
    ],
)
def test_country_header_resolver(value: str, regime: Regime) -> None:
    resolve = country_header()
    assert resolve(headers(cf_ipcountry=value)) == regime


def test_country_header_missing_is_opt_in_and_header_is_configurable() -> None:
    assert country_header()(headers()) == OPT_IN
    resolve = country_header("CloudFront-Viewer-Country", opt_out=["us", "CA"])
    assert resolve(headers(cloudfront_viewer_country="CA")) == OPT_OUT
    assert resolve(headers(cf_ipcountry="US")) == OPT_IN


@pytest.mark.parametrize(("header", "countries"), [("bad header", ["US"]), ("X", ["USA"])])
def test_country_header_rejects_bad_configuration(header: str, countries: list[str]) -> None:
    with pytest.raises(ValueError):
        country_header(header, countries)
