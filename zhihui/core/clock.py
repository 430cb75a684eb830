"""Time: stored in UTC, shown in Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_date_str(at: datetime) -> str:
    """yyyymmdd of the Shanghai calendar day (incident numbers follow the local day)."""
    return at.astimezone(SHANGHAI).strftime("%Y%m%d")


def as_utc(at: datetime) -> datetime:
    """Treat naive datetimes as UTC (SQLite returns them naive)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
