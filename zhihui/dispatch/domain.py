"""Unit (警力) status rules."""

from __future__ import annotations

import enum

from zhihui.core.errors import DomainError
from zhihui.instructions.domain import InstructionStatus


class UnitStatus(enum.StrEnum):
    AVAILABLE = "available"  # 空闲
    ASSIGNED = "assigned"  # 已派
    EN_ROUTE = "en_route"  # 途中
    ON_SCENE = "on_scene"  # 现场
    OFF_DUTY = "off_duty"  # 不在岗


UNIT_STATUS_LABELS = {
    UnitStatus.AVAILABLE: "空闲",
    UnitStatus.ASSIGNED: "已派",
    UnitStatus.EN_ROUTE: "途中",
    UnitStatus.ON_SCENE: "现场",
    UnitStatus.OFF_DUTY: "不在岗",
}


def require_available(call_sign: str, status: str) -> None:
    if status != UnitStatus.AVAILABLE:
        raise DomainError(f"unit {call_sign} is '{status}', not available", state=status, code="unit_busy")


def unit_status_for(instruction_status: InstructionStatus) -> UnitStatus | None:
    """The unit status implied by its 处警 instruction's status (None: leave as is)."""
    return {
        InstructionStatus.SENT: UnitStatus.ASSIGNED,
        InstructionStatus.SIGNED: UnitStatus.ASSIGNED,
        InstructionStatus.EN_ROUTE: UnitStatus.EN_ROUTE,
        InstructionStatus.ON_SCENE: UnitStatus.ON_SCENE,
        InstructionStatus.HANDLED: UnitStatus.ON_SCENE,
        InstructionStatus.FEEDBACK: UnitStatus.AVAILABLE,
        InstructionStatus.CANCELLED: UnitStatus.AVAILABLE,
    }.get(instruction_status)
