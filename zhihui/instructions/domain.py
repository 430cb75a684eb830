"""指令 domain rules: kinds, the per-unit status machine, deadlines and escalation."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from zhihui.core.config import Deadlines
from zhihui.core.errors import DomainError, IllegalTransition


class InstructionKind(enum.StrEnum):
    DISPATCH = "dispatch"  # 处警指令
    ANALYSIS = "analysis"  # 研判指令
    VERIFY = "verify"  # 核查指令
    WARNING = "warning"  # 预警指令


KIND_LABELS = {
    InstructionKind.DISPATCH: "处警指令",
    InstructionKind.ANALYSIS: "研判指令",
    InstructionKind.VERIFY: "核查指令",
    InstructionKind.WARNING: "预警指令",
}


class InstructionStatus(enum.StrEnum):
    SENT = "sent"  # 已下发
    SIGNED = "signed"  # 已签收
    EN_ROUTE = "en_route"  # 已出发
    ON_SCENE = "on_scene"  # 已到场
    HANDLED = "handled"  # 处置完毕
    FEEDBACK = "feedback"  # 已反馈
    CANCELLED = "cancelled"  # 已撤回


I = InstructionStatus  # noqa: E741
# 处警 instructions walk the field states; the others are signed and answered only.
DISPATCH_FLOW: dict[InstructionStatus, frozenset[InstructionStatus]] = {
    I.SENT: frozenset({I.SIGNED, I.CANCELLED}),
    I.SIGNED: frozenset({I.EN_ROUTE, I.ON_SCENE, I.HANDLED, I.FEEDBACK, I.CANCELLED}),
    I.EN_ROUTE: frozenset({I.ON_SCENE, I.HANDLED, I.FEEDBACK, I.CANCELLED}),
    I.ON_SCENE: frozenset({I.HANDLED, I.FEEDBACK}),
    I.HANDLED: frozenset({I.FEEDBACK}),
    I.FEEDBACK: frozenset(),
    I.CANCELLED: frozenset(),
}
DESK_FLOW: dict[InstructionStatus, frozenset[InstructionStatus]] = {
    I.SENT: frozenset({I.SIGNED, I.CANCELLED}),
    I.SIGNED: frozenset({I.FEEDBACK, I.CANCELLED}),
    I.FEEDBACK: frozenset(),
    I.CANCELLED: frozenset(),
}
FIELD_STATUSES = frozenset({I.EN_ROUTE, I.ON_SCENE, I.HANDLED})
ACTIVE = frozenset({I.SENT, I.SIGNED, I.EN_ROUTE, I.ON_SCENE, I.HANDLED})


def check_transition(kind: str, current: str, target: InstructionStatus) -> InstructionStatus:
    flow = DISPATCH_FLOW if InstructionKind(kind) == InstructionKind.DISPATCH else DESK_FLOW
    state = InstructionStatus(current)
    if target not in flow.get(state, frozenset()):
        if state == I.SENT and target != I.CANCELLED:
            raise DomainError(
                f"instruction must be signed (签收) before '{target.value}'",
                state=state.value,
                code="not_signed",
            )
        raise IllegalTransition("instruction", state.value, target.value)
    return target


# 处置结果 codes for feedback (反馈).
RESULT_CODES: dict[str, str] = {
    "resolved": "现场处置完毕",
    "case_filed": "已受案/立案",
    "transferred": "移交其他部门",
    "mediated": "调解处理",
    "false_alarm": "谎报/误报",
    "no_trace": "到场未发现",
    "referred_12345": "转12345处理",
    "arrested": "抓获嫌疑人",
    "verified_present": "核查属实",
    "verified_absent": "核查不属实",
    "other": "其他",
}


def deadlines_for(
    kind: InstructionKind, urgent: bool, issued_at: datetime, d: Deadlines
) -> tuple[datetime, datetime]:
    if kind == InstructionKind.DISPATCH:
        sign, feedback = (d.sign_urgent, d.feedback_urgent) if urgent else (d.sign_normal, d.feedback_normal)
    else:
        sign, feedback = d.sign_other, d.feedback_other
    return issued_at + timedelta(seconds=sign), issued_at + timedelta(seconds=feedback)
