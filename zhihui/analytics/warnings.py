"""四色预警: four-colour public-security warnings per (area, crime type) from period counts.

Chinese bureaus grade the security situation of each area and crime type as 绿 green (正常), 黄 yellow
(关注), 橙 orange (紧急) or 红 red (严重), to point out 案件高发区域 and 高发类型. This module states the
rule, explains every grade with its numbers and keeps a history. Pure functions over counts: the
caller feeds one count per period (day or week) and series; missing periods count as zero.

Rule (all parameters in ``WarningParams``; defaults are the module constants below)
-----------------------------------------------------------------------------------
For the assessed period ``t`` of one series ``y`` (periods of ``period_days`` days, default 7):

1. Baseline (only periods strictly before ``t``; a Farrington-flavoured blend):

   * recent window ``R``: the ``recent_periods`` = 8 periods ``t-10 .. t-3``, i.e. before a guard band
     of ``guard_periods`` = 2 periods (``t-2``, ``t-1``), as in CDC EARS C2: without it the first weeks
     of a sustained surge enter the baseline and hide the following ones (synthetic 3-week 3x surges
     at 10 cases a week: weeks 1/2/3 orange or red 96/98/98 % with the guard, 97/53/21 % without).
     ``guard_periods=0`` gives the plain "previous 8 periods". A surge lasting longer than the guard
     is still absorbed from its 4th week on (6-week surge, same rate: weeks 4-6 orange/red 51/21/10 %, though
     95 %+ of them stay at least yellow);
   * seasonal windows ``S_k``: for each previous year ``k = 1 .. seasonal_years`` (3) whose whole window
     lies inside the history, the periods ``t - k L - 1 .. t - k L + 1`` with ``L = round(364 /
     period_days)`` (52 weeks, so weeks keep their weekday; ``seasonal_half_width`` = 1);
   * ``raw = w mean(R) + (1 - w) mean(S_1 ∪ S_2 ∪ ...)`` with ``w = recent_weight`` = 0.5 when at least
     one seasonal window exists, ``raw = mean(R)`` otherwise;
   * ``expected = max(raw, baseline_floor)`` with ``baseline_floor`` = 0.5 counts per period, so a
     zero history does not turn one or two cases into a warning (at the floor: 3 cases yellow,
     4 orange, 5 red under Poisson);
   * at least ``min_history`` = 4 periods must precede ``t`` (else ``ValueError``).

   Unlike Farrington there is no fitted long-term trend and past outbreaks are not down-weighted.

2. Over-dispersion: negative binomial ``Var = mu + alpha mu^2`` with ``alpha`` by the method of moments
   on the baseline windows' residuals about each window's own mean (the recent window and each seasonal
   window, ``q`` means for ``n`` values; 0 when ``n - q < 1`` or every value is 0):
   ``alpha = (n / (n - q) * sum (y_i - m_i)^2 - sum m_i) / sum m_i^2``, clipped to
   ``[0, max_dispersion]`` (0 = Poisson). The cap, 1.0, is a guard against one past spike in an
   otherwise quiet window (e.g. seven 0s and a 20 give 7.6); on Toronto 2019 it binds only where the
   mean is below ~3 and changes 3 of 36,400 grades.

3. p-value: ``P(X >= observed)`` for ``X ~ NB(mean = expected, alpha)`` (``scipy.stats.nbinom`` with
   ``n = 1 / alpha``, ``p = 1 / (1 + alpha expected)``), Poisson(``expected``) when ``alpha = 0``.

4. Grade (first that holds), and nothing above green unless ``observed >= MIN_COUNT`` (3):

   * red    -- ``p < 0.001`` and ``observed >= expected + 3``;
   * orange -- ``p < 0.01``  and ``observed >= expected + 2``;
   * yellow -- ``p < 0.05``, or a rising run: periods ``t-2, t-1, t`` each above ``expected`` (not
     necessarily increasing) and ``observed / expected >= 1.5``;
   * green  -- otherwise.

Each ``AreaWarning`` carries the numbers (observed, expected and its two parts, ratio, p-value, dispersion,
the 6-period OLS slope, the change vs the previous period, the run above baseline) and Chinese and
English reasons built from them. ``countermeasures_zh`` turns orange/red warnings into templated,
rule-based 打防对策 suggestions (peak hours from an optional hour-of-day profile).

Evaluation (``python -m zhihui.analytics.warnings``)
----------------------------------------------------
``toronto_distribution`` grades every (neighbourhood, category, week) of a year of the real Toronto
Police MCI incidents (weeks from Monday, complete from 2014-01-06); ``synthetic_false_alarms`` and
``synthetic_surges`` measure the share of non-green weeks on constant-rate Poisson series and the
share of injected 3x surge weeks graded orange or red. Measured (defaults, seed 0): Toronto 2019,
700 series x 52 weeks = 36,400 cells: green 96.55 %, yellow 2.93 %, orange 0.40 %, red 0.12 % (89 % of
the cells hold fewer than 3 cases, so they are green by the minimum-count rule). False alarms at
1 / 3 / 10 / 30 cases a week: 3.3 / 7.9 / 4.8 / 4.3 % non-green; the p < 0.05 part alone stays at or
below ~4 % (the discrete tail is conservative), the rising-run rule adds up to ~4 points at 3 a week.
3-week 3x surges graded orange or red: 56 / 97 / 100 % of the surge weeks at 3 / 10 / 30 a week (at 3
a week a surge averages 9, and P(Poisson 9 >= 9) is only 0.54; 86 % are at least yellow).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

LEVELS = ("green", "yellow", "orange", "red")  # index = severity
LEVEL_LABEL_ZH = {"green": "绿色/正常", "yellow": "黄色/关注", "orange": "橙色/紧急", "red": "红色/严重"}
LEVEL_LABEL_EN = {
    "green": "green (normal)",
    "yellow": "yellow (watch)",
    "orange": "orange (urgent)",
    "red": "red (severe)",
}

RED_P = 0.001
RED_EXCESS = 3.0  # observed - expected, counts
ORANGE_P = 0.01
ORANGE_EXCESS = 2.0
YELLOW_P = 0.05
TREND_RUN = 3  # periods in a row above the baseline, the assessed one included
TREND_RATIO = 1.5
MIN_COUNT = 3

PERIOD_DAYS = 7
RECENT_PERIODS = 8
GUARD_PERIODS = 2  # periods between the recent window and the assessed one
SEASONAL_YEARS = 3
SEASONAL_HALF_WIDTH = 1
RECENT_WEIGHT = 0.5
BASELINE_FLOOR = 0.5
MAX_DISPERSION = 1.0
MIN_HISTORY = 4  # periods before the assessed one
TREND_PERIODS = 6
PEAK_WINDOW_HOURS = 4
PEAK_MIN_EVENTS = 10

TORONTO_FILE = "toronto_mci_2014_2021.csv.gz"
TORONTO_FIRST_WEEK = "2014-01-06"  # first Monday on or after the file's complete start (2014-01-01)


@dataclass(frozen=True)
class WarningParams:
    """The rule's thresholds and baseline choices (see the module docstring)."""

    red_p: float = RED_P
    red_excess: float = RED_EXCESS
    orange_p: float = ORANGE_P
    orange_excess: float = ORANGE_EXCESS
    yellow_p: float = YELLOW_P
    trend_run: int = TREND_RUN
    trend_ratio: float = TREND_RATIO
    min_count: int = MIN_COUNT
    period_days: int = PERIOD_DAYS
    recent_periods: int = RECENT_PERIODS
    guard_periods: int = GUARD_PERIODS
    seasonal_years: int = SEASONAL_YEARS
    seasonal_half_width: int = SEASONAL_HALF_WIDTH
    recent_weight: float = RECENT_WEIGHT
    baseline_floor: float = BASELINE_FLOOR
    max_dispersion: float = MAX_DISPERSION
    min_history: int = MIN_HISTORY
    trend_periods: int = TREND_PERIODS

    def __post_init__(self) -> None:
        if self.period_days < 1 or self.recent_periods < 1 or self.baseline_floor <= 0:
            raise ValueError("period_days and recent_periods must be >= 1 and baseline_floor > 0")
        if self.min_history < self.guard_periods + 1:
            raise ValueError("min_history must leave at least one recent period before the guard band")
        if not 0.0 <= self.recent_weight <= 1.0:
            raise ValueError("recent_weight must lie in [0, 1]")

    @property
    def season_lag(self) -> int:
        """Periods in one year: 52 weeks / 364 days keep the weekday."""
        return max(1, round(364 / self.period_days))


