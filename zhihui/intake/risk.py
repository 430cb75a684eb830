"""Risk flags and duplicate candidates at intake: what the database already knows about this call.

Repeat calls from the same number or to the same place in the last 30 days, and open incidents of
the duplicate window near the caller. Read-only queries on indexed columns (caller_phone +
received_at, lat + lon, address, status + received_at).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, bindparam, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from zhihui.geo.coords import bbox, haversine_m
from zhihui.incidents.categories import categories
from zhihui.incidents.domain import OPEN_STATUSES, STATUS_LABELS, IncidentStatus
from zhihui.incidents.models import Incident
from zhihui.intake.duplicates import CallFeatures, DupParams, DupScore, candidates

REPEAT_DAYS = 30
PLACE_RADIUS_M = 50.0
# How many repeat calls make the flag a warning rather than a note.
REPEAT_WARN = 3
REPEAT_CAP = 200


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


# Only the columns the form shows: plain rows are several times cheaper than ORM objects here.
_COLS = (Incident.id, Incident.number, Incident.received_at, Incident.category_code, Incident.status,
         Incident.address, Incident.caller_phone, Incident.lat, Incident.lon, Incident.description)


def _brief(i: Any) -> dict[str, Any]:
    return {"id": i.id, "number": i.number, "received_at": i.received_at, "category_code": i.category_code,
            "category_label": categories().label(i.category_code), "status": i.status,
            "status_label": STATUS_LABELS[IncidentStatus(i.status)], "address": i.address}


def _risk_part(tag: str, cond: Any) -> Any:
    stmt = select(*_COLS, literal(tag).label("why")).where(
        Incident.received_at >= bindparam("since"), Incident.id != bindparam("exclude"), cond)
    return select(stmt.order_by(Incident.received_at.desc()).limit(REPEAT_CAP).subquery())


def _bbox(prefix: str = "") -> Any:
    return Incident.lat.between(bindparam(f"{prefix}la0"), bindparam(f"{prefix}la1")) & \
        Incident.lon.between(bindparam(f"{prefix}lo0"), bindparam(f"{prefix}lo1"))


# Built once: constructing and caching-keying these per call cost more than running them. Absent
# values are bound as NULL, which matches nothing, so one statement serves every combination.
_RISK = union_all(
    _risk_part("phone", Incident.caller_phone == bindparam("phone")),
    _risk_part("place", or_(_bbox(), Incident.address == bindparam("address"))),
)
_DUPS = (
    select(*_COLS)
    .where(Incident.status.in_([s.value for s in OPEN_STATUSES]))
    .where(Incident.received_at.between(bindparam("t0"), bindparam("t1")))
    .where(Incident.id != bindparam("exclude"))
    .where(or_(_bbox(), Incident.caller_phone == bindparam("phone"),
               Incident.lat.is_(None) & bindparam("with_unplaced", type_=Boolean),
               bindparam("anywhere", type_=Boolean)))
    .order_by(Incident.received_at.desc())  # the newest first, if a busy window has more than 500
    .limit(500)
)
_NO_BOX = {"la0": None, "la1": None, "lo0": None, "lo1": None}


def _box_params(lat: float | None, lon: float | None, radius_m: float) -> dict[str, float | None]:
    if lat is None or lon is None:
        return dict(_NO_BOX)
    la0, la1, lo0, lo1 = bbox(lat, lon, radius_m)
    return {"la0": la0, "la1": la1, "lo0": lo0, "lo1": lo1}


async def risk_flags(session: AsyncSession, now: datetime, *, phone: str | None, lat: float | None,
                     lon: float | None, address: str | None, exclude: int | None = None) -> list[Flag]:
    """Repeat calls from this number and to this place in the last 30 days: one round trip (two
    index range reads, caller_phone + received_at and lat + lon / address, as UNION ALL)."""
    if not (phone or address or (lat is not None and lon is not None)):
        return []
    params = {"since": now - timedelta(days=REPEAT_DAYS), "exclude": -1 if exclude is None else exclude,
              "phone": phone or None, "address": address or None, **_box_params(lat, lon, PLACE_RADIUS_M)}
    rows = (await session.execute(_RISK, params)).all()
    by_phone = sorted((r for r in rows if r.why == "phone"), key=lambda r: r.received_at, reverse=True)
    at_place = sorted((r for r in rows if r.why == "place" and (
        r.address == address or lat is None or r.lat is None
        or haversine_m(lat, lon, r.lat, r.lon) <= PLACE_RADIUS_M)),  # type: ignore[arg-type]
        key=lambda r: r.received_at, reverse=True)
    flags = []
    kinds = ((by_phone, "repeat_caller", "该号码近{d}天报警 {n} 次", "{n} call(s) from this number in {d} days"),
             (at_place, "repeat_place", "该地点近{d}天已有 {n} 起警情", "{n} incident(s) at this place in {d} days"))
    for rows_, code, zh, en in kinds:
        if rows_:
            n = f"{len(rows_)}{'+' if len(rows_) >= REPEAT_CAP else ''}"
            flags.append(Flag(code, "warn" if len(rows_) >= REPEAT_WARN else "info", zh.format(d=REPEAT_DAYS, n=n),
                              en.format(d=REPEAT_DAYS, n=n), [_brief(r) for r in rows_[:5]]))
    return flags


async def duplicate_candidates(session: AsyncSession, call: CallFeatures, params: DupParams,
                               *, exclude: int | None = None, limit: int = 5) -> list[tuple[DupScore, Any]]:
    """Open incidents of the time window near the call (or from the same number, or without a
    point when the call has an address) that look like the same event."""
    window = timedelta(seconds=params.window_s)
    placed = call.lat is not None and call.lon is not None
    values = {"t0": call.at - window, "t1": call.at + window, "exclude": -1 if exclude is None else exclude,
              "phone": call.phone or None, "with_unplaced": bool(call.address), "anywhere": not placed,
              **_box_params(call.lat, call.lon, params.radius_m)}
    rows = {i.id: i for i in (await session.execute(_DUPS, values)).all()}
    feats = [CallFeatures.of(i) for i in rows.values()]
    return [(s, rows[s.ref]) for s in candidates(call, feats, params, limit=limit) if s.ref is not None]


def duplicate_out(s: DupScore, i: Any) -> dict[str, Any]:
    return {**s.as_dict(), **_brief(i), "id": i.id, "description": i.description}
