"""Property tests of the importer's cell parsers: what they accept round-trips, anything else is a ValueError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from services.imports import fields

ROWS = st.integers(min_value=0, max_value=fields.MAX_ROWS - 1)
COLUMNS = st.integers(min_value=0, max_value=fields.MAX_COLUMNS - 1)
PRICES = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(100_000), places=4)
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
MOMENTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1))


@given(ROWS, COLUMNS, st.sampled_from(["{}", " {} ", "{}\t"]), st.booleans())
def test_slot_labels_parse_back_to_their_row_and_column(row: int, col: int, padding: str, lower: bool) -> None:
    label = fields.slot_label(row, col)
    cell = padding.format(label.lower() if lower else label)
    assert fields.slot_code(cell) == (label, row, col)


@given(PRICES, st.booleans())
def test_prices_parse_to_their_value_with_a_decimal_point_or_comma(price: Decimal, comma: bool) -> None:
    cell = f"{price:f}".replace(".", ",") if comma else f"{price:f}"
    assert fields.money(cell) == pytest.approx(float(price), abs=1e-9)


@given(MOMENTS, OFFSETS, st.sampled_from(["T", " "]))
def test_timestamps_keep_their_instant_and_come_back_in_utc(moment: datetime, zone: timezone, sep: str) -> None:
    aware = moment.replace(tzinfo=zone)
    parsed = fields.timestamp(aware.isoformat(sep=sep))
    assert parsed == aware and parsed.tzinfo == UTC
    assert fields.timestamp(moment.isoformat()) == moment.replace(tzinfo=UTC)  # no zone: UTC


@given(st.text(max_size=30))
@example("nan")
@example("inf")
@example("1e309")
@example("-0")
@example("1,2,3")
def test_any_cell_parses_or_is_refused_with_a_value_error(cell: str) -> None:
    for parse in (fields.money, fields.timestamp, fields.slot_code, lambda v: fields.integer(v, 1, 99)):
        try:
            value = parse(cell)
        except ValueError as exc:
            assert str(exc)  # a reason the operator can read
            continue
        if parse is fields.money:
            assert isinstance(value, float) and 0 < value <= 100_000
        if parse is fields.timestamp:
            assert isinstance(value, datetime) and value.tzinfo == UTC
