"""Built-in translations, Accept-Language negotiation and per-language overrides."""

from __future__ import annotations

import pytest

from consentgate.consent import Consent
from consentgate.i18n import TEXTS, localise_categories, negotiate, texts_for
from consentgate.policy import Category, Policy
from consentgate.views import category_views

LANGS = ["en", "de", "fr", "es", "ru"]


def test_every_language_translates_every_english_text() -> None:
    english = set(TEXTS["en"])
    for lang in LANGS[1:]:
        missing = english - set(TEXTS[lang])
        assert not missing, f"{lang} lacks {sorted(missing)}"
        untranslated = [
            k for k in ("title", "accept_all", "reject_all") if TEXTS[lang][k] == TEXTS["en"][k]
        ]
        assert not untranslated, lang


def test_placeholders_survive_translation() -> None:
    for lang in LANGS:
        assert TEXTS[lang]["allow_service"].format(name="YouTube").count("YouTube") == 1
        text = TEXTS[lang]["blocked_service"].format(name="YouTube", category="Marketing")
        assert "YouTube" in text and "Marketing" in text


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "en"),
        ("", "en"),
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "fr"),
        ("en;q=0.5, es;q=0.9", "es"),
        ("ru-RU", "ru"),
        ("RU", "ru"),
        ("it-IT, it;q=0.9", "en"),
        ("it, de;q=0.1", "de"),
        ("de;q=0, fr", "fr"),
        ("*", "en"),
        ("zz;q=nonsense, es", "es"),
        ("; ; , ,,q=1", "en"),
        ("x" * 100_000, "en"),
        ("it," * 10_000 + "de", "en"),  # only the first ranges are read
    ],
)
def test_accept_language_negotiation(header: str | None, lang: str) -> None:
    assert negotiate(header, LANGS) == lang


def test_fixed_language_wins_over_the_header() -> None:
    lang, texts = texts_for("de", language="fr")
    assert lang == "fr" and texts["accept_all"] == "Tout accepter"


def test_overrides_replace_texts_per_language_and_english_fills_gaps() -> None:
    lang, texts = texts_for("de", overrides={"de": {"accept_all": "Einverstanden"}})
    assert lang == "de"
    assert texts["accept_all"] == "Einverstanden"
    assert texts["reject_all"] == "Alle ablehnen"


def test_a_site_can_add_a_language() -> None:
    lang, texts = texts_for("it-IT,en;q=0.5", overrides={"it": {"accept_all": "Accetta tutto"}})
    assert lang == "it"
    assert texts["accept_all"] == "Accetta tutto"
    assert texts["reject_all"] == "Reject all"  # not translated by the site: English


def test_builtin_categories_are_translated_but_site_wording_is_kept() -> None:
    policy = Policy(
        categories=(
            *Policy().categories[:3],
            Category("marketing", "Ads", "Our own words."),
        )
    )
    _, texts = texts_for("de")
    views = localise_categories(category_views(policy, Consent()), texts)
    by_name = {v.name: v for v in views}
    assert by_name["analytical"].title == "Statistik"
    assert by_name["necessary"].description.startswith("Für den Betrieb")
    assert by_name["marketing"].title == "Ads"
    assert by_name["marketing"].description == "Our own words."

    site = {"category.marketing.title": "Werbung"}
    _, texts = texts_for("de", overrides={"de": site})
    views = localise_categories(category_views(policy, Consent()), texts, site)
    assert {v.name: v for v in views}["marketing"].title == "Werbung"