DEFAULT_PARAMS = WarningParams()


@dataclass(frozen=True)
class AreaWarning:
    """One graded (area, category, period) with the numbers behind the grade."""

    area: str
    category: str
    period_start: dt.date
    level: str  # one of LEVELS
    level_label_zh: str
    observed: int
    expected: float  # the baseline, after the floor
    ratio: float  # observed / expected
    p_value: float  # P(X >= observed | expected, dispersion)
    dispersion: float  # NB alpha in Var = mu + alpha mu^2; 0 = Poisson
    trend: float  # OLS slope of the last trend_periods counts (assessed one included), counts per period
    change_pct: float | None  # vs the previous period; None when that was 0
    run_above: int  # periods in a row, ending with the assessed one, above the baseline
    baseline_raw: float  # the blend before the floor
    baseline_recent: float
    baseline_seasonal: float | None  # None without a year of history
    seasonal_years: int
    period_days: int
    reason_zh: str
    reason_en: str

    @property
    def severity(self) -> int:
        return LEVELS.index(self.level)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["period_start"] = self.period_start.isoformat()
        return out


# --------------------------------------------------------------------------------------------------
# The rule, vectorised over series (rows) for one assessed period (column t)


@dataclass(frozen=True, eq=False)
class _Core:
    observed: np.ndarray
    expected: np.ndarray
    raw: np.ndarray  # the blended baseline before the floor
    recent: np.ndarray
    seasonal: np.ndarray  # nan without seasonal windows
    alpha: np.ndarray
    p_value: np.ndarray
    slope: np.ndarray
    previous: np.ndarray  # nan at t = 0
    run_above: np.ndarray
    level: np.ndarray  # severity index into LEVELS
    unrestricted: np.ndarray  # the level the numbers would give without the minimum count
    seasonal_years: int
    recent_periods: int  # periods in the recent window (fewer than asked early in a series)


