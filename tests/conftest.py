import sys
from pathlib import Path

# tests import their shared helpers as a plain module
sys.path.insert(0, str(Path(__file__).parent))

import os
import subprocess
import tempfile

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase

ROOT = Path(__file__).resolve().parent.parent

# Hypothesis profiles: "default" (Hypothesis' own, 100 examples a test unless a test says
# otherwise) keeps the suite quick; "ci" (HYPOTHESIS_PROFILE=ci, as .ci/run sets it) runs ten
# times more examples wherever a test does not fix its own count (tests/test_oracle.py scales its
# counts by it too), with no deadline on shared CI machines, and prints a failure's
# reproduction blob. Failing examples are kept outside the working tree.
_HOME = Path(tempfile.gettempdir()) / "consentgate-hypothesis"
set_hypothesis_home_dir(_HOME)  # (its caches too: never a .hypothesis/ in the working tree)
_EXAMPLES = DirectoryBasedExampleDatabase(_HOME / "examples")
settings.register_profile("default", database=_EXAMPLES)
settings.register_profile("ci", max_examples=1000, deadline=None, print_blob=True,
                          database=_EXAMPLES)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The consent log defaults to ./consentgate.sqlite3: keep each test's log to itself.
    monkeypatch.chdir(tmp_path)


def _left_in_tree() -> set[str]:
    """Untracked and ignored paths of the working tree, but for tools' caches and screenshots."""
    try:
        listing = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):  # not a git checkout (an sdist): not checked
        return set()
    kept = (".ci/venv/", ".mypy_cache/", ".ruff_cache/", "artifacts/")
    paths = {line[3:] for line in listing.splitlines() if line[:2] in ("??", "!!")}
    return {p for p in paths if not p.startswith(kept) and "__pycache__/" not in p}


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_BEFORE] = _left_in_tree()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run leaves nothing in the working tree (no ./consentgate.sqlite3, no .hypothesis/):
    what it left fails the run."""
    if getattr(session.config, "workerinput", None) is not None:
        return
    left = _left_in_tree() - session.config.stash.get(_BEFORE, set())
    if left:
        print(f"\nthe test run left files in the working tree: {sorted(left)}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_BEFORE = pytest.StashKey[set[str]]()
