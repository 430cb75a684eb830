# Copyright 2026 The zhihui authors. Licensed under the Apache License, Version 2.0.
"""Collision rule sets (比对规则) as data: which watchlist categories × which activity sources → which instruction.

A rule file is YAML (the shipped defaults are ``rules.yaml`` beside this module)::

    version: 1
    rules:
      - code: FUGITIVE_ANY               # unique, A-Z 0-9 _
        name: 在逃人员全量比对              # Chinese display name
        categories: [在逃]                # watchlist categories; "*" = every list; "*前科" = glob
        sources: "*"                      # activity sources (keys of schema.SOURCES), or "*"
        match:
          keys: [id_number, phone, plate] # exact keys, any of schema.KEY_TYPES
          fuzzy: true                     # also run the fuzzy-identity pass for this rule
          min_score: 0.65                 # fuzzy hits need at least this SQL score (0-1]
        group:                            # optional: only hits that form a group
          kind: same_room_night
          min_persons: 2
        instruction:
          kind: verify                    # verify (核查) / control (管控) / notify (通报)
          feedback_minutes: 60
          within_hours: 72                # older records: a 历史比中 for the analyst, no order
          content: "在逃人员{name}（{id_number}）{at_local}出现在{venue_name}，请立即核查。命中依据：{reasons}"
        priority: urgent                  # urgent / high / normal / low
        enabled: true

Validation raises :class:`RuleError` whose message names the rule and the field (``rules[2] (DRUG_ROOM):
match.min_score: ...``), so an operator editing the file sees what to fix.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pyarrow as pa
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from zhihui.intel.schema import SOURCES

__all__ = [
    "DEFAULT_RULES",
    "PLACEHOLDERS",
    "PRIORITY_RANK",
    "Group",
    "Instruction",
    "Match",
    "Rule",
    "RuleError",
    "RuleSet",
    "load_rules",
    "parse_rules",
]

DEFAULT_RULES = Path(__file__).with_name("rules.yaml")
PRIORITY_RANK: dict[str, int] = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
# What an instruction template may mention: columns of a hit (see tactics.HITS) plus rendered extras.
PLACEHOLDERS = frozenset(
    {
        "name", "id_number", "phone", "plate", "person_name", "person_id_number", "venue_code", "venue_name",
        "room", "org_code", "at_local", "category", "reasons", "source", "source_name", "rule_code",
        "rule_name", "match_type", "score", "record_id", "group_size",
    }
)  # fmt: skip
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,47}$")


def _check_code(v: str) -> str:
    if not _CODE.match(v):
        raise ValueError("must be 2-48 characters A-Z, 0-9 or _, starting with a letter")
    return v


# A rule's or list's code as data files name it (also zhihui.intel.origins).
Code = Annotated[str, AfterValidator(_check_code)]
_CJK = re.compile(r"[\u4e00-\u9fff]")
# LIKE needs no escape clause (DuckDB and Spark disagree on the default escape) if these never occur.
_CATEGORY_BAD = re.compile(r"[%_\\]")


class RuleError(ValueError):
    """A rule file that does not validate; the message names the rule and the field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Model):
    keys: tuple[Literal["id_number", "phone", "plate"], ...] = ()
    fuzzy: bool = False
    min_score: float = Field(default=0.8, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _something(self) -> Match:
        if not self.keys and not self.fuzzy:
            raise ValueError("a rule must match on at least one key or be fuzzy")
        if len(set(self.keys)) != len(self.keys):
            raise ValueError("keys repeats an entry")
        return self


class Group(_Model):
    kind: Literal["same_room_night"]
    min_persons: int = Field(default=2, ge=2, le=50)


class Instruction(_Model):
    kind: Literal["verify", "control", "notify"] = "verify"
    feedback_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    # A hit on a record older than this when a run finds it (a list imported today meets last spring's
    # check-ins) is kept for the analyst as 历史比中, with no order: a 1-hour 核查 of a stay months ago would
    # only bury the stations' live orders.
    within_hours: int = Field(default=72, ge=1, le=366 * 24)
    content: str = Field(min_length=1)

    @field_validator("content")
    @classmethod
    def _known_placeholders(cls, v: str) -> str:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(v) if f is not None]
        except ValueError as e:  # unbalanced braces
            raise ValueError(f"bad template: {e}") from None
        unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
        if unknown:
            raise ValueError(f"unknown placeholder(s) {unknown}; allowed: {sorted(PLACEHOLDERS)}")
        return v


class Rule(_Model):
    code: Code
    name: str
    categories: tuple[str, ...]
    sources: tuple[str, ...]
    match: Match
    group: Group | None = None
    instruction: Instruction
    priority: Literal["urgent", "high", "normal", "low"] = "normal"
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _CJK.search(v):
            raise ValueError("must be a Chinese display name")
        return v.strip()

    @field_validator("categories", mode="before")
    @classmethod
    def _categories(cls, v: Any) -> Any:
        v = [v] if isinstance(v, str) else v
        if not v:
            raise ValueError("needs at least one category (or '*')")
        for c in v:
            if not isinstance(c, str) or not c.strip():
                raise ValueError(f"empty or non-text category {c!r}")
            if _CATEGORY_BAD.search(c):
                raise ValueError(f"category {c!r} may not contain %, _ or \\ (use * as the wildcard)")
        return tuple(c.strip() for c in v)

    @field_validator("sources", mode="before")
    @classmethod
    def _sources(cls, v: Any) -> Any:
        v = [v] if isinstance(v, str) else v
        if not v:
            raise ValueError("needs at least one source (or '*')")
        if "*" in v:
            return tuple(SOURCES)
        unknown = [s for s in v if s not in SOURCES]
        if unknown:
            raise ValueError(f"unknown source(s) {unknown}; known: {list(SOURCES)}")
        return tuple(dict.fromkeys(v))

    @model_validator(mode="after")
    def _group_needs_rooms(self) -> Rule:
        if self.group is not None and self.group.kind == "same_room_night" and set(self.sources) != {"hotel_checkin"}:
            raise ValueError("group.kind same_room_night applies to sources [hotel_checkin] only")
        return self

    @property
    def rank(self) -> int:
        return PRIORITY_RANK[self.priority]

    def like_patterns(self) -> list[str]:
        """The categories as SQL LIKE patterns (glob ``*`` → ``%``)."""
        return [c.replace("*", "%") for c in self.categories]

    def render(self, hit: Mapping[str, Any]) -> str:
        """The instruction text for one hit; a missing value prints as —."""
        return self.instruction.content.format_map(_Blank(hit))


