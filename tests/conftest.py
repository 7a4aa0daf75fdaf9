import sys
from pathlib import Path

# tests import their shared helpers as a plain module
sys.path.insert(0, str(Path(__file__).parent))

import importlib.util
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from helpers import Demo, free_port
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase
from pg import BACKENDS, fresh_schema, log_target

from consentgate.consentlog import StoredConsentLog, open_log

ROOT = Path(__file__).resolve().parent.parent
BROWSER_TESTS = Path(__file__).resolve().parent / "browser"

# Hypothesis profiles: "default" (Hypothesis' own, 100 examples a test unless a test says
# otherwise) keeps the suite quick; "ci" (HYPOTHESIS_PROFILE=ci, as .ci/run sets it) runs ten
# times more examples wherever a test does not fix its own count (tests/test_oracle.py scales its
# counts by it too), with no deadline on shared CI machines, and prints a failure's
# reproduction blob. It is derandomized: a CI run that goes red does so on every run of the same
# code, never by the luck of a seed (random seeds found four such rewriter bugs in sweeps; look
# for more with `pytest --hypothesis-seed=N` over many N, outside CI). Failing examples are kept
# outside the working tree.
_HOME = Path(tempfile.gettempdir()) / "consentgate-hypothesis"
set_hypothesis_home_dir(_HOME)  # (its caches too: never a .hypothesis/ in the working tree)
_EXAMPLES = DirectoryBasedExampleDatabase(_HOME / "examples")
settings.register_profile("default", database=_EXAMPLES)
settings.register_profile(
    "ci", max_examples=1000, deadline=None, print_blob=True, derandomize=True, database=None
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The consent log defaults to ./consentgate.sqlite3: keep each test's log to itself.
    monkeypatch.chdir(tmp_path)


# -- the browser marker ---------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/browser/ is a ``browser`` test (before ``-m`` selects)."""
    for item in items:
        if BROWSER_TESTS in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Browser tests selected without Playwright: one clear error, not one failure a test."""
    selected = [item for item in session.items if item.get_closest_marker("browser")]
    if selected and importlib.util.find_spec("playwright") is None:
        raise pytest.UsageError(
            f"{len(selected)} browser tests are selected but Playwright is not installed: "
            "install it (pip install -e '.[browser]', then source .ci/browser.sh <python>), "
            'or leave them out with -m "not browser" (or --ignore=tests/browser)'
        )


# -- consent logs ---------------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty consent log of each backend (SQLite, then PostgreSQL), for ``open_log``."""
    with log_target(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def log_options() -> dict[str, Any]:
    """The options ``log`` opens its log with: a module overrides this fixture to change them."""
    return {}


@pytest.fixture
def log(target: str, log_options: dict[str, Any]) -> Iterator[StoredConsentLog]:
    """The consent log at ``target``, opened with ``log_options``."""
    with open_log(target, **log_options) as opened:
        yield opened


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An empty schema of the test PostgreSQL server."""
    with fresh_schema() as url:
        yield url


# -- the demo site, as a person starts it -----------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``python -m demo_site`` on a free port, with a consent log of its own."""
    work = tmp_path_factory.mktemp("demo")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "CONSENTGATE_SECRET"}
    stderr = work / "stderr.txt"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "demo_site",
                "--port",
                str(port),
                "--consent-log",
                str(work / "consent.sqlite3"),
            ],
            cwd=ROOT,
            env=env,
            stdout=err,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the demo exited with {proc.returncode}:\n{stderr.read_text()}")
            try:
                httpx.get(url + "/privacy", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the demo did not answer within 10 s:\n{stderr.read_text()}")
                time.sleep(0.05)
        yield Demo(url, stderr)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- a run leaves nothing behind ---------------------------------------------------------------


def _left_in_tree() -> set[str]:
    """Untracked and ignored paths of the working tree, but for tools' caches and screenshots."""
    try:
        listing = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
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
