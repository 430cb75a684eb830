"""非警务分流: should this call go to the 12345 hotline? Rules are data (diversion.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from zhihui.incidents.categories import CategoryTree, categories


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    categories: tuple[str, ...]
    keywords: tuple[str, ...]
    department: str

    def matches_category(self, code: str | None) -> bool:
        return bool(code) and any(code.startswith(c) for c in self.categories)  # type: ignore[union-attr]


@dataclass(frozen=True)
class Advice:
    divert: bool
    rule_id: str | None = None
    rule_name: str | None = None
    department: str | None = None
    reason: str = ""
    keywords: list[str] = field(default_factory=list)
    blocked_by: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"divert": self.divert, "rule_id": self.rule_id, "rule_name": self.rule_name,
                "department": self.department, "reason": self.reason, "keywords": self.keywords,
                "blocked_by": self.blocked_by}


class DiversionRules:
    def __init__(self, rules: list[Rule], safety: tuple[str, ...], default_department: str,
                 tree: CategoryTree) -> None:
        self.rules = rules
        self.safety = safety
        self.default_department = default_department
        self.tree = tree

    def rule_for(self, text: str, category_code: str | None) -> tuple[Rule | None, bool, list[str]]:
        """The rule that names this call: by its category first, else by a keyword in the text.
        Returns (rule, matched by category, the rule's keywords found in the text)."""
        rule = next((r for r in self.rules if r.matches_category(category_code)), None)
        if rule is not None:
            return rule, True, [k for k in rule.keywords if k in text]
        for rule in self.rules:
            hits = [k for k in rule.keywords if k in text]
            if hits:
                return rule, False, hits
        return None, False, []

    def by_id(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def advise(self, text: str, category_code: str | None = None, *, urgent_cues: list[str] | None = None) -> Advice:
        """Advice for one call: its text (simplified Chinese), its category if known, and any
        urgent cues found by the type suggester (injury, someone trapped...), which always keep
        the call with the police."""
        node = self.tree.get(category_code) if category_code else None
        if node is not None and node.police:
            # A police category is never advised away, whatever words the text contains.
            return Advice(False, reason="警务事项")
        blocked = [k for k in self.safety if k in text] + list(urgent_cues or [])
        rule, by_category, hits = self.rule_for(text, category_code)
        if rule is None and node is None:  # no rule and no (non-police) category: nothing says 12345
            return Advice(False, reason="警务事项")
        department = rule.department if rule else self.default_department
        if rule is not None and by_category:
            reason = f"类型属于非警务事项（{rule.name}）"
        elif rule is not None:
            reason = f"描述含非警务关键词（{'、'.join(hits)}）"
        else:
            reason = f"类型“{self.tree.label(category_code or '')}”为非警务事项"
        if blocked:
            return Advice(False, rule.id if rule else None, rule.name if rule else None, department,
                          f"{reason}，但含安全风险词，须由民警处置", hits, blocked)
        return Advice(True, rule.id if rule else None, rule.name if rule else None, department, reason, hits)


def load_rules(path: Path | None = None, tree: CategoryTree | None = None) -> DiversionRules:
    tree = tree or categories()
    path = path or Path(__file__).with_name("diversion.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rules: list[Rule] = []
    seen: set[str] = set()
    for item in data.get("rules") or []:
        rid = str(item["id"])
        if rid in seen:
            raise ValueError(f"diversion rule {rid} defined twice")
        seen.add(rid)
        cats = tuple(str(c) for c in item.get("categories") or [])
        unknown = [c for c in cats if c not in tree]
        if unknown:
            raise ValueError(f"diversion rule {rid}: unknown categories {unknown}")
        police = [c for c in cats if tree.get(c).police]  # type: ignore[union-attr]
        if police:
            raise ValueError(f"diversion rule {rid}: {police} are police categories (police: true)")
        rules.append(Rule(rid, str(item["name"]), cats, tuple(str(k) for k in item.get("keywords") or []),
                          str(item["department"])))
    return DiversionRules(rules, tuple(str(k) for k in data.get("safety_keywords") or []),
                          str(data.get("default_department") or "12345"), tree)


@cache
def diversion_rules() -> DiversionRules:
    return load_rules()
