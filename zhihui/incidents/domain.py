"""警情 domain rules, free of I/O: channels, levels, the status machine, incident numbers."""

from __future__ import annotations

import enum
import re

from zhihui.core.errors import IllegalTransition
from zhihui.geo.coords import to_wgs84
from zhihui.instructions.domain import InstructionStatus as I


class Channel(enum.StrEnum):
    P110 = "110"
    F119 = "119"
    T122 = "122"
    SMS = "12110-SMS"
    INTERNET = "internet"
    H12345 = "12345"
    ALARM = "alarm"


class IncidentStatus(enum.StrEnum):
    RECEIVED = "received"  # 已接警, 待派警
    DISPATCHED = "dispatched"  # 已派警
    ON_SCENE = "on_scene"  # 已到场
    HANDLED = "handled"  # 已反馈, 待结案
    CLOSED = "closed"  # 已结案
    MERGED = "merged"  # 已合并 (into another incident)
    DIVERTED = "diverted"  # 已分流 (to 12345)
    CANCELLED = "cancelled"  # 已撤销


STATUS_LABELS = {
    IncidentStatus.RECEIVED: "待派警",
    IncidentStatus.DISPATCHED: "已派警",
    IncidentStatus.ON_SCENE: "已到场",
    IncidentStatus.HANDLED: "已反馈",
    IncidentStatus.CLOSED: "已结案",
    IncidentStatus.MERGED: "已合并",
    IncidentStatus.DIVERTED: "已分流",
    IncidentStatus.CANCELLED: "已撤销",
}

S = IncidentStatus
TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.RECEIVED: frozenset({S.DISPATCHED, S.MERGED, S.DIVERTED, S.CANCELLED}),
    S.DISPATCHED: frozenset({S.ON_SCENE, S.HANDLED, S.RECEIVED, S.MERGED, S.CANCELLED}),
    S.ON_SCENE: frozenset({S.HANDLED}),
    S.HANDLED: frozenset({S.CLOSED, S.DISPATCHED, S.ON_SCENE}),
    S.CLOSED: frozenset(),
    S.MERGED: frozenset(),
    S.DIVERTED: frozenset(),
    S.CANCELLED: frozenset(),
}
# Exits that can be undone: a merge found wrong (un-merge), a 12345 hand-off sent back as a police
# matter. Kept apart from TRANSITIONS so that no ordinary action can leave a terminal state.
REOPENS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.MERGED: frozenset({S.RECEIVED, S.DISPATCHED, S.ON_SCENE, S.HANDLED}),
    S.DIVERTED: frozenset({S.RECEIVED}),
}
OPEN_STATUSES = frozenset({S.RECEIVED, S.DISPATCHED, S.ON_SCENE, S.HANDLED})
TERMINAL_STATUSES = frozenset({S.CLOSED, S.MERGED, S.DIVERTED, S.CANCELLED})
DISPATCHABLE = frozenset({S.RECEIVED, S.DISPATCHED, S.ON_SCENE, S.HANDLED})


def check_transition(current: str, target: IncidentStatus) -> IncidentStatus:
    state = IncidentStatus(current)
    if target not in TRANSITIONS[state]:
        raise IllegalTransition("incident", state.value, target.value)
    return target


def check_reopen(current: str, target: IncidentStatus) -> IncidentStatus:
    state = IncidentStatus(current)
    if target not in REOPENS.get(state, frozenset()):
        raise IllegalTransition("incident", state.value, target.value)
    return target


def progress_after_instruction_change(
    current: IncidentStatus, instruction_statuses: list[str]
) -> IncidentStatus:
    """The incident status implied by its 处警 instructions (furthest live unit wins).

    An incident is on scene once any unit arrived, handled once every live instruction has
    feedback, and back to received if every instruction was cancelled.
    """
    live = [I(s) for s in instruction_statuses if s != I.CANCELLED]
    if current in TERMINAL_STATUSES:
        return current
    if not live:
        return S.RECEIVED if current == S.DISPATCHED else current
    if all(s == I.FEEDBACK for s in live):
        return S.HANDLED
    if any(s in (I.ON_SCENE, I.HANDLED, I.FEEDBACK) for s in live):
        return S.ON_SCENE
    return S.DISPATCHED


NUMBER_RE = re.compile(r"^J\d{12}\d{8}\d{5,}$")


def incident_number(center_code: str, yyyymmdd: str, seq: int) -> str:
    """J<unit code><yyyymmdd><5-digit daily sequence>, e.g. J4403040000002026112300013."""
    return f"J{center_code}{yyyymmdd}{seq:05d}"


# Mobile 1[3-9]x, landline with area code (optional dash and extension), service numbers (95xxx,
# 400/800), and short PSTN numbers from public phones are all real caller IDs.
PHONE_RE = re.compile(
    r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(?:-\d{1,6})?|[48]00-?\d{3}-?\d{4}|95\d{3,6}|\d{7,8})$"
)


def normalise_phone(raw: str) -> str:
    """Strip spaces and a +86/0086 country prefix; raise ValueError when it is not a Chinese number."""
    phone = re.sub(r"[\s()（）]", "", raw)
    for prefix in ("+86", "0086"):
        if phone.startswith(prefix):
            phone = phone[len(prefix) :].lstrip("-")
    if not PHONE_RE.fullmatch(phone):
        raise ValueError("not a valid Chinese phone number (mobile 1xxxxxxxxxx or landline 0xx-xxxxxxxx)")
    return phone


# Mainland China bounding box (with a margin for the South China Sea islands).
CHINA_LAT = (3.3, 53.6)
CHINA_LON = (73.4, 135.1)


def in_china(lat: float, lon: float) -> bool:
    return CHINA_LAT[0] <= lat <= CHINA_LAT[1] and CHINA_LON[0] <= lon <= CHINA_LON[1]


def checked_point(lat: float | None, lon: float | None, crs: str = "wgs84") -> tuple[float | None, float | None]:
    """An optional point from a request: both or neither, inside China, returned in WGS-84 (the
    platform's storage system) whatever map system it came in. Raises ValueError with the reason."""
    if (lat is None) != (lon is None):
        raise ValueError("lat and lon must be given together")
    if lat is None or lon is None:
        return None, None
    if not in_china(lat, lon):
        raise ValueError("lat/lon is outside China")
    return to_wgs84(lat, lon, crs) if crs != "wgs84" else (lat, lon)
