"""The built-in registry is well-formed data that a Policy accepts."""

from __future__ import annotations

import re

import pytest

from consentgate.policy import DEFAULT_CATEGORIES, Policy, Vendor
from consentgate.vendors import BUILTIN_VENDORS, merge_vendors

_PATTERN = re.compile(r"^[a-z0-9.-]+\.[a-z0-9-]+(/[^\s]*)?$")


def test_policy_accepts_the_builtin_registry() -> None:
    policy = Policy(vendors=BUILTIN_VENDORS)
    assert len(policy.vendors) >= 30
    names = {c.name for c in DEFAULT_CATEGORIES}
    assert {v.category for v in BUILTIN_VENDORS} <= names - {"necessary"}


@pytest.mark.parametrize(
    "vendor_id",
    [
        "google-analytics",
        "universal-analytics",
        "google-tag-manager",
        "yandex-metrica",
        "umami",
        "matomo",
        "plausible",
        "hotjar",
        "clarity",
        "meta-pixel",
        "linkedin-insight",
        "tiktok-pixel",
        "x-pixel",
        "google-ads",
        "doubleclick",
        "adsense",
        "bing-uet",
        "hubspot",
        "segment",
        "mixpanel",
        "amplitude",
        "heap",
        "fullstory",
        "posthog",
        "vk-pixel",
        "yandex-direct",
        "youtube",
        "vimeo",
        "google-maps",
        "facebook",
        "x-embed",
        "instagram",
        "criteo",
        "taboola",
        "outbrain",
        "quantcast",
        "comscore",
        "chartbeat",
        "parsely",
        "pinterest-tag",
        "reddit-pixel",
        "snap-pixel",
        "optimizely",
        "tealium",
    ],
)
def test_required_vendor_is_present_and_complete(vendor_id: str) -> None:
    vendor = next(v for v in BUILTIN_VENDORS if v.id == vendor_id)
    assert vendor.name
    assert vendor.privacy_url.startswith("https://")
    assert vendor.urls or vendor.inline
    for pattern in vendor.urls:
        assert _PATTERN.match(pattern), pattern
        assert pattern == pattern.lower()
    for cookie in vendor.cookies:
        assert cookie and " " not in cookie and "*" not in cookie[:-1], cookie


def test_inline_signatures_are_specific() -> None:
    # A short signature would match unrelated site code and silently break it. A call of three
    # characters ("ym(") is specific enough now that signatures are code tokens: it starts with
    # a name character, so it never counts inside a longer name.
    for vendor in BUILTIN_VENDORS:
        for sig in vendor.inline:
            call = len(sig) == 3 and sig.endswith("(") and sig[0].isalpha()
            assert len(sig) >= 4 or call, (vendor.id, sig)


def test_site_vendor_overrides_builtin_by_id() -> None:
    mine = Vendor("hotjar", "Our Hotjar", "marketing", urls=("hj.example.com",))
    extra = Vendor("acme", "Acme", "analytical", urls=("acme.example",))
    merged = merge_vendors(BUILTIN_VENDORS, (mine, extra))
    assert len(merged) == len(BUILTIN_VENDORS) + 1
    assert next(v for v in merged if v.id == "hotjar") is mine
    assert merged[-1] is extra
    Policy(vendors=merged)


@pytest.mark.parametrize("prefix", ["AW", "AW-1", "-", "ADWORDS-", "A W-"])
def test_a_google_tag_id_prefix_that_is_not_one_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="tag_ids"):
        Vendor("ads", "Ads", "marketing", tag_ids=(prefix,))


def test_every_google_tag_id_prefix_names_one_builtin_vendor() -> None:
    owners: dict[str, str] = {}
    for vendor in BUILTIN_VENDORS:
        for prefix in vendor.tag_ids:
            assert owners.setdefault(prefix, vendor.id) == vendor.id, prefix
    assert owners == {
        "G-": "google-analytics",
        "UA-": "google-analytics",
        "AW-": "google-ads",
        "DC-": "doubleclick",
    }
