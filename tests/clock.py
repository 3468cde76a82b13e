"""The suite's fixed clock: every test runs on this date, whatever the machine's calendar says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

# A Wednesday morning after every date written into the test data (which ends in late November 2026).
FIXED_NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
FIXED_TODAY: date = FIXED_NOW.date()
# Last day of sales the demo seeder generates in tests (the day before the fixed today, as `make run` would see).
DEMO_END: date = FIXED_TODAY - timedelta(days=1)


def days_ago(days: float) -> datetime:
    """The fixed now minus ``days`` (a test's relative moment, never read from the real clock)."""
    return FIXED_NOW - timedelta(days=days)
