"""The ``{% consent %}`` block of consentgate.jinja: markup rendered only with consent, decided on
the server, with an ``else`` block for everyone else."""

from __future__ import annotations

import warnings

import jinja2
import pytest
from helpers import ORIGIN, SECRET
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

import consentgate
from consentgate.consent import Consent, _current

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

BLOCK = (
    '{% consent "analytical" %}<i>stats for {{ who }}</i>{% else %}no stats{% endconsent %}|'
    '{% consent "marketing", "youtube" %}<iframe src="https://www.youtube.com/embed/x">'
    "</iframe>{% endconsent %}|"
    '{% consent "necessary" %}always{% endconsent %}'
)


def render(consent: Consent, source: str = BLOCK) -> str:
    env = consentgate.install_jinja2(jinja2.Environment(autoescape=True))
    token = _current.set(consent)
    try:
        return env.from_string(source).render(who="<b>")
    finally:
        _current.reset(token)


def test_without_consent_only_the_fallback_renders() -> None:
    assert render(Consent()) == "no stats||always"


def test_a_granted_category_renders_its_block_and_not_the_fallback() -> None:
    granted = Consent(granted=frozenset({"necessary", "analytical"}), decided=True)
    assert render(granted) == "<i>stats for &lt;b&gt;</i>||always"


def test_a_service_granted_alone_renders_its_block() -> None:
    youtube = Consent(services=frozenset({"youtube"}), decided=True)
    html = render(youtube)
    assert "youtube.com/embed" in html and "no stats" in html


def test_a_block_without_else_renders_nothing_without_consent() -> None:
    assert render(Consent(), '{% consent "marketing" %}ads{% endconsent %}') == ""


def test_blocks_nest_and_take_expressions() -> None:
    source = (
        "{% consent kind %}A{% consent 'marketing' %}M{% else %}m{% endconsent %}"
        "{% else %}a{% endconsent %}"
    )
    env = consentgate.install_jinja2(jinja2.Environment(autoescape=True))
    both = Consent(granted=frozenset({"necessary", "analytical", "marketing"}), decided=True)
    token = _current.set(both)
    try:
        assert env.from_string(source).render(kind="analytical") == "AM"
        assert env.from_string(source).render(kind="preference") == "a"
    finally:
        _current.reset(token)


def test_an_unclosed_block_is_a_template_error() -> None:
    env = consentgate.install_jinja2(jinja2.Environment())
    with pytest.raises(jinja2.TemplateSyntaxError):
        env.from_string('{% consent "analytical" %}never closed')


def test_the_block_follows_the_request_being_rendered() -> None:
    """Through the middleware and Starlette's Jinja2Templates: the visitor's cookie decides."""
    env = jinja2.Environment(loader=jinja2.DictLoader({"page.html": BLOCK}), autoescape=True)
    templates = Jinja2Templates(env=consentgate.install_jinja2(env))

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "page.html", {"who": "you"})

    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(consentgate.ConsentMiddleware, secret_key=SECRET, consent_log=None)
    with TestClient(app) as client:
        assert "no stats" in client.get("/").text
        client.post("/consentgate/consent", data={"action": "accept_all"}, headers=ORIGIN)
        text = client.get("/").text
        assert "stats for you" in text and "no stats" not in text
        assert "youtube.com/embed" in text
