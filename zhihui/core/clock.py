"""Time: stored in UTC, shown in Asia/Shanghai.

Every timestamp the platform writes comes from `utcnow()`. A sandbox server (drills, the city
simulator's studies; `ZHIHUI_SANDBOX=1`) runs on a `SimClock` instead, which stands still until the
simulator moves it forward (`PUT /api/v1/sandbox/clock`), so a day of incidents can be driven
through the real API in minutes and every timeline still reads in simulated time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _wall() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _wall


def utcnow() -> datetime:
    """The platform's time: what every record is stamped with (simulated on a sandbox)."""
    return _source()


def wallnow() -> datetime:
    """The host's time, always. Security timers that protect people, not records — token lifetime,
    idle lock, logon lockout — run on it, so an instructor watching a sandbox at ×60 is not logged
    out every 30 seconds and a locked account stays locked for real minutes."""
    return _wall()


class ClockError(ValueError):
    """A simulated clock may only move forward."""


class SimClock:
    """A clock that moves only when told to, and only forward (timelines must stay ordered)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = as_utc(start) if start is not None else _wall()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> datetime:
        at = as_utc(at)
        with self._lock:
            if at < self._now:
                raise ClockError(f"the simulated clock is at {self._now.isoformat()}; it cannot go back to "
                                 f"{at.isoformat()}")
            self._now = at
            return self._now


def use_sim_clock(start: datetime | None = None) -> SimClock:
    """Make `utcnow()` answer from a new simulated clock (process-wide) and return it."""
    global _source
    clock = SimClock(start)
    _source = clock
    return clock


def use_wall_clock() -> None:
    global _source
    _source = _wall


def sim_clock() -> SimClock | None:
    """The simulated clock in force, or None on the wall clock."""
    return _source if isinstance(_source, SimClock) else None


def local_date_str(at: datetime) -> str:
    """yyyymmdd of the Shanghai calendar day (incident numbers follow the local day)."""
    return at.astimezone(SHANGHAI).strftime("%Y%m%d")


def as_utc(at: datetime) -> datetime:
    """Treat naive datetimes as UTC (SQLite returns them naive)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
