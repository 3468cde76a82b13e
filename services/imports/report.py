"""The import report: per-file counts, defaults applied, and per-row errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.errors import ValidationFailed

MAX_ERRORS = 200
# "Import the valid rows, report the rest": every rejected row is listed, up to this many.
MAX_ERRORS_PARTIAL = 20_000
ALL_OR_NOTHING = "all_or_nothing"
VALID_ROWS = "valid_rows"
MODES = (ALL_OR_NOTHING, VALID_ROWS)


@dataclass
class FileStats:
    """What happened to one file's rows."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0

    def as_dict(self) -> dict[str, int]:
        """The JSON form."""
        return dict(vars(self))


@dataclass
class ImportReport:
    """Everything an operator needs to trust an import: counts, defaults and errors."""

    files: dict[str, FileStats] = field(default_factory=dict)
    defaults: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0
    devices_touched: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    # Demo data found in the database after the import (services/demo_fleet.DemoPresence.as_dict), if any.
    demo: dict[str, Any] | None = None
    # all_or_nothing (default): any error rejects everything; valid_rows: the valid rows are kept, in one
    # transaction, and every rejected row is listed.
    mode: str = ALL_OR_NOTHING
    rejected_lines: dict[str, set[int]] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        """Whether valid rows are kept despite errors elsewhere."""
        return self.mode == VALID_ROWS

    @property
    def writable(self) -> bool:
        """Whether rows may be written now: always when keeping the valid rows, else only while clean."""
        return self.partial or self.ok

    def stats(self, file: str) -> FileStats:
        """The stats of one file, created on first use."""
        return self.files.setdefault(file, FileStats())

    def error(self, file: str, line: int | None, column: str | None, reason: str, value: Any = None) -> None:
        """Record a problem; only the first MAX_ERRORS are kept in detail."""
        self.error_count += 1
        if line is not None:
            self.rejected_lines.setdefault(file, set()).add(line)
        if len(self.errors) < (MAX_ERRORS_PARTIAL if self.partial else MAX_ERRORS):
            item: dict[str, Any] = {"file": file, "line": line, "column": column, "reason": reason}
            if value is not None:
                item["value"] = str(value)[:100]
            self.errors.append(item)

    def defaulted(self, file: str, column: str, value: Any, why: str) -> None:
        """Count a row whose optional column was missing and got a default."""
        entry = self.defaults.setdefault(
            (file, column), {"file": file, "column": column, "rows": 0, "default": value, "reason": why}
        )
        entry["rows"] += 1

    @property
    def ok(self) -> bool:
        """Whether the import may be committed."""
        return self.error_count == 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of the report."""
        status = "ok" if self.ok else "partial" if self.partial else "rejected"
        return {
            "status": status,
            "mode": self.mode,
            "files": {name: self._file_dict(name, s) for name, s in self.files.items()},
            "defaults": list(self.defaults.values()),
            "errors": self.errors,
            "error_count": self.error_count,
            "errors_truncated": self.error_count > len(self.errors),
            "devices_touched": sorted(self.devices_touched),
            "notes": self.notes,
            "demo": self.demo,
        }

    def _file_dict(self, name: str, stats: FileStats) -> dict[str, int]:
        """One file's counts; with errors anywhere, also its rejected rows (distinct lines)."""
        if self.ok:
            return stats.as_dict()
        return {**stats.as_dict(), "rejected": len(self.rejected_lines.get(name, ()))}


class ImportRejected(ValidationFailed):
    """The import had errors; nothing was changed."""

    code = "import_rejected"

    def __init__(self, report: ImportReport) -> None:
        super().__init__(
            f"Import rejected: {report.error_count} error(s); nothing was changed",
            details=report.as_dict(),
        )
        self.report = report
