"""/auth and /users: logon (OAuth2 password flow) and user administration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlalchemy import select

from zhihui.api.deps import ADMINS, current_actor, db_of, require, settings_of, unit_of_work
from zhihui.core import audit
from zhihui.core.auth import ROLE_LABELS, Actor, LoginError, Role, User, authenticate, create_user, issue_token
from zhihui.core.schemas import CONTROL_CHARS, StrictModel

router = APIRouter(tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    username: str
    full_name: str
    role: str
    role_label: str
    unit_id: int | None


class UserCreate(StrictModel):
    username: Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
    password: Annotated[str, Field(min_length=8, max_length=128)]
    role: Role
    full_name: Annotated[str | None, Field(max_length=64)] = None
    org_id: int | None = None
    unit_id: int | None = None


def user_out(u: User) -> dict[str, object]:
    return {"id": u.id, "username": u.username, "full_name": u.full_name, "role": u.role,
            "role_label": ROLE_LABELS[Role(u.role)], "org_id": u.org_id, "unit_id": u.unit_id,
            "active": u.active}


@router.post("/auth/token", response_model=TokenOut)
async def login(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenOut:
    settings = settings_of(request)
    seat = request.headers.get("x-seat")
    ip = request.client.host if request.client else None
    failure: LoginError | None = None
    if CONTROL_CHARS.search(form.username) or CONTROL_CHARS.search(form.password):
        raise LoginError("invalid username or password", code="bad_credentials")
    async with db_of(request).tx() as session:
        try:
            user = await authenticate(session, form.username, form.password,
                                      max_failures=settings.max_login_failures,
                                      lockout_minutes=settings.lockout_minutes)
        except LoginError as exc:
            # Commit the failure count and the audit row, then answer 401.
            failure = exc
            audit.append(session, Actor(None, form.username[:64], "unknown", seat, None, ip), "auth.login_failed",
                         component="auth", outcome="failure", detail={"reason": exc.code})
        else:
            audit.append(session, Actor(user.id, user.username, user.role, seat, user.unit_id, ip), "auth.login",
                         component="auth", target_type="user", target_id=user.id)
    if failure is not None:
        raise failure
    return TokenOut(
        access_token=issue_token(user, settings.secret_key, settings.token_minutes),
        username=user.username, full_name=user.full_name, role=user.role,
        role_label=ROLE_LABELS[Role(user.role)], unit_id=user.unit_id,
    )


@router.post("/auth/refresh", response_model=TokenOut)
async def refresh(request: Request, actor: Annotated[Actor, Depends(current_actor)]) -> TokenOut:
    """A fresh token for an active screen; a disabled or locked account gets none."""
    settings = settings_of(request)
    async with db_of(request).read() as session:
        user = await session.get(User, actor.user_id)
    if user is None or not user.active:
        raise LoginError("user no longer exists or is disabled", code="inactive")
    return TokenOut(
        access_token=issue_token(user, settings.secret_key, settings.token_minutes),
        username=user.username, full_name=user.full_name, role=user.role,
        role_label=ROLE_LABELS[Role(user.role)], unit_id=user.unit_id,
    )


@router.get("/auth/me")
async def me(request: Request, actor: Annotated[Actor, Depends(current_actor)]) -> dict[str, object]:
    async with db_of(request).read() as session:
        user = await session.get(User, actor.user_id)
    if user is None or not user.active:
        raise LoginError("user no longer exists or is disabled", code="inactive")
    return user_out(user)


@router.post("/users", status_code=201)
async def add_user(request: Request, body: UserCreate,
                   actor: Annotated[Actor, Depends(require(*ADMINS))]) -> dict[str, object]:
    async with unit_of_work(request) as session:
        user = await create_user(session, username=body.username, password=body.password, role=body.role,
                                 full_name=body.full_name, org_id=body.org_id, unit_id=body.unit_id)
        audit.append(session, actor, "user.create", component="auth", target_type="user", target_id=user.id,
                     detail={"role": user.role})
    return user_out(user)


@router.get("/users")
async def list_users(request: Request, _actor: Annotated[Actor, Depends(require(*ADMINS))]) -> list[dict[str, object]]:
    async with db_of(request).read() as session:
        users = (await session.execute(select(User).order_by(User.username))).scalars().all()
    return [user_out(u) for u in users]
