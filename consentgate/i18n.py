"""The texts of the banner and the preferences page, per language."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_LANGUAGE = "en"

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your privacy choices",
        "intro": (
            "We use cookies and similar technologies. Necessary ones keep the site working; "
            "the others are only used if you agree. You can change your mind at any time."
        ),
        "accept_all": "Accept all",
        "reject_all": "Reject all",
        "customise": "Customise",
        "save": "Save choices",
        "always_on": "Always on",
        "privacy_policy": "Privacy policy",
        "settings": "Cookie settings",
        "preferences_title": "Cookie settings",
        "current_state": "Your current choice",
        "no_choice": "You have not made a choice yet.",
        "services": "Services",
        "allow_service": "Allow {name}",
        "blocked_service": "{name} is blocked until you allow {category} content.",
        "gpc_honoured": "Your browser's Global Privacy Control signal is honoured.",
        "back": "Back to the site",
        "receipt": "Your consent receipt",
    },
}


def texts_for(
    accept_language: str | None,
    *,
    language: str | None = None,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[str, dict[str, str]]:
    """The language to use and its texts, English filling any gap."""
    lang = language or DEFAULT_LANGUAGE
    texts = dict(TEXTS[DEFAULT_LANGUAGE])
    texts.update(TEXTS.get(lang, {}))
    if overrides and lang in overrides:
        texts.update(overrides[lang])
    return lang, texts
