"""Where the bench pages are: the one setting bench/*.py and the tests share.

``CONSENTGATE_BENCH_PAGES`` names the folder, absolute or relative to the repository root (not to
the current directory: bench/run.py and the tests run from other folders). Unset or empty, it is
``../shared/bench-pages``, beside the repository. The tests import this file by its path
(tests/helpers.py); the benchmarks as ``bench_pages``, bench/ being their script folder.
"""

from __future__ import annotations

import os
from pathlib import Path

VARIABLE = "CONSENTGATE_BENCH_PAGES"
DEFAULT = "../shared/bench-pages"
ROOT = Path(__file__).resolve().parent.parent


def bench_pages() -> Path:
    """The bench pages' folder, as the setting names it (it may not exist)."""
    named = Path(os.path.expanduser(os.environ.get(VARIABLE) or DEFAULT))
    return Path(os.path.normpath(ROOT / named))


def missing() -> str | None:
    """Why the bench pages cannot be read (naming the setting), or None when they can."""
    folder = bench_pages()
    if folder.is_dir():
        return None
    source = (
        f"{VARIABLE}={os.environ[VARIABLE]}"
        if os.environ.get(VARIABLE)
        else (f"{VARIABLE} unset: {DEFAULT} from the repository root")
    )
    return f"bench pages not found at {folder} ({source}); set {VARIABLE} to their folder"
