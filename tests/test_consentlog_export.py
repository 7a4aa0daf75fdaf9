"""Exporting a large log streams: memory stays flat however many records there are.

The same export of a log four times larger peaks no higher: an export holding the records (or
their text) would grow with them. Two small logs show it in a few seconds, where one log of 100k
records took most of a minute.
"""

from __future__ import annotations

import csv
import json
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pg import BACKENDS, log_target

from consentgate.cli import main
from consentgate.consentlog import ConsentEntry, open_log

# Two sizes, four times apart: more than the export's page of 1,000 rows in both.
SMALL, LARGE = 2_500, 10_000
START = datetime(2026, 1, 1, tzinfo=UTC)
# Far below what the large log takes in memory (over 10 MB as objects, ~3 MB as text).
PEAK_BOUND = 4 * 1024 * 1024


def entries(count: int) -> list[ConsentEntry]:
    return [
        ConsentEntry(
            consent_id=f"visitor-{i:06d}",
            time=START + timedelta(minutes=i),
            granted=("necessary", "analytical") if i % 3 else ("necessary",),
            refused=("marketing",) if i % 3 else ("analytical", "marketing"),
            services=("youtube",) if i % 5 == 0 else (),
            revision="r1",
            texts_hash="e" * 64,
            source="banner",
        )
        for i in range(count)
    ]


@pytest.fixture(scope="module", params=BACKENDS)
def logs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[int, str]]:
    """A log of SMALL records and one of LARGE, each written in one bulk append."""
    with (
        log_target(request.param, tmp_path_factory.mktemp("small")) as small,
        log_target(request.param, tmp_path_factory.mktemp("large")) as large,
    ):
        for target, count in ((small, SMALL), (large, LARGE)):
            with open_log(target) as log:
                log.append_many(entries(count))
        yield {SMALL: small, LARGE: large}


def export_peak(target: str, fmt: str, out: Path) -> int:
    """The peak of Python memory while the command line exports ``target`` to ``out``."""
    tracemalloc.start()
    try:
        code = main(["log", "export", "--log", target, "--format", fmt, "--output", str(out)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 0
    return peak


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_streams_its_peak_memory_does_not_grow_with_the_log(
    logs: dict[int, str], fmt: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    # Untraced, once: what a first export allocates for good (caches, lazy imports) is not
    # counted in the small export's peak alone.
    assert (
        main(
            [
                "log",
                "export",
                "--log",
                logs[SMALL],
                "--format",
                fmt,
                "--output",
                str(tmp_path / "warm-up"),
            ]
        )
        == 0
    )
    peaks, sizes = {}, {}
    for records in (SMALL, LARGE):
        out = tmp_path / f"export-{records}.{fmt}"
        peaks[records] = export_peak(logs[records], fmt, out)
        sizes[records] = out.stat().st_size
        with out.open(newline="", encoding="utf-8") as exported:
            if fmt == "jsonl":
                rows = [json.loads(line) for line in exported]
                first, last = rows[0], rows[-1]
            else:
                rows = list(csv.DictReader(exported))
                first, last = rows[0], rows[-1]
        assert len(rows) == records
        assert first["consent_id"] == "visitor-000000" and str(first["seq"]) == "1"
        assert last["consent_id"] == f"visitor-{records - 1:06d}"
        assert str(last["seq"]) == str(records)

    assert peaks[LARGE] < PEAK_BOUND, f"export peaked at {peaks[LARGE] / 1e6:.1f} MB"
    # 7,500 more records: the peak grows by far less than their text (holding them as objects
    # would grow it by several times their text).
    grown, more_text = peaks[LARGE] - peaks[SMALL], sizes[LARGE] - sizes[SMALL]
    assert grown < more_text / 4, (
        f"the peak grew by {grown / 1e3:.0f} kB for {more_text / 1e3:.0f} kB more output: "
        f"{peaks[SMALL] / 1e3:.0f} kB for {SMALL} records, {peaks[LARGE] / 1e3:.0f} kB for {LARGE}"
    )
    assert time.monotonic() - started < 60


def test_export_since_a_date_starts_there(logs: dict[int, str], tmp_path: Path) -> None:
    out = tmp_path / "since.jsonl"
    since = START + timedelta(minutes=LARGE - 10)

    code = main(
        ["log", "export", "--log", logs[LARGE], "--since", since.isoformat(), "--output", str(out)]
    )

    assert code == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(LARGE - 9, LARGE + 1))
