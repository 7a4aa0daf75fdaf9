"""Streaming export of consent records as JSON Lines or CSV: one record in memory at a time.

Records come chain by chain, each chain in order, so an auditor can check each chain on its own
as it is read (``chain`` and ``seq`` name a record; ``prev_hash`` links it within its chain).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from typing import TextIO

from .records import ConsentRecord, format_time

FORMATS = ("jsonl", "csv")

CSV_FIELDS = (
    "chain",
    "seq",
    "time",
    "consent_id",
    "source",
    "revision",
    "granted",
    "refused",
    "services",
    "texts_hash",
    "user_agent",
    "ip",
    "prev_hash",
    "hash",
    "version",
)

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

# A spreadsheet runs a cell starting with these as a formula; user agents come from visitors.
_FORMULA_START = ("=", "+", "-", "@")


def export(
    records: Iterable[ConsentRecord],
    out: TextIO,
    fmt: str,
    *,
    progress: Callable[[int], None] | None = None,
    every: int = 10_000,
) -> int:
    """Write ``records`` to ``out`` in ``fmt``; return how many were written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(CSV_FIELDS)
    count = 0
    for record in records:
        if writer is not None:
            writer.writerow(csv_row(record))
        else:
            out.write(_JSON.encode(record.as_dict()))
            out.write("\n")
        count += 1
        if progress is not None and count % every == 0:
            progress(count)
    return count


def csv_row(record: ConsentRecord) -> list[str | int]:
    user_agent = record.user_agent or ""
    if user_agent.startswith(_FORMULA_START):
        user_agent = "'" + user_agent
    return [
        record.chain,
        record.seq,
        format_time(record.time),
        record.consent_id,
        record.source,
        record.revision,
        " ".join(record.granted),
        " ".join(record.refused),
        " ".join(record.services),
        record.texts_hash,
        user_agent,
        record.ip or "",
        record.prev_hash,
        record.hash,
        record.version,
    ]
