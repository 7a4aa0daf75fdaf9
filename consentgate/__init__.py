"""consentgate: server-side cookie consent for any ASGI app."""

from .consent import Consent, get_consent
from .middleware import ConsentMiddleware
from .policy import DEFAULT_CATEGORIES, NECESSARY, Category, Policy, Vendor
from .templating import context_processor, install

__all__ = [
    "DEFAULT_CATEGORIES",
    "NECESSARY",
    "Category",
    "Consent",
    "ConsentMiddleware",
    "Policy",
    "Vendor",
    "context_processor",
    "get_consent",
    "install",
]
__version__ = "0.1.0"
