"""Jinja2 helpers for the site's own templates: consent-tagged scripts and consent checks.

``install_jinja2(env)`` adds ``consent_script``, ``cookie_settings_link``, ``consent`` and the
``{% consent "category" %}…{% else %}…{% endconsent %}`` block to an environment (for
Starlette: ``install_jinja2(templates.env)``). The scripts they emit are inert unless the
category is granted, so a template is safe even where the middleware is missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from markupsafe import Markup, escape

from . import consent as consent_module
from .consent import Consent, get_consent
from .declaration import cookie_declaration
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


def script_tag(
    consent: Consent,
    category: str,
    src: str | None = None,
    *,
    service: str | None = None,
    code: str | None = None,
    **attrs: Any,
) -> Markup:
    """The ``<script>`` that ``consent_script`` emits, for ``consent``: runnable when the
    category (or the service alone) is granted, inert otherwise. Template engines other than
    Jinja2 (Django's tags) render through it too."""
    if not category:
        raise ValueError("consent_script needs a category")
    granted = category == NECESSARY or consent.allows(category, service)
    marks: dict[str, Any] = {"data_consent": category, "data_consent_service": service}
    if granted:
        marks.update(attrs)
        marks["src"] = src
    else:
        original_type = attrs.pop("type", None)
        marks.update(type="text/plain", data_consent_type=original_type)
        marks.update(attrs)
        marks["data_consent_src"] = src
    inline = _SCRIPT_BREAKERS.sub(r"<\\\1", str(code)) if code is not None else ""
    return Markup(f"<script{_attrs(marks)}>{inline}</script>")


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
    code = caller() if caller is not None else None
    return script_tag(_current(context), category, src, service=service, code=code, **attrs)


@jinja2.pass_context
def cookie_settings_link(
    context: jinja2.runtime.Context, text: str = "Cookie settings", prefix: str = "/consentgate"
) -> Markup:
    request = context.get("request")
    root = request.scope.get("root_path", "") if request is not None else ""
    return settings_link_tag(root + prefix, text)


def settings_link_tag(prefix: str, text: str = "Cookie settings") -> Markup:
    """The link ``cookie_settings_link`` emits, to the preferences page under ``prefix`` (the
    app's root path included): without JavaScript a link, with it a control that re-opens the
    banner."""
    return Markup(
        f'<a href="{escape(prefix)}/preferences" class="consentgate-settings-link" '
        f"data-consentgate-open>{escape(text)}</a>"
    )


@jinja2.pass_context
def declaration(context: jinja2.runtime.Context) -> Markup:
    """``{{ cookie_declaration() }}``: the cookie declaration's tables for the request being
    rendered (its ``request`` in the context), in its visitor's language."""
    return cookie_declaration(context.get("request"))


class ConsentProxy:
    """``consent`` in templates: the consent of the request being rendered."""

    @jinja2.pass_context
    def allows(
        self, context: jinja2.runtime.Context, category: str, service: str | None = None
    ) -> bool:
        return _current(context).allows(category, service)

    def __getattr__(self, name: str) -> Any:
        return getattr(consent_module._current.get(), name)


def allows(consent: Consent, category: str, service: str | None = None) -> bool:
    """Whether markup of ``category`` (or of the service ``service``) may render: ``necessary``
    always does, as ``consent_script`` has it."""
    return category == NECESSARY or consent.allows(category, service)


class ConsentExtension(Extension):
    """``{% consent "analytical" %}…{% else %}…{% endconsent %}``: the first block renders only
    for a visitor who granted the category (``{% consent "marketing", "youtube" %}``: or that
    service on its own), the ``else`` block, if any, for everyone else. Decided on the server:
    the markup of the other branch never reaches the browser."""

    tags = frozenset({"consent"})  # type: ignore[assignment]

    def parse(self, parser: jinja2.parser.Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        args: list[nodes.Expr] = [nodes.ContextReference(), parser.parse_expression()]
        if parser.stream.skip_if("comma"):
            args.append(parser.parse_expression())
        body = parser.parse_statements(("name:else", "name:endconsent"))
        fallback: list[nodes.Node] = []
        if next(parser.stream).value == "else":
            fallback = parser.parse_statements(("name:endconsent",), drop_needle=True)
        test = self.call_method("_allows", args, lineno=lineno)
        return nodes.If(test, body, [], fallback, lineno=lineno)

    @staticmethod
    def _allows(context: jinja2.runtime.Context, category: str, service: str | None = None) -> bool:
        return allows(_current(context), category, service)


def install_jinja2(env: jinja2.Environment, *, prefix: str = "/consentgate") -> jinja2.Environment:
    """Add consentgate's helpers to ``env``; returns it for chaining."""

    @jinja2.pass_context
    def settings_link(context: jinja2.runtime.Context, text: str = "Cookie settings") -> Markup:
        return cookie_settings_link(context, text, prefix)

    env.add_extension(ConsentExtension)  # {% consent "analytical" %}…{% endconsent %}
    env.globals.update(
        consent_script=consent_script,
        cookie_settings_link=settings_link,
        consent=ConsentProxy(),
        cookie_declaration=declaration,
    )
    return env


def context_processor(request: Any) -> dict[str, Any]:
    """For ``Jinja2Templates(context_processors=[consentgate.context_processor])``."""
    return {"consent": get_consent(request)}
