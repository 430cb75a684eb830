"""Case-series linking (串并案) benchmark on GENERATED solved cases: the linker vs simple baselines.

Method
------
1. Generate solved cases with `zhihui.sim.series.generate_cases` (default difficulty knobs, printed) for
   `--offenders` invented offenders over two years, snapped to the generated places of the demo city
   (central Futian) when the road graph is available (``--no-places``: the demo box only).
2. Split by offender, 70 % train / 30 % test (`split_by_offender`): no offender has cases on both sides.
   Pairs, sampled separately inside each side (`sample_pairs`): every linked pair (same offender) and
   `--ratio` (default 10) unlinked pairs per linked one, uniform over pairs of cases of different offenders.
3. The headline model, `SeriesLinker("auto", mo="text")`, sees only what a real incident has: category
   code, time, lat/lon and the Chinese description (MO read by `mo_tags`). Stage 1 scores a pair from its
   own features; stage 2 adds its neighbourhood in the frame of test cases (do the two cases score high
   with the same other cases?). It picks boosting, spline logistic or their blend by AUC on a validation
   split *by offender inside the training cases*. The feature set and the stage-2 design were chosen by
   offender splits of cases of other generator seeds (11–15: other offenders), never on these test splits.
4. Headline `auc`: the linker's test AUC averaged over `--splits` (default 3) offender splits of the same
   cases (split seeds seed, seed+100, …): a few prolific offenders own most linked pairs (a 30-case series
   has 435), so one split's AUC moves with which offenders land in its test set. Per split, with the
   same pairs: the linker's stage 1 alone, the previous linker (boosting on 12 pair features, no
   neighbourhood), distance only (−metres, no fitting) and time gap only; means in the JSON, per-split
   values under `auc_over_splits`.
5. On the primary split (split seed = seed), also: time-of-day only, MO + text only (logistic on
   category/premises/entry/targets/tools/text features), logistic / boosting / blend on all pair features
   without the neighbourhood stage, and, as a reference, the linker on the generator's structured MO
   fields (perfect extraction); the offender-weighted AUC (each test offender's linked pairs weigh 1 in
   all); and screening, on all pairs of test cases (not sampled): hit@10 = share of test cases with at
   least one linked test case whose top 10 (by linker score, among all other test cases) holds one;
   recall@10 = mean share of a query's linked cases in its top 10 (of at most 10 findable); and AUC over
   all test pairs of the same category within 90 days — the pool an analyst screens — for the linker and
   for distance only.

``--quick``: 150 offenders, no places, one split (a smoke test). The last printed line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zhihui.intel import series as ser
from zhihui.sim.series import SeriesKnobs, generate_cases

MO_FEATURES = ("cat_match", "premises_match", "entry_jaccard", "target_jaccard", "tool_jaccard", "text_cos")
# The linker before issue 8's rework (boosting on the 12 pair features it had, no neighbourhood stage): a baseline.
NEW_FEATURES = ("premises_group_match", "entry_info", "closer_share_min", "closer_share_max")
PREVIOUS_FEATURES = tuple(f for f in ser.FEATURES if f not in NEW_FEATURES)
TARGET_AUC = 0.90


def auc(y: np.ndarray, score: np.ndarray, weight: np.ndarray | None = None) -> float:
    return round(float(roc_auc_score(y, score, sample_weight=weight)), 4)


def offender_weights(cases: Any, pairs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Linked pairs weigh 1 / (their offender's linked pairs), unlinked 1: every series counts once."""
    off = cases["offender_id"].to_numpy()[pairs[:, 0]]
    w = np.ones(len(y))
    linked = y == 1
    _, inv, counts = np.unique(off[linked], return_inverse=True, return_counts=True)
    w[linked] = 1.0 / counts[inv]
    return w


