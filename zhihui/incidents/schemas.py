"""API shapes for 警情 (pydantic). Unknown fields are rejected so a typo is a 422, not a silent drop."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from zhihui.core.schemas import StrictModel
from zhihui.incidents.categories import categories
from zhihui.incidents.domain import Channel, IncidentStatus, checked_point, normalise_phone
from zhihui.intake.text.phones import parse_phone


def canonical_phone(raw: str) -> str:
    """The one stored form of a caller number (0755-83001234, 13800138000, 4008001234), so that
    repeat-caller and duplicate checks match however the number was typed."""
    number = normalise_phone(raw)
    info = parse_phone(number)
    return info.number if info.valid else number


def known_category(v: str | None) -> str | None:
    if v is not None and v not in categories():
        raise ValueError(f"unknown category code '{v}'")
    return v


def aware(v: datetime | None) -> datetime | None:
    if v is not None and v.tzinfo is None:
        raise ValueError("received_at must carry a UTC offset, e.g. 2026-11-23T08:00:00+08:00")
    return v


class IncidentCreate(StrictModel):

    channel: Channel = Channel.P110
    caller_phone: Annotated[str | None, Field(max_length=32)] = None
    caller_name: Annotated[str | None, Field(max_length=64)] = None
    recording_ref: Annotated[str | None, Field(max_length=64)] = None  # 录音编号 from the telephony system
    address: Annotated[str | None, Field(max_length=300)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    category_code: Annotated[str, Field(min_length=2, max_length=8)]
    level: Annotated[int | None, Field(ge=1, le=3)] = None
    urgent: bool | None = None
    description: Annotated[str, Field(min_length=1, max_length=4000)]
    received_at: datetime | None = None
    # A caller's phone map app or a Chinese web map gives GCJ-02; the platform stores WGS-84.
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"

    @field_validator("caller_phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return None if v in (None, "") else canonical_phone(v)

    _category = field_validator("category_code")(known_category)
    _aware = field_validator("received_at")(aware)

    @model_validator(mode="after")
    def _point(self) -> IncidentCreate:
        self.lat, self.lon = checked_point(self.lat, self.lon, self.crs)
        self.crs = "wgs84"
        return self


class IncidentClose(StrictModel):
    result: Annotated[str, Field(min_length=1, max_length=2000)]


class IncidentCancel(StrictModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class IncidentDivert(StrictModel):
    to: Annotated[str, Field(pattern=r"^12345$")] = "12345"
    note: Annotated[str, Field(min_length=1, max_length=2000)]
    # 承办部门 and the diversion rule; when absent the rules in intake/diversion.yaml suggest them.
    department: Annotated[str | None, Field(max_length=64)] = None
    rule_id: Annotated[str | None, Field(max_length=64)] = None


class IncidentMerge(StrictModel):
    into_id: int


class IncidentOut(BaseModel):
    id: int
    number: str
    channel: str
    caller_phone: str | None
    caller_name: str | None
    recording_ref: str | None
    address: str | None
    lat: float | None
    lon: float | None
    jurisdiction_org_id: int | None
    category_code: str
    category_label: str
    level: int
    urgent: bool
    description: str
    status: IncidentStatus
    status_label: str
    received_at: datetime
    dispatched_at: datetime | None
    on_scene_at: datetime | None
    handled_at: datetime | None
    closed_at: datetime | None
    close_deadline: datetime
    close_result: str | None
    merged_into_id: int | None
    seat: str | None


class IncidentDetail(IncidentOut):
    callers: list[dict[str, Any]]
    handoffs: list[dict[str, Any]]
    events: list[dict[str, Any]]
    instructions: list[dict[str, Any]]