def upper_tail_p(observed: Any, expected: Any, dispersion: Any = 0.0) -> np.ndarray:
    """P(X >= observed), X negative binomial with this mean and alpha (Poisson where alpha is 0)."""
    obs = np.asarray(observed, dtype=float)
    mu = np.asarray(expected, dtype=float)
    alpha = np.asarray(dispersion, dtype=float)
    obs, mu, alpha = np.broadcast_arrays(obs, mu, alpha)
    nb = alpha > 0
    safe = np.where(nb, alpha, 1.0)
    p_nb = stats.nbinom.sf(obs - 1, 1.0 / safe, 1.0 / (1.0 + safe * mu))
    p_pois = stats.poisson.sf(obs - 1, mu)
    return np.asarray(np.clip(np.where(nb, p_nb, p_pois), 0.0, 1.0), dtype=float)


def _grade(observed: Any, expected: Any, p_value: Any, run_above: Any, params: WarningParams) -> np.ndarray:
    """Severity index per element, before the minimum-count rule."""
    obs = np.asarray(observed, dtype=float)
    exp = np.asarray(expected, dtype=float)
    p = np.asarray(p_value, dtype=float)
    run = np.asarray(run_above)
    red = (p < params.red_p) & (obs >= exp + params.red_excess)
    orange = (p < params.orange_p) & (obs >= exp + params.orange_excess)
    rising = (run >= params.trend_run) & (obs >= params.trend_ratio * exp)
    yellow = (p < params.yellow_p) | rising
    return np.select([red, orange, yellow], [3, 2, 1], default=0)


def grade(
    observed: int, expected: float, p_value: float, run_above: int = 0, params: WarningParams = DEFAULT_PARAMS
) -> str:
    """The colour for these numbers, the minimum-count rule included."""
    if observed < params.min_count:
        return "green"
    return LEVELS[int(_grade(observed, expected, p_value, run_above, params))]


def _core(counts: np.ndarray, t: int, params: WarningParams) -> _Core:
    if t < params.min_history or t >= counts.shape[1]:
        raise ValueError(f"period index {t} needs {params.min_history} earlier periods and must lie in the series")
    r1 = t - params.guard_periods
    r0 = max(0, r1 - params.recent_periods)
    blocks = [counts[:, r0:r1]]
    h = params.seasonal_half_width
    for k in range(1, params.seasonal_years + 1):
        centre = t - k * params.season_lag
        if centre - h < 0:
            break
        blocks.append(counts[:, centre - h : centre + h + 1])
    recent = blocks[0].mean(axis=1)
    if len(blocks) > 1:
        seasonal = np.concatenate(blocks[1:], axis=1).mean(axis=1)
        raw = params.recent_weight * recent + (1.0 - params.recent_weight) * seasonal
    else:
        seasonal = np.full(counts.shape[0], np.nan)
        raw = recent
    expected = np.maximum(raw, params.baseline_floor)

    # Method of moments about each window's own mean, so a level change between years is not dispersion.
    n = sum(b.shape[1] for b in blocks)
    q = len(blocks)
    means = [b.mean(axis=1, keepdims=True) for b in blocks]
    ss = sum(((b - m) ** 2).sum(axis=1) for b, m in zip(blocks, means, strict=True))
    mu_sum = sum(b.sum(axis=1) for b in blocks)
    mu2_sum = sum(b.shape[1] * m[:, 0] ** 2 for b, m in zip(blocks, means, strict=True))
    alpha = np.zeros(counts.shape[0])
    if n - q >= 1:
        ok = mu2_sum > 0
        alpha[ok] = (ss[ok] * n / (n - q) - mu_sum[ok]) / mu2_sum[ok]
    alpha = np.clip(alpha, 0.0, params.max_dispersion)
    alpha[alpha < 1e-6] = 0.0  # numerically Poisson; nbinom with n = 1/alpha ~ 1e12 gains nothing

    observed = counts[:, t]
    p_value = upper_tail_p(observed, expected, alpha)

    window = counts[:, max(0, t - params.trend_periods + 1) : t + 1]
    x = np.arange(window.shape[1], dtype=float) - (window.shape[1] - 1) / 2
    denom = float((x**2).sum())
    slope = (window * x).sum(axis=1) / denom if denom > 0 else np.zeros(counts.shape[0])
    previous = counts[:, t - 1].astype(float) if t >= 1 else np.full(counts.shape[0], np.nan)

    above = counts[:, t::-1][:, : min(t + 1, 53)] > expected[:, None]  # newest first, up to a year back
    run_above = np.where(above.all(axis=1), above.shape[1], np.argmin(above, axis=1))

    unrestricted = _grade(observed, expected, p_value, run_above, params)
    level = np.where(observed >= params.min_count, unrestricted, 0)
    return _Core(
        observed,
        expected,
        raw,
        recent,
        seasonal,
        alpha,
        p_value,
        slope,
        previous,
        run_above,
        level,
        unrestricted,
        q - 1,
        r1 - r0,
    )


