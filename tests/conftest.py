import sys
from pathlib import Path

# tests import their shared helpers as a plain module
sys.path.insert(0, str(Path(__file__).parent))

import pytest


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The consent log defaults to ./consentgate.sqlite3: keep each test's log to itself.
    monkeypatch.chdir(tmp_path)
