"""Request parts two blueprints share: CSV uploads with their import mode, and a report's date window."""

from __future__ import annotations

from typing import IO, Literal

from flask import request
from pydantic import BaseModel, ConfigDict, Field

from services.errors import ValidationFailed


class ImportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["all_or_nothing", "valid_rows"] = Field(
        default="all_or_nothing",
        description="all_or_nothing: one bad row and nothing changes; valid_rows: import the valid rows (in one "
        "transaction) and report every rejected row",
    )


class WindowQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | None = Field(default=None, alias="from", max_length=40)
    to: str | None = Field(default=None, max_length=40)


def uploads() -> dict[str, IO[bytes]]:
    """The uploaded CSV files by file name (the name decides the type); 422 when none was sent."""
    files = {f.filename.rsplit("/", 1)[-1]: f.stream for f in request.files.values() if f.filename}
    if not files:
        raise ValidationFailed(
            "Send the CSV files as multipart/form-data (any field name; file names decide the type)",
            details=[{"field": "files", "reason": "no file uploaded"}],
        )
    return files