# --------------------------------------------------------------------------------------------------
# Explanations


def _unit(period_days: int) -> tuple[str, str]:
    return {7: ("周", "week"), 1: ("日", "day")}.get(period_days, ("期", "period"))


def _fmt_p(p: float) -> str:
    return f"{p:.1e}" if p < 1e-4 else f"{p:.4f}"


def _basis(params: WarningParams, seasonal_years: int, recent_periods: int) -> tuple[str, str]:
    zh_u, en_u = _unit(params.period_days)
    g, r = params.guard_periods, recent_periods
    recent_zh = f"此前第{g + 1}–{g + r}{zh_u}" if g else f"近{r}{zh_u}"
    recent_en = f"{en_u}s {g + 1}-{g + r} back" if g else f"last {r} {en_u}s"
    if seasonal_years == 0:
        return f"{recent_zh}，无去年同期", f"{recent_en}, no previous year"
    years_zh = "去年" if seasonal_years == 1 else f"前{seasonal_years}年"
    years_en = "the previous year" if seasonal_years == 1 else f"the previous {seasonal_years} years"
    h = params.seasonal_half_width
    return (
        f"{recent_zh}与{years_zh}同期±{h}{zh_u}",
        f"{recent_en} and the same {en_u}s ±{h} of {years_en}",
    )


def _reasons(area: str, category: str, start: dt.date, c: _Core, i: int, params: WarningParams) -> tuple[str, str]:
    zh_u, en_u = _unit(params.period_days)
    level = LEVELS[int(c.level[i])]
    obs = int(c.observed[i])
    exp = float(c.expected[i])
    ratio = obs / exp
    alpha = float(c.alpha[i])
    p = _fmt_p(float(c.p_value[i]))
    basis_zh, basis_en = _basis(params, c.seasonal_years, c.recent_periods)
    floored = float(c.raw[i]) < exp
    floor_zh = f"，取下限 {params.baseline_floor:g}" if floored else ""
    floor_en = f", floored at {params.baseline_floor:g}" if floored else ""
    dist_zh = f"负二项 α={alpha:.2f}" if alpha > 0 else "泊松"
    dist_en = f"negative binomial, α={alpha:.2f}" if alpha > 0 else "Poisson"
    run = int(c.run_above[i])
    trend_zh = [f"近{params.trend_periods}{zh_u}斜率 {float(c.slope[i]):+.1f} 起/{zh_u}"]
    trend_en = [f"{params.trend_periods}-{en_u} slope {float(c.slope[i]):+.1f}/{en_u}"]
    if run >= 2:
        trend_zh.insert(0, f"连续{run}{zh_u}高于基线")
        trend_en.insert(0, f"{run} {en_u}s in a row above baseline")
    prev = float(c.previous[i])
    if math.isfinite(prev):
        if prev > 0:
            trend_zh.append(f"较上{zh_u} {100 * (obs - prev) / prev:+.0f}%")
            trend_en.append(f"{100 * (obs - prev) / prev:+.0f}% vs previous {en_u}")
        else:
            trend_zh.append(f"上{zh_u} 0 起")
            trend_en.append(f"previous {en_u} 0")

    would = LEVELS[int(c.unrestricted[i])]
    if level == "red":
        why_zh = f"P<{params.red_p:g} 且超出基线≥{params.red_excess:g} 起"
        why_en = f"p < {params.red_p:g} and ≥ {params.red_excess:g} above baseline"
    elif level == "orange":
        why_zh = f"P<{params.orange_p:g} 且超出基线≥{params.orange_excess:g} 起"
        why_en = f"p < {params.orange_p:g} and ≥ {params.orange_excess:g} above baseline"
    elif level == "yellow" and float(c.p_value[i]) < params.yellow_p:
        why_zh = f"P<{params.yellow_p:g}"
        why_en = f"p < {params.yellow_p:g}"
    elif level == "yellow":
        why_zh = f"连续{params.trend_run}{zh_u}高于基线且比值≥{params.trend_ratio:g}"
        why_en = f"{params.trend_run} {en_u}s in a row above baseline and ratio ≥ {params.trend_ratio:g}"
    elif would != "green":
        why_zh = f"起数不足 {params.min_count} 起，不预警"
        why_en = f"fewer than {params.min_count} cases, no warning"
    else:
        why_zh = "未达预警阈值"
        why_en = "below every threshold"
    this_zh = {"周": "本周", "日": "本日"}.get(zh_u, "本期")
    zh = (
        f"{this_zh} {area} {category} {obs} 起，基线 {exp:.1f} 起（{basis_zh}{floor_zh}），比值 {ratio:.2f}，"
        f"P={p}（{dist_zh}），{'，'.join(trend_zh)}；{why_zh} → {LEVEL_LABEL_ZH[level]}"
    )
    en = (
        f"{en_u.capitalize()} of {start.isoformat()}, {area} / {category}: {obs} cases vs baseline {exp:.1f} "
        f"({basis_en}{floor_en}), ratio {ratio:.2f}, P={p} ({dist_en}), {', '.join(trend_en)}; "
        f"{why_en} → {LEVEL_LABEL_EN[level]}"
    )
    return zh, en


