from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zhihui.core.errors import DomainError, IllegalTransition
from zhihui.incidents.domain import (
    NUMBER_RE,
    check_transition,
    in_china,
    incident_number,
    normalise_phone,
    progress_after_instruction_change,
)
from zhihui.incidents.domain import (
    IncidentStatus as S,
)
from zhihui.instructions.domain import InstructionKind, InstructionStatus
from zhihui.instructions.domain import check_transition as instr_check


def test_incident_transitions() -> None:
    assert check_transition("received", S.DISPATCHED) == S.DISPATCHED
    with pytest.raises(IllegalTransition) as exc:
        check_transition("received", S.CLOSED)
    assert exc.value.state == "received"
    for terminal in ("closed", "merged", "diverted", "cancelled"):
        for target in S:
            with pytest.raises(IllegalTransition):
                check_transition(terminal, target)


def test_progress_from_instructions() -> None:
    assert progress_after_instruction_change(S.DISPATCHED, ["sent", "signed"]) == S.DISPATCHED
    assert progress_after_instruction_change(S.DISPATCHED, ["en_route", "on_scene"]) == S.ON_SCENE
    assert progress_after_instruction_change(S.ON_SCENE, ["feedback", "on_scene"]) == S.ON_SCENE
    assert progress_after_instruction_change(S.ON_SCENE, ["feedback", "cancelled"]) == S.HANDLED
    assert progress_after_instruction_change(S.DISPATCHED, ["cancelled"]) == S.RECEIVED
    assert progress_after_instruction_change(S.CLOSED, ["sent"]) == S.CLOSED


def test_instruction_flows() -> None:
    assert instr_check("dispatch", "sent", InstructionStatus.SIGNED)
    with pytest.raises(DomainError) as exc:
        instr_check("dispatch", "sent", InstructionStatus.FEEDBACK)
    assert exc.value.code == "not_signed"
    # A 核查指令 has no field states.
    with pytest.raises(IllegalTransition):
        instr_check(InstructionKind.VERIFY, "signed", InstructionStatus.ON_SCENE)
    assert instr_check(InstructionKind.VERIFY, "signed", InstructionStatus.FEEDBACK)


def test_incident_number() -> None:
    n = incident_number("440304000000", "20261123", 13)
    assert n == "J4403040000002026112300013"
    assert NUMBER_RE.fullmatch(n)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("13800138000", "13800138000"), ("+86 138-0013-8000".replace("-", " "), "13800138000"),
     ("0086 19912345678", "19912345678"), ("0755-83451234", "0755-83451234"), ("075583451234", "075583451234"),
     ("010-12345678-801", "010-12345678-801"), ("400-810-8888", "400-810-8888"), ("95588", "95588")],
)
def test_phone_ok(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12800138000", "1380013800", "138001380001", "abc", "", "+1 415 555 0100"])
def test_phone_bad(raw: str) -> None:
    with pytest.raises(ValueError):
        normalise_phone(raw)


@given(st.text(max_size=40))
def test_phone_never_crashes(raw: str) -> None:
    try:
        out = normalise_phone(raw)
    except ValueError:
        return
    assert out and out.replace("-", "").isdigit()


def test_china_bbox() -> None:
    assert in_china(22.54, 114.05)  # Shenzhen
    assert in_china(45.75, 126.63)  # Harbin
    assert not in_china(48.85, 2.35)  # Paris
    assert not in_china(0.0, 0.0)
    assert not in_china(-33.86, 151.2)  # Sydney
