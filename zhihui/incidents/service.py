"""警情 use cases. Each function runs inside the caller's transaction (one unit of work)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, Text, bindparam, cast, func, insert, or_, select, text
from sqlalchemy.dialects.postgresql import REGCLASS
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from zhihui.core import audit, events
from zhihui.core.auth import Actor
from zhihui.core.clock import local_date_str, utcnow
from zhihui.core.config import Settings
from zhihui.core.errors import DomainError, InvalidInput
from zhihui.core.orgs import jurisdiction_index
from zhihui.core.store import Database, fetch
from zhihui.incidents.categories import categories
from zhihui.incidents.domain import (
    OPEN_STATUSES,
    STATUS_LABELS,
    IncidentStatus,
    check_reopen,
    check_transition,
    incident_number,
    progress_after_instruction_change,
)
from zhihui.incidents.models import Counter, IdempotencyKey, Incident
from zhihui.incidents.schemas import IncidentCreate
from zhihui.instructions.models import Instruction

COMPONENT = "incidents"


def request_hash(body: IncidentCreate) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# Statements built once: parameters are bound per call, so the compiled form is reused.
_incidents = Incident.__table__
_INSERT_INCIDENT = insert(_incidents).returning(_incidents.c.id, _incidents.c.number)
_next = select(cast(func.nextval(cast(bindparam("seq_name", type_=String), REGCLASS)), Text).label("v")).subquery()
# nextval() is evaluated once in the subquery; lpad() would truncate a 6-digit sequence, so the
# width is at least 5 and never less than the number itself.
_NUMBER_SQL = select(func.lpad(_next.c.v, func.greatest(5, func.length(_next.c.v)), "0")).scalar_subquery()
_PG_INSERT_INCIDENT = (
    insert(_incidents)
    .values(number=bindparam("number_prefix", type_=String) + _NUMBER_SQL)
    .returning(_incidents.c.id, _incidents.c.number)
)
_INSERT_KEY = insert(IdempotencyKey.__table__)
_INSERT_EVENT = insert(events.Event.__table__)
_INSERT_AUDIT = insert(audit.AuditRecord.__table__)


def _prefixed_insert(table: Any, prefix: str, skip: tuple[str, ...] = ("id", "chain_seq", "prev_hash", "hash")) -> Any:
    cols = [c for c in table.c if c.name not in skip]
    return insert(table).values({c.name: bindparam(f"{prefix}{c.name}", type_=c.type) for c in cols})


def _side_rows_statement(with_key: bool) -> Any:
    """PostgreSQL: timeline event, audit row (and idempotency key) in ONE statement, as
    data-modifying CTEs: two round trips fewer on the hottest path."""
    ev = _prefixed_insert(events.Event.__table__, "ev_").cte("ev")
    au = _prefixed_insert(audit.AuditRecord.__table__, "au_").cte("au")
    main = _prefixed_insert(IdempotencyKey.__table__, "ik_") if with_key else None
    if main is None:
        return _prefixed_insert(events.Event.__table__, "ev_").add_cte(au)
    return main.add_cte(ev).add_cte(au)


_PG_SIDE_ROWS = {True: _side_rows_statement(True), False: _side_rows_statement(False)}


async def _pg_day_sequence(db: Database, center_code: str, day: str) -> str:
    """One PostgreSQL sequence per centre and day. nextval() takes no row lock, so concurrent
    intakes never queue on a counter until commit; sequences are crash-safe (a value handed to a
    committed transaction is never handed out again); a rolled-back intake leaves a gap."""
    if not (center_code.isdigit() and day.isdigit()):
        raise ValueError("centre code and day must be digits")
    name = f"incident_seq_{center_code}_{day}"
    known: set[str] = db.cache.setdefault("incident_sequences", set())
    if name not in known:
        prefix = incident_number(center_code, day, 0)[:-5]
        async with db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            # Start after any number already issued today, so a lost or restored sequence never
            # hands out a number twice.
            last = (await conn.execute(
                select(func.max(Incident.number)).where(Incident.number.startswith(prefix, autoescape=True))
            )).scalar_one_or_none()
            start = int(last[len(prefix):]) + 1 if last else 1
            try:
                await conn.execute(text(f"CREATE SEQUENCE IF NOT EXISTS {name} START WITH {start}"))
            except IntegrityError:
                pass  # another process created it at the same moment
        known.add(name)
    return name


_counters = Counter.__table__
_SQLITE_NEXT = (
    sqlite_insert(_counters).values(name=bindparam("name"), value=1)
    .on_conflict_do_update(index_elements=[_counters.c.name], set_={"value": _counters.c.value + 1})
    .returning(_counters.c.value)
)
_keys = IdempotencyKey.__table__
_FIND_KEY = select(_keys.c.request_hash, _keys.c.incident_id).where(_keys.c.key == bindparam("key"))


async def _sqlite_next_seq(session: AsyncSession, name: str) -> int:
    # SQLite: the write lock is already ours for the whole transaction, so a counter row is free.
    conn = await session.connection()
    return int((await conn.execute(_SQLITE_NEXT, {"name": name})).scalar_one())


async def find_by_idempotency_key(session: AsyncSession, key: str, req_hash: str) -> Incident | None:
    conn = await session.connection()
    row = (await conn.execute(_FIND_KEY, {"key": key})).first()
    if row is None:
        return None
    if row.request_hash != req_hash:
        raise InvalidInput(
            "Idempotency-Key", "Idempotency-Key was already used with a different request body"
        )
    return await session.get(Incident, row.incident_id)


async def create_incident(
    db: Database,
    settings: Settings,
    actor: Actor,
    body: IncidentCreate,
    idempotency_key: str | None = None,
) -> tuple[Incident, bool]:
    """Record a call. Returns (incident, replayed). Commits before returning: the caller may
    acknowledge as soon as this returns.

    This is the hottest write path, so it uses plain INSERTs (no ORM unit of work) and as few
    round trips as possible: the incident (numbered in the same statement on PostgreSQL), then the
    idempotency key, timeline event and audit row (one statement on PostgreSQL), then commit. A
    repeated key is not looked up first: its unique index rejects the insert, the transaction rolls
    back, and the stored incident is returned. Retries are rare; first attempts are every call.
    (On PostgreSQL such a retry leaves a gap in the day's numbers, like any rolled-back intake.)"""
    req_hash = request_hash(body)
    received = body.received_at or utcnow()
    day = local_date_str(received)
    seq_name = await _pg_day_sequence(db, settings.center_code, day) if db.dialect == "postgresql" else None
    jurisdiction = None
    if body.lat is not None and body.lon is not None:
        jurisdiction = (await jurisdiction_index(db)).locate(body.lat, body.lon)
    try:
        for attempt in (1, 2):
            try:
                async with db.tx() as session:
                    incident = await _insert_incident(session, settings, actor, body, received, day, seq_name,
                                                      idempotency_key, req_hash, jurisdiction)
                return incident, False
            except ProgrammingError as exc:
                # The day's sequence vanished under us (database restored or cleaned up): make it again.
                if seq_name is None or attempt == 2 or "does not exist" not in str(exc.orig):
                    raise
                db.cache.get("incident_sequences", set()).discard(seq_name)
                seq_name = await _pg_day_sequence(db, settings.center_code, day)
        raise AssertionError("unreachable")
    except IntegrityError:
        # The key was used before (a retry, or two requests racing): return the stored incident.
        if not idempotency_key:
            raise
        async with db.read() as session:
            existing = await find_by_idempotency_key(session, idempotency_key, req_hash)
        if existing is None:
            raise
        return existing, True


async def _insert_incident(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    body: IncidentCreate,
    received: datetime,
    day: str,
    seq_name: str | None,
    idempotency_key: str | None,
    req_hash: str,
    jurisdiction: int | None = None,
) -> Incident:
    cat = categories().get(body.category_code)
    assert cat is not None  # validated by the schema
    urgent = cat.urgent if body.urgent is None else body.urgent
    level = body.level or cat.level
    close_after = settings.deadlines.close_urgent if urgent else settings.deadlines.close_normal
    values: dict[str, Any] = {
        "channel": body.channel.value,
        "caller_phone": body.caller_phone,
        "caller_name": body.caller_name,
        "recording_ref": body.recording_ref,
        "address": body.address,
        "lat": body.lat,
        "lon": body.lon,
        "jurisdiction_org_id": jurisdiction,
        "category_code": cat.code,
        "level": level,
        "urgent": urgent,
        "description": body.description,
        "status": IncidentStatus.RECEIVED.value,
        "received_at": received,
        "close_deadline": received + timedelta(seconds=close_after),
        "created_by": actor.user_id,
        "seat": actor.seat,
        "updated_at": utcnow(),
    }
    if seq_name is not None:
        values["seq_name"] = seq_name
        values["number_prefix"] = incident_number(settings.center_code, day, 0)[:-5]
        stmt = _PG_INSERT_INCIDENT
    else:
        seq = await _sqlite_next_seq(session, f"incident:{settings.center_code}:{day}")
        values["number"] = incident_number(settings.center_code, day, seq)
        stmt = _INSERT_INCIDENT
    conn = await session.connection()
    row = (await conn.execute(stmt, values)).one()
    values.pop("seq_name", None)
    values.pop("number_prefix", None)
    values["number"] = row.number
    incident = Incident(id=row.id, **values)
    data = {"number": row.number, "channel": values["channel"], "category_code": cat.code, "level": level,
            "urgent": urgent, "address": body.address, "lat": body.lat, "lon": body.lon}
    key_row = {"key": idempotency_key, "request_hash": req_hash, "incident_id": row.id,
               "created_at": values["updated_at"]}
    event_row = events.event_values(actor, "incident.created", incident_id=row.id, data=data)
    audit_row = audit.record_values(actor, "incident.create", component=COMPONENT, target_type="incident",
                                    target_id=row.id, detail={"number": row.number})
    if seq_name is not None:
        params = {**{f"ev_{k}": v for k, v in event_row.items()}, **{f"au_{k}": v for k, v in audit_row.items()}}
        if idempotency_key:
            params.update({f"ik_{k}": v for k, v in key_row.items()})
        await conn.execute(_PG_SIDE_ROWS[bool(idempotency_key)], params)
    else:
        if idempotency_key:
            await conn.execute(_INSERT_KEY, key_row)
        await conn.execute(_INSERT_EVENT, event_row)
        await conn.execute(_INSERT_AUDIT, audit_row)
    return incident


async def get_incident(session: AsyncSession, incident_id: int, *, lock: bool = False) -> Incident:
    return await fetch(session, Incident, incident_id, "incident", lock=lock)


async def list_incidents(
    session: AsyncSession,
    *,
    status: list[IncidentStatus] | None = None,
    category: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Incident]:
    stmt = select(Incident)
    if status:
        stmt = stmt.where(Incident.status.in_([s.value for s in status]))
    if category:
        # A top-level or mid-level code selects its whole subtree.
        stmt = stmt.where(Incident.category_code.startswith(category, autoescape=True))
    if since is not None:
        stmt = stmt.where(Incident.received_at >= since)
    stmt = stmt.order_by(Incident.received_at.desc(), Incident.id.desc()).limit(limit).offset(offset)
    return list((await session.execute(stmt)).scalars())


def _set_status(incident: Incident, target: IncidentStatus, at: datetime) -> str:
    previous = incident.status
    check_transition(incident.status, target)
    incident.status = target.value
    stamp = {
        IncidentStatus.DISPATCHED: "dispatched_at",
        IncidentStatus.ON_SCENE: "on_scene_at",
        IncidentStatus.HANDLED: "handled_at",
        IncidentStatus.CLOSED: "closed_at",
    }.get(target)
    if stamp and getattr(incident, stamp) is None:
        setattr(incident, stamp, at)
    return previous


def _status_event(session: AsyncSession, actor: Actor, incident: Incident, previous: str,
                  extra: dict[str, Any] | None = None) -> None:
    events.record(
        session, actor, f"incident.{incident.status}", incident_id=incident.id,
        data={"from": previous, "to": incident.status, **(extra or {})},
    )


async def mark_dispatched(session: AsyncSession, actor: Actor, incident: Incident) -> None:
    if incident.status == IncidentStatus.RECEIVED:
        previous = _set_status(incident, IncidentStatus.DISPATCHED, utcnow())
        _status_event(session, actor, incident, previous)
    elif incident.status == IncidentStatus.HANDLED:
        # More units sent after feedback: the incident is live again.
        previous = _set_status(incident, IncidentStatus.DISPATCHED, utcnow())
        _status_event(session, actor, incident, previous)


async def on_instruction_changed(
    session: AsyncSession, actor: Actor, incident_id: int, instruction_statuses: list[str]
) -> None:
    """Advance the incident from the states of its 处警 instructions."""
    incident = await get_incident(session, incident_id, lock=True)
    target = progress_after_instruction_change(IncidentStatus(incident.status), instruction_statuses)
    if target.value != incident.status:
        previous = _set_status(incident, target, utcnow())
        _status_event(session, actor, incident, previous)


async def close_incident(session: AsyncSession, actor: Actor, incident_id: int, result: str,
                         open_instructions: int) -> Incident:
    incident = await get_incident(session, incident_id, lock=True)
    check_transition(incident.status, IncidentStatus.CLOSED)
    if open_instructions:
        raise DomainError(
            f"{open_instructions} instruction(s) of this incident are still open",
            state=incident.status, code="instructions_open",
        )
    previous = _set_status(incident, IncidentStatus.CLOSED, utcnow())
    incident.close_result = result
    _status_event(session, actor, incident, previous, {"result": result})
    audit.append(session, actor, "incident.close", component=COMPONENT, target_type="incident",
                 target_id=incident.id)
    return incident


async def cancel_incident(session: AsyncSession, actor: Actor, incident_id: int, reason: str,
                          open_instructions: int) -> Incident:
    incident = await get_incident(session, incident_id, lock=True)
    check_transition(incident.status, IncidentStatus.CANCELLED)
    if open_instructions:
        raise DomainError("withdraw the open instructions before cancelling", state=incident.status,
                          code="instructions_open")
    previous = _set_status(incident, IncidentStatus.CANCELLED, utcnow())
    incident.close_result = reason
    _status_event(session, actor, incident, previous, {"reason": reason})
    audit.append(session, actor, "incident.cancel", component=COMPONENT, target_type="incident",
                 target_id=incident.id)
    return incident


async def divert_incident(session: AsyncSession, actor: Actor, incident_id: int, note: str) -> Incident:
    incident = await get_incident(session, incident_id, lock=True)
    previous = _set_status(incident, IncidentStatus.DIVERTED, utcnow())
    incident.close_result = note
    _status_event(session, actor, incident, previous, {"to": "12345", "note": note})
    audit.append(session, actor, "incident.divert", component=COMPONENT, target_type="incident",
                 target_id=incident.id, detail={"to": "12345"})
    return incident


async def merge_incident(session: AsyncSession, actor: Actor, incident_id: int, into_id: int) -> Incident:
    if incident_id == into_id:
        raise InvalidInput("into_id", "an incident cannot be merged into itself")
    incident = await get_incident(session, incident_id, lock=True)
    target = await get_incident(session, into_id, lock=True)
    if target.status not in OPEN_STATUSES:
        raise DomainError(f"target incident is '{target.status}'", state=target.status, code="target_closed")
    previous = _set_status(incident, IncidentStatus.MERGED, utcnow())
    incident.merged_into_id = target.id
    _status_event(session, actor, incident, previous, {"into": target.id, "into_number": target.number})
    # Every caller and recording reference stays on the surviving incident's timeline.
    events.record(session, actor, "incident.merged_in", incident_id=target.id, data=_caller(incident))
    audit.append(session, actor, "incident.merge", component=COMPONENT, target_type="incident",
                 target_id=incident.id, detail={"into": target.id})
    return incident


def _caller(incident: Incident) -> dict[str, Any]:
    return {"from": incident.id, "from_number": incident.number, "channel": incident.channel,
            "caller_phone": incident.caller_phone, "caller_name": incident.caller_name,
            "recording_ref": incident.recording_ref, "received_at": incident.received_at.isoformat(),
            "address": incident.address, "description": incident.description}


async def unmerge_incident(session: AsyncSession, actor: Actor, incident_id: int, reason: str,
                           instruction_statuses: list[str]) -> Incident:
    """Undo a wrong merge: the call becomes an incident of its own again (received, or as far as
    its own instructions got), and both timelines say so."""
    incident = await get_incident(session, incident_id, lock=True)
    if incident.status != IncidentStatus.MERGED or incident.merged_into_id is None:
        raise DomainError("only a merged incident can be un-merged", state=incident.status, code="not_merged")
    target = progress_after_instruction_change(IncidentStatus.DISPATCHED, instruction_statuses) \
        if [s for s in instruction_statuses if s != "cancelled"] else IncidentStatus.RECEIVED
    check_reopen(incident.status, target)
    previous, into = incident.status, incident.merged_into_id
    incident.status = target.value
    incident.merged_into_id = None
    # Its units went on working while it was merged: stamp the stages it reached in the meantime.
    now = utcnow()
    reached = {IncidentStatus.DISPATCHED: ("dispatched_at",),
               IncidentStatus.ON_SCENE: ("dispatched_at", "on_scene_at"),
               IncidentStatus.HANDLED: ("dispatched_at", "on_scene_at", "handled_at")}.get(target, ())
    for stamp in reached:
        if getattr(incident, stamp) is None:
            setattr(incident, stamp, now)
    _status_event(session, actor, incident, previous, {"unmerged_from": into, "reason": reason})
    events.record(session, actor, "incident.merged_out", incident_id=into,
                  data={"from": incident.id, "from_number": incident.number, "reason": reason})
    audit.append(session, actor, "incident.unmerge", component=COMPONENT, target_type="incident",
                 target_id=incident.id, detail={"from": into, "reason": reason})
    return incident


async def reopen_diverted(session: AsyncSession, actor: Actor, incident_id: int, reason: str) -> Incident:
    """12345 sent a hand-off back as a police matter: the incident is waiting for dispatch again."""
    incident = await get_incident(session, incident_id, lock=True)
    check_reopen(incident.status, IncidentStatus.RECEIVED)
    previous = incident.status
    incident.status = IncidentStatus.RECEIVED.value
    incident.close_result = None
    _status_event(session, actor, incident, previous, {"reason": reason, "returned_by": "12345"})
    audit.append(session, actor, "incident.reopen", component=COMPONENT, target_type="incident",
                 target_id=incident.id, detail={"reason": reason})
    return incident


async def callers(session: AsyncSession, incident: Incident) -> list[dict[str, Any]]:
    """Everyone who called about this incident: its own caller, then each call merged into it,
    including calls merged into an incident that was itself merged here later."""
    found: list[Incident] = []
    frontier = [incident.id]
    while frontier and len(found) < 1000:
        level = list((await session.execute(
            select(Incident).where(Incident.merged_into_id.in_(frontier)).order_by(Incident.received_at)
        )).scalars())
        found.extend(level)
        frontier = [i.id for i in level]
    found.sort(key=lambda i: (i.received_at, i.id))
    return [{**_caller(i), "merged": i.id != incident.id} for i in (incident, *found)]


async def backlog(session: AsyncSession, now: datetime) -> list[Incident]:
    """警情清零: every open incident past its closing deadline or with an overdue instruction."""
    overdue_instr = (
        select(Instruction.incident_id)
        .where(Instruction.incident_id.is_not(None))
        .where(or_(Instruction.sign_overdue_at.is_not(None), Instruction.feedback_overdue_at.is_not(None)))
        .where(Instruction.status.not_in(["feedback", "cancelled"]))
    )
    stmt = (
        select(Incident)
        .where(Incident.status.in_([s.value for s in OPEN_STATUSES]))
        .where(or_(Incident.close_deadline < now, Incident.id.in_(overdue_instr)))
        .order_by(Incident.level, Incident.received_at)
    )
    return list((await session.execute(stmt)).scalars())


def incident_out(incident: Incident) -> dict[str, Any]:
    status = IncidentStatus(incident.status)
    return {
        "id": incident.id,
        "number": incident.number,
        "channel": incident.channel,
        "caller_phone": incident.caller_phone,
        "caller_name": incident.caller_name,
        "recording_ref": incident.recording_ref,
        "address": incident.address,
        "lat": incident.lat,
        "lon": incident.lon,
        "jurisdiction_org_id": incident.jurisdiction_org_id,
        "category_code": incident.category_code,
        "category_label": categories().label(incident.category_code),
        "level": incident.level,
        "urgent": incident.urgent,
        "description": incident.description,
        "status": status,
        "status_label": STATUS_LABELS[status],
        "received_at": incident.received_at,
        "dispatched_at": incident.dispatched_at,
        "on_scene_at": incident.on_scene_at,
        "handled_at": incident.handled_at,
        "closed_at": incident.closed_at,
        "close_deadline": incident.close_deadline,
        "close_result": incident.close_result,
        "merged_into_id": incident.merged_into_id,
        "seat": incident.seat,
    }