def _warnings(keys: Sequence[tuple[str, str]], start: dt.date, c: _Core, params: WarningParams) -> list[AreaWarning]:
    out = []
    for i, (area, category) in enumerate(keys):
        level = LEVELS[int(c.level[i])]
        obs = int(c.observed[i])
        exp = float(c.expected[i])
        prev = float(c.previous[i])
        zh, en = _reasons(area, category, start, c, i, params)
        out.append(
            AreaWarning(
                area=area,
                category=category,
                period_start=start,
                level=level,
                level_label_zh=LEVEL_LABEL_ZH[level],
                observed=obs,
                expected=exp,
                ratio=obs / exp,
                p_value=float(c.p_value[i]),
                dispersion=float(c.alpha[i]),
                trend=float(c.slope[i]),
                change_pct=100 * (obs - prev) / prev if math.isfinite(prev) and prev > 0 else None,
                run_above=int(c.run_above[i]),
                baseline_raw=float(c.raw[i]),
                baseline_recent=float(c.recent[i]),
                baseline_seasonal=None if c.seasonal_years == 0 else float(c.seasonal[i]),
                seasonal_years=c.seasonal_years,
                period_days=params.period_days,
                reason_zh=zh,
                reason_en=en,
            )
        )
    return out


# --------------------------------------------------------------------------------------------------
# Public API


def _day(value: Any) -> dt.date:
    return pd.Timestamp(value).date()


def _period_index(first: dt.date, start: dt.date, params: WarningParams) -> int:
    delta = (start - first).days
    if delta % params.period_days:
        raise ValueError(f"{start} is not on the {params.period_days}-day period grid starting {first}")
    return delta // params.period_days


def _as_series(series: Any) -> tuple[pd.Series, dict[str, str]]:
    """A count series indexed by period start (from a Series, or a frame / mapping with period_start and
    count), and the frame's area / category when it holds a single one."""
    labels: dict[str, str] = {}
    if isinstance(series, pd.Series):
        s = series.copy()
        s.index = pd.to_datetime(s.index)
    else:
        frame = pd.DataFrame(series) if isinstance(series, Mapping) else series
        s = pd.Series(np.asarray(frame["count"]), index=pd.to_datetime(np.asarray(frame["period_start"])))
        for col in ("area", "category"):
            if col in frame and len(values := pd.unique(frame[col])) == 1:
                labels[col] = str(values[0])
    if s.empty:
        raise ValueError("the series is empty")
    return s, labels


def _check_counts(values: Any) -> np.ndarray:
    counts = np.asarray(values, dtype=float)
    if np.any(~np.isfinite(counts)) or np.any(counts < 0) or np.any(counts != np.round(counts)):
        raise ValueError("counts must be non-negative integers")
    return counts


def _matrix(
    frame: pd.DataFrame, last: dt.date, params: WarningParams
) -> tuple[list[tuple[str, str]], dt.date, np.ndarray]:
    """(area, category) keys, the first period and a (series x periods) count matrix with zeros filled in."""
    missing = {"area", "category", "period_start", "count"} - set(frame.columns)
    if missing:
        raise ValueError(f"counts frame lacks columns {sorted(missing)}")
    if frame.empty:
        raise ValueError("the counts frame is empty")
    days = pd.to_datetime(frame["period_start"]).dt.date
    first = min(days)
    end = max(max(days), last)
    n_periods = _period_index(first, end, params) + 1
    col = np.array([_period_index(first, d, params) for d in pd.unique(days)])
    col_of = dict(zip(pd.unique(days), col, strict=True))
    cols = days.map(col_of).to_numpy(np.int64)
    counts = _check_counts(frame["count"])
    keys_frame = pd.MultiIndex.from_arrays([frame["area"].astype(str), frame["category"].astype(str)])
    codes, uniques = pd.factorize(keys_frame, sort=True)
    mat = np.zeros((len(uniques), n_periods))
    np.add.at(mat, (codes, cols), counts)
    return [(str(a), str(c)) for a, c in uniques], first, mat


