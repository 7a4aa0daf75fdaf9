"""GPC, DNT, jurisdiction and Consent Mode through ConsentMiddleware."""

from __future__ import annotations

import html
import json
import re

import pytest
from helpers import PAGE, choose, client, make_app, state

from consentgate import Category, ConsentMiddleware, Policy, SignalSettings
from consentgate.signals import country_header

GPC_TEXT = "Global Privacy Control signal is honoured"
US = {"cf-ipcountry": "US"}


def test_gpc_is_announced_in_the_banner_and_preferences() -> None:
    c = client()
    assert GPC_TEXT in c.get("/", headers={"sec-gpc": "1"}).text
    assert GPC_TEXT in c.get("/consentgate/preferences", headers={"sec-gpc": "1"}).text
    assert GPC_TEXT in c.get("/consentgate/banner", headers={"sec-gpc": "1"}).text
    assert GPC_TEXT not in c.get("/").text
    assert GPC_TEXT not in c.get("/", headers={"sec-gpc": "0"}).text


def test_without_a_resolver_everyone_is_opt_in() -> None:
    assert state(client(), **US)["granted"] == ["necessary"]


def test_opt_out_grants_optional_categories_to_an_undecided_visitor() -> None:
    c = client(signals=SignalSettings(jurisdiction=country_header()))
    assert state(c, **US)["decided"] is False
    assert state(c, **US)["granted"] == ["analytical", "marketing", "necessary", "preference"]
    assert state(c, **{"cf-ipcountry": "FR"})["granted"] == ["necessary"]
    assert state(c, **US, **{"sec-gpc": "1"})["granted"] == [
        "analytical",
        "necessary",
        "preference",
    ]


def test_an_explicit_choice_beats_every_signal() -> None:
    c = client(signals=SignalSettings(jurisdiction=country_header()))
    choose(c, "reject_all")
    assert state(c, **US)["granted"] == ["necessary"]
    choose(c, "accept_all")
    assert "marketing" in state(c, **US, **{"sec-gpc": "1"})["granted"]


def test_dnt_and_gpc_scope_are_configurable() -> None:
    c = client(
        signals=SignalSettings(
            jurisdiction=country_header(), honour_dnt=True, gpc_refuses=["analytical", "marketing"]
        )
    )
    assert state(c, **US, dnt="1")["granted"] == ["necessary", "preference"]
    assert "Do Not Track signal is honoured" in c.get("/", headers={**US, "dnt": "1"}).text
    plain = client(signals=SignalSettings(jurisdiction=country_header()))
    assert state(plain, **US, dnt="1")["granted"] == [
        "analytical",
        "marketing",
        "necessary",
        "preference",
    ]


def test_sites_without_a_marketing_category_need_no_gpc_setting() -> None:
    categories = [Category("necessary", "N", "n", required=True), Category("stats", "S", "s")]
    c = client(
        policy=Policy(categories=categories),
        builtin_vendors=False,
        signals=SignalSettings(jurisdiction=country_header()),
    )
    assert state(c, **US, **{"sec-gpc": "1"})["granted"] == ["necessary", "stats"]


@pytest.mark.parametrize("bad", [["necessary"], ["nonsense"]])
def test_gpc_refuses_must_name_optional_categories(bad: list[str]) -> None:
    with pytest.raises(ValueError, match="gpc_refuses"):
        ConsentMiddleware(make_app(), secret_key="k" * 32, signals=SignalSettings(gpc_refuses=bad))


def consent_mode_tag(page: str) -> dict[str, object]:
    match = re.search(r'<head><script src="([^"]+)" data-consent-state="([^"]+)"></script>', page)
    assert match, page[:300]
    c = client(signals=SignalSettings(consent_mode=True))
    assert c.get(match.group(1)).headers["content-type"].startswith("text/javascript")
    return dict(json.loads(html.unescape(match.group(2))))


def test_consent_mode_script_opens_the_head_with_the_current_state() -> None:
    c = client(signals=SignalSettings(consent_mode=True))
    assert consent_mode_tag(c.get("/").text)["granted"] == ["necessary"]
    choose(c, "accept_all")
    assert consent_mode_tag(c.get("/").text)["decided"] is True


def test_consent_mode_is_off_by_default_and_leaves_the_head_alone() -> None:
    assert client().get("/").text.startswith(PAGE.split("</body>")[0])
