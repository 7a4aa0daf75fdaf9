"""The core stays pure ASGI: importing consentgate (and its Jinja2 helpers, its command line)
imports none of the frameworks; only their integration modules do."""

from __future__ import annotations

import subprocess
import sys

FRAMEWORKS = ("django", "fastapi", "litestar", "quart", "pydantic")


def imported_after(statement: str) -> set[str]:
    code = (
        f"import sys; {statement}; print(' '.join(m for m in {FRAMEWORKS!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_importing_consentgate_imports_no_framework() -> None:
    assert imported_after("import consentgate, consentgate.jinja, consentgate.cli") == set()


def test_each_integration_imports_its_own_framework_only() -> None:
    assert "fastapi" in imported_after("import consentgate.fastapi")
    assert imported_after("import consentgate.litestar") & {"django", "quart", "fastapi"} == set()
    assert imported_after("import consentgate.django") == {"django"}
