"""Jinja2 helpers for the site's own templates: consent-tagged scripts and consent checks.

``install_jinja2(env)`` adds ``consent_script``, ``cookie_settings_link`` and ``consent`` to an
environment (for Starlette: ``install_jinja2(templates.env)``). The scripts they emit are inert
unless the category is granted, so a template is safe even where the middleware is missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from markupsafe import Markup, escape

from . import consent as consent_module
from .consent import Consent, get_consent
from .policy import NECESSARY

# Inline code ends at the first "</script" in any case, whatever JS quoting says, and "<!--"
# moves the tokenizer into escaped script data, where our own "</script>" may no longer end it.
# Both get a backslash after the "<" (in a JS string, "<\/" is "</" and "<\!" is "<!").
_SCRIPT_BREAKERS = re.compile(r"<(/script|!--)", re.IGNORECASE)


def _current(context: jinja2.runtime.Context | Mapping[str, Any] | None) -> Consent:
    request = context.get("request") if context is not None else None
    if request is not None:
        return get_consent(request)
    return consent_module._current.get()


def _attrs(attrs: Mapping[str, Any]) -> str:
    parts = []
    for name, value in attrs.items():
        name = name.rstrip("_").replace("_", "-")  # class_ -> class, data_x -> data-x
        if value is None or value is False:
            continue
        if value is True:
            parts.append(f" {escape(name)}")
        else:
            parts.append(f' {escape(name)}="{escape(value)}"')
    return "".join(parts)


@jinja2.pass_context
def consent_script(
    context: jinja2.runtime.Context,
    category: str,
    src: str | None = None,
    *,
    service: str | None = None,
    caller: Callable[[], str] | None = None,
    **attrs: Any,
) -> Markup:
    """``{{ consent_script("analytical", src="/a.js", async=True) }}`` or, for inline code,
    ``{% call consent_script("analytical") %}...{% endcall %}``."""
    if not category:
        raise ValueError("consent_script needs a category")
    granted = category == NECESSARY or _current(context).allows(category, service)
    marks: dict[str, Any] = {"data_consent": category, "data_consent_service": service}
    if granted:
        marks.update(attrs)
        marks["src"] = src
    else:
        original_type = attrs.pop("type", None)
        marks.update(type="text/plain", data_consent_type=original_type)
        marks.update(attrs)
        marks["data_consent_src"] = src
    code = _SCRIPT_BREAKERS.sub(r"<\\\1", str(caller())) if caller is not None else ""
    return Markup(f"<script{_attrs(marks)}>{code}</script>")


@jinja2.pass_context
def cookie_settings_link(
    context: jinja2.runtime.Context, text: str = "Cookie settings", prefix: str = "/consentgate"
) -> Markup:
    request = context.get("request")
    root = request.scope.get("root_path", "") if request is not None else ""
    return Markup(
        f'<a href="{escape(root + prefix)}/preferences" class="consentgate-settings-link" '
        f"data-consentgate-open>{escape(text)}</a>"
    )


class ConsentProxy:
    """``consent`` in templates: the consent of the request being rendered."""

    @jinja2.pass_context
    def allows(
        self, context: jinja2.runtime.Context, category: str, service: str | None = None
    ) -> bool:
        return _current(context).allows(category, service)

    def __getattr__(self, name: str) -> Any:
        return getattr(consent_module._current.get(), name)


def install_jinja2(env: jinja2.Environment, *, prefix: str = "/consentgate") -> jinja2.Environment:
    """Add consentgate's helpers to ``env``; returns it for chaining."""

    @jinja2.pass_context
    def settings_link(context: jinja2.runtime.Context, text: str = "Cookie settings") -> Markup:
        return cookie_settings_link(context, text, prefix)

    env.globals.update(
        consent_script=consent_script,
        cookie_settings_link=settings_link,
        consent=ConsentProxy(),
    )
    return env


def context_processor(request: Any) -> dict[str, Any]:
    """For ``Jinja2Templates(context_processors=[consentgate.context_processor])``."""
    return {"consent": get_consent(request)}
