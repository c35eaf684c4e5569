"""The dry-run report: every error by row and column, warnings, and what the import would do."""

from __future__ import annotations

from collections import Counter
from typing import Any

#: Errors kept one by one in the report (all are counted, by column too). Beyond this a file is
#: not worth correcting cell by cell: the per-column counts say what is wrong.
MAX_STORED = 20_000


class Report:
    """Errors block the import; warnings do not (a column ignored, a value corrected)."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []
        self.warnings: list[dict[str, Any]] = []
        self.error_count = 0
        self.warning_count = 0
        self.errors_by_column: Counter[str] = Counter()
        self.summary: dict[str, Any] = {}
        self.file: dict[str, Any] = {}
        self.row_count = 0
        #: What was corrected on the way in, by rule and column: (code, column) → entry.
        self.cleaning: dict[tuple[str, str], dict[str, Any]] = {}
        #: What the user should try (another separator, the tolerant mode), shown first.
        self.hints: list[str] = []
        #: The columns of the file and where each goes (see columns.Mapping.describe).
        self.mapping: list[dict[str, Any]] = []

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def error(self, row: int | None, column: str, value: Any, message: str) -> None:
        self.error_count += 1
        self.errors_by_column[column or ""] += 1
        if len(self.errors) < MAX_STORED:
            self.errors.append(_entry(row, column, value, message))

    def warning(self, row: int | None, column: str, value: Any, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_STORED:
            self.warnings.append(_entry(row, column, value, message))

    def clean(
        self, code: str, column: str, count: int, message: str, *, row: int | None = None
    ) -> None:
        """Record that a cleaning rule changed `count` cells (of `column`; at `row`, when one)."""
        entry = self.cleaning.get((code, column))
        if entry is None:
            entry = self.cleaning[(code, column)] = {
                "rule": code,
                "column": column,
                "message": str(message),
                "count": 0,
                "rows": [],
            }
        entry["count"] += count
        if row is not None and len(entry["rows"]) < 10:
            entry["rows"].append(row)

    def hint(self, message: str) -> None:
        if str(message) not in self.hints:
            self.hints.append(str(message))

    def as_json(self) -> dict[str, Any]:
        return {
            "hints": self.hints,
            "mapping": self.mapping,
            "cleaning": sorted(self.cleaning.values(), key=lambda e: -e["count"]),
            "file": self.file,
            "row_count": self.row_count,
            "error_count": self.error_count,
            "warning_count": self.warning_count,
            "errors_by_column": dict(self.errors_by_column.most_common()),
            "errors": sorted(self.errors, key=_order),
            "warnings": sorted(self.warnings, key=_order),
            "summary": self.summary,
        }


def _entry(row: int | None, column: str, value: Any, message: str) -> dict[str, Any]:
    text = "" if value is None else str(value)
    if "\x00" in text:  # echoed as typed, but PostgreSQL's jsonb cannot store NUL
        text = text.replace("\x00", "\N{REPLACEMENT CHARACTER}")
    return {
        "row": row,
        "column": column or "",
        "value": text if len(text) <= 200 else text[:199] + "…",
        "message": str(message),
    }


def _order(entry: dict[str, Any]) -> int:
    """By row (file-level problems first); within a row, in the order the cells were read."""
    return entry["row"] or 0
