"""Append-only, hash-chained audit log (GB/T 22239-2019 安全审计).

Rows are inserted in the same transaction as the action they record, without taking any global
lock, so intake is never serialised behind the log. A single sealer then chains committed rows in
the order it sees them: `chain_seq` is gapless, `prev_hash` is the previous row's `hash`, and
`hash = sha256(prev_hash || canonical content)`. `verify()` detects an edited row (hash mismatch),
a deleted row (gap in chain_seq or broken prev_hash) and rows left unsealed for too long.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from zhihui.core.auth import Actor
from zhihui.core.clock import utcnow
from zhihui.core.store import Base, UTCDateTime

GENESIS = "0" * 64
SEAL_BATCH = 5000


class AuditRecord(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    seat: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))  # e.g. incident.create, auth.login_failed
    component: Mapped[str] = mapped_column(String(32))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    chain_seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditAnchor(Base):
    """Chain head after each seal: truncating the tail of the log no longer goes unnoticed."""

    __tablename__ = "audit_anchors"

    chain_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


_audit = AuditRecord.__table__
_SEAL_UPDATE = (
    update(_audit)
    .where(_audit.c.id == bindparam("row_id"))
    .values(chain_seq=bindparam("chain_seq"), prev_hash=bindparam("prev_hash"), hash=bindparam("hash"))
)


def record_values(
    actor: Actor,
    action: str,
    *,
    component: str,
    target_type: str | None = None,
    target_id: object = None,
    outcome: str = "success",
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Column values of one audit row (for a plain INSERT on hot paths)."""
    return {
        "at": utcnow(),
        "user_id": actor.user_id,
        "username": actor.username,
        "role": actor.role,
        "seat": actor.seat,
        "ip": actor.ip,
        "action": action,
        "component": component,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id),
        "outcome": outcome,
        "detail": detail,
    }


def append(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    component: str,
    target_type: str | None = None,
    target_id: object = None,
    outcome: str = "success",
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    record = AuditRecord(**record_values(actor, action, component=component, target_type=target_type,
                                         target_id=target_id, outcome=outcome, detail=detail))
    session.add(record)
    return record


def _content(r: Any, chain_seq: int | None) -> bytes:
    """Canonical bytes of a row (an ORM record or a Core row: both have these attributes)."""
    body = {
        "id": r.id,
        "at": r.at.isoformat(timespec="microseconds"),
        "user_id": r.user_id,
        "username": r.username,
        "role": r.role,
        "seat": r.seat,
        "ip": r.ip,
        "action": r.action,
        "component": r.component,
        "target_type": r.target_type,
        "target_id": r.target_id,
        "outcome": r.outcome,
        "detail": r.detail,
        "chain_seq": chain_seq,
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def row_hash(prev_hash: str, record: Any, chain_seq: int | None = None) -> str:
    seq = record.chain_seq if chain_seq is None else chain_seq
    return hashlib.sha256(prev_hash.encode() + _content(record, seq)).hexdigest()


async def seal(session: AsyncSession) -> int:
    """Chain every committed, unsealed row. Returns how many were sealed.

    On PostgreSQL a transaction-level advisory lock makes one sealer at a time across processes;
    SQLite's write lock does the same there.
    """
    if session.bind.dialect.name == "postgresql":
        got = (await session.execute(text("SELECT pg_try_advisory_xact_lock(7420001)"))).scalar()
        if not got:
            return 0
    head = (
        await session.execute(
            select(AuditRecord.chain_seq, AuditRecord.hash)
            .where(AuditRecord.chain_seq.is_not(None))
            .order_by(AuditRecord.chain_seq.desc())
            .limit(1)
        )
    ).first()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS)
    # Plain rows and one executemany UPDATE: sealing runs every second on the server's event loop,
    # so it must stay cheap (ORM objects cost ~50 µs a row here).
    pending = (
        await session.execute(
            select(_audit).where(_audit.c.chain_seq.is_(None)).order_by(_audit.c.id).limit(SEAL_BATCH)
        )
    ).all()
    updates = []
    for row in pending:
        seq += 1
        digest = row_hash(prev, row, seq)
        updates.append({"row_id": row.id, "chain_seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    if updates:
        await session.execute(_SEAL_UPDATE, updates)
        session.add(AuditAnchor(chain_seq=seq, hash=prev, at=utcnow()))
    await session.flush()
    return len(pending)


@dataclass
class VerifyReport:
    ok: bool
    rows: int
    sealed: int
    unsealed: int
    problems: list[str] = field(default_factory=list)


async def verify(session: AsyncSession, *, unsealed_grace: timedelta = timedelta(minutes=1)) -> VerifyReport:
    """Walk the chain; any edited, deleted or re-ordered row is reported by chain_seq and id."""
    problems: list[str] = []
    prev = GENESIS
    expected_seq = 1
    sealed = 0
    result = await session.stream(
        select(AuditRecord).where(AuditRecord.chain_seq.is_not(None)).order_by(AuditRecord.chain_seq)
    )
    async for record in result.scalars():
        sealed += 1
        if record.chain_seq != expected_seq:
            problems.append(
                f"chain_seq {expected_seq}..{record.chain_seq - 1} missing before row id={record.id}"
                " (deleted rows)"
            )
            expected_seq = record.chain_seq
        if record.prev_hash != prev:
            problems.append(f"row chain_seq={record.chain_seq} id={record.id}: prev_hash does not match")
        if record.hash != row_hash(record.prev_hash or "", record):
            problems.append(f"row chain_seq={record.chain_seq} id={record.id}: content changed (hash mismatch)")
        prev = record.hash or ""
        expected_seq += 1
    anchor = (
        await session.execute(select(AuditAnchor).order_by(AuditAnchor.chain_seq.desc()).limit(1))
    ).scalar_one_or_none()
    if anchor is not None:
        head = (
            await session.execute(select(AuditRecord.hash).where(AuditRecord.chain_seq == anchor.chain_seq))
        ).scalar_one_or_none()
        if head != anchor.hash:
            problems.append(f"anchored head chain_seq={anchor.chain_seq} is missing or changed (tail deleted)")
    total = (await session.execute(select(func.count()).select_from(AuditRecord))).scalar_one()
    cutoff = utcnow() - unsealed_grace
    stale = (
        await session.execute(
            select(func.count())
            .select_from(AuditRecord)
            .where(AuditRecord.chain_seq.is_(None), AuditRecord.at < cutoff)
        )
    ).scalar_one()
    if stale:
        problems.append(f"{stale} rows older than {unsealed_grace} are not sealed")
    return VerifyReport(
        ok=not problems, rows=total, sealed=sealed, unsealed=total - sealed, problems=problems
    )
