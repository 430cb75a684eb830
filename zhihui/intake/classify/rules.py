"""Rule layer of the incident-type suggester: unmistakable cues, kept as data in ``rules.yaml``.

A rule fires when one of its cue patterns occurs in the normalised text and the occurrence is not
negated ("没有人受伤", "不是着火") or hedged ("担心起火", "差点撞车") within the same clause, and
none of its ``unless`` patterns occurs anywhere in the text. A fired rule can force or boost a
top-level category (类别) and raise urgency and level; every fired rule is reported with the cue
that fired it, so the call-taker sees why the suggestion changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

RULES_PATH = Path(__file__).with_name("rules.yaml")
# Clause boundaries: a negation never reaches across one of these.
_CLAUSE = re.compile(r"[，,。.!！?？;；：:\n、]|\s{2,}|但是|可是|不过")


@dataclass(frozen=True)
class Rule:
    name: str
    why: str
    cues: tuple[re.Pattern[str], ...]
    negatable: bool = True
    hedgeable: bool = False
    unless: tuple[re.Pattern[str], ...] = ()
    force: str | None = None
    boost: tuple[tuple[str, float], ...] = ()
    urgent: bool = False
    level: int | None = None


@dataclass(frozen=True)
class Fired:
    name: str
    why: str
    cue: str  # the text that fired the rule
    urgent: bool = False  # the rule raises urgency (life or safety at stake)

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "why": self.why, "cue": self.cue, "urgent": self.urgent}


@dataclass
class RuleResult:
    fired: list[Fired] = field(default_factory=list)
    force: list[str] = field(default_factory=list)
    boost: dict[str, float] = field(default_factory=dict)
    urgent: bool = False
    level: int | None = None

    def names(self) -> list[str]:
        return [f.name for f in self.fired]


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    window: int
    hedge_window: int
    negators: tuple[str, ...]
    not_negators: tuple[str, ...]
    hedges: tuple[str, ...]

    @staticmethod
    def _clause_prefix(text: str, start: int, window: int) -> str:
        """The part of the cue's clause before the cue, at most ``window`` characters."""
        begin = 0
        lo = max(0, start - window)
        for m in _CLAUSE.finditer(text, lo, start):
            begin = m.end()
        return text[max(begin, lo):start]

    def _blocked(self, prefix: str, words: tuple[str, ...]) -> bool:
        for harmless in self.not_negators:
            prefix = prefix.replace(harmless, "·")
        return any(w in prefix for w in words)

    def apply(self, text: str) -> RuleResult:
        """Evaluate every rule on normalised text."""
        out = RuleResult()
        for rule in self.rules:
            if any(u.search(text) for u in rule.unless):
                continue
            hit = None
            for pattern in rule.cues:
                for m in pattern.finditer(text):
                    prefix = self._clause_prefix(text, m.start(), self.window)
                    if rule.negatable and self._blocked(prefix, self.negators):
                        continue
                    if rule.hedgeable and self._blocked(self._clause_prefix(text, m.start(), self.hedge_window),
                                                        self.hedges):
                        continue
                    hit = m.group(0)
                    break
                if hit:
                    break
            if not hit:
                continue
            out.fired.append(Fired(rule.name, rule.why, hit, rule.urgent))
            if rule.force:
                out.force.append(rule.force)
            for top, factor in rule.boost:
                out.boost[top] = max(out.boost.get(top, 1.0), factor)
            out.urgent = out.urgent or rule.urgent
            if rule.level is not None:
                out.level = rule.level if out.level is None else min(out.level, rule.level)
        return out


def _patterns(items: list[Any] | None) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(str(p)) for p in items or [])


def load_rules(path: Path = RULES_PATH) -> RuleSet:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rules = []
    names: set[str] = set()
    for item in data["rules"]:
        name = str(item["name"])
        if name in names:
            raise ValueError(f"rules.yaml: duplicate rule {name}")
        names.add(name)
        level = item.get("level")
        if level is not None and int(level) not in (1, 2, 3):
            raise ValueError(f"rules.yaml: rule {name}: level must be 1, 2 or 3")
        force = item.get("force")
        boost = tuple((str(k), float(v)) for k, v in (item.get("boost") or {}).items())
        for top in [force, *(k for k, _ in boost)]:
            if top is not None and (len(str(top)) != 2 or not str(top).isdigit()):
                raise ValueError(f"rules.yaml: rule {name}: {top!r} is not a 2-digit 类别 code")
        rules.append(Rule(
            name=name, why=str(item.get("why", "")), cues=_patterns(item["cues"]),
            negatable=bool(item.get("negatable", True)), hedgeable=bool(item.get("hedgeable", False)),
            unless=_patterns(item.get("unless")), force=str(force) if force is not None else None, boost=boost,
            urgent=bool(item.get("urgent", False)), level=int(level) if level is not None else None,
        ))
    return RuleSet(
        rules=tuple(rules), window=int(data.get("window", 6)), hedge_window=int(data.get("hedge_window", 14)),
        negators=tuple(str(x) for x in data.get("negators") or []),
        not_negators=tuple(sorted((str(x) for x in data.get("not_negators") or []), key=len, reverse=True)),
        hedges=tuple(str(x) for x in data.get("hedges") or []),
    )


@cache
def ruleset() -> RuleSet:
    return load_rules()


def apply_rules(text: str) -> RuleResult:
    """Apply the shipped rules to already normalised text."""
    return ruleset().apply(text)
