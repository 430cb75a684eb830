"""四色预警: p-values by hand, grading boundaries, no look-ahead, explanations, synthetic checks, real data."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from zhihui.analytics import warnings as wn
from zhihui.core.config import shared_data

DATA = shared_data(wn.TORONTO_FILE)
MONDAY = pd.Timestamp("2019-01-07")


def weekly(counts: list[int] | np.ndarray, first: pd.Timestamp = MONDAY) -> pd.Series:
    return pd.Series(np.asarray(counts), index=pd.date_range(first, periods=len(counts), freq="7D"))


def start_of(s: pd.Series, i: int) -> pd.Timestamp:
    return s.index[i]


# --- p-values -----------------------------------------------------------------------------------


def test_poisson_p_value_by_hand() -> None:
    # P(X >= 6 | Poisson 2) = 1 - e^-2 (1 + 2 + 2 + 4/3 + 2/3 + 4/15)
    hand = 1 - math.exp(-2) * (1 + 2 + 2 + 4 / 3 + 2 / 3 + 4 / 15)
    assert float(wn.upper_tail_p(6, 2.0)) == pytest.approx(hand, rel=1e-12)
    assert float(wn.upper_tail_p(0, 2.0)) == 1.0
    # A flat history of 2s: baseline 2, no residual spread -> Poisson; 6 cases -> p as above, yellow.
    s = weekly([2] * 12 + [6])
    w = wn.assess(s, start_of(s, 12), area="福田", category="盗窃")
    assert w.expected == pytest.approx(2.0) and w.dispersion == 0.0
    assert w.p_value == pytest.approx(hand, rel=1e-12)
    assert w.level == "yellow" and "泊松" in w.reason_zh


def test_negative_binomial_by_hand_and_wider_than_poisson() -> None:
    # alpha = 1 is the geometric distribution: P(X >= k) = (mu / (1 + mu))^k.
    assert float(wn.upper_tail_p(10, 4.0, 1.0)) == pytest.approx(0.8**10, rel=1e-10)
    for obs, mu, alpha in [(10, 4.0, 0.3), (15, 8.0, 0.05), (5, 1.0, 0.5)]:
        assert wn.upper_tail_p(obs, mu, alpha) > wn.upper_tail_p(obs, mu, 0.0)


def test_dispersion_is_method_of_moments_on_the_baseline_window() -> None:
    # Default params: recent window t-10 .. t-3 = [0, 4] * 4 (mean 2), no seasonal window (< 1 year).
    # alpha = (8/7 * sum (y - 2)^2 - sum 2) / sum 2^2 = (8/7 * 32 - 16) / 32 = 9/14
    s = weekly([0, 4] * 4 + [2, 2, 9])
    w = wn.assess(s, start_of(s, 10))
    assert w.expected == pytest.approx(2.0) and w.baseline_seasonal is None and w.seasonal_years == 0
    assert w.dispersion == pytest.approx(9 / 14)
    assert w.p_value == pytest.approx(float(wn.upper_tail_p(9, 2.0, 9 / 14)))
    assert w.p_value > float(wn.upper_tail_p(9, 2.0, 0.0))
    assert "负二项 α=0.64" in w.reason_zh
    # One spike in a quiet window: (8/7 * 350 - 20) / 50 = 7.6, capped at max_dispersion.
    spike = weekly([0] * 7 + [20, 0, 0, 5])
    assert wn.assess(spike, start_of(spike, 10)).dispersion == wn.MAX_DISPERSION == 1.0
    loose = dataclasses.replace(wn.DEFAULT_PARAMS, max_dispersion=100.0)
    assert wn.assess(spike, start_of(spike, 10), loose).dispersion == pytest.approx(7.6)


def test_seasonal_baseline_blends_last_years_same_weeks() -> None:
    lag = wn.DEFAULT_PARAMS.season_lag
    counts = np.full(lag + 20, 4)
    t = lag + 15
    counts[t - lag - 1 : t - lag + 2] = [10, 13, 16]  # last year's same week +-1: mean 13
    s = weekly(counts)
    w = wn.assess(s, start_of(s, t))
    assert w.seasonal_years == 1 and w.baseline_seasonal == pytest.approx(13.0)
    assert w.baseline_recent == pytest.approx(4.0)
    assert w.expected == pytest.approx(0.5 * 4 + 0.5 * 13)
    assert "去年同期" in w.reason_zh


# --- grading ------------------------------------------------------------------------------------


def test_grade_boundaries() -> None:
    g = wn.grade
    assert g(8, 5.0, 0.000999) == "red"
    assert g(8, 5.0, 0.001) == "orange"  # p not below 0.001
    assert g(8, 5.01, 0.0001) == "orange"  # excess 2.99 < 3
    assert g(7, 5.0, 0.00999) == "orange"
    assert g(7, 5.0, 0.01) == "yellow"
    assert g(7, 5.01, 0.001) == "yellow"  # excess 1.99 < 2
    assert g(4, 3.0, 0.0499) == "yellow"
    assert g(4, 3.0, 0.05) == "green"
    # Rising run: three periods above baseline and ratio >= 1.5.
    assert g(6, 4.0, 0.2, run_above=3) == "yellow"
    assert g(6, 4.0, 0.2, run_above=2) == "green"
    assert g(5, 4.0, 0.2, run_above=5) == "green"  # ratio 1.25


def test_minimum_count_and_floor() -> None:
    assert wn.grade(2, 0.01, 1e-9) == "green"
    assert wn.grade(3, 0.0, 1e-9) == "red"
    zeros = [0] * 12
    # Zero history: baseline floored at 0.5, so one or two cases are never a warning.
    one = wn.assess(weekly([*zeros, 2]), MONDAY + pd.Timedelta(weeks=12), area="A", category="抢劫")
    assert one.expected == 0.5 and one.level == "green" and one.p_value < 0.1
    assert "取下限 0.5" in one.reason_zh and "未达预警阈值" in one.reason_zh
    # Two cases that the p-value or the rising run alone would flag stay green, saying why.
    low_floor = dataclasses.replace(wn.DEFAULT_PARAMS, baseline_floor=0.1)
    rare = wn.assess(weekly([*zeros, 2]), MONDAY + pd.Timedelta(weeks=12), low_floor)
    assert rare.p_value == pytest.approx(1 - 1.1 * math.exp(-0.1)) and rare.p_value < 0.01
    assert rare.level == "green" and "起数不足 3 起，不预警" in rare.reason_zh
    run = wn.assess(weekly([1] * 10 + [2, 2, 2]), MONDAY + pd.Timedelta(weeks=12))
    assert run.run_above == 3 and run.ratio == 2.0 and run.p_value > 0.05
    assert run.level == "green" and "起数不足 3 起" in run.reason_zh
    three = wn.assess(weekly([*zeros, 3]), MONDAY + pd.Timedelta(weeks=12))
    assert three.p_value == pytest.approx(1 - math.exp(-0.5) * (1 + 0.5 + 0.125))
    assert three.level == "yellow"  # p = 0.014, excess 2.5 but p not below 0.01
    five = wn.assess(weekly([*zeros, 5]), MONDAY + pd.Timedelta(weeks=12))
    assert five.level == "red" and five.ratio == pytest.approx(10.0)


def test_rising_trend_gives_yellow() -> None:
    # Baseline window mean 4 with spread; last three weeks 6, 6, 6: p large but a run above baseline.
    s = weekly([5, 3] * 4 + [6, 6, 6])
    w = wn.assess(s, start_of(s, 10))
    assert w.p_value > 0.05 and w.run_above == 3 and w.ratio == pytest.approx(1.5)
    assert w.level == "yellow" and "连续3周高于基线" in w.reason_zh
    s2 = weekly([5, 3] * 4 + [6, 3, 6])
    assert wn.assess(s2, start_of(s2, 10)).level == "green"


# --- no look-ahead, explanations ------------------------------------------------------------------


def test_assessment_uses_only_the_past() -> None:
    rng = np.random.default_rng(3)
    counts = rng.poisson(6, size=200)
    s = weekly(counts)
    t = 150
    base = wn.assess(s, start_of(s, t))
    later = counts.copy()
    later[t + 1 :] = rng.poisson(40, size=later.size - t - 1)
    assert wn.assess(weekly(later), start_of(s, t)) == base
    assert wn.assess(weekly(counts[: t + 1]), start_of(s, t)) == base
    now = counts.copy()
    now[t] += 20
    moved = wn.assess(weekly(now), start_of(s, t))
    assert moved.expected == base.expected and moved.dispersion == base.dispersion
    assert moved.observed == base.observed + 20 and moved.p_value < base.p_value


def test_reason_text_is_built_from_the_numbers() -> None:
    s = weekly([9, 10, 8, 11, 9, 10, 9, 10, 12, 14, 23])
    w = wn.assess(s, start_of(s, 10), area="香蜜湖派出所辖区", category="盗窃")
    assert w.level == "red" and w.observed == 23
    for text in (w.reason_zh, w.reason_en):
        assert "香蜜湖派出所辖区" in text and "盗窃" in text
        assert " 23 " in text and f"{w.expected:.1f}" in text and f"{w.ratio:.2f}" in text
    assert f"P={w.p_value:.1e}" in w.reason_zh or f"P={w.p_value:.4f}" in w.reason_zh
    assert w.reason_zh.endswith("→ 红色/严重") and w.reason_en.endswith("→ red (severe)")
    assert "较上周 +64%" in w.reason_zh  # 23 vs 14
    w2 = wn.assess(s.replace(23, 19), start_of(s, 10), area="香蜜湖派出所辖区", category="盗窃")
    assert " 19 " in w2.reason_zh and w2.reason_zh != w.reason_zh


def test_assess_rejects_misaligned_or_short_input() -> None:
    s = weekly([1] * 10)
    with pytest.raises(ValueError):
        wn.assess(s, MONDAY + pd.Timedelta(days=3))
    with pytest.raises(ValueError):
        wn.assess(s, start_of(s, 2))  # fewer than min_history periods before it
    early = wn.assess(s, start_of(s, 5))
    assert "此前第3–5周" in early.reason_zh and "weeks 3-5 back" in early.reason_en  # the window it had
    with pytest.raises(ValueError):
        wn.assess(weekly([1, -1, 2, 3, 4, 5]), start_of(s, 5))


# --- frames, history, summary, countermeasures -----------------------------------------------------


def test_assess_all_fills_missing_periods_with_zeros() -> None:
    weeks = pd.date_range(MONDAY, periods=12, freq="7D")
    rows = [("B", "抢劫", d, 1) for d in weeks]  # B spans the whole grid
    # A has rows only in weeks 3 and 5 (3 each) and 11 (assessed): every other week is a zero.
    rows += [("A", "盗窃", weeks[i], n) for i, n in [(3, 3), (5, 3), (11, 6)]]
    frame = pd.DataFrame(rows, columns=["area", "category", "period_start", "count"])
    got = {w.area: w for w in wn.assess_all(frame, weeks[11])}
    assert set(got) == {"A", "B"}
    a = got["A"]
    assert a.baseline_recent == pytest.approx(6 / 8)  # weeks 1..8: two 3s and six zeros
    full = np.zeros(12, dtype=int)
    full[[3, 5, 11]] = [3, 3, 6]
    assert a == wn.assess(weekly(full), weeks[11], area="A", category="盗窃")
    # Alone, A's history starts at its own first row (week 3): recent window weeks 3..8 = 3, 0, 3, 0, 0, 0.
    a_rows = frame[frame["area"] == "A"]
    alone = wn.assess(a_rows, weeks[11])
    assert (alone.area, alone.category) == ("A", "盗窃") and alone.baseline_recent == pytest.approx(1.0)
    as_mapping = {"period_start": list(a_rows["period_start"]), "count": list(a_rows["count"])}
    assert wn.assess(as_mapping, weeks[11], area="A", category="盗窃") == alone
    # An assessed period past the frame's last row is a zero week.
    past_end = {w.area: w for w in wn.assess_all(frame, weeks[11] + pd.Timedelta(weeks=1))}
    assert past_end["A"].observed == 0 and past_end["A"].level == "green"


def test_history_summary_and_countermeasures() -> None:
    weeks = pd.date_range(MONDAY, periods=16, freq="7D")
    quiet = [("Q", "伤害", d, 4) for d in weeks]
    burst = [("H", "入室盗窃", d, 2) for d in weeks[:13]] + [("H", "入室盗窃", d, 12) for d in weeks[13:]]
    frame = pd.DataFrame(quiet + burst, columns=["area", "category", "period_start", "count"])
    hist = wn.history(frame, weeks[12:])
    assert len(hist) == 8 and [w.period_start for w in hist[::2]] == [d.date() for d in weeks[12:]]
    assert [w.level for w in hist if w.area == "H"] == ["green", "red", "red", "red"]
    assert all(w.level == "green" for w in hist if w.area == "Q")
    assert hist[2].area == "H"  # most severe first within a period
    summary = wn.summarise(hist)
    assert summary["n"] == 8 and summary["by_level"] == {"green": 5, "yellow": 0, "orange": 0, "red": 3}
    assert [r["area"] for r in summary["top_areas"]] == ["H"] and summary["top_areas"][0]["alerts"] == 3
    h = [w for w in hist if w.area == "H"]
    pooled = sum(w.observed for w in h) / sum(w.baseline_raw for w in h)
    assert summary["top_areas"][0]["ratio"] == pytest.approx(pooled, abs=1e-3)
    assert summary["top_categories"][0]["category"] == "入室盗窃"
    profile = np.zeros(24)
    profile[[19, 20, 21, 22]] = [5, 8, 6, 4]
    profile[3] = 2
    lines = wn.countermeasures_zh(hist, {("H", "入室盗窃"): profile})
    assert len(lines) == 3
    assert all(line.startswith("H 入室盗窃 红色预警") for line in lines)
    assert "19–23 时" in lines[0] and "92%" in lines[0] and "住宅小区" in lines[0] and "规则生成" in lines[0]
    assert " 12 起" in lines[0]
    night = np.zeros(24)
    night[[22, 23, 0, 1]] = 5
    assert wn.peak_hours(night) == (22, 2, 1.0)
    first_red = [w for w in hist if w.level == "red"][:1]
    assert "22–次日2 时" in wn.countermeasures_zh(first_red, {"入室盗窃": night})[0]  # keyed by category
    assert "时加强巡逻" not in wn.countermeasures_zh(first_red)[0]  # no profile, no hours
    assert wn.countermeasures_zh([w for w in hist if w.level == "green"]) == []


# --- synthetic checks -----------------------------------------------------------------------------


def test_false_alarm_share_near_nominal_on_constant_poisson() -> None:
    shares = wn.synthetic_false_alarms(rates=(1.0, 3.0, 10.0, 30.0), n_series=100, seed=11)
    assert np.mean(list(shares.values())) <= 0.065, shares
    assert all(0.01 <= v <= 0.09 for v in shares.values()), shares


def test_injected_surges_are_orange_or_red() -> None:
    res = wn.synthetic_surges(rates=(10.0, 30.0), n_series=150, seed=12)
    assert all(r["orange_or_red"] >= 0.9 for r in res.values()), res
    low = wn.synthetic_surges(rates=(3.0,), n_series=150, seed=12)[3.0]
    assert low["any"] >= 0.75, low  # at 3 a week, 3x is often "only" yellow: P(Poisson 9 >= 9) ~ 0.54


def test_guard_band_is_what_keeps_later_surge_weeks_visible() -> None:
    plain = dataclasses.replace(wn.DEFAULT_PARAMS, guard_periods=0)
    res = wn.synthetic_surges(rates=(10.0,), n_series=150, seed=12, params=plain)[10.0]
    assert res["orange_or_red"] < 0.8, res


# --- real data ------------------------------------------------------------------------------------


@pytest.mark.skipif(DATA is None, reason="shared data file toronto_mci_2014_2021.csv.gz is missing")
def test_toronto_2019_distribution() -> None:
    assert DATA is not None
    res = wn.toronto_distribution(DATA, 2019)
    assert res["weeks"] == 52 and res["series"] >= 600 and res["n"] == res["series"] * 52
    share = res["share"]
    assert share["green"] > 0.9, share
    assert 0.005 < share["yellow"] < 0.08, share
    assert share["red"] < 0.01 and share["orange"] < 0.02, share
    assert res["by_level"]["red"] > 0
    assert len(res["examples_zh"]) == 3 and all("起" in r and "基线" in r for r in res["examples_zh"])
    assert all("规则生成" in line for line in res["countermeasures_zh"])
