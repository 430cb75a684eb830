"""Recorded relations (登记关系): 亲属 and 同案 that no activity record shows, entered by an analyst from the
户籍 file or a case file, and drawn in the relation graph beside the co-stays and co-travels.

A relation is between two ID numbers (persons need not be on a list); it is withdrawn (撤销) with a reason,
never deleted, and every change is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhihui.core import audit
from zhihui.core.auth import Actor
from zhihui.core.clock import utcnow
from zhihui.core.errors import DomainError, InvalidInput, NotFound
from zhihui.core.schemas import StrictModel
from zhihui.intel.models import PersonRelation

COMPONENT = "intel"
RECORDED_KINDS = ("family", "co_offending")


class RelationIn(StrictModel):
    a: str = Field(min_length=1, max_length=32, description="ID number or key-person id")
    b: str = Field(min_length=1, max_length=32, description="ID number or key-person id")
    kind: Literal["family", "co_offending"]
    detail: str = Field(default="", max_length=200, description="父子, 夫妻 … or the 案件编号")
    source: str = Field(default="", max_length=64, description="户籍信息 / 案卷 / 研判 …")


def relation_out(r: PersonRelation) -> dict[str, Any]:
    return {"id": r.id, "a": r.a, "b": r.b, "kind": r.kind, "detail": r.detail, "source": r.source,
            "created_at": r.created_at, "withdrawn_at": r.withdrawn_at, "withdrawn_reason": r.withdrawn_reason}


async def record(session: AsyncSession, actor: Actor, a: str, b: str, kind: str, *, detail: str = "",
                 source: str = "") -> PersonRelation:
    """Record a relation between two ID numbers (already resolved); a withdrawn one is recorded again."""
    if kind not in RECORDED_KINDS:
        raise InvalidInput("kind", f"recorded relations are {', '.join(RECORDED_KINDS)}; '{kind}' comes from activity")
    if a == b:
        raise InvalidInput("b", "a relation needs two different persons")
    a, b = sorted((a, b))
    rel = (await session.execute(select(PersonRelation).where(
        PersonRelation.a == a, PersonRelation.b == b, PersonRelation.kind == kind))).scalar_one_or_none()
    if rel is not None and rel.withdrawn_at is None:
        raise DomainError(f"this {kind} relation is already recorded (#{rel.id})", code="duplicate")
    if rel is None:
        rel = PersonRelation(a=a, b=b, kind=kind, detail=detail, source=source, created_by=actor.user_id,
                             created_at=utcnow())
        session.add(rel)
    else:
        rel.detail, rel.source, rel.created_by, rel.created_at = detail, source, actor.user_id, utcnow()
        rel.withdrawn_at = rel.withdrawn_reason = None
    await session.flush()
    audit.append(session, actor, "relation.record", component=COMPONENT, target_type="person_relation",
                 target_id=rel.id, detail={"a": a, "b": b, "kind": kind, "detail": detail, "source": source})
    return rel


async def withdraw(session: AsyncSession, actor: Actor, relation_id: int, reason: str) -> PersonRelation:
    rel = await session.get(PersonRelation, relation_id, with_for_update=True)
    if rel is None:
        raise NotFound("relation", relation_id)
    if rel.withdrawn_at is not None:
        raise DomainError(f"relation #{relation_id} was withdrawn already", code="withdrawn")
    rel.withdrawn_at, rel.withdrawn_reason = utcnow(), reason
    audit.append(session, actor, "relation.withdraw", component=COMPONENT, target_type="person_relation",
                 target_id=rel.id, detail={"reason": reason})
    return rel


async def of_person(session: AsyncSession, id_number: str, *, withdrawn: bool = False) -> list[PersonRelation]:
    stmt = select(PersonRelation).where(or_(PersonRelation.a == id_number, PersonRelation.b == id_number))
    if not withdrawn:
        stmt = stmt.where(PersonRelation.withdrawn_at.is_(None))
    return list((await session.execute(stmt.order_by(PersonRelation.id))).scalars())


async def state(session: AsyncSession) -> tuple[int, datetime | None, datetime | None]:
    """What the relation graph's cache key needs: a change here must rebuild the graph."""
    n, created, withdrawn = (await session.execute(select(
        func.count(), func.max(PersonRelation.created_at), func.max(PersonRelation.withdrawn_at)))).one()
    return int(n), created, withdrawn


async def edges(session: AsyncSession) -> pa.Table:
    """The active recorded relations as graph edges (the relation graph's EDGES layout, undated: a family
    tie has no first or last sighting)."""
    rows = (await session.execute(select(PersonRelation.id, PersonRelation.a, PersonRelation.b, PersonRelation.kind,
                                         PersonRelation.detail, PersonRelation.source)
                                  .where(PersonRelation.withdrawn_at.is_(None)))).all()
    ev = [[f"relation:{r.id}" + (f" {r.detail}" if r.detail else "") + (f"（{r.source}）" if r.source else "")]
          for r in rows]
    return pa.table({"a": [r.a for r in rows], "b": [r.b for r in rows], "kind": [r.kind for r in rows],
                     "count": pa.array([1] * len(rows), pa.int64()), "evidence": pa.array(ev, pa.list_(pa.string()))})
