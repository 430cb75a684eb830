"""Users, roles, password hashing (argon2id) and bearer tokens (JWT, HS256)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, ForeignKey, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from zhihui.core.clock import utcnow, wallnow
from zhihui.core.errors import DomainError, InvalidInput
from zhihui.core.store import Base, UTCDateTime


class Role(enum.StrEnum):
    CALL_TAKER = "call_taker"
    DISPATCHER = "dispatcher"
    COMMANDER = "commander"
    ANALYST = "analyst"
    OFFICER = "officer"
    LEADER = "leader"
    INSPECTOR = "inspector"
    ADMIN = "admin"


ROLE_LABELS: dict[Role, str] = {
    Role.CALL_TAKER: "接警员",
    Role.DISPATCHER: "调度员",
    Role.COMMANDER: "值班指挥长",
    Role.ANALYST: "研判员",
    Role.OFFICER: "民警",
    Role.LEADER: "领导",
    Role.INSPECTOR: "督察",
    Role.ADMIN: "管理员",
}

# Short list of passwords that must never be accepted (NIST 800-63B asks for a banned list).
BANNED_PASSWORDS = frozenset(
    {
        "password", "password1", "12345678", "123456789", "1234567890", "qwertyui", "qwerty123",
        "11111111", "88888888", "66666666", "abc12345", "admin123", "iloveyou", "1qaz2wsx",
        "woaini1314", "a1234567", "aa123456", "zhihui123", "police110", "gongan110",
    }
)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    check_password_policy(password)
    return _hasher.hash(password)


def check_password_policy(password: str) -> None:
    if len(password) < 8:
        raise InvalidInput("password", "password must have at least 8 characters")
    if password.lower() in BANNED_PASSWORDS:
        raise InvalidInput("password", "password is on the banned list")


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Actor:
    """Who does something, from which seat: recorded on every timeline event and audit row."""

    user_id: int | None
    username: str
    role: str
    seat: str | None = None
    unit_id: int | None = None
    ip: str | None = None
    org_id: int | None = None  # the user's own organ (a station's officers sign its 核查指令)

    @classmethod
    def system(cls) -> Actor:
        return cls(user_id=None, username="system", role="system")


def issue_token(user: User, secret: str, minutes: int) -> str:
    now = wallnow()  # see wallnow: a sandbox's simulated clock does not age people's logons
    claims = {
        "sub": str(user.id),
        "usr": user.username,
        "role": user.role,
        "unit": user.unit_id,
        "org": user.org_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(token: str, secret: str) -> dict[str, object]:
    return jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})


class LoginError(DomainError):
    status_code = 401


async def authenticate(
    session: AsyncSession, username: str, password: str, *, max_failures: int, lockout_minutes: int
) -> User:
    """Check a password; lock the account for `lockout_minutes` after `max_failures` failures."""
    user = (await session.execute(select(User).where(User.username == username))).scalar_one_or_none()
    now = wallnow()  # a lockout lasts 10 real minutes, also on a sandbox running simulated time
    if user is None or not user.active:
        raise LoginError("invalid username or password", code="bad_credentials")
    if user.locked_until is not None and user.locked_until > now:
        raise LoginError("account locked after repeated failures", code="locked")
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(minutes=lockout_minutes)
            user.failed_logins = 0
        raise LoginError("invalid username or password", code="bad_credentials")
    user.failed_logins = 0
    user.locked_until = None
    return user


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role | str,
    full_name: str | None = None,
    org_id: int | None = None,
    unit_id: int | None = None,
) -> User:
    role = Role(role)
    exists = (await session.execute(select(User.id).where(User.username == username))).first()
    if exists:
        raise DomainError(f"user '{username}' already exists", code="duplicate")
    user = User(
        username=username,
        full_name=full_name or username,
        role=role.value,
        password_hash=hash_password(password),
        org_id=org_id,
        unit_id=unit_id,
        active=True,
        failed_logins=0,
    )
    session.add(user)
    await session.flush()
    return user
