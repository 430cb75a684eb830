"""Risk flags and duplicate candidates at intake: what the database already knows about this call.

Repeat calls from the same number or to the same place in the last 30 days, and open incidents of
the duplicate window near the caller. Read-only queries on indexed columns (caller_phone +
received_at, lat + lon, address, status + received_at).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhihui.incidents.categories import categories
from zhihui.incidents.domain import OPEN_STATUSES, STATUS_LABELS, IncidentStatus
from zhihui.incidents.models import Incident
from zhihui.intake.duplicates import CallFeatures, DupParams, DupScore, candidates, haversine_m

REPEAT_DAYS = 30
PLACE_RADIUS_M = 50.0
# How many repeat calls make the flag a warning rather than a note.
REPEAT_WARN = 3


@dataclass
class Flag:
    code: str
    severity: str  # info | warn | danger
    message: str
    message_en: str
    incidents: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message,
                "message_en": self.message_en, "incidents": self.incidents}


def _brief(i: Incident) -> dict[str, Any]:
    return {"id": i.id, "number": i.number, "received_at": i.received_at, "category_code": i.category_code,
            "category_label": categories().label(i.category_code), "status": i.status,
            "status_label": STATUS_LABELS[IncidentStatus(i.status)], "address": i.address}


def _box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    dlat = radius_m / 111_320.0
    dlon = radius_m / (111_320.0 * max(0.1, math.cos(math.radians(lat))))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


async def repeat_caller(session: AsyncSession, phone: str, now: datetime, *, exclude: int | None = None) -> Flag | None:
    since = now - timedelta(days=REPEAT_DAYS)
    stmt = select(Incident).where(Incident.caller_phone == phone, Incident.received_at >= since)
    if exclude is not None:
        stmt = stmt.where(Incident.id != exclude)
    count = (await session.execute(stmt.with_only_columns(func.count()))).scalar_one()
    if not count:
        return None
    recent = (await session.execute(stmt.order_by(Incident.received_at.desc()).limit(5))).scalars()
    return Flag("repeat_caller", "warn" if count >= REPEAT_WARN else "info",
                f"该号码近{REPEAT_DAYS}天报警 {count} 次", f"{count} call(s) from this number in {REPEAT_DAYS} days",
                [_brief(i) for i in recent])


async def repeat_place(session: AsyncSession, now: datetime, *, lat: float | None, lon: float | None,
                       address: str | None, exclude: int | None = None) -> Flag | None:
    since = now - timedelta(days=REPEAT_DAYS)
    conds = []
    if lat is not None and lon is not None:
        la0, la1, lo0, lo1 = _box(lat, lon, PLACE_RADIUS_M)
        conds.append(Incident.lat.between(la0, la1) & Incident.lon.between(lo0, lo1))
    if address:
        conds.append(Incident.address == address)
    if not conds:
        return None
    stmt = select(Incident).where(Incident.received_at >= since, or_(*conds)) \
        .order_by(Incident.received_at.desc()).limit(200)
    if exclude is not None:
        stmt = stmt.where(Incident.id != exclude)
    rows = [i for i in (await session.execute(stmt)).scalars()
            if i.address == address or lat is None or i.lat is None
            or haversine_m(lat, lon, i.lat, i.lon) <= PLACE_RADIUS_M]  # type: ignore[arg-type]
    if not rows:
        return None
    n = len(rows)
    return Flag("repeat_place", "warn" if n >= REPEAT_WARN else "info",
                f"该地点近{REPEAT_DAYS}天已有 {n}{'+' if n == 200 else ''} 起警情",
                f"{n} incident(s) at this place in {REPEAT_DAYS} days", [_brief(i) for i in rows[:5]])


async def duplicate_candidates(session: AsyncSession, call: CallFeatures, params: DupParams,
                               *, exclude: int | None = None, limit: int = 5) -> list[tuple[DupScore, Incident]]:
    """Open incidents of the time window near the call that look like the same event."""
    since = call.at - timedelta(seconds=params.window_s)
    stmt = select(Incident).where(Incident.status.in_([s.value for s in OPEN_STATUSES]),
                                  Incident.received_at >= since,
                                  Incident.received_at <= call.at + timedelta(seconds=params.window_s))
    if exclude is not None:
        stmt = stmt.where(Incident.id != exclude)
    if call.lat is not None and call.lon is not None:
        la0, la1, lo0, lo1 = _box(call.lat, call.lon, params.radius_m)
        near = Incident.lat.between(la0, la1) & Incident.lon.between(lo0, lo1)
        alt = [near]
        if call.phone:
            alt.append(Incident.caller_phone == call.phone)
        if call.address:
            alt.append(Incident.lat.is_(None))
        stmt = stmt.where(or_(*alt))
    rows = {i.id: i for i in (await session.execute(stmt.limit(500))).scalars()}
    feats = [CallFeatures(at=i.received_at, text=i.description, lat=i.lat, lon=i.lon, address=i.address,
                          category=i.category_code, phone=i.caller_phone, ref=i.id) for i in rows.values()]
    return [(s, rows[s.ref]) for s in candidates(call, feats, params, limit=limit) if s.ref is not None]


def duplicate_out(s: DupScore, i: Incident) -> dict[str, Any]:
    return {**s.as_dict(), **_brief(i), "id": i.id, "description": i.description}