class _Blank(dict):
    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__({k: v for k, v in values.items() if v is not None and v != ""})

    def __missing__(self, key: str) -> str:
        return "—"


class RuleSet(_Model):
    version: Literal[1] = 1
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _unique(self) -> RuleSet:
        seen: set[str] = set()
        for r in self.rules:
            if r.code in seen:
                raise ValueError(f"duplicate rule code {r.code!r}")
            seen.add(r.code)
        return self

    @property
    def active(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)

    def by_code(self, code: str) -> Rule:
        for r in self.rules:
            if r.code == code:
                return r
        raise KeyError(code)

    def only(self, *codes: str) -> RuleSet:
        """The subset with these codes (for a targeted run)."""
        missing = [c for c in codes if c not in {r.code for r in self.rules}]
        if missing:
            raise KeyError(f"no rule(s) {missing}")
        return RuleSet(version=self.version, rules=tuple(r for r in self.rules if r.code in codes))

    def tables(self) -> dict[str, pa.Table]:
        """The enabled rules as the small tables the collision SQL joins (``zh_rule*`` views)."""
        rules = self.active
        rule = pa.table(
            {
                "rule_code": [r.code for r in rules],
                "priority_rank": pa.array([r.rank for r in rules], pa.int32()),
                "group_kind": pa.array([r.group.kind if r.group else None for r in rules], pa.string()),
                "min_persons": pa.array([r.group.min_persons if r.group else None for r in rules], pa.int32()),
            }
        )
        src = [(r.code, s) for r in rules for s in r.sources]
        cat = [(r.code, p) for r in rules for p in dict.fromkeys(r.like_patterns())]
        mt = [(r.code, f"exact_{'id' if k == 'id_number' else k}", 1.0) for r in rules for k in r.match.keys]
        mt += [(r.code, "fuzzy_identity", r.match.min_score) for r in rules if r.match.fuzzy]
        return {
            "zh_rule": rule,
            "zh_rule_source": pa.table(
                {
                    "rule_code": pa.array([a for a, _ in src], pa.string()),
                    "source": pa.array([b for _, b in src], pa.string()),
                }
            ),
            "zh_rule_category": pa.table(
                {
                    "rule_code": pa.array([a for a, _ in cat], pa.string()),
                    "category_like": pa.array([b for _, b in cat], pa.string()),
                }
            ),
            # the sources some fuzzy rule reads: only their rows are probed with blocking keys
            "zh_rule_fuzzy_source": pa.table(
                {"source": pa.array(sorted({s for r in rules if r.match.fuzzy for s in r.sources}), pa.string())}
            ),
            "zh_rule_match": pa.table(
                {
                    "rule_code": pa.array([a for a, _, _ in mt], pa.string()),
                    "match_type": pa.array([b for _, b, _ in mt], pa.string()),
                    "min_score": pa.array([c for _, _, c in mt], pa.float64()),
                }
            ),
        }


def _describe(e: ValidationError, data: Any) -> str:
    lines = []
    for err in e.errors():
        loc = list(err["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            i = loc[1]
            code = None
            try:
                code = data["rules"][i].get("code")
            except (KeyError, IndexError, TypeError, AttributeError):
                pass
            where = f"rules[{i}]" + (f" ({code})" if code else "") + ": "
            loc = loc[2:]
        # pydantic puts the union/validator branch names in loc; keep the field names.
        field = ".".join(str(p) for p in loc if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}{field or '(rule)'}: {msg}")
    return "; ".join(lines)


def parse_rules(data: Mapping[str, Any] | str) -> RuleSet:
    """A rule set from a mapping or YAML text; :class:`RuleError` names the offending field."""
    if isinstance(data, str):
        try:
            data = yaml.safe_load(data)
        except yaml.YAMLError as e:
            raise RuleError(f"not YAML: {e}") from None
    if not isinstance(data, Mapping):
        raise RuleError("a rule file is a mapping with 'version' and 'rules'")
    if "rules" in data and isinstance(data["rules"], list):
        for i, r in enumerate(data["rules"]):
            if not isinstance(r, Mapping):
                raise RuleError(f"rules[{i}]: a rule is a mapping, got {type(r).__name__}")
    try:
        return RuleSet.model_validate(data)
    except ValidationError as e:
        raise RuleError(_describe(e, data)) from None


def load_rules(path: str | Path | None = None) -> RuleSet:
    """The rule set in ``path`` (default: the shipped ``rules.yaml``)."""
    p = Path(path) if path is not None else DEFAULT_RULES
    try:
        return parse_rules(p.read_text(encoding="utf-8"))
    except RuleError as e:
        raise RuleError(f"{p}: {e}") from None
