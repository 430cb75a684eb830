"""API shapes for intake analysis and 12345 hand-offs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from zhihui.core.schemas import StrictModel
from zhihui.incidents.domain import checked_point
from zhihui.incidents.schemas import aware, known_category

MAX_TEXT = 2000


class AnalyzeRequest(StrictModel):
    """What the call-taker has typed so far; every field is optional except that something is given."""

    text: Annotated[str, Field(max_length=MAX_TEXT)] = ""
    phone: Annotated[str | None, Field(max_length=32)] = None
    address: Annotated[str | None, Field(max_length=300)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    category_code: Annotated[str | None, Field(max_length=8)] = None
    received_at: datetime | None = None
    # Re-analysing a recorded incident: it is not its own duplicate.
    incident_id: Annotated[int | None, Field(ge=1, le=2**31 - 1)] = None

    _category = field_validator("category_code")(lambda v: known_category(v or None))
    _aware = field_validator("received_at")(aware)

    @model_validator(mode="after")
    def _point(self) -> AnalyzeRequest:
        self.lat, self.lon = checked_point(self.lat, self.lon, self.crs)
        self.crs = "wgs84"
        return self


class HandoffAccept(StrictModel):
    external_ref: Annotated[str, Field(min_length=1, max_length=64)]  # 12345 工单号


class HandoffAnswer(StrictModel):
    result: Literal["resolved", "explained", "transferred", "unresolved"]
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    external_ref: Annotated[str | None, Field(max_length=64)] = None


class HandoffReturn(StrictModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class Unmerge(StrictModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
