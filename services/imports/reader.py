"""CSV reading with header checks; rows come out as (line number, cells by column name)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from services.imports.report import ImportReport


@dataclass(frozen=True)
class FileSpec:
    """The columns of one import file."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]


class BadEncoding(ValueError):
    """A line of the file is not UTF-8; `line` is its physical line number (1-based)."""

    def __init__(self, line: int, exc: UnicodeDecodeError) -> None:
        super().__init__(
            f"line {line} is not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at position "
            f"{exc.start + 1}); save the file as UTF-8"
        )
        self.line = line


class DecodedLines:
    """The file's lines decoded one at a time as UTF-8 (a BOM is accepted), so a bad byte is reported on
    the line it is on - a buffered text wrapper would fail on the chunk and blame the line being read."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.line = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self._source:
            self.line += 1
            try:
                text = raw.decode("utf-8-sig" if self.line == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise BadEncoding(self.line, exc) from None
            yield text


def open_text(source: IO[bytes]) -> DecodedLines:
    """Decode an uploaded or on-disk file as UTF-8, line by line (a BOM is accepted)."""
    return DecodedLines(source)


class CsvFile:
    """Iterates a CSV's data rows, reporting header and shape problems into the report."""

    def __init__(self, spec: FileSpec, stream: Iterable[str], report: ImportReport) -> None:
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
        except BadEncoding as exc:
            self._report.error(self.spec.name, exc.line, None, str(exc))
            return False
        except csv.Error as exc:
            self._report.error(self.spec.name, 1, None, f"cannot read header: {exc}")
            return False
        names = [h.strip().lower() for h in header]
        if self._duplicates(names):
            return False
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

    def _duplicates(self, names: list[str]) -> bool:
        """Report every column named twice (which value would win is a guess, so the file is refused)."""
        first: dict[str, int] = {}
        found = False
        for position, name in enumerate(names, start=1):
            if name and name in first:
                self._report.error(
                    self.spec.name,
                    1,
                    name,
                    f"column appears twice in the header (columns {first[name]} and {position})",
                )
                found = True
            first.setdefault(name, position)
        return found

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
            except BadEncoding as exc:
                self._report.error(self.spec.name, exc.line, None, str(exc))
                return
            except csv.Error as exc:
                self._report.error(self.spec.name, self._reader.line_num, None, f"unreadable row: {exc}")
                return
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            line = self._reader.line_num
            if len(cells) > width:
                self._report.error(
                    self.spec.name,
                    line,
                    None,
                    f"row has {len(cells)} fields but the header has {width} (unquoted comma?)",
                )
                continue
            if len(cells) < width:
                cells = cells + [""] * (width - len(cells))
            yield line, {name: cells[i] for name, i in index}