def _sorted(ws: list[AreaWarning]) -> list[AreaWarning]:
    return sorted(ws, key=lambda w: (-w.severity, w.p_value, -w.ratio, w.area, w.category))


def assess(
    series: Any,
    period_start: Any,
    params: WarningParams = DEFAULT_PARAMS,
    *,
    area: str = "",
    category: str = "",
) -> AreaWarning:
    """Grade one count series at ``period_start``.

    ``series``: a pandas Series of counts indexed by period start, or a frame / mapping with
    ``period_start`` and ``count`` (and area / category, used when the keywords are not given). Rows of one
    period are summed. The history starts at the series' first period; periods missing
    between it and ``period_start`` count as zero. Only periods before ``period_start`` enter the baseline.
    """
    s, labels = _as_series(series)
    area = area or labels.get("area", "")
    category = category or labels.get("category", "")
    start = _day(period_start)
    frame = pd.DataFrame({"area": area, "category": category, "period_start": s.index, "count": s.to_numpy()})
    keys, first, mat = _matrix(frame, start, params)
    if start < first:
        raise ValueError(f"{start} lies before the series' first period {first}")
    return _warnings(keys, start, _core(mat, _period_index(first, start, params), params), params)[0]


def assess_all(counts_frame: pd.DataFrame, period_start: Any,
               params: WarningParams = DEFAULT_PARAMS) -> list[AreaWarning]:
    """Grade every (area, category) of a long frame (area, category, period_start, count) at one period.

    The period grid runs from the frame's first period_start in steps of ``period_days``; a series with
    no row for a period counts zero there. Sorted most severe first, then by p-value and ratio.
    """
    return history(counts_frame, [period_start], params)


def history(counts_frame: pd.DataFrame, starts: Iterable[Any],
            params: WarningParams = DEFAULT_PARAMS) -> list[AreaWarning]:
    """The grades of every series at each of ``starts`` (the warning history view), period by period."""
    days = [_day(s) for s in starts]
    if not days:
        return []
    keys, first, mat = _matrix(counts_frame, max(days), params)
    out: list[AreaWarning] = []
    for start in days:
        t = _period_index(first, start, params)
        out.extend(_sorted(_warnings(keys, start, _core(mat, t, params), params)))
    return out


def level_matrix(counts: np.ndarray, ts: Iterable[int], params: WarningParams = DEFAULT_PARAMS) -> np.ndarray:
    """Severity index (0 green .. 3 red) of each row of a (series x periods) count matrix at each column
    of ``ts`` -- the rule without building explanations, for bulk evaluation."""
    counts = np.asarray(counts, dtype=float)
    return np.column_stack([_core(counts, int(t), params).level for t in ts])


def summarise(warnings: Sequence[AreaWarning], top: int = 5) -> dict[str, Any]:
    """Counts and shares per level, and the areas / categories with warnings, worst and highest ratio first.

    The ranking ratio is pooled over all the given warnings of the area (category): sum observed / sum of the
    unfloored baselines, since the floor would add phantom cases to sparse series (Toronto 2019 Theft Over:
    1,256 cases against 3,806 floored expected, 0.33, but 1,194 unfloored, 1.05).
    """
    n = len(warnings)
    by_level = {lv: sum(w.level == lv for w in warnings) for lv in LEVELS}

    def ranking(field: str) -> list[dict[str, Any]]:
        groups: dict[str, list[AreaWarning]] = {}
        for w in warnings:
            groups.setdefault(getattr(w, field), []).append(w)
        rows = []
        for name, ws in groups.items():
            alerts = [w for w in ws if w.level != "green"]
            if not alerts:
                continue
            obs = sum(w.observed for w in ws)
            exp = sum(w.baseline_raw for w in ws)
            worst = max(w.severity for w in ws)
            rows.append(
                {
                    field: name,
                    "worst_level": LEVELS[worst],
                    "alerts": len(alerts),
                    "observed": obs,
                    "baseline_raw": round(exp, 2),
                    # None, not inf, when the baseline is empty: JSON has no infinity.
                    "ratio": round(obs / exp, 3) if exp > 0 else None,
                }
            )
        rows.sort(key=lambda r: (-LEVELS.index(r["worst_level"]),
                                 -(r["ratio"] if r["ratio"] is not None else math.inf), r[field]))
        return rows[:top]

    return {
        "n": n,
        "by_level": by_level,
        "share": {lv: (by_level[lv] / n if n else 0.0) for lv in LEVELS},
        "periods": sorted({w.period_start.isoformat() for w in warnings}),
        "top_areas": ranking("area"),
        "top_categories": ranking("category"),
    }


# --------------------------------------------------------------------------------------------------
# 打防对策 (rule-based suggestions)

