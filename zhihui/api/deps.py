"""Request context: the database, the caller (Actor) and role checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from zhihui.core.auth import Actor, Role, decode_token
from zhihui.core.bus import Bus
from zhihui.core.config import Settings
from zhihui.core.store import Database


def db_of(request: Request) -> Database:
    return request.app.state.db


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def bus_of(request: Request) -> Bus:
    return request.app.state.bus


@asynccontextmanager
async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction; committed before the response is built, then live streams are woken."""
    async with db_of(request).tx() as session:
        yield session
    bus_of(request).committed()


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    # EventSource cannot set headers: the live stream may pass the token as a query parameter.
    return request.query_params.get("access_token")


async def current_actor(request: Request) -> Actor:
    token = _token(request)
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not authenticated",
                            headers={"WWW-Authenticate": "Bearer"})
    try:
        claims = decode_token(token, settings_of(request).secret_key)
    except jwt.PyJWTError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"invalid token: {exc}",
                            headers={"WWW-Authenticate": "Bearer"}) from exc
    seat = request.headers.get("x-seat")
    unit = claims.get("unit")
    org = claims.get("org")
    return Actor(
        user_id=int(str(claims["sub"])),
        username=str(claims.get("usr", "")),
        role=str(claims.get("role", "")),
        seat=seat[:64] if seat else None,
        unit_id=int(str(unit)) if unit is not None else None,
        ip=request.client.host if request.client else None,
        org_id=int(str(org)) if org is not None else None,
    )


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, Actor]]:
    allowed = {r.value for r in roles}

    async def check(actor: Actor = Depends(current_actor)) -> Actor:
        if actor.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role '{actor.role}' may not do this; allowed: {', '.join(sorted(allowed))}",
            )
        return actor

    return check


ALL_ROLES = tuple(Role)
INTAKE = (Role.CALL_TAKER, Role.DISPATCHER, Role.COMMANDER)
DISPATCHERS = (Role.DISPATCHER, Role.COMMANDER)
FIELD = (Role.OFFICER, Role.DISPATCHER, Role.COMMANDER)
CLOSERS = (Role.COMMANDER,)
UNIT_ADMINS = (Role.ADMIN, Role.COMMANDER)
POSITION_SENDERS = (Role.OFFICER, Role.DISPATCHER, Role.COMMANDER, Role.ADMIN)
SUPERVISORS = (Role.DISPATCHER, Role.COMMANDER, Role.LEADER, Role.INSPECTOR)
AUDITORS = (Role.INSPECTOR, Role.ADMIN)
ADMINS = (Role.ADMIN,)


def attachment(fallback: str, name: str) -> dict[str, str]:
    """Headers that save a download as `name` (Chinese is fine: RFC 6266 filename*), with an ASCII `fallback`
    for clients that read only the plain filename."""
    from urllib.parse import quote

    return {"Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"}
