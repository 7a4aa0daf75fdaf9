"""Choices per category over time and acceptance rates, computed in one pass over the log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ..policy import NECESSARY
from .records import ConsentRecord

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")


@dataclass(slots=True)
class Tally:
    """Counts for one period (or all of them)."""

    label: str
    choices: int = 0
    #: Choices that refused nothing.
    accepted_all: int = 0
    #: Choices that granted nothing but what is necessary.
    refused_all: int = 0
    granted: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    services: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)

    def add(self, record: ConsentRecord) -> None:
        self.choices += 1
        self.accepted_all += not record.refused
        self.refused_all += not record.services and set(record.granted) <= {NECESSARY}
        self.granted.update(record.granted)
        self.refused.update(record.refused)
        self.services.update(record.services)
        self.sources[record.source] += 1

    def acceptance(self, category: str) -> float | None:
        """Share of the choices offering ``category`` that granted it."""
        offered = self.granted[category] + self.refused[category]
        return self.granted[category] / offered if offered else None

    def as_dict(self, categories: Iterable[str]) -> dict[str, Any]:
        return {
            "period": self.label,
            "choices": self.choices,
            "accepted_all": self.accepted_all,
            "refused_all": self.refused_all,
            "granted": dict(sorted(self.granted.items())),
            "refused": dict(sorted(self.refused.items())),
            "services": dict(sorted(self.services.items())),
            "sources": dict(sorted(self.sources.items())),
            "acceptance": {c: self.acceptance(c) for c in categories},
        }


@dataclass(slots=True)
class Stats:
    periods: list[Tally]
    total: Tally

    @property
    def categories(self) -> list[str]:
        """Categories a visitor could choose: those ever refused (necessary never is)."""
        offered = set(self.total.refused) | (set(self.total.granted) - {NECESSARY})
        return sorted(offered)

    def as_dict(self) -> dict[str, Any]:
        categories = self.categories
        return {
            "categories": categories,
            "periods": [p.as_dict(categories) for p in self.periods],
            "total": self.total.as_dict(categories),
        }


def period_of(time: datetime, by: Period) -> str:
    if by == "day":
        return time.strftime("%Y-%m-%d")
    if by == "week":
        year, week, _ = time.isocalendar()
        return f"{year}-W{week:02d}"
    return time.strftime("%Y-%m")


def compute_stats(
    records: Iterable[ConsentRecord],
    *,
    by: Period = "month",
    progress: Callable[[int], None] | None = None,
    every: int = 10_000,
) -> Stats:
    tallies: dict[str, Tally] = {}
    total = Tally("total")
    for record in records:
        label = period_of(record.time, by)
        tally = tallies.get(label)
        if tally is None:
            tally = tallies[label] = Tally(label)
        tally.add(record)
        total.add(record)
        if progress is not None and total.choices % every == 0:
            progress(total.choices)
    return Stats(sorted(tallies.values(), key=lambda t: t.label), total)


def format_stats(stats: Stats) -> str:
    """A plain-text table: one row per period, acceptance rate per category."""
    categories = stats.categories
    header = ["period", "choices", "accept all", "refuse all", *categories]
    rows = [header]
    for tally in [*stats.periods, stats.total]:
        rows.append(
            [
                tally.label,
                str(tally.choices),
                _percent(tally.accepted_all / tally.choices if tally.choices else None),
                _percent(tally.refused_all / tally.choices if tally.choices else None),
                *(_percent(tally.acceptance(c)) for c in categories),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(-1, "  ".join("-" * w for w in widths))
    out = [*lines, ""]
    if stats.total.sources:
        sources = ", ".join(f"{s} {n}" for s, n in sorted(stats.total.sources.items()))
        out.append(f"sources: {sources}")
    if stats.total.services:
        services = ", ".join(f"{s} {n}" for s, n in stats.total.services.most_common())
        out.append(f"services granted one by one: {services}")
    out.append("category columns: share of choices that granted the category")
    return "\n".join(out) + "\n"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"
