"""``Gate``: the engine's entrance, compiled once per middleware, building a rewriter per response.

It holds a policy's vendor lookups (``..gate.VendorIndex``) and rewriting rules, and answers the
middleware's questions that need no HTML (a cookie's category, a URL's vendor). For each response
it decides whether this visitor needs anything gated at all and, if so, builds the
``tokenizer.HtmlRewriter`` that streams the body.
"""

from __future__ import annotations

from functools import partial

from ..gate import VendorIndex, index_for, own_host
from ..policy import Policy, Vendor
from ..speculation import exclusion_patterns
from .cssgate import HostVendors
from .decisions import Context, blocked
from .edits import DEFAULT_SIZE, Placeholder, Size, default_placeholder
from .tokenizer import HtmlRewriter


class Gate:
    """Compiled once per middleware: vendor lookups and the rewriting rules of a policy."""

    def __init__(self, policy: Policy, *, placeholder: Placeholder | None = None) -> None:
        self.policy = policy
        self.index: VendorIndex = index_for(policy)
        self.placeholder: Placeholder = placeholder or self._default_placeholder
        self.remove = policy.mode == "remove"
        self.required = policy.required
        self.optional = frozenset(policy.optional)
        self.vendors = {v.id: v for v in policy.vendors}
        self.css_hosts = HostVendors(self.index)
        self._exclusions: dict[tuple[frozenset[str], frozenset[str]], list[dict[str, str]]] = {}

    def _default_placeholder(
        self, vendor: Vendor | None, category: str, size: Size = DEFAULT_SIZE
    ) -> bytes:
        """default_placeholder, with a button only for a category this policy has."""
        known = category in self.optional or (vendor is not None and vendor.category == category)
        return default_placeholder(vendor, category, size, allowable=known)

    def rewriter(
        self,
        granted: frozenset[str],
        services: frozenset[str] = frozenset(),
        *,
        host: str | None = None,
        placeholder: Placeholder | None = None,
        xml: bool = False,
    ) -> HtmlRewriter | None:
        """A rewriter for one response, or None when this visitor needs nothing gated.

        ``host`` (the request's host) makes URLs on the site's own host never count as vendors;
        ``placeholder`` renders this response's iframe placeholders (e.g. in the visitor's
        language) instead of the Gate's. ``xml``: the body is XHTML (``application/xhtml+xml``),
        where ``<script … />`` is an element without content.
        """
        if self.optional <= granted:
            return None
        return HtmlRewriter(
            self,
            granted | self.required,
            services,
            own_host(host),
            placeholder=placeholder or self.placeholder,
            xml=xml,
        )

    def speculation_exclusions(
        self, granted: frozenset[str], services: frozenset[str] = frozenset()
    ) -> list[dict[str, str]]:
        """URL patterns of the hosts of every vendor this visitor has not granted: what
        document speculation rules are narrowed by (``speculation.py``). Few visitors' choices
        exist: kept per choice."""
        key = (granted | self.required, services)
        found = self._exclusions.get(key)
        if found is None:
            ctx = Context(key[0], services, None, self.index, self.vendors)
            found = exclusion_patterns(self.index.vendor_hosts(partial(blocked, ctx)))
            if len(self._exclusions) >= 64:
                self._exclusions.clear()
            self._exclusions[key] = found
        return found

    def cookie_category(self, name: str) -> tuple[str, str | None] | None:
        """(category, vendor id or None) of a cookie name; None when unknown or necessary."""
        return self.index.cookie_category(name)

    def vendor_for_url(self, url: str) -> Vendor | None:
        """The vendor a URL belongs to (None when allow-listed or unknown)."""
        return self.index.match_url(url.encode("utf-8", "replace"))


__all__ = ["Gate", "Placeholder"]
