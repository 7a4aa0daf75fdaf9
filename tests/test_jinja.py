from __future__ import annotations

import warnings

import jinja2
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

TEMPLATE = """\
{{ consent_script("analytical", src="/a.js?x=1&y=2", async=True, id="ga") }}
{% call consent_script("marketing", type="module") %}fbq('init', "</script><b>");{% endcall %}
{% if consent.allows("analytical") %}ANALYTICS-ON{% else %}ANALYTICS-OFF{% endif %}
{{ cookie_settings_link() }}
"""


def render(consent: Consent) -> str:
    env = consentgate.install_jinja2(jinja2.Environment(autoescape=True))
    token = _current.set(consent)
    try:
        return env.from_string(TEMPLATE).render()
    finally:
        _current.reset(token)


def test_scripts_are_inert_until_their_category_is_granted() -> None:
    html = render(Consent())
    assert (
        '<script data-consent="analytical" type="text/plain" async id="ga" '
        'data-consent-src="/a.js?x=1&amp;y=2"></script>'
    ) in html
    assert (
        '<script data-consent="marketing" type="text/plain" data-consent-type="module">'
    ) in html
    assert "ANALYTICS-OFF" in html
    assert " src=" not in html


def test_granted_scripts_run() -> None:
    html = render(
        Consent(granted=frozenset({"necessary", "analytical", "marketing"}), decided=True)
    )
    assert '<script data-consent="analytical" async id="ga" src="/a.js?x=1&amp;y=2">' in html
    assert '<script data-consent="marketing" type="module">' in html
    assert "ANALYTICS-ON" in html


def test_inline_code_cannot_end_its_script_early() -> None:
    html = render(Consent())
    assert "fbq('init', \"<\\/script><b>\");</script>" in html


def test_attribute_values_are_escaped() -> None:
    env = consentgate.install_jinja2(jinja2.Environment(autoescape=True))
    html = env.from_string('{{ consent_script("analytical", src=u, data_x=u) }}').render(
        u='"><img src=x onerror=alert(1)>'
    )
    assert "<img" not in html and "&#34;&gt;&lt;img" in html


def test_settings_link_points_at_the_preferences_page() -> None:
    env = consentgate.install_jinja2(jinja2.Environment(autoescape=True), prefix="/privacy-choices")
    html = env.from_string("{{ cookie_settings_link('Cookies') }}").render()
    assert html == (
        '<a href="/privacy-choices/preferences" class="consentgate-settings-link" '
        "data-consentgate-open>Cookies</a>"
    )


def test_with_starlette_templates_and_the_middleware(tmp_path: object) -> None:
    templates = Jinja2Templates(
        env=jinja2.Environment(loader=jinja2.DictLoader({"page.html": TEMPLATE}), autoescape=True),
        context_processors=[consentgate.context_processor],
    )
    consentgate.install_jinja2(templates.env)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "page.html")

    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(consentgate.ConsentMiddleware, secret_key=SECRET)
    c = TestClient(app)
    assert "ANALYTICS-OFF" in c.get("/").text
    c.post(
        "/consentgate/consent", data={"action": "save", "category": "analytical"}, headers=ORIGIN
    )
    html = c.get("/").text
    assert "ANALYTICS-ON" in html
    assert 'src="/a.js?x=1&amp;y=2"' in html
    assert 'data-consent="marketing" type="text/plain"' in html


def test_inline_code_cannot_end_its_script_or_enter_escaped_script_data() -> None:
    env = consentgate.install_jinja2(jinja2.Environment(autoescape=True))
    code = (
        "a='</Script><img src=x onerror=alert(1)>'; b='</SCRIPT '; c='<!--<script>'; d='</sCrIpT/'"
    )
    html = env.from_string(
        '{% call consent_script("necessary") %}' + code + "{% endcall %}"
    ).render()
    inner = html[html.index(">") + 1 : html.rindex("</script>")]
    assert "</" not in inner.lower().replace("<\\/", "") and "<!--" not in inner
    assert inner.replace("<\\", "<") == code
