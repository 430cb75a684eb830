"""The base of every request body: unknown fields are errors, text is trimmed, control characters
(NUL and friends, which PostgreSQL refuses to store) are a 422 naming the field, not a 500."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        if isinstance(value, str) and CONTROL_CHARS.search(value):
            raise ValueError("text contains control characters")
        return value
