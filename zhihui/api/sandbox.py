"""/sandbox: the simulated clock of a sandbox server (drills, simulator studies).

Mounted only when the server runs with ZHIHUI_SANDBOX=1; a production server has no such route, so
its clock cannot be touched through the API.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import field_validator

from zhihui.api.deps import ADMINS, ALL_ROLES, bus_of, require, unit_of_work
from zhihui.core import audit
from zhihui.core.auth import Actor
from zhihui.core.clock import ClockError, SimClock, sim_clock
from zhihui.core.errors import DomainError
from zhihui.core.schemas import StrictModel
from zhihui.instructions.service import scan_overdue

router = APIRouter(prefix="/sandbox", tags=["sandbox"])
# A simulator moves the clock thousands of times a day; the audit log keeps the jumps of an hour or
# more (a trainer skipping ahead), not every tick.
_AUDIT_STEP = timedelta(hours=1)


class ClockSet(StrictModel):
    now: datetime
    """The new simulated time, with a UTC offset; never earlier than the clock's current time."""

    @field_validator("now")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("now must carry a UTC offset, e.g. 2026-11-23T08:00:00+08:00")
        return v


def _clock() -> SimClock:
    clock = sim_clock()
    if clock is None:
        raise DomainError("this server is not running a simulated clock", code="no_sim_clock")
    return clock


@router.get("/clock")
async def read_clock(_actor: Annotated[Actor, Depends(require(*ALL_ROLES))]) -> dict[str, object]:
    return {"now": _clock()(), "simulated": True}


@router.put("/clock")
async def set_clock(request: Request, body: ClockSet,
                    actor: Annotated[Actor, Depends(require(*ADMINS))]) -> dict[str, object]:
    """Move the simulated time forward, then mark the deadlines it passed (as the timer would have)."""
    clock = _clock()
    before = clock()
    try:
        now = clock.set(body.now)
    except ClockError as exc:
        raise DomainError(str(exc), state=before.isoformat(), code="clock_backwards") from exc
    async with unit_of_work(request) as session:
        escalated = await scan_overdue(session, now)
        if now - before >= _AUDIT_STEP:
            audit.append(session, actor, "sandbox.clock", component="sandbox",
                         detail={"from": before.isoformat(), "to": now.isoformat()})
    if escalated:
        bus_of(request).committed()
    return {"now": now, "simulated": True, "escalated": escalated}
