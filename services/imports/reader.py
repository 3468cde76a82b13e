"""CSV reading with header checks; rows come out as (line number, cells by column name)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from services.imports.report import ImportReport


@dataclass(frozen=True)
class FileSpec:
    """The columns of one import file."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]


@contextmanager
def open_text(source: IO[bytes]) -> Iterator[IO[str]]:
    """Decode an uploaded or on-disk file as UTF-8 (a BOM is accepted) for the block; the binary stream
    stays open afterwards, for its owner to close (a dropped wrapper would close it, with a ResourceWarning)."""
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    try:
        yield text
    finally:
        if not text.closed:
            text.detach()


class CsvFile:
    """Iterates a CSV's data rows, reporting header and shape problems into the report."""

    def __init__(self, spec: FileSpec, stream: IO[str], report: ImportReport) -> None:
        self.spec = spec
        self._report = report
        self._reader = csv.reader(stream)
        self.columns: dict[str, int] = {}
        self.present_optional: set[str] = set()
        self.valid = self._read_header()

    def _read_header(self) -> bool:
        try:
            header = next(self._reader)
        except StopIteration:
            self._report.error(self.spec.name, 1, None, "file is empty (a header row is required)")
            return False
        except (UnicodeDecodeError, csv.Error) as exc:
            self._report.error(self.spec.name, 1, None, f"cannot read header: {exc}")
            return False
        names = [h.strip().lower() for h in header]
        self._header_len = len(names)
        self.columns = {n: i for i, n in enumerate(names) if n}
        missing = [c for c in self.spec.required if c not in self.columns]
        for column in missing:
            self._report.error(self.spec.name, 1, column, "required column is missing from the header")
        unknown = [n for n in names if n and n not in self.spec.required and n not in self.spec.optional]
        if unknown:
            self._report.notes.append(f"{self.spec.name}: ignored unknown column(s) {', '.join(unknown)}")
        self.present_optional = {c for c in self.spec.optional if c in self.columns}
        return not missing

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        """Yield (line number, {column: cell}) for each data row; blank lines are skipped."""
        if not self.valid:
            return
        width = self._header_len
        index = list(self.columns.items())
        while True:
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except (UnicodeDecodeError, csv.Error) as exc:
                self._report.error(self.spec.name, self._reader.line_num, None, f"unreadable row: {exc}")
                return
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            line = self._reader.line_num
            if len(cells) > width:
                self._report.error(self.spec.name, line, None,
                                   f"row has {len(cells)} fields but the header has {width} (unquoted comma?)")
                continue
            if len(cells) < width:
                cells = cells + [""] * (width - len(cells))
            yield line, {name: cells[i] for name, i in index}
