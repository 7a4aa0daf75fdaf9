"""Exporting a large log streams: memory stays flat however many records there are."""

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

RECORDS = 100_000
START = datetime(2026, 1, 1, tzinfo=UTC)
# Far below what 100k records take in memory (well over 100 MB as objects, ~30 MB as text).
PEAK_BOUND = 4 * 1024 * 1024


@pytest.fixture(scope="module", params=BACKENDS)
def big_log(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with log_target(request.param, tmp_path_factory.mktemp("big")) as target:
        with open_log(target) as log:
            for start in range(0, RECORDS, 10_000):
                log.append_many(
                    [
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
                        for i in range(start, start + 10_000)
                    ]
                )
        yield target


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_of_100k_records_streams_in_bounded_memory(
    big_log: str, fmt: str, tmp_path: Path
) -> None:
    out = tmp_path / f"export.{fmt}"
    started = time.monotonic()
    tracemalloc.start()
    try:
        code = main(["log", "export", "--log", big_log, "--format", fmt, "--output", str(out)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert code == 0
    assert peak < PEAK_BOUND, f"export peaked at {peak / 1e6:.1f} MB"
    assert time.monotonic() - started < 60
    assert out.stat().st_size > 5 * PEAK_BOUND  # the output itself could never have fitted
    with out.open(newline="", encoding="utf-8") as exported:
        if fmt == "jsonl":
            rows = [json.loads(line) for line in exported]
            first, last = rows[0], rows[-1]
        else:
            rows = list(csv.DictReader(exported))
            first, last = rows[0], rows[-1]
    assert len(rows) == RECORDS
    assert first["consent_id"] == "visitor-000000" and str(first["seq"]) == "1"
    assert last["consent_id"] == f"visitor-{RECORDS - 1:06d}"
    assert str(last["seq"]) == str(RECORDS)


def test_export_since_a_date_starts_there(big_log: str, tmp_path: Path) -> None:
    out = tmp_path / "since.jsonl"
    since = START + timedelta(minutes=RECORDS - 10)

    code = main(
        ["log", "export", "--log", big_log, "--since", since.isoformat(), "--output", str(out)]
    )

    assert code == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(RECORDS - 9, RECORDS + 1))
