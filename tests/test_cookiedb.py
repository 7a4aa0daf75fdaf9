"""The Open Cookie Database module: its conversion, its lookups."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from helpers import BENCH_PAGES

from consentgate import cookiedb
from consentgate.cookiedb import KnownCookie, build, lookup

# The snapshot lives beside the bench pages (../shared by default, CONSENTGATE_BENCH_PAGES moves
# both), as in CI, where ../shared is checked out beside the clone.
SNAPSHOT = BENCH_PAGES.parent / "data" / "open-cookie-database" / "open-cookie-database.csv"


def _snapshot() -> str:
    assert SNAPSHOT.is_file(), (
        f"the Open Cookie Database snapshot is not at {SNAPSHOT}: it is read from the shared "
        "data beside the bench pages (set CONSENTGATE_BENCH_PAGES to <shared>/bench-pages)"
    )
    return SNAPSHOT.read_text(encoding="utf-8-sig")


def _without_checksum(module: str) -> str:
    return "\n".join(line for line in module.splitlines() if "sha256" not in line.lower())


def test_the_committed_module_is_a_fresh_conversion_of_the_snapshot() -> None:
    assert build.DATA_FILE.read_text(encoding="utf-8") == build.convert(_snapshot())


def test_conversion_does_not_depend_on_row_order_and_drops_descriptions() -> None:
    text = _snapshot()
    header, *rows = text.splitlines(keepends=True)
    shuffled = build.convert(header + "".join(reversed(rows)))
    # (Only the CSV's own checksum, named in the module, differs.)
    assert _without_checksum(shuffled) == _without_checksum(build.convert(text))
    records = list(csv.DictReader(io.StringIO(text, newline="")))
    module = build.convert(text)
    # No description reaches the package (a long, distinctive one is a fair probe of all).
    longest = max((r["Description"] for r in records), key=len)
    assert len(longest) > 80 and longest not in module
    assert "Description" not in module


def test_every_row_of_the_snapshot_is_found() -> None:
    records = list(csv.DictReader(io.StringIO(_snapshot(), newline="")))
    assert len(records) == len(list(cookiedb.entries())) == 2264
    for record in records:
        name = record["Cookie / Data Key name"].strip().rstrip("*")
        probe = name + "x1" if record["Wildcard match"] == "1" else name
        found = lookup(probe)
        assert found is not None, name
        assert probe.startswith(found.name)


def test_a_csv_without_the_columns_is_refused() -> None:
    with pytest.raises(ValueError, match="not an Open Cookie Database CSV"):
        build.convert("a,b\n1,2\n")


def test_exact_names_and_prefix_patterns() -> None:
    gcl = lookup("_gcl_au")
    assert isinstance(gcl, KnownCookie)
    assert (gcl.platform, gcl.ocd_category, gcl.category, gcl.prefix) == (
        "Google",
        "Marketing",
        "marketing",
        False,
    )
    assert gcl.retention == "3 months" and gcl.privacy_url.startswith("https://")
    session_user = lookup("_hjSessionUser_123")
    assert session_user is not None and session_user.prefix
    assert session_user.name == "_hjSessionUser_" and session_user.platform == "Hotjar"
    # A prefix pattern matches nothing shorter than itself, and names are case-sensitive.
    assert lookup("_hjSessionUser") is None
    assert lookup("_GCL_AU") is None
    assert lookup("my_own_session") is None
    assert lookup("") is None


def test_the_longest_prefix_wins() -> None:
    # "_gac_" and "_gac_gb_" are both patterns of the database.
    assert lookup("_gac_gb_1234") is not None
    assert lookup("_gac_gb_1234").name == "_gac_gb_"  # type: ignore[union-attr]
    assert lookup("_gac_UA-1").name == "_gac_"  # type: ignore[union-attr]


def test_a_name_listed_twice_answers_with_its_most_restrictive_category() -> None:
    # "token" is Functional for one platform (Xandr) and Marketing for another (Adform):
    # privacy fails closed.
    rows = [e for e in cookiedb.entries() if e.name == "token" and not e.prefix]
    assert {e.ocd_category for e in rows} == {"Functional", "Marketing"}
    assert lookup("token").ocd_category == "Marketing"  # type: ignore[union-attr]


def test_category_mapping() -> None:
    assert dict(cookiedb.DEFAULT_CATEGORIES) == {
        "Analytics": "analytical",
        "Marketing": "marketing",
        "Personalization": "preference",
        "Functional": None,
        "Security": None,
        "Necessary": None,
    }
    for entry in cookiedb.entries():
        assert entry.category == cookiedb.DEFAULT_CATEGORIES[entry.ocd_category]
        assert entry.third_party == bool(entry.domain)


def test_the_licence_and_notice_are_beside_the_data() -> None:
    folder = Path(cookiedb.__file__).parent
    assert "Apache License" in (folder / "LICENSE").read_text(encoding="utf-8")
    assert "Open Cookie Database" in (folder / "NOTICE").read_text(encoding="utf-8")