# (keywords matched in the category, Chinese or English, case-insensitive) -> where to focus. First match wins.
_FOCUS_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("入室", "break and enter", "burglary"), "住宅小区出入口、楼道及临街商铺，提示群众关好门窗、加装防盗设施"),
    (("车", "auto theft", "vehicle"), "停车场、路边停车密集路段，核查可疑车辆及人员"),
    (("抢劫", "抢夺", "robbery"), "ATM、金店、地铁出入口和背街小巷，提高见警率"),
    (("诈骗", "fraud"), "反诈宣传进社区、进商户，联系银行开展止付预警"),
    (("伤害", "殴打", "斗殴", "assault"), "娱乐场所、夜宵排档周边，排查化解矛盾纠纷，快速处置警情"),
    (("盗窃", "扒窃", "theft"), "商圈、公交地铁站点和人员密集场所，开展便衣蹲守"),
)
_LEVEL_ACTION = {
    "red": "建议组织专项打击整治，集中警力，每日研判",
    "orange": "建议加密巡逻频次，每周研判",
}


def _focus(category: str) -> str:
    low = category.lower()
    for words, focus in _FOCUS_RULES:
        if any(word in low for word in words):
            return focus
    return "案件时空分布，针对性调整巡防"


def peak_hours(profile: Sequence[float], width: int = PEAK_WINDOW_HOURS) -> tuple[int, int, float] | None:
    """The ``width``-hour window (circular, ties to the earliest start) holding the most events:
    (start hour, end hour exclusive mod 24, share of events); None below PEAK_MIN_EVENTS events."""
    h = np.asarray(profile, dtype=float)
    if h.shape != (24,):
        raise ValueError("an hour profile holds 24 counts, hour 0 first")
    total = float(h.sum())
    if total < PEAK_MIN_EVENTS:
        return None
    sums = np.array([h[(np.arange(width) + s) % 24].sum() for s in range(24)])
    s = int(np.argmax(sums))
    return s, (s + width) % 24, float(sums[s] / total)


def countermeasures_zh(
    warnings: Sequence[AreaWarning],
    hour_profile: Mapping[Any, Sequence[float]] | None = None,
    levels: Sequence[str] = ("orange", "red"),
) -> list[str]:
    """Templated 打防对策 for the orange / red warnings, most severe first.

    Rule-based, not learned: the focus places come from a keyword table on the category, the action from
    the level, the hours from ``hour_profile`` (24 counts by hour of day, keyed by (area, category) or by
    category) when given, and the figures from the warning itself.
    """
    out = []
    for w in _sorted([w for w in warnings if w.level in levels]):
        zh_u, _ = _unit(w.period_days)
        parts = [f"{w.area} {w.category} {w.level_label_zh[:2]}预警：{_LEVEL_ACTION.get(w.level, '建议关注')}"]
        profile = None
        if hour_profile is not None:
            profile = hour_profile.get((w.area, w.category), hour_profile.get(w.category))
        peak = peak_hours(profile) if profile is not None else None
        if peak is not None:
            s, e, share = peak
            end = "24" if e == 0 else f"次日{e}" if e < s else str(e)
            parts.append(f"在 {s}–{end} 时加强巡逻（该时段占此类案件 {100 * share:.0f}%）")
        parts.append(f"重点{_focus(w.category)}")
        basis = f"本{zh_u} {w.observed} 起，基线 {w.expected:.1f} 起，比值 {w.ratio:.2f}"
        if w.run_above >= 2:
            basis += f"，连续{w.run_above}{zh_u}高于基线"
        out.append("，".join(parts) + f"。（规则生成；依据：{basis}）")
    return out


# --------------------------------------------------------------------------------------------------
# Evaluation: real Toronto data and synthetic checks


def toronto_incidents(path: str | Path) -> pd.DataFrame:
    """Toronto MCI incidents from the first full week (2014-01-06): date, hour, category, area, week."""
    raw = pd.read_csv(path, usecols=["date", "hour", "category", "neighbourhood"])
    date = pd.to_datetime(raw["date"])
    keep = date >= pd.Timestamp(TORONTO_FIRST_WEEK)  # earlier dates are late reports of old incidents
    df = pd.DataFrame(
        {
            "date": date[keep],
            "hour": raw.loc[keep, "hour"].fillna(0).astype(np.int64).clip(0, 23),
            "category": raw.loc[keep, "category"].astype(str),
            "area": raw.loc[keep, "neighbourhood"].astype(str),
        }
    ).reset_index(drop=True)
    df["period_start"] = df["date"] - pd.to_timedelta(df["date"].dt.day_of_week, unit="D")  # Monday
    return df


def weekly_counts(incidents: pd.DataFrame) -> pd.DataFrame:
    """Long frame area, category, period_start, count (only non-zero cells; the engine fills zeros)."""
    g = incidents.groupby(["area", "category", "period_start"], sort=True).size()
    return g.rename("count").reset_index()