def one_split(cases: Any, seed: int, ratio: float, test_share: float) -> dict[str, float]:
    """Headline linker, its pairwise stage alone, the previous linker and the no-fit baselines on one split."""
    train, test = ser.split_by_offender(cases, test_share, seed=seed)
    ptr, ytr = ser.sample_pairs(train, ratio=ratio, seed=seed)
    pte, yte = ser.sample_pairs(test, ratio=ratio, seed=seed + 1)
    x = ser.pair_features(test, pte)
    linker = ser.SeriesLinker("auto").fit(train, ptr, ytr)
    previous = ser.SeriesLinker("gbm", features=PREVIOUS_FEATURES, chain=False).fit(train, ptr, ytr)
    return {
        "linker": auc(yte, linker.predict_proba(test, pte)),
        "pairwise_stage": auc(yte, linker.predict_proba_features(x)),
        "previous": auc(yte, previous.predict_proba_features(x)),
        "distance": auc(yte, -x["dist_m"].to_numpy()),
        "time_gap": auc(yte, -x["gap_days"].to_numpy()),
    }


def screening(linker: ser.SeriesLinker, test: Any) -> dict[str, Any]:
    """hit@10 and the same-category-within-90-days AUC over all pairs of test cases."""
    n = len(test)
    a, b = np.triu_indices(n, k=1)
    pairs = np.stack([a, b], axis=1)
    x = ser.pair_features(test, pairs, mo=linker.mo)
    s = linker.predict_proba(test, pairs)
    off = test["offender_id"].to_numpy()
    y = (off[a] == off[b]).astype(int)
    m = np.full((n, n), -np.inf)
    m[a, b] = s
    m[b, a] = s
    linked = off[:, None] == off[None, :]
    np.fill_diagonal(linked, False)
    has = linked.any(axis=1)
    top = np.argsort(-m, axis=1)[:, :10]
    q = np.flatnonzero(has)
    hits = np.array([linked[i, top[i]].any() for i in q])
    # recall@10: the share of a query's linked cases found in its top 10 (of at most 10 findable)
    recall = np.array([linked[i, top[i]].sum() / min(10, linked[i].sum()) for i in q])
    pool = (x["cat_match"].to_numpy() == 1) & (x["gap_days"].to_numpy() <= 90)
    return {
        "hit_at_10": round(float(hits.mean()), 4),
        "recall_at_10": round(float(recall.mean()), 4),
        "candidates": n - 1,
        "queries": int(has.sum()),
        "pool_pairs": int(pool.sum()),
        "pool_linked": int(y[pool].sum()),
        "pool_auc": auc(y[pool], s[pool]),
        "pool_auc_distance": auc(y[pool], -x["dist_m"].to_numpy()[pool]),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="150 offenders, no places (smoke test)")
    ap.add_argument("--offenders", type=int, default=600, help="invented offenders (default 600)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ratio", type=float, default=10.0, help="unlinked pairs per linked pair")
    ap.add_argument("--test-share", type=float, default=0.3, help="share of offenders held out")
    ap.add_argument("--no-places", action="store_true", help="do not snap cases to generated places")
    ap.add_argument("--splits", type=int, default=3, help="offender splits for the spread (default 3; quick: 1)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    n_off = 150 if args.quick else args.offenders

    places = None
    if not (args.quick or args.no_places):
        from zhihui.sim.places import generate_places

        places = generate_places(args.seed, 300) or None
    knobs = SeriesKnobs()
    cases = generate_cases(args.seed, n_off, places=places, knobs=knobs)
    sizes = cases.groupby("offender_id").size()
    print(
        f"generated: {len(cases)} cases of {n_off} offenders ({int((sizes == 1).sum())} one-off, largest series "
        f"{int(sizes.max())}), places: {len(places) if places else 'none (box only)'}"
    )
    print("knobs: " + ", ".join(f"{k}={v}" for k, v in asdict(knobs).items()))
    train, test = ser.split_by_offender(cases, args.test_share, seed=args.seed)
    ptr, ytr = ser.sample_pairs(train, ratio=args.ratio, seed=args.seed)
    pte, yte = ser.sample_pairs(test, ratio=args.ratio, seed=args.seed + 1)
    print(
        f"split by offender: train {len(train)} cases / {train['offender_id'].nunique()} offenders, "
        f"test {len(test)} cases / {test['offender_id'].nunique()} offenders"
    )
    print(
        f"pairs: train {len(ptr)} ({int(ytr.sum())} linked), test {len(pte)} ({int(yte.sum())} linked), "
        f"ratio 1:{args.ratio:g}"
    )

    tags = [ser.mo_tags(t) for t in test["text"]]
    extraction = {
        "premises": round(float(np.mean([t["premises"] == p for t, p in zip(tags, test["premises"], strict=True)])), 4),
        "entry": round(float(np.mean([t["entry"] == {e} for t, e in zip(tags, test["entry"], strict=True)])), 4),
        "targets": round(
            float(np.mean([t["targets"] == set(v.split("、")) for t, v in zip(tags, test["targets"], strict=True)])), 4
        ),
    }
    print(
        "mo_tags vs the generator's fields on test cases (exact agreement): "
        + ", ".join(f"{k} {v:.3f}" for k, v in extraction.items())
    )

    xte = ser.pair_features(test, pte)
    rows: dict[str, float] = {
        "distance only": auc(yte, -xte["dist_m"].to_numpy()),
        "time gap only": auc(yte, -xte["gap_days"].to_numpy()),
        "time of day only": auc(yte, -xte["tod_diff_h"].to_numpy()),
    }
    fits: dict[str, float] = {}
    models = {
        "MO + text only (logistic)": ser.SeriesLinker("logistic", features=MO_FEATURES, chain=False),
        "previous linker (boosting, 12 f.)": ser.SeriesLinker("gbm", features=PREVIOUS_FEATURES, chain=False),
        "logistic, pairwise": ser.SeriesLinker("logistic", chain=False),
        "boosting, pairwise": ser.SeriesLinker("gbm", chain=False),
        "blend, pairwise": ser.SeriesLinker("blend", chain=False),
        "linker (auto, + neighbourhood)": ser.SeriesLinker("auto"),
        "reference: linker on MO fields": ser.SeriesLinker("auto", mo="fields"),
    }
    for name, linker in models.items():
        t = time.perf_counter()
        linker.fit(train, ptr, ytr)
        rows[name] = auc(yte, linker.predict_proba(test, pte))
        fits[name] = round(time.perf_counter() - t, 1)
    head = models["linker (auto, + neighbourhood)"]
    head_scores = head.predict_proba(test, pte)
    w = offender_weights(test, pte, yte)
    weighted = {
        "linker": auc(yte, head_scores, w),
        "distance": auc(yte, -xte["dist_m"].to_numpy(), w),
        "time_gap": auc(yte, -xte["gap_days"].to_numpy(), w),
    }
    scr = screening(head, test)
    n_splits = 1 if args.quick else max(1, args.splits)
    spread = [
        {
            "linker": rows["linker (auto, + neighbourhood)"],
            "pairwise_stage": auc(yte, head.predict_proba_features(xte)),
            "previous": rows["previous linker (boosting, 12 f.)"],
            "distance": rows["distance only"],
            "time_gap": rows["time gap only"],
        }
    ]
    spread += [one_split(cases, args.seed + 100 * k, args.ratio, args.test_share) for k in range(1, n_splits)]
    spread_sum = {
        m: {
            "mean": round(float(np.mean([r[m] for r in spread])), 4),
            "min": min(r[m] for r in spread),
            "max": max(r[m] for r in spread),
            "splits": [r[m] for r in spread],
        }
        for m in spread[0]
    }
    mean_auc = spread_sum["linker"]["mean"]

    print(f"\nprimary split (seed {args.seed}):")
    print(f"{'model':34s} {'test AUC':>8s} {'fit+score s':>11s}")
    for name, v in rows.items():
        print(f"{name:34s} {v:8.4f} {fits.get(name, 0.0):11.1f}")
    print(
        f"linker chose {head.chosen_} (validation AUC by offender inside the training cases: "
        + ", ".join(f"{k} {v:.4f}" for k, v in head.validation_auc_.items())
        + ")"
    )
    print(
        f"screening over all {len(test) * (len(test) - 1) // 2} test pairs: hit@10 {scr['hit_at_10']:.3f}, "
        f"recall@10 {scr['recall_at_10']:.3f} ({scr['queries']} query cases, {scr['candidates']} candidates "
        f"each); same category within 90 days: {scr['pool_pairs']} pairs "
        f"({scr['pool_linked']} linked), AUC linker {scr['pool_auc']:.4f} vs distance only "
        f"{scr['pool_auc_distance']:.4f}"
    )
    print(
        "offender-weighted AUC (each test series counts once): "
        + ", ".join(f"{k} {v:.4f}" for k, v in weighted.items())
    )
    seeds = ", ".join(str(args.seed + 100 * k) for k in range(n_splits))
    print(f"\nover {n_splits} offender split(s) (split seeds {seeds}):")
    for m, v in spread_sum.items():
        print(
            f"  {m:15s} mean {v['mean']:.4f} [{v['min']:.4f}, {v['max']:.4f}]  "
            + " ".join(f"{a:.4f}" for a in v["splits"])
        )
    wall = time.perf_counter() - t0
    print(
        f"AUC {mean_auc:.4f} (mean over {n_splits} split(s); primary {rows['linker (auto, + neighbourhood)']:.4f}; "
        f"target {TARGET_AUC}); wall time {wall:.1f} s"
    )
    summary = {
        "auc": mean_auc,
        "auc_splits": spread_sum["linker"]["splits"],
        "auc_min": spread_sum["linker"]["min"],
        "auc_max": spread_sum["linker"]["max"],
        "auc_primary": rows["linker (auto, + neighbourhood)"],
        "target_auc": TARGET_AUC,
        "meets_target": bool(mean_auc >= TARGET_AUC),
        "meets_target_primary": bool(rows["linker (auto, + neighbourhood)"] >= TARGET_AUC),
        "chosen": head.chosen_,
        "validation_auc": {k: round(v, 4) for k, v in head.validation_auc_.items()},
        "auc_distance_only": spread_sum["distance"]["mean"],
        "auc_time_gap_only": spread_sum["time_gap"]["mean"],
        "auc_previous_linker": spread_sum["previous"]["mean"],
        "auc_pairwise_stage": spread_sum["pairwise_stage"]["mean"],
        "splits": n_splits,
        "auc_over_splits": spread_sum,
        "primary": {
            "auc_distance_only": rows["distance only"],
            "auc_time_gap_only": rows["time gap only"],
            "auc_time_of_day_only": rows["time of day only"],
            "auc_mo_text_only": rows["MO + text only (logistic)"],
            "auc_previous_linker": rows["previous linker (boosting, 12 f.)"],
            "auc_logistic_pairwise": rows["logistic, pairwise"],
            "auc_gbm_pairwise": rows["boosting, pairwise"],
            "auc_blend_pairwise": rows["blend, pairwise"],
            "auc_linker": rows["linker (auto, + neighbourhood)"],
            "auc_fields_reference": rows["reference: linker on MO fields"],
            "auc_offender_weighted": weighted,
            **scr,
        },
        "extraction_agreement": extraction,
        "train_pairs": len(ptr),
        "train_linked": int(ytr.sum()),
        "test_pairs": len(pte),
        "test_linked": int(yte.sum()),
        "ratio": args.ratio,
        "cases": len(cases),
        "offenders": n_off,
        "places": len(places) if places else 0,
        "seed": args.seed,
        "quick": args.quick,
        "knobs": asdict(knobs),
        "wall_s": round(wall, 1),
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
