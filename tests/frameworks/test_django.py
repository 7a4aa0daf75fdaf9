"""Django served by its ASGI handler, wrapped: ``ConsentMiddleware(get_asgi_application(), ...)``;
templates with ``{% load consentgate %}``; Django's sessions and CSRF protection untouched."""

from __future__ import annotations

import re
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.conf import settings
from helpers import BANNER, ORIGIN
from matrix import CHUNKS, OPTIONS, PAGE, TAG_URL, check_site

from consentgate import ConsentMiddleware, Policy

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

# Django's own FileResponse iterates its file synchronously under ASGI, and says so.
pytestmark = pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous")

HOME = PAGE.replace(
    "<h1>Welcome</h1>",
    "{% load consentgate %}<h1>Welcome</h1><p>visit {{ visits }}</p>"
    "{% consent 'analytical' %}<p>with stats</p>{% else %}<p>no stats for {{ who }}</p>"
    "{% endconsent %}"
    "{% consent 'marketing' 'youtube' %}<p>video</p>{% endconsent %}"
    '{% consent_script "analytical" src="/stats.js" defer=True data_domain=who %}'
    "{% consent_script 'marketing' %}fbq('init', '{{ who }}'); // </script>{% endconsent_script %}"
    "<footer>{% cookie_settings_link %} {% cookie_settings_link 'Cookies' %}</footer>",
)
FORM = (
    "<!doctype html><html><body><form method=post action=/form>{% csrf_token %}"
    "<button>go</button></form></body></html>"
)
COOKIES = "{% load consentgate %}<main>{% cookie_declaration %}</main>"

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-test-key-not-secret-at-all-0123456789",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.sessions", "consentgate.django"],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        SESSION_ENGINE="django.contrib.sessions.backends.cache",
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        DATABASES={},
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {
                    "context_processors": ["django.template.context_processors.request"],
                    "loaders": [
                        (
                            "django.template.loaders.locmem.Loader",
                            {"home.html": HOME, "form.html": FORM, "cookies.html": COOKIES},
                        )
                    ],
                },
            }
        ],
    )
    django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402  (after the settings)
