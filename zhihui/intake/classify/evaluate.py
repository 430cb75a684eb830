"""Measure the incident-type suggester. ``python -m zhihui.intake.classify.evaluate [--compare]``.

* held-out: the hand-written ``heldout.yaml`` (styles the corpus generator does not produce) —
  macro-F1 over the nine 类别, per-类别 precision / recall / F1, 类型 top-1 / top-3 accuracy,
  non-police (12345) detection precision / recall, accuracy by writing style, and the model alone
  (without the rule layer) for comparison;
* corpus split: the same figures on a 20 % split of the generated corpus, the model trained on the
  other 80 % — the gap to the held-out figures shows how much the generator flatters the model;
* demo: 类别 accuracy on descriptions written by ``zhihui.sim.demo`` (reported apart, never part of
  the held-out figures);
* training time and warm predict latency (p50 / p99 of single ``suggest`` calls).

``--compare`` also trains the alternative classifiers considered (slower).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.metrics import f1_score, precision_recall_fscore_support

from zhihui.incidents.categories import categories
from zhihui.intake.classify import Suggestion, _label_tables, _suggest_from, suggest_many
from zhihui.intake.classify import corpus as corpus_mod
from zhihui.intake.classify import model as model_mod

HELDOUT_PATH = Path(__file__).with_name("heldout.yaml")
TOPS = [f"{i:02d}" for i in range(1, 10)]


def load_heldout(path: Path = HELDOUT_PATH) -> list[dict[str, str]]:
    items: list[dict[str, str]] = yaml.safe_load(path.read_text(encoding="utf-8"))["items"]
    return items


def _non_police_truth(code: str) -> bool:
    return not categories().nodes[code].police


def score(texts: list[str], codes: list[str], truth_codes: list[str], model: model_mod.Model,
          styles: list[str] | None = None) -> dict[str, Any]:
    """Figures for texts whose 类型 are ``codes`` (and whose finest known codes are ``truth_codes``)."""
    sugs = suggest_many(texts, k=3, model=model)
    y = [c[:2] for c in codes]
    yp = [s.top_category or "00" for s in sugs]
    p, r, f, n = precision_recall_fscore_support(y, yp, labels=TOPS, zero_division=0)
    np_true = [_non_police_truth(c) for c in truth_codes]
    np_pred = [not s.police for s in sugs]
    tp = sum(a and b for a, b in zip(np_true, np_pred, strict=True))
    out: dict[str, Any] = {
        "n": len(texts),
        "macro_f1": round(float(f1_score(y, yp, labels=TOPS, average="macro", zero_division=0)), 4),
        "category_accuracy": round(float(np.mean([a == b for a, b in zip(y, yp, strict=True)])), 4),
        "per_category": {
            t: {"name": categories().nodes[t].name, "precision": round(float(p[i]), 3),
                "recall": round(float(r[i]), 3), "f1": round(float(f[i]), 3), "support": int(n[i])}
            for i, t in enumerate(TOPS)
        },
        "type_top1": round(float(np.mean([bool(s.candidates) and s.candidates[0].code == c
                                           for s, c in zip(sugs, codes, strict=True)])), 4),
        "type_top3": round(float(np.mean([c in [x.code for x in s.candidates]
                                           for s, c in zip(sugs, codes, strict=True)])), 4),
        "non_police": {
            "support": int(sum(np_true)),
            "precision": round(tp / max(sum(np_pred), 1), 3),
            "recall": round(tp / max(sum(np_true), 1), 3),
        },
    }
    conf = [s.confident for s in sugs]
    out["confident"] = {
        "share": round(float(np.mean(conf)), 3),
        "category_accuracy_when_confident": round(float(np.mean(
            [a == b for a, b, c in zip(y, yp, conf, strict=True) if c] or [0.0])), 3),
    }
    if styles:
        by: dict[str, list[bool]] = defaultdict(list)
        for s, a, b in zip(styles, y, yp, strict=True):
            by[s].append(a == b)
        out["category_accuracy_by_style"] = {k: {"n": len(v), "accuracy": round(float(np.mean(v)), 3)}
                                             for k, v in sorted(by.items())}
    # The model alone, without the rule layer.
    norms = [model_mod.normalise(t) for t in texts]
    probs = model.predict_proba(norms)
    raw = [model.labels[j][:2] for j in probs.argmax(1)]
    out["model_only_macro_f1"] = round(float(f1_score(y, raw, labels=TOPS, average="macro", zero_division=0)), 4)
    return out


def corpus_split(examples: list[corpus_mod.Example], kind: str = "sgd", share: float = 0.2,
                 seed: int = 7) -> dict[str, Any]:
    idx = list(range(len(examples)))
    random.Random(seed).shuffle(idx)
    cut = int(len(idx) * (1 - share))
    train = [examples[i] for i in idx[:cut]]
    test = [examples[i] for i in idx[cut:]]
    m = model_mod.train(train, kind=kind)
    return score([e.text for e in test], [e.label[:4] for e in test], [e.label for e in test], m)


def demo_accuracy(model: model_mod.Model, n: int = 400, seed: int = 3) -> dict[str, Any]:
    from zhihui.sim.demo import DemoCity

    tree = categories()
    city = DemoCity(tree, random.Random(seed))
    cats = [city.pick_category() for _ in range(n)]
    texts = [city.description(c) for c in cats]
    sugs = suggest_many(texts, k=3, model=model)
    pairs = list(zip(sugs, cats, strict=True))
    return {
        "n": n,
        "category_accuracy": round(float(np.mean([s.top_category == c.top for s, c in pairs])), 4),
        "type_top1": round(float(np.mean([bool(s.candidates) and s.candidates[0].code == c.code[:4]
                                           for s, c in zip(sugs, cats, strict=True)])), 4),
    }


def latency(model: model_mod.Model, texts: list[str], rounds: int = 3) -> dict[str, float]:
    tables = _label_tables(model)

    def one(text: str) -> Suggestion:  # the body of suggest(), with this model
        norm = model_mod.normalise(text)
        return _suggest_from(norm, model.predict_proba([norm])[0], 3, tables)

    for t in texts[:20]:
        one(t)
    times = []
    for _ in range(rounds):
        for t in texts:
            start = time.perf_counter()
            one(t)
            times.append((time.perf_counter() - start) * 1000)
    arr = np.array(times)
    return {"p50_ms": round(float(np.percentile(arr, 50)), 3), "p99_ms": round(float(np.percentile(arr, 99)), 3),
            "max_ms": round(float(arr.max()), 3), "calls": len(times)}


def evaluate(compare: bool = False, with_latency: bool = True) -> dict[str, Any]:
    """Train on the generated corpus and score the held-out set (see the module docstring)."""
    examples = corpus_mod.generate()
    start = time.perf_counter()
    model = model_mod.train(examples)
    train_seconds = time.perf_counter() - start
    items = load_heldout()
    texts = [i["t"] for i in items]
    result: dict[str, Any] = {
        "model": "char 1-3-gram TF-IDF + SGDClassifier(log_loss)",
        "corpus": {"sentences": len(examples), "labels": len({e.label for e in examples})},
        "train_seconds": round(train_seconds, 2),
        "heldout": score(texts, [i["c"] for i in items], [i.get("sub", i["c"]) for i in items], model,
                         [i.get("s", "") for i in items]),
        "corpus_split": corpus_split(examples),
        "demo_descriptions": demo_accuracy(model),
    }
    if with_latency:
        result["latency"] = latency(model, texts)
    if compare:
        alternatives = {}
        for kind, words in (("lr", False), ("huber", False), ("cnb", False), ("sgd", True), ("lr", True)):
            t0 = time.perf_counter()
            alt = model_mod.train(examples, kind=kind, words=words)
            secs = time.perf_counter() - t0
            sc = score(texts, [i["c"] for i in items], [i.get("sub", i["c"]) for i in items], alt)
            alternatives[f"{kind}{'+jieba' if words else ''}"] = {
                "train_seconds": round(secs, 2), "heldout_macro_f1": sc["macro_f1"], "type_top1": sc["type_top1"]}
        result["alternatives"] = alternatives
    return result


def main() -> None:  # pragma: no cover - CLI
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="also train the alternative classifiers")
    args = parser.parse_args()
    print(json.dumps(evaluate(compare=args.compare), ensure_ascii=False, indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