def toronto_distribution(path: str | Path, year: int = 2019, examples: int = 3) -> dict[str, Any]:
    """Grade every (neighbourhood, category, week starting in ``year``); counts and shares per colour,
    the summary and the reasons / countermeasures of the top warnings (hours from the previous 365 days)."""
    inc = toronto_incidents(path)
    frame = weekly_counts(inc)
    first = pd.Timestamp(TORONTO_FIRST_WEEK)
    starts = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="W-MON")
    if frame["period_start"].min() != first:
        raise ValueError("the weekly grid does not start on the file's first full week")
    ws = history(frame, starts)
    summary = summarise(ws)
    top = _sorted([w for w in ws if w.level in ("orange", "red")])[:examples]
    profiles = {}
    for w in top:
        lo = pd.Timestamp(w.period_start) - pd.Timedelta(days=365)
        sel = inc[(inc["area"] == w.area) & (inc["category"] == w.category)]
        sel = sel[(sel["date"] >= lo) & (sel["date"] < pd.Timestamp(w.period_start))]
        profiles[(w.area, w.category)] = np.bincount(sel["hour"], minlength=24)
    return {
        "year": year,
        "weeks": len(starts),
        "series": len(ws) // len(starts),
        **summary,
        "examples_zh": [w.reason_zh for w in top],
        "examples_en": [w.reason_en for w in top],
        "countermeasures_zh": countermeasures_zh(top, profiles),
    }


def synthetic_false_alarms(
    rates: Sequence[float] = (1.0, 3.0, 10.0, 30.0),
    n_series: int = 50,
    years: int = 5,
    seed: int = 0,
    params: WarningParams = DEFAULT_PARAMS,
) -> dict[float, float]:
    """Share of non-green weeks in the last year of constant-rate Poisson series, per rate."""
    rng = np.random.default_rng(seed)
    lag = params.season_lag
    n = years * lag
    out = {}
    for rate in rates:
        counts = rng.poisson(rate, size=(n_series, n))
        levels = level_matrix(counts, range(n - lag, n), params)
        out[float(rate)] = float((levels > 0).mean())
    return out


def synthetic_surges(
    rates: Sequence[float] = (3.0, 10.0, 30.0),
    factor: float = 3.0,
    surge_periods: int = 3,
    n_series: int = 200,
    years: int = 5,
    seed: int = 0,
    params: WarningParams = DEFAULT_PARAMS,
) -> dict[float, dict[str, float]]:
    """Per rate: share of surge weeks (rate x ``factor`` for ``surge_periods`` weeks at a random place in
    the last year) graded orange or red, and graded anything above green."""
    rng = np.random.default_rng(seed)
    lag = params.season_lag
    n = years * lag
    out = {}
    for rate in rates:
        mean = np.full((n_series, n), float(rate))
        onset = rng.integers(n - lag, n - surge_periods + 1, size=n_series)
        rows = np.repeat(np.arange(n_series), surge_periods)
        cols = (onset[:, None] + np.arange(surge_periods)).ravel()
        mean[rows, cols] *= factor
        counts = rng.poisson(mean)
        levels = level_matrix(counts, range(n - lag, n), params)
        hit = levels[rows, cols - (n - lag)]
        out[float(rate)] = {"orange_or_red": float((hit >= 2).mean()), "any": float((hit >= 1).mean())}
    return out


def main() -> None:
    from zhihui.core.config import shared_data

    print("False-alarm share (non-green weeks, constant-rate Poisson, 50 series x 52 weeks per rate):")
    for rate, share in synthetic_false_alarms().items():
        print(f"  rate {rate:>4g}/week: {100 * share:.1f} %")
    print("Injected 3x surge for 3 weeks (200 series per rate): share of surge weeks graded")
    for rate, res in synthetic_surges().items():
        red, anything = 100 * res["orange_or_red"], 100 * res["any"]
        print(f"  rate {rate:>4g}/week: orange/red {red:.1f} %, any colour {anything:.1f} %")
    path = shared_data(TORONTO_FILE)
    if path is None:
        print(f"{TORONTO_FILE} is missing from the shared data folder; Toronto evaluation skipped")
        return
    res = toronto_distribution(path)
    print(
        f"Toronto {res['year']}: {res['series']} (neighbourhood, category) series x {res['weeks']} weeks = {res['n']}"
    )
    for lv in LEVELS:
        print(f"  {LEVEL_LABEL_ZH[lv]:<6} {res['by_level'][lv]:>6}  {100 * res['share'][lv]:6.2f} %")
    print("Top areas:", ", ".join(f"{r['area']} ({r['worst_level']}, {r['ratio']:.2f})" for r in res["top_areas"]))
    print(
        "Categories:",
        ", ".join(f"{r['category']} ({r['worst_level']}, {r['ratio']:.2f})" for r in res["top_categories"]),
    )
    for zh, en in zip(res["examples_zh"], res["examples_en"], strict=True):
        print(" ", zh)
        print(" ", en)
    for line in res["countermeasures_zh"]:
        print(" ", line)


if __name__ == "__main__":
    main()
