"""``{% load consentgate %}``: the Jinja2 helpers as Django template tags.

- ``{% consent_script "analytical" src="https://plausible.io/js/script.js" defer=True %}``, and
  for inline code ``{% consent_script "marketing" %}fbq('init', '1');{% endconsent_script %}``
  (without ``src`` the tag is a block);
- ``{% consent "analytical" %}…{% else %}…{% endconsent %}`` (``{% consent "marketing"
  "youtube" %}``: or that service alone);
- ``{% cookie_settings_link %}`` / ``{% cookie_settings_link "Cookies" %}``;
- ``{% cookie_declaration %}``: the cookie declaration's tables, in the visitor's language.

They render what the Jinja2 helpers render (the same functions of consentgate.jinja), for the
consent ``ConsentMiddleware`` stored in the ASGI scope: read from the template's ``request``
(the ``django.template.context_processors.request`` context processor), else from the request
being served (a context variable, which Django's sync views see too). The prefix of
consentgate's paths is the ``CONSENTGATE_PREFIX`` setting (default ``/consentgate``), as given
to the middleware.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.template.base import FilterExpression, NodeList, Parser, Token

from ...consent import Consent, get_consent
from ...declaration import cookie_declaration as declaration_tables
from ...jinja import allows, script_tag, settings_link_tag

register = template.Library()


def _consent(context: template.Context) -> Consent:
    request = context.get("request")
    # (A WSGI request has no ASGI scope: get_consent then answers from the context variable.)
    return get_consent(request if getattr(request, "scope", None) is not None else None)


def _arguments(
    parser: Parser, token: Token, least: int, most: int
) -> tuple[str, list[FilterExpression], dict[str, FilterExpression]]:
    """A tag's name, its positional arguments and its ``name=value`` ones, compiled."""
    name, *bits = token.split_contents()
    args: list[FilterExpression] = []
    kwargs: dict[str, FilterExpression] = {}
    for bit in bits:
        key, sep, value = bit.partition("=")
        if sep and key.isidentifier():
            kwargs[key] = parser.compile_filter(value)
        elif kwargs:
            raise template.TemplateSyntaxError(f"{name}: positional argument after {bit!r}")
        else:
            args.append(parser.compile_filter(bit))
    if not least <= len(args) <= most:
        raise template.TemplateSyntaxError(
            f"{name} takes {least} to {most} positional arguments (the category first)"
        )
    return name, args, kwargs


class ConsentNode(template.Node):
    def __init__(
        self,
        category: FilterExpression,
        service: FilterExpression | None,
        granted: NodeList,
        fallback: NodeList,
    ) -> None:
        self.category, self.service = category, service
        self.granted, self.fallback = granted, fallback

    def render(self, context: template.Context) -> str:
        service = self.service.resolve(context) if self.service is not None else None
        if allows(_consent(context), str(self.category.resolve(context)), service):
            return str(self.granted.render(context))
        return str(self.fallback.render(context))


def consent_block(parser: Parser, token: Token) -> ConsentNode:
    """``{% consent "analytical" %}…{% else %}…{% endconsent %}``: rendered on the server, the
    first part only for a visitor who granted the category, the ``else`` part for all others."""
    _, args, kwargs = _arguments(parser, token, 1, 2)
    if kwargs:
        raise template.TemplateSyntaxError("consent takes a category and a service, no names")
    granted = parser.parse(("else", "endconsent"))
    fallback = NodeList()
    if parser.next_token().contents == "else":
        fallback = parser.parse(("endconsent",))
        parser.delete_first_token()
    return ConsentNode(args[0], args[1] if len(args) > 1 else None, granted, fallback)


class ScriptNode(template.Node):
    def __init__(
        self,
        args: list[FilterExpression],
        kwargs: dict[str, FilterExpression],
        code: NodeList | None,
    ) -> None:
        self.args, self.kwargs, self.code = args, kwargs, code

    def render(self, context: template.Context) -> str:
        args = [arg.resolve(context) for arg in self.args]
        kwargs: dict[str, Any] = {key: v.resolve(context) for key, v in self.kwargs.items()}
        code = self.code.render(context) if self.code is not None else None
        return script_tag(_consent(context), *args, code=code, **kwargs)


def consent_script(parser: Parser, token: Token) -> ScriptNode:
    """``{% consent_script "analytical" src=url async=True %}``, or without ``src`` a block of
    inline code up to ``{% endconsent_script %}``: a script that runs only with consent."""
    _, args, kwargs = _arguments(parser, token, 1, 2)
    if len(args) > 1 or "src" in kwargs:
        return ScriptNode(args, kwargs, None)
    code = parser.parse(("endconsent_script",))
    parser.delete_first_token()
    return ScriptNode(args, kwargs, code)


def cookie_settings_link(context: template.Context, text: str = "Cookie settings") -> str:
    """The "Cookie settings" link to consentgate's preferences page (a control that re-opens
    the banner with JavaScript)."""
    request = context.get("request")
    scope = getattr(request, "scope", None)
    root = scope.get("root_path", "") if isinstance(scope, dict) else ""
    prefix = getattr(settings, "CONSENTGATE_PREFIX", "/consentgate")
    return settings_link_tag(root + prefix, text)


def cookie_declaration(context: template.Context) -> str:
    """The cookie declaration (every cookie the site may set, by category, with provider,
    purpose and lifetime) for the template's ``request``, as ``GET /consentgate/cookies``
    shows it."""
    return declaration_tables(context.get("request"))


register.tag("consent", consent_block)
register.tag("consent_script", consent_script)
register.simple_tag(cookie_settings_link, takes_context=True)
register.simple_tag(cookie_declaration, takes_context=True)
