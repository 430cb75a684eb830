"""Settings read from the environment (ZHIHUI_*), with defaults for the embedded demo."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

DEFAULT_DB_PATH = Path("var") / "zhihui.db"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _times(name: str, default: str) -> tuple[str, ...]:
    """Beijing wall-clock times "HH:MM,HH:MM"; an empty value switches the schedule off."""
    out = []
    for t in (x.strip() for x in os.environ.get(name, default).split(",")):
        if not t:
            continue
        m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", t)
        if not m:
            raise ValueError(f"{name}: '{t}' is not a time HH:MM (e.g. 08:00,20:00)")
        out.append(f"{int(m[1]):02d}:{m[2]}")
    return tuple(out)


def _datetime(name: str) -> datetime | None:
    raw = os.environ.get(name)
    if not raw:
        return None
    at = datetime.fromisoformat(raw)
    if at.tzinfo is None:
        raise ValueError(f"{name} must carry a UTC offset, e.g. 2026-11-23T08:00:00+08:00")
    return at


@dataclass(frozen=True)
class Deadlines:
    """Sign-off and feedback deadlines in seconds, by urgency and instruction kind."""

    sign_urgent: int = 60
    sign_normal: int = 180
    feedback_urgent: int = 30 * 60
    feedback_normal: int = 2 * 60 * 60
    # 研判/核查/预警 instructions: 核查 answers within one hour ("一小时内反馈").
    sign_other: int = 10 * 60
    feedback_other: int = 60 * 60
    # 警情清零: an incident still open this long after intake is in the backlog.
    close_urgent: int = 4 * 60 * 60
    close_normal: int = 24 * 60 * 60


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    center_code: str = "440304000000"  # 12-digit organ code of the command centre (深圳市公安局福田分局)
    # Idle lock (GB/T 22239 level 3, ≤ 30 min): a token lives 30 min and is renewed by activity
    # through POST /auth/refresh; a screen left alone for 30 min must log on again.
    token_minutes: int = 30
    scheduler_interval_s: float = 5.0
    audit_seal_interval_s: float = 1.0
    max_login_failures: int = 5
    lockout_minutes: int = 10
    deadlines: Deadlines = field(default_factory=Deadlines)
    # A sandbox server (drills, simulator studies) runs a simulated clock that PUT /sandbox/clock
    # moves; `sandbox_start` is where it starts (None: the wall time at start-up).
    sandbox: bool = False
    sandbox_start: datetime | None = None
    # 情报: ingested activity data (Parquet) and the watchlist exports live here; batch collision runs on
    # every ingested batch and at these Beijing times ("每天两次…比对碰撞").
    intel_dir: Path = Path("var") / "intel"
    collision_times: tuple[str, ...] = ("08:00", "20:00")


def shared_data(name: str) -> Path | None:
    """A file of the project's shared data folder (../shared/data beside the checkout), looked up
    from the working directory and from the installed package; None when neither has it."""
    here = Path(__file__).resolve()
    for base in (Path.cwd(), here.parents[2]):
        candidate = base.parent / "shared" / "data" / name
        if candidate.exists():
            return candidate
    return None


def sqlite_url(path: Path | str) -> str:
    return f"sqlite+aiosqlite:///{Path(path).resolve()}"


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// and sqlite:// URLs and pick the async drivers we ship."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def _secret() -> str:
    env = os.environ.get("ZHIHUI_SECRET_KEY")
    if env:
        return env
    # A per-installation key kept beside the default database so tokens survive restarts.
    key_file = Path(os.environ.get("ZHIHUI_SECRET_FILE", Path("var") / "secret.key"))
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key


def load_settings(**overrides: object) -> Settings:
    url = os.environ.get("ZHIHUI_DATABASE_URL") or sqlite_url(DEFAULT_DB_PATH)
    deadlines = Deadlines(
        sign_urgent=_int("ZHIHUI_SIGN_URGENT_S", Deadlines.sign_urgent),
        sign_normal=_int("ZHIHUI_SIGN_NORMAL_S", Deadlines.sign_normal),
        feedback_urgent=_int("ZHIHUI_FEEDBACK_URGENT_S", Deadlines.feedback_urgent),
        feedback_normal=_int("ZHIHUI_FEEDBACK_NORMAL_S", Deadlines.feedback_normal),
    )
    values: dict[str, object] = {
        "database_url": normalise_url(url),
        "secret_key": _secret(),
        "center_code": os.environ.get("ZHIHUI_CENTER_CODE", Settings.center_code),
        "deadlines": deadlines,
        "token_minutes": _int("ZHIHUI_TOKEN_MINUTES", Settings.token_minutes),
        "sandbox": os.environ.get("ZHIHUI_SANDBOX", "").lower() in ("1", "true", "yes"),
        "sandbox_start": _datetime("ZHIHUI_SANDBOX_START"),
        "intel_dir": Path(os.environ.get("ZHIHUI_INTEL_DIR", Settings.intel_dir)),
        "collision_times": _times("ZHIHUI_COLLISION_TIMES", "08:00,20:00"),
    }
    values.update(overrides)
    if "database_url" in overrides:
        values["database_url"] = normalise_url(str(overrides["database_url"]))
    return Settings(**values)  # type: ignore[arg-type]
