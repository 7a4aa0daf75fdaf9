"""The HTML engine: streams HTML bodies and makes trackers inert for visitors without consent.

Its entrance is ``Gate`` (``engine.py``), built once per middleware; ``Gate.rewriter`` gives the
``HtmlRewriter`` of one response. The modules, from the bottom up:

- ``elements.py``: one table of the elements treated specially, and every set derived from it;
- ``grammar.py``: every regular expression, built from named pieces (``--dump`` shows them);
- ``markup.py``: attributes as the tokenizer reads them, and rebuilding a start tag;
- ``css.py``/``cssgate.py``: URLs in CSS, and gating them (``<style>``, ``style=``);
- ``decisions.py``: whether an element is gated, for which category and vendor;
- ``edits.py``: how a gated element is rewritten (moved attributes, placeholders);
- ``scriptdata.py``: where script data ends (its escape states);
- ``tokenizer.py``: ``HtmlRewriter``, the streaming loop and a reader per kind of element.

Vendor lookups (``consentgate.gate``) sit below all of it.
"""

from .edits import default_placeholder
from .engine import Gate, Placeholder
from .tokenizer import HtmlRewriter

__all__ = ["Gate", "HtmlRewriter", "Placeholder", "default_placeholder"]
