"""Django: with ``"consentgate.django"`` in ``INSTALLED_APPS``, templates may
``{% load consentgate %}``, the tags of consentgate's Jinja2 helpers
(``templatetags/consentgate.py``).

The middleware is the ASGI one, around Django's ASGI handler (``asgi.py``):
``application = ConsentMiddleware(get_asgi_application(), secret_key=...)``. The tags read the
consent it stored for the request; ``django_cookies()`` declares Django's own cookies
necessary. Imported only by Django sites.
"""

from __future__ import annotations

from django.conf import settings


def django_cookies(category: str = "necessary") -> dict[str, str]:
    """Django's own cookies by the names the settings give them — the session, the CSRF
    token, the language a visitor picked, the messages of the cookie storage — declared
    ``category`` (``necessary``): for ``Policy(cookies={**django_cookies(), ...})``.

    Declared, they are listed in the cookie declaration as the site's own necessary cookies,
    and never dropped whatever a name is elsewhere (Django's default ``sessionid`` is also an
    Instagram cookie in the Open Cookie Database; a shared name, which the database's word alone
    does not gate, but a renamed session cookie may not be).
    """
    return {
        settings.SESSION_COOKIE_NAME: category,
        settings.CSRF_COOKIE_NAME: category,
        settings.LANGUAGE_COOKIE_NAME: category,
        "messages": category,  # django.contrib.messages' CookieStorage (a fixed name)
    }
