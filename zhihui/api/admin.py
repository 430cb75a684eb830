"""/audit and reference data (/meta)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from zhihui.api.deps import ALL_ROLES, AUDITORS, require, unit_of_work
from zhihui.core import audit
from zhihui.core.auth import ROLE_LABELS, Actor
from zhihui.dispatch.domain import UNIT_STATUS_LABELS
from zhihui.incidents.categories import categories
from zhihui.incidents.domain import STATUS_LABELS, Channel
from zhihui.instructions.domain import KIND_LABELS, RESULT_CODES

router = APIRouter()


@router.get("/audit", tags=["audit"])
async def read_audit(request: Request, actor: Annotated[Actor, Depends(require(*AUDITORS))],
                     after: Annotated[int, Query(ge=0)] = 0,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict[str, object]]:
    async with unit_of_work(request) as session:
        # Reading the audit log is itself audited.
        audit.append(session, actor, "audit.read", component="audit", detail={"after": after, "limit": limit})
        rows = (await session.execute(
            select(audit.AuditRecord).where(audit.AuditRecord.id > after).order_by(audit.AuditRecord.id)
            .limit(limit))).scalars().all()
        return [
            {"id": r.id, "at": r.at, "user": r.username, "role": r.role, "seat": r.seat, "ip": r.ip,
             "action": r.action, "component": r.component, "target_type": r.target_type,
             "target_id": r.target_id, "outcome": r.outcome, "detail": r.detail, "chain_seq": r.chain_seq,
             "hash": r.hash}
            for r in rows
        ]


@router.post("/audit/verify", tags=["audit"])
async def verify_audit(request: Request, actor: Annotated[Actor, Depends(require(*AUDITORS))]) -> dict:
    async with unit_of_work(request) as session:
        await audit.seal(session)
    async with unit_of_work(request) as session:
        report = await audit.verify(session)
        audit.append(session, actor, "audit.verify", component="audit", outcome="success" if report.ok else "failure",
                     detail={"rows": report.rows, "problems": len(report.problems)})
    return {"ok": report.ok, "rows": report.rows, "sealed": report.sealed, "unsealed": report.unsealed,
            "problems": report.problems}


@router.get("/meta/categories", tags=["meta"])
async def category_tree(_actor: Annotated[Actor, Depends(require(*ALL_ROLES))]) -> list[dict[str, object]]:
    return categories().as_tree()


@router.get("/meta/labels", tags=["meta"])
async def labels() -> dict[str, dict[str, str]]:
    """Chinese labels of the codes the API returns (the UI's English switch keeps the codes)."""
    return {
        "incident_status": {k.value: v for k, v in STATUS_LABELS.items()},
        "unit_status": {k.value: v for k, v in UNIT_STATUS_LABELS.items()},
        "instruction_kind": {k.value: v for k, v in KIND_LABELS.items()},
        "result_code": RESULT_CODES,
        "role": {k.value: v for k, v in ROLE_LABELS.items()},
        "channel": {c.value: c.value for c in Channel},
    }
