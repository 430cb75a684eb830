"""/events: the live stream (Server-Sent Events) with catch-up from the durable event table.

A client that reconnects sends `Last-Event-ID` (or `?after=`) and first receives every event it
missed. On PostgreSQL ids are taken before commit, so a transaction can commit a lower id after a
higher one was already sent; the stream keeps such holes for a few seconds and re-reads them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from zhihui.api.deps import ALL_ROLES, bus_of, db_of, require
from zhihui.core import events
from zhihui.core.auth import Actor

router = APIRouter(tags=["events"])
POLL_S = 1.0
HEARTBEAT_S = 15.0
HOLE_TTL_S = 10.0


def _sse(event: dict[str, Any], *, with_id: bool = True) -> bytes:
    lines = []
    if with_id and event.get("id") is not None:
        lines.append(f"id: {event['id']}")
    lines.append(f"event: {event['type']}")
    lines.append("data: " + json.dumps(event, ensure_ascii=False, default=str))
    return ("\n".join(lines) + "\n\n").encode()


class Cursor:
    """Last id delivered plus recent holes below it that may still fill in."""

    def __init__(self, after: int) -> None:
        self.last = after
        self.holes: dict[int, float] = {}

    def advance(self, ids: list[int]) -> None:
        now = time.monotonic()
        for i in ids:
            self.holes.pop(i, None)
            if i > self.last + 1:
                for missing in range(self.last + 1, min(i, self.last + 1 + 1000)):
                    self.holes.setdefault(missing, now)
            self.last = max(self.last, i)
        for hole, seen in list(self.holes.items()):
            if now - seen > HOLE_TTL_S:
                del self.holes[hole]


async def _fetch(request: Request, cursor: Cursor) -> list[dict[str, Any]]:
    async with db_of(request).read() as session:
        rows = await events.events_after(session, cursor.last)
        late = await events.events_by_ids(session, list(cursor.holes)) if cursor.holes else []
    found = sorted({e.id: e for e in [*late, *rows]}.values(), key=lambda e: e.id)
    cursor.advance([e.id for e in found])
    return [events.event_dict(e) for e in found]


@router.get("/events")
async def stream(
    request: Request,
    _actor: Annotated[Actor, Depends(require(*ALL_ROLES))],
    after: Annotated[int | None, Query(ge=0)] = None,
) -> StreamingResponse:
    last_header = request.headers.get("last-event-id")
    start = after if after is not None else (int(last_header) if last_header and last_header.isdigit() else None)
    if start is None:
        # A fresh client starts at the present; the incident list gives it the state.
        async with db_of(request).read() as session:
            start = (await session.execute(select(func.coalesce(func.max(events.Event.id), 0)))).scalar_one()
    cursor = Cursor(int(start))
    bus = bus_of(request)
    queue = bus.subscribe()

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 2000\n\n"
            yield _sse({"type": "stream.open", "id": None, "after": cursor.last}, with_id=False)
            for event in await _fetch(request, cursor):
                yield _sse(event)
            last_beat = time.monotonic()
            while not await request.is_disconnected():
                try:
                    items = [await asyncio.wait_for(queue.get(), timeout=POLL_S)]
                except TimeoutError:
                    items = [None]
                # Coalesce a burst of commits into one read of the table.
                while not queue.empty():
                    items.append(queue.get_nowait())
                for item in items:
                    if item is not None:
                        yield _sse(item, with_id=False)
                if None in items:
                    for event in await _fetch(request, cursor):
                        yield _sse(event)
                if time.monotonic() - last_beat > HEARTBEAT_S:
                    yield b": keep-alive\n\n"
                    last_beat = time.monotonic()
        finally:
            bus.unsubscribe(queue)

    return StreamingResponse(
        body(), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
