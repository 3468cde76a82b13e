"""sales.csv: streamed validation and batched, de-duplicated inserts (re-importing is a no-op).

Batches go to the database inside the import's one transaction (services/imports/batches.py: COPY on
PostgreSQL, INSERT ... ON CONFLICT DO NOTHING elsewhere).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.imports import fields
from services.imports.batches import BatchSink, open_sink
from services.imports.catalog_files import UNKNOWN_DEVICE, UNKNOWN_SKU
from services.imports.reader import CsvFile, FileSpec
from services.imports.report import ImportReport
from services.imports.weekly import DayRanges

SALES = FileSpec("sales.csv", ("device_id", "timestamp", "slot", "sku", "price"), ("transaction_id",))
BATCH_ROWS = 20_000
Progress = Callable[[int], None]


class SalesLoader:
    """Validates each vend and inserts batches while the import is still clean (or always, in valid-rows mode)."""

    def __init__(
        self, report: ImportReport, devices: dict[str, tuple[int | None, set[str]]], products: dict[str, int | None]
    ) -> None:
        self.report = report
        self.devices = devices  # device_id -> (primary key or None if not written, valid slot codes)
        self.products = products  # sku -> product id (None while not written)
        self.stats = report.stats(SALES.name)
        self._seen: dict[bytes, int] = {}
        self._batch: list[dict[str, Any]] = []
        self._sink: BatchSink | None = None  # opened with the first batch
        self._timestamps: dict[str, datetime] = {}
        self._batch_devices: set[str] = set()
        self.devices_written: set[str] = set()
        self.days = DayRanges()  # per device, the days of the vends sent to the database

    def load(self, csv_file: CsvFile, progress: Progress | None = None) -> None:
        """Read every row; write batches only while no error has been seen anywhere (unless keeping valid rows)."""
        try:
            self._read(csv_file, progress)
        finally:
            self._close()

    def _read(self, csv_file: CsvFile, progress: Progress | None) -> None:
        has_txn = "transaction_id" in csv_file.present_optional
        for line, row in csv_file.rows():
            self.stats.rows += 1
            if progress is not None and self.stats.rows % 10_000 == 0:
                progress(10_000)
            record = self._parse(line, row, has_txn)
            if record is not None and self.report.writable:
                self._batch.append(record)
                self._batch_devices.add(row["device_id"].strip())
                self.days.add(record["device_pk"], record["ts"])
                if len(self._batch) >= BATCH_ROWS:
                    self._flush()
        if progress is not None:
            progress(self.stats.rows % 10_000)
        self._flush()

    def _fail(self, line: int, column: str, reason: str, value: Any) -> None:
        self.report.error(SALES.name, line, column, reason, value)

    def _parse(self, line: int, row: dict[str, str], has_txn: bool) -> dict[str, Any] | None:
        device_id = row["device_id"].strip()
        device = self.devices.get(device_id)
        if device is None:
            self._fail(line, "device_id", UNKNOWN_DEVICE, device_id)
            return None
        slot = row["slot"].strip().upper()
        if slot not in device[1]:
            try:
                fields.slot_code(slot)
                self._fail(line, "slot", "slot is outside this device's cabinet", slot)
            except ValueError as exc:
                self._fail(line, "slot", str(exc), slot)
            return None
        sku = row["sku"].strip()
        if sku not in self.products:
            self._fail(line, "sku", UNKNOWN_SKU, sku)
            return None
        raw_ts = row["timestamp"]
        ts = self._timestamps.get(raw_ts)
        try:
            if ts is None:
                ts = fields.timestamp(raw_ts)
                if len(self._timestamps) < 100_000:
                    self._timestamps[raw_ts] = ts
            price = fields.money(row["price"], allow_zero=True)
        except ValueError as exc:
            self._fail(line, "timestamp" if ts is None else "price", str(exc), raw_ts if ts is None else row["price"])
            return None
        txn = row["transaction_id"].strip()[:64] or None if has_txn else None
        return {
            "device_pk": device[0],
            "ts": ts,
            "slot_code": slot,
            "product_id": self.products[sku],
            "price": price,
            "transaction_id": txn,
            "dedup_key": self._dedup_key(device_id, ts, slot, sku, price, txn),
        }

    def _dedup_key(self, device_id: str, ts: datetime, slot: str, sku: str, price: float, txn: str | None) -> str:
        """Same vend -> same key; the n-th identical row of a file gets its own key (real repeat vends)."""
        base = hashlib.blake2b(
            f"{device_id}|{ts.isoformat()}|{slot}|{sku}|{price:.4f}|{txn or ''}".encode(), digest_size=16
        ).digest()
        seen = self._seen.get(base, 0)
        self._seen[base] = seen + 1
        if seen == 0:
            return base.hex()
        return hashlib.blake2b(base + seen.to_bytes(4, "big"), digest_size=16).hexdigest()

    def _flush(self) -> None:
        if self._batch and self.report.writable:
            if self._sink is None:
                self._sink = open_sink()
            self._sink.write(self._batch, self._batch_devices)
        self._batch, self._batch_devices = [], set()  # handed over: the sink may still be writing them

    def _close(self) -> None:
        """Wait for every batch written and count what was new (written batches only: see _flush)."""
        if self._sink is None:
            return
        done, self._sink = self._sink.close(), None
        for written in done:
            self.stats.inserted += written.inserted
            self.stats.duplicates += written.rows - written.inserted
            if written.inserted:
                self.devices_written |= written.devices
