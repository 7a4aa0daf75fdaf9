import sys
from pathlib import Path

# tests import their shared helpers as a plain module
sys.path.insert(0, str(Path(__file__).parent))

import os

import pytest
from hypothesis import settings

# Hypothesis profiles: "default" (Hypothesis' own, 100 examples a test unless a test says
# otherwise) keeps the suite quick; "ci" (HYPOTHESIS_PROFILE=ci, as .ci/run sets it) runs ten
# times more examples wherever a test does not fix its own count (tests/test_oracle.py scales its
# counts by it too), with no deadline on shared CI machines, and prints a failure's
# reproduction blob.
settings.register_profile("ci", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The consent log defaults to ./consentgate.sqlite3: keep each test's log to itself.
    monkeypatch.chdir(tmp_path)
