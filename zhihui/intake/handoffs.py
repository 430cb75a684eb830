"""12345 hand-offs: the record of a non-police call handed over, and what 12345 did with it.

Each function runs inside the caller's transaction; every step is on the incident's timeline and in
the audit log.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhihui.core import audit, events
from zhihui.core.auth import Actor
from zhihui.core.clock import utcnow
from zhihui.core.errors import IllegalTransition
from zhihui.core.store import fetch
from zhihui.incidents import service as incidents
from zhihui.incidents.categories import categories
from zhihui.incidents.models import Incident
from zhihui.intake.models import Handoff

COMPONENT = "intake"


class HandoffStatus(enum.StrEnum):
    SENT = "sent"  # 已转办
    ACCEPTED = "accepted"  # 12345 已受理
    ANSWERED = "answered"  # 12345 已反馈
    CLOSED = "closed"  # 已办结
    RETURNED = "returned"  # 12345 退回 (police matter after all)


LABELS = {"sent": "已转办", "accepted": "已受理", "answered": "已反馈", "closed": "已办结", "returned": "已退回"}
H = HandoffStatus
_NEXT = {
    H.SENT: {H.ACCEPTED, H.ANSWERED, H.RETURNED},
    H.ACCEPTED: {H.ANSWERED, H.RETURNED},
    H.ANSWERED: {H.CLOSED},
    H.CLOSED: set(),
    H.RETURNED: set(),
}
RESULTS = {"resolved": "已解决", "explained": "已解释说明", "transferred": "已转相关部门", "unresolved": "未能解决"}


def _move(handoff: Handoff, target: HandoffStatus) -> str:
    current = HandoffStatus(handoff.status)
    if target not in _NEXT[current]:
        raise IllegalTransition("hand-off", current.value, target.value)
    handoff.status = target.value
    return current.value


async def open_handoff(session: AsyncSession, actor: Actor, incident: Incident, note: str, *,
                       department: str | None = None, rule_id: str | None = None) -> Handoff:
    handoff = Handoff(incident_id=incident.id, target="12345", department=department, rule_id=rule_id,
                      status=HandoffStatus.SENT.value, note=note, sent_at=utcnow(), sent_by=actor.user_id)
    session.add(handoff)
    await session.flush()
    events.record(session, actor, "handoff.sent", incident_id=incident.id,
                  data={"handoff_id": handoff.id, "to": "12345", "department": department, "rule_id": rule_id})
    audit.append(session, actor, "handoff.send", component=COMPONENT, target_type="handoff",
                 target_id=handoff.id, detail={"incident": incident.id, "rule_id": rule_id})
    return handoff


async def get(session: AsyncSession, handoff_id: int, *, lock: bool = False) -> Handoff:
    return await fetch(session, Handoff, handoff_id, "hand-off", lock=lock)


async def accept(session: AsyncSession, actor: Actor, handoff_id: int, external_ref: str) -> Handoff:
    h = await get(session, handoff_id, lock=True)
    previous = _move(h, HandoffStatus.ACCEPTED)
    h.accepted_at, h.external_ref = utcnow(), external_ref
    _record(session, actor, h, previous, {"external_ref": external_ref})
    return h


async def answer(session: AsyncSession, actor: Actor, handoff_id: int, result: str, text: str,
                 external_ref: str | None = None) -> Handoff:
    h = await get(session, handoff_id, lock=True)
    previous = _move(h, HandoffStatus.ANSWERED)
    h.answered_at, h.result, h.feedback_text = utcnow(), result, text
    if external_ref:
        h.external_ref = external_ref
    _record(session, actor, h, previous, {"result": result, "text": text})
    return h


async def close(session: AsyncSession, actor: Actor, handoff_id: int) -> Handoff:
    h = await get(session, handoff_id, lock=True)
    previous = _move(h, HandoffStatus.CLOSED)
    h.closed_at = utcnow()
    _record(session, actor, h, previous, {})
    return h


async def send_back(session: AsyncSession, actor: Actor, handoff_id: int, reason: str) -> Handoff:
    """12345 returns the matter as a police one: the hand-off ends and the incident is reopened."""
    h = await get(session, handoff_id, lock=True)
    previous = _move(h, HandoffStatus.RETURNED)
    h.returned_at, h.feedback_text = utcnow(), reason
    _record(session, actor, h, previous, {"reason": reason})
    await incidents.reopen_diverted(session, actor, h.incident_id, reason)
    return h


def _record(session: AsyncSession, actor: Actor, h: Handoff, previous: str, data: dict[str, Any]) -> None:
    events.record(session, actor, f"handoff.{h.status}", incident_id=h.incident_id,
                  data={"handoff_id": h.id, "from": previous, "to": h.status, **data})
    audit.append(session, actor, f"handoff.{h.status}", component=COMPONENT, target_type="handoff",
                 target_id=h.id, detail={"incident": h.incident_id})


async def list_handoffs(session: AsyncSession, *, status: list[str] | None = None, incident_id: int | None = None,
                        limit: int = 100, offset: int = 0) -> list[Handoff]:
    stmt = select(Handoff)
    if status:
        stmt = stmt.where(Handoff.status.in_(status))
    if incident_id is not None:
        stmt = stmt.where(Handoff.incident_id == incident_id)
    stmt = stmt.order_by(Handoff.sent_at.desc(), Handoff.id.desc()).limit(limit).offset(offset)
    return list((await session.execute(stmt)).scalars())


def handoff_out(h: Handoff) -> dict[str, Any]:
    return {
        "id": h.id, "incident_id": h.incident_id, "target": h.target, "department": h.department,
        "rule_id": h.rule_id, "status": h.status, "status_label": LABELS[h.status], "note": h.note,
        "external_ref": h.external_ref, "result": h.result,
        "result_label": RESULTS.get(h.result or "", None), "feedback_text": h.feedback_text,
        "sent_at": h.sent_at, "accepted_at": h.accepted_at, "answered_at": h.answered_at,
        "closed_at": h.closed_at, "returned_at": h.returned_at,
    }


async def diversion_kpi(session: AsyncSession, since: datetime, until: datetime) -> dict[str, Any]:
    """非警务分流率: of the calls in the period whose category is a non-police matter, the share
    handed to 12345 (and not sent back), plus what 12345 did with the hand-offs."""
    tree = categories()
    rows = (await session.execute(
        select(Incident.category_code, Incident.status, func.count())
        .where(Incident.received_at >= since, Incident.received_at < until)
        .where(Incident.status != "merged")
        .group_by(Incident.category_code, Incident.status)
    )).all()
    total = non_police = diverted_np = diverted_all = 0
    for code, status, n in rows:
        node = tree.get(code)
        is_np = node is not None and not node.police
        total += n
        non_police += n if is_np else 0
        if status == "diverted":
            diverted_all += n
            diverted_np += n if is_np else 0
    by_status = dict((await session.execute(
        select(Handoff.status, func.count()).where(Handoff.sent_at >= since, Handoff.sent_at < until)
        .group_by(Handoff.status)
    )).all())
    answered = (await session.execute(
        select(Handoff.sent_at, Handoff.answered_at).where(Handoff.sent_at >= since, Handoff.sent_at < until)
        .where(Handoff.answered_at.is_not(None))
    )).all()
    hours = sorted((a - s).total_seconds() / 3600 for s, a in answered)
    return {
        "since": since, "until": until, "calls": total, "non_police_calls": non_police,
        "non_police_diverted": diverted_np,
        "diversion_share": round(diverted_np / non_police, 4) if non_police else None,
        "diverted_total": diverted_all,
        "handoffs": {s: int(by_status.get(s, 0)) for s in LABELS},
        "answer_hours_p50": _pct(hours, 0.5), "answer_hours_p90": _pct(hours, 0.9),
    }


def _pct(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return round(sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))], 2)
