# Copyright 2026 The zhihui authors. Licensed under the Apache License, Version 2.0.
"""高危地区名单: named lists of 户籍 regions per crime type, as data, for 高危地区检索.

A list file is YAML (the shipped ``origins.yaml`` holds demo lists; ``ZHIHUI_ORIGIN_LISTS`` names a bureau's own)::

    version: 1
    lists:
      - code: FRAUD_2026            # unique, A-Z 0-9 _
        name: 电信网络诈骗重点地区     # what the analyst picks
        crime: 电信网络诈骗           # the crime type the list is for
        prefixes: ["4508", "450126"]  # GB/T 2260: 2-digit province, 4-digit city, 6-digit county
        source: 省反诈中心通报        # where the list comes from

Every prefix must name a division the GB/T 2260 data knows (a typo such as 4580 is refused at load, with the
list and the prefix named), so a search never silently covers nobody.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from zhihui.intake.text.ids import region_name
from zhihui.intel.rules import Code

DEFAULT_LISTS = Path(__file__).with_name("origins.yaml")


class OriginListError(ValueError):
    """A list file that cannot be used; the message names the list and the field."""


class OriginList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: Code
    name: str = Field(min_length=2, max_length=64)
    crime: str = Field(min_length=2, max_length=32)
    prefixes: tuple[str, ...] = Field(min_length=1, max_length=500)
    source: str = Field(default="", max_length=200)

    @field_validator("prefixes", mode="before")
    @classmethod
    def _prefixes(cls, v: Any) -> Any:
        out = []
        for p in v or ():
            p = str(p).strip()
            if not (p.isdigit() and len(p) in (2, 4, 6)):
                raise ValueError(f"'{p}': a prefix is 2, 4 or 6 digits (GB/T 2260)")
            if region_name(p) is None:
                raise ValueError(f"'{p}' is no GB/T 2260 province, city or county")
            out.append(p)
        return tuple(dict.fromkeys(out))

    def regions(self) -> list[dict[str, str | None]]:
        return [{"prefix": p, "name": region_name(p)} for p in self.prefixes]


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    lists: tuple[OriginList, ...]


def parse_lists(raw: Any) -> dict[str, OriginList]:
    try:
        f = _File.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err.get("loc", ())
        where = ".".join(str(x) for x in loc)
        if len(loc) >= 2 and loc[0] == "lists" and isinstance(loc[1], int):
            items = (raw or {}).get("lists") or []
            code = items[loc[1]].get("code") if loc[1] < len(items) and isinstance(items[loc[1]], dict) else None
            where = f"lists[{loc[1]}]" + (f" ({code})" if code else "") + ": " + ".".join(str(x) for x in loc[2:])
        raise OriginListError(f"{where}: {str(err.get('msg')).removeprefix('Value error, ')}") from None
    out: dict[str, OriginList] = {}
    for item in f.lists:
        if item.code in out:
            raise OriginListError(f"list code {item.code} appears twice")
        out[item.code] = item
    return out


@cache
def _load(path: str) -> dict[str, OriginList]:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise OriginListError(f"{path}: {exc}") from None
    return parse_lists(raw)


def load_lists(path: str | os.PathLike[str] | None = None) -> dict[str, OriginList]:
    """The lists by code (from `path`, else ``$ZHIHUI_ORIGIN_LISTS``, else the shipped demo lists)."""
    return _load(str(path or os.environ.get("ZHIHUI_ORIGIN_LISTS") or DEFAULT_LISTS))


def list_out(item: OriginList) -> dict[str, Any]:
    return {"code": item.code, "name": item.name, "crime": item.crime, "source": item.source,
            "regions": item.regions()}
