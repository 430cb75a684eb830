"""警情类型建议 — suggest the incident type (类别/类型/细类), level and urgency from a call description.

    >>> from zhihui.intake.classify import suggest, warm
    >>> warm()                      # load the cached model, or train it (a few seconds) and cache it
    >>> s = suggest("楼上着火了，好大的烟", k=3)
    >>> s.top_category, s.urgent, [c.code for c in s.candidates]

Pipeline: normalise (NFKC, traditional → simplified) → char-n-gram TF-IDF + logistic regression
over the phrase-bank labels (``model.py``, trained on the generated corpus of ``corpus.py``) →
rule layer for unmistakable cues (``rules.py`` / ``rules.yaml``) → 类型 candidates, 类别, level,
urgency and the non-police (12345) probability. A suggestion only: the call-taker decides.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from zhihui.incidents.categories import categories
from zhihui.intake.classify.model import Model, get_model, meaningful, normalise, warm
from zhihui.intake.classify.rules import Fired, RuleResult, apply_rules

__all__ = [
    "Candidate", "Fired", "Suggestion", "apply_rules", "normalise", "suggest", "suggest_many", "warm",
]

FORCE_FACTOR = 30.0  # a forced 类别's probability is multiplied by this …
FORCE_MIN_SHARE = 0.6  # … and then raised to at least this share
CONFIDENT_TOP = 0.6  # 类别 probability needed for a confident suggestion
CONFIDENT_TYPE = 0.35  # and 类型 probability


@dataclass(frozen=True)
class Candidate:
    code: str  # 4-digit 类型
    label: str  # "刑事/盗窃"
    name: str  # "盗窃"
    probability: float
    subtype: str | None = None  # 6-digit 细类 when one stands out (optional)
    subtype_name: str | None = None


@dataclass(frozen=True)
class Suggestion:
    text: str  # the normalised text the suggestion is based on
    candidates: list[Candidate]
    top_category: str | None
    top_category_name: str | None
    top_probability: float
    level: int
    urgent: bool
    police: bool
    non_police_probability: float
    rules_fired: list[Fired] = field(default_factory=list)
    confident: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _empty(text: str) -> Suggestion:
    return Suggestion(text=text, candidates=[], top_category=None, top_category_name=None, top_probability=0.0,
                      level=3, urgent=False, police=True, non_police_probability=0.0, confident=False)


def _label_tables(model: Model) -> dict[str, Any]:
    """Per-model lookup arrays, computed once and kept on the model object."""
    tables: dict[str, Any] | None = getattr(model, "_tables", None)
    if tables is not None:
        return tables
    tree = categories()
    labels = list(model.labels)
    types = sorted({lab[:4] for lab in labels})
    tops = sorted({lab[:2] for lab in labels})
    type_of = np.zeros((len(labels), len(types)))
    top_of = np.zeros((len(labels), len(tops)))
    for i, lab in enumerate(labels):
        type_of[i, types.index(lab[:4])] = 1.0
        top_of[i, tops.index(lab[:2])] = 1.0
    tables = {
        "types": types, "tops": tops, "type_of": type_of, "top_of": top_of,
        "label_top": np.array([lab[:2] for lab in labels]),
        "non_police": np.array([not tree.nodes[lab].police for lab in labels]),
        "labels": labels,
    }
    model._tables = tables  # type: ignore[attr-defined]
    return tables


def _apply_rule_weights(p: np.ndarray, rules: RuleResult, tables: dict[str, Any]) -> np.ndarray:
    if not rules.force and not rules.boost:
        return p
    label_top = tables["label_top"]
    p = p.copy()
    for top, factor in rules.boost.items():
        p[label_top == top] *= factor
    for top in rules.force:
        p[label_top == top] *= FORCE_FACTOR
    p /= p.sum()
    for top in dict.fromkeys(rules.force):
        mask = label_top == top
        share = p[mask].sum()
        if share < FORCE_MIN_SHARE:
            inside = p[mask] / share if share > 0 else np.full(mask.sum(), 1.0 / mask.sum())
            p[~mask] *= (1 - FORCE_MIN_SHARE) / max(1 - share, 1e-12)
            p[mask] = inside * FORCE_MIN_SHARE
    return p


def _subtype(type_code: str, p: np.ndarray, tables: dict[str, Any], text: str) -> str | None:
    """A 细类 when a 6-digit label of the type carries most of its mass, or its name is in the text."""
    tree = categories()
    labels = tables["labels"]
    idx = [i for i, lab in enumerate(labels) if lab[:4] == type_code]
    best = max(idx, key=lambda i: p[i])
    if len(labels[best]) == 6 and p[best] >= 0.5 * sum(p[i] for i in idx):
        return str(labels[best])
    named = [c for c in tree.children(type_code) if c.name in text]
    if named:
        return max(named, key=lambda c: len(c.name)).code
    return None


def _suggest_from(text: str, p: np.ndarray, k: int, tables: dict[str, Any]) -> Suggestion:
    tree = categories()
    rules = apply_rules(text)
    p = _apply_rule_weights(p, rules, tables)
    type_p = p @ tables["type_of"]
    top_p = p @ tables["top_of"]
    order = np.argsort(-type_p, kind="stable")[: max(int(k), 0)]
    candidates = []
    for j in order:
        code = tables["types"][j]
        node = tree.nodes[code]
        sub = _subtype(code, p, tables, text)
        candidates.append(Candidate(code=code, label=tree.label(code), name=node.name,
                                    probability=round(float(type_p[j]), 4), subtype=sub,
                                    subtype_name=tree.nodes[sub].name if sub else None))
    t = int(np.argmax(top_p))
    top = tables["tops"][t]
    best_type = tables["types"][int(np.argmax(type_p))]
    best = candidates[0].subtype if candidates and candidates[0].subtype else best_type
    node = tree.nodes[best]
    level = node.level if rules.level is None else min(node.level, rules.level)
    non_police = float(p[tables["non_police"]].sum())
    confident = float(top_p[t]) >= CONFIDENT_TOP and float(type_p.max()) >= CONFIDENT_TYPE
    return Suggestion(
        text=text, candidates=candidates, top_category=top, top_category_name=tree.nodes[top].name,
        top_probability=round(float(top_p[t]), 4), level=level, urgent=node.urgent or rules.urgent,
        police=non_police < 0.5, non_police_probability=round(non_police, 4), rules_fired=list(rules.fired),
        confident=confident,
    )


def suggest(text: str, k: int = 3) -> Suggestion:
    """Suggest the incident type of a call description (top-k 类型 candidates, 类别, level, urgency)."""
    norm = normalise(text)
    if not norm or not meaningful(norm):
        return _empty(norm)
    model = get_model()
    tables = _label_tables(model)
    return _suggest_from(norm, model.predict_proba([norm])[0], k, tables)


def suggest_many(texts: list[str], k: int = 3, model: Model | None = None) -> list[Suggestion]:
    """Batch form of :func:`suggest` (one model call for all texts)."""
    model = model or get_model()
    tables = _label_tables(model)
    norms = [normalise(t) for t in texts]
    keep = [i for i, n in enumerate(norms) if n and meaningful(n)]
    out: list[Suggestion] = [_empty(n) for n in norms]
    if keep:
        probs = model.predict_proba([norms[i] for i in keep])
        for row, i in enumerate(keep):
            out[i] = _suggest_from(norms[i], probs[row], k, tables)
    return out