from django.http import (  # noqa: E402
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from consentgate.django import django_cookies  # noqa: E402


def home(request: HttpRequest) -> HttpResponse:
    request.session["visits"] = visits = request.session.get("visits", 0) + 1
    return render(request, "home.html", {"visits": visits, "who": "<you>"})


async def chunks() -> AsyncIterator[str]:
    for chunk in CHUNKS:
        yield chunk


def stream(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(chunks(), content_type="text/html")


def file(request: HttpRequest) -> FileResponse:
    # (Django closes the file once it is sent.)
    return FileResponse(open(settings.PAGE_FILE, "rb"), content_type="text/html")


def cookies(request: HttpRequest) -> HttpResponse:
    return render(request, "cookies.html")


def api(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def form(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return HttpResponse("posted")
    return render(request, "form.html")


urlpatterns = [
    path("", home),
    path("stream", stream),
    path("file", file),
    path("api", api),
    path("form", form),
    path("cookies", cookies),
]


@pytest.fixture
def client(tmp_path: Path) -> Any:
    page = tmp_path / "page.html"
    page.write_text(PAGE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        settings.PAGE_FILE = str(page)
    # (Django's ASGI handler does not speak lifespan: the client is not entered.)
    application = ConsentMiddleware(
        get_asgi_application(),
        policy=Policy(cookies=django_cookies(), services=["google-analytics"]),
        **OPTIONS,
    )
    return TestClient(application)


def test_django_site_is_gated_with_banner_and_own_paths(client: Any) -> None:
    check_site(client)


def test_template_tags_render_the_jinja_helpers_markup(client: Any) -> None:
    before = client.get("/").text
    assert "<p>no stats for &lt;you&gt;</p>" in before and "with stats" not in before
    assert "video" not in before
    assert (
        '<script data-consent="analytical" type="text/plain" defer data-domain="&lt;you&gt;" '
        'data-consent-src="/stats.js"></script>'
    ) in before
    # Inline code cannot end its script early, the page's values are escaped by Django first.
    assert (
        "<script data-consent=\"marketing\" type=\"text/plain\">fbq('init', '&lt;you&gt;'); "
        "// <\\/script></script>"
    ) in before
    assert (
        '<a href="/consentgate/preferences" class="consentgate-settings-link" '
        "data-consentgate-open>Cookie settings</a>"
    ) in before
    assert "data-consentgate-open>Cookies</a>" in before
    client.post("/consentgate/consent", data={"action": "accept_all"}, headers=ORIGIN)
    after = client.get("/").text
    assert "with stats" in after and "no stats" not in after and "video" in after
    assert (
        '<script data-consent="analytical" defer data-domain="&lt;you&gt;" src="/stats.js">'
        in after
    )
    assert "<script data-consent=\"marketing\">fbq('init'" in after


def test_a_service_granted_alone_opens_its_block(client: Any) -> None:
    client.post(
        "/consentgate/consent", data={"action": "allow", "service": "youtube"}, headers=ORIGIN
    )
    page = client.get("/").text
    assert "video" in page and "no stats" in page


def test_sessions_and_their_cookie_pass_untouched(client: Any) -> None:
    first = client.get("/")
    assert "sessionid=" in first.headers["set-cookie"]
    # Django's sessions vary on Cookie already: the header names it once.
    assert [v.strip().lower() for v in first.headers["vary"].split(",")].count("cookie") == 1
    assert "visit 2" in client.get("/").text  # the session was kept without any consent


def test_csrf_protection_is_untouched(client: Any) -> None:
    page = client.get("/form")
    assert "csrftoken=" in page.headers["set-cookie"]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None
    assert client.post("/form", data={}).status_code == 403  # Django still refuses it
    posted = client.post("/form", data={"csrfmiddlewaretoken": token.group(1)})
    assert posted.status_code == 200 and posted.text == "posted"
    assert BANNER not in posted.text  # (not a document)


def test_the_tags_without_the_middleware_fail_closed() -> None:
    bare = TestClient(get_asgi_application())
    page = bare.get("/").text
    assert "no stats" in page and f' src="{TAG_URL}"' in page  # the app's own page, untouched
    assert 'data-consent-src="/stats.js"' in page and ' src="/stats.js"' not in page


def test_django_cookies_follow_the_settings() -> None:
    with override_settings(SESSION_COOKIE_NAME="shop_session", CSRF_COOKIE_NAME="shop_csrf"):
        declared = django_cookies()
    assert declared["shop_session"] == declared["shop_csrf"] == "necessary"
    assert declared["django_language"] == declared["messages"] == "necessary"
    assert "sessionid" not in declared


def test_the_cookie_declaration_tag_renders_what_the_jinja_global_does(client: Any) -> None:
    page = client.get("/cookies", headers={"accept-language": "de"}).text
    tables = page[page.index("<main>") + 6 : page.index("</main>")]
    assert "<table" in tables and "_ga" in tables and "sessionid" in tables
    # The same tables as GET /consentgate/cookies shows, in the visitor's language.
    own = client.get("/consentgate/cookies", headers={"accept-language": "de"}).text
    assert tables.strip() and tables in own


def test_without_the_request_in_the_context_the_tags_read_the_request_being_served() -> None:
    from django.template import Context, Template

    from consentgate.consent import Consent, _current

    page = Template(
        "{% load consentgate %}{% consent 'analytical' %}on{% else %}off{% endconsent %}"
        "{% consent_script 'analytical' src='/a.js' %}"
    )
    token = _current.set(Consent(granted=frozenset({"necessary", "analytical"}), decided=True))
    try:
        assert page.render(Context()) == 'on<script data-consent="analytical" src="/a.js"></script>'
    finally:
        _current.reset(token)
    assert page.render(Context()).startswith('off<script data-consent="analytical" type=')
