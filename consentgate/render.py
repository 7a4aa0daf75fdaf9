"""Rendering consentgate's own pages and snippets from the templates in ``templates/``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from .consent import Consent
from .policy import Category, Policy, Vendor

_HERE = Path(__file__).resolve().parent

# Follows every banner. A browser paints a page while it is still parsing it, so a banner that is
# anchored to the bottom of the window and painted half-parsed grows upwards as the rest arrives:
# a layout shift. The stylesheet keeps the banner invisible until this marker after it exists. It
# is added here rather than in banner.html so that a site's own banner template cannot lose it.
BANNER_END = '<span class="consentgate-end" hidden></span>'


def resource_dir(name: str) -> Path:
    """``static`` or ``templates``: inside the installed package, else beside it in a checkout."""
    installed = _HERE / name
    return installed if installed.is_dir() else _HERE.parent / name


@dataclass(frozen=True, slots=True)
class Urls:
    consent: str
    preferences: str
    banner: str
    receipt: str
    static: str
    privacy: str


@dataclass(frozen=True, slots=True)
class ServiceView:
    id: str
    name: str
    privacy_url: str
    checked: bool


@dataclass(frozen=True, slots=True)
class CategoryView:
    name: str
    title: str
    description: str
    required: bool
    checked: bool
    services: tuple[ServiceView, ...]


def category_views(policy: Policy, consent: Consent) -> list[CategoryView]:
    """The categories as the banner shows them: pre-filled from the current or previous choice."""
    previous = consent.previous
    # An implied refusal (a recorded browser signal) was no choice: it pre-fills nothing.
    shown = previous if not consent.decided and previous and not previous.implied else consent
    return [
        CategoryView(
            c.name,
            c.title,
            c.description,
            c.required,
            c.required or c.name in shown.granted,
            tuple(
                ServiceView(v.id, v.name, v.privacy_url, v.id in shown.services)
                for v in policy.services(c.name)
            ),
        )
        for c in policy.categories
    ]


class Renderer:
    def __init__(self, loaders: Sequence[jinja2.BaseLoader] = ()) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(
                [*loaders, jinja2.FileSystemLoader(str(resource_dir("templates")))]
            ),
            autoescape=True,
            auto_reload=False,  # templates are read once; no stat() on every page
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        html = self.env.get_template(f"consentgate/{name}").render(context)
        return html + BANNER_END if name == "banner.html" else html


def texts_hash(texts: Mapping[str, str], categories: Sequence[Category], vendors: Sequence[Vendor],
               revision: str) -> str:
    """A fingerprint of what the visitor was shown, kept with each consent record."""
    shown = {
        "revision": revision,
        "texts": dict(sorted(texts.items())),
        "categories": [[c.name, c.title, c.description] for c in categories],
        "vendors": [[v.id, v.name, v.category] for v in vendors],
    }
    blob = json.dumps(shown, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()
