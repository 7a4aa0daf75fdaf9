"""consentgate: server-side cookie consent for any ASGI app."""

from .consent import Consent, get_consent
from .consentlog import ConsentLog, ConsentLogError, open_log
from .cookie import CookieSettings
from .jinja import context_processor, install_jinja2
from .middleware import ConsentMiddleware
from .policy import DEFAULT_CATEGORIES, NECESSARY, Category, Policy, Vendor
from .signals import SignalSettings, country_header

__all__ = [
    "DEFAULT_CATEGORIES",
    "NECESSARY",
    "Category",
    "Consent",
    "ConsentLog",
    "ConsentLogError",
    "ConsentMiddleware",
    "CookieSettings",
    "Policy",
    "SignalSettings",
    "Vendor",
    "context_processor",
    "country_header",
    "get_consent",
    "install_jinja2",
    "open_log",
]
__version__ = "0.1.0"
