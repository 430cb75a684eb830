"""The report of a staffing / dispatch-policy study (`zhihui sim study`) as ONE self-contained HTML file.

The command centre runs on an isolated network, so the file carries everything it needs: inline CSS,
charts as inline SVG drawn by matplotlib, no scripts, fonts, images or links to anywhere. Text inside the
charts is kept as SVG <text> (``svg.fonttype = "none"``) so the browser draws the Chinese labels with its
own CJK fonts even where matplotlib has none.

The input is a plain, JSON-able dict (the study), see `render_html`. Definitions used throughout:

* arrival = received → first unit on scene (``arrival_s``); an incident "arrived" when it has one;
* dispatch delay = received → dispatched (``dispatch_s``); drive = dispatched → on scene (``drive_s``);
* "share within 5 / 10 min" = among the incidents that HAD a unit arrive, the share with
  ``arrival_s <= 300`` / ``<= 600``; incidents no unit reached are counted separately (``n_not_arrived``);
* percentiles use numpy's "linear" method; a statistic with no data is ``None`` (shown as "—");
* utilisation = sum of busy time / sum of on-duty time over a run's units.
"""

from __future__ import annotations

import html
import io
import json
import math
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["compare", "render_html", "summarise", "write_report"]

FIVE_MIN_S = 300.0
TEN_MIN_S = 600.0
TARGET_SHARE = 0.9  # the "90 % within 5 minutes" planning target the staffing curve is read against
UNKNOWN_JURISDICTION = "未划分 unassigned"
MAX_JURISDICTIONS = 20  # more bars than this is unreadable; the rest are named in the caption
MAX_UNIT_LABELS = 24  # above this many units per panel the call-sign labels get too small to read

# Okabe–Ito: distinguishable with the common colour-vision deficiencies (yellow left out: too pale on white).
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000")
POLICY_COLOURS = {"road": "#0072B2", "straight": "#D55E00"}
POLICY_LABELS = {"road": "道路路网 road", "straight": "直线距离 straight"}
POLICY_DASHES = {"road": "-", "straight": "--"}
FONT_STACK = ("Noto Sans CJK SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", "DejaVu Sans")
CSS_FONTS = ", ".join(f'"{f}"' for f in FONT_STACK) + ", sans-serif"
BEIJING = timezone(timedelta(hours=8), "北京时间")


# ----------------------------------------------------------------------------------------------- statistics


def _values(rows: Iterable[Mapping], key: str) -> np.ndarray:
    """The finite, non-None values of `key` (NaN and inf are treated as missing, not as data)."""
    out = []
    for row in rows:
        v = row.get(key)
        if v is not None and math.isfinite(float(v)):
            out.append(float(v))
    return np.asarray(out, dtype=float)


def _pct(a: np.ndarray, q: float) -> float | None:
    return float(np.percentile(a, q, method="linear")) if a.size else None


def _share(a: np.ndarray, limit_s: float) -> float | None:
    return float(np.count_nonzero(a <= limit_s) / a.size) if a.size else None


def _arrival_stats(incidents: Sequence[Mapping]) -> dict[str, Any]:
    arr = _values(incidents, "arrival_s")
    return {
        "n_incidents": len(incidents),
        "n_arrived": int(arr.size),
        "n_not_arrived": len(incidents) - int(arr.size),
        "p50_arrival_s": _pct(arr, 50),
        "p90_arrival_s": _pct(arr, 90),
        "share_within_5min": _share(arr, FIVE_MIN_S),
        "share_within_10min": _share(arr, TEN_MIN_S),
    }


def summarise(run: Mapping) -> dict[str, Any]:
    """Headline statistics of one run (see the module docstring for the definitions).

    Keys: n_incidents, n_arrived, n_not_arrived, p50_arrival_s, p90_arrival_s, share_within_5min,
    share_within_10min, p50_dispatch_s, p90_drive_s, n_units, mean_utilisation and per_jurisdiction
    ``{name: {"n", "n_arrived", "p50", "p90"}}`` (incidents without one under `UNKNOWN_JURISDICTION`).
    """
    incidents = list(run.get("incidents") or [])
    units = list(run.get("units") or [])
    out = _arrival_stats(incidents)
    out["p50_dispatch_s"] = _pct(_values(incidents, "dispatch_s"), 50)
    out["p90_drive_s"] = _pct(_values(incidents, "drive_s"), 90)
    on_duty = float(sum(u.get("on_duty_s") or 0.0 for u in units))
    busy = float(sum(u.get("busy_s") or 0.0 for u in units))
    out["n_units"] = len(units)
    out["mean_utilisation"] = busy / on_duty if on_duty > 0 else None
    groups: dict[str, list[Mapping]] = {}
    for inc in incidents:
        groups.setdefault(inc.get("jurisdiction") or UNKNOWN_JURISDICTION, []).append(inc)
    per: dict[str, dict[str, Any]] = {}
    for name in sorted(groups):
        arr = _values(groups[name], "arrival_s")
        per[name] = {"n": len(groups[name]), "n_arrived": int(arr.size), "p50": _pct(arr, 50), "p90": _pct(arr, 90)}
    out["per_jurisdiction"] = per
    return out


def _pooled(study: Mapping) -> dict[tuple[str, int], dict[str, Any]]:
    """Arrival statistics per (policy, units_per_station); replicate runs of one cell are pooled."""
    cells: dict[tuple[str, int], list[Mapping]] = {}
    for run in study.get("runs") or []:
        key = (str(run.get("policy")), int(run.get("units_per_station") or 0))
        cells.setdefault(key, []).extend(run.get("incidents") or [])
    return {key: _arrival_stats(incs) for key, incs in cells.items()}


def compare(study: Mapping, a: str = "road", b: str = "straight") -> list[dict[str, Any]]:
    """Policy `a` against policy `b` at every staffing level run under both, sorted by units per station.

    ``improvement = 1 - p90_a / p90_b``: positive when `a` gets the 90th-percentile arrival down (None when
    either p90 is missing or p90_b is 0). Also carries each side's shares within 5 and 10 minutes.
    """
    cells = _pooled(study)
    rows = []
    for ups in sorted({u for p, u in cells if p == a} & {u for p, u in cells if p == b}):
        sa, sb = cells[(a, ups)], cells[(b, ups)]
        p90_a, p90_b = sa["p90_arrival_s"], sb["p90_arrival_s"]
        improvement = 1.0 - p90_a / p90_b if p90_a is not None and p90_b else None
        rows.append({
            "units_per_station": ups, "policy_a": a, "policy_b": b,
            "p90_a": p90_a, "p90_b": p90_b, "improvement": improvement,
            "share5_a": sa["share_within_5min"], "share5_b": sb["share_within_5min"],
            "share10_a": sa["share_within_10min"], "share10_b": sb["share_within_10min"],
        })
    return rows


# ----------------------------------------------------------------------------------------------- formatting

DASH = "—"


def fmt_min(seconds: float | None) -> str:
    """Seconds as minutes with one decimal ("7.5"), the unit every duration in the report is printed in."""
    return DASH if seconds is None else f"{seconds / 60:.1f}"


def fmt_pct(share: float | None) -> str:
    return DASH if share is None else f"{share * 100:.1f}%"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _policy_order(policy: str) -> tuple[int, str]:
    """Known policies first, road before straight, then the rest alphabetically."""
    known = list(POLICY_LABELS)
    return (known.index(policy) if policy in known else len(known), policy)


def _policy_label(policy: str) -> str:
    return POLICY_LABELS.get(policy, policy)


def _started(value: Any) -> str:
    """The UTC start time, plus Beijing time (what the command centre reads) when it parses."""
    if not value:
        return DASH
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    utc, bj = t.astimezone(UTC), t.astimezone(BEIJING)
    return f"{utc:%Y-%m-%d %H:%M} UTC（北京时间 {bj:%Y-%m-%d %H:%M}）"


# ----------------------------------------------------------------------------------------------- charts

_SVG_START = re.compile(r"<svg\b")
_SVG_ID = re.compile(r'\bid="([^"]+)"')
_SVG_REF = re.compile(r'(url\(#|href="#)([^")]+)')


def _svg(fig: Any, prefix: str, label: str) -> str:
    """The figure as an inline <svg> element, its ids made unique in the page (several charts share one DOM)."""
    buf = io.StringIO()
    # No metadata: it would carry a date (non-reproducible output) and RDF URLs into the page.
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buf.getvalue()
    m = _SVG_START.search(text)
    text = text[m.start():] if m else text  # drop the XML declaration and DOCTYPE: invalid inside HTML
    text = _SVG_ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = _SVG_REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)
    return text.replace("<svg ", f'<svg role="img" aria-label="{_e(label)}" class="chart" ', 1)


def _rc() -> dict[str, Any]:
    return {
        "svg.fonttype": "none",  # keep text as text: the browser renders CJK with its own fonts
        "svg.hashsalt": "zhihui-report",  # deterministic ids, so the same study gives the same file
        "font.family": ["sans-serif"],
        "font.sans-serif": list(FONT_STACK),
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.axisbelow": True,  # grid behind the bars, not striping them
        "grid.color": "#dddddd",
        "grid.linewidth": 0.6,
        "path.simplify": True,
        "path.simplify_threshold": 0.5,
        "legend.frameon": False,
    }


def _run_label(run: Mapping) -> str:
    return str(run.get("name") or f"{run.get('policy')} × {run.get('units_per_station')}")


def _run_styles(runs: Sequence[Mapping]) -> list[tuple[str, str]]:
    """(colour, dash) per run: colour = staffing level, dash = policy, so the policy pairs read side by side.

    Falls back to one colour per run when two runs share policy and staffing (replicates) or there are
    more staffing levels than colours.
    """
    keys = [(str(r.get("policy")), int(r.get("units_per_station") or 0)) for r in runs]
    levels = sorted({k[1] for k in keys})
    if len(set(keys)) == len(keys) and len(levels) <= len(OKABE_ITO):
        return [(OKABE_ITO[levels.index(u)], POLICY_DASHES.get(p, ":")) for p, u in keys]
    return [(OKABE_ITO[i % len(OKABE_ITO)], POLICY_DASHES.get(p, ":")) for i, (p, _) in enumerate(keys)]


def _chart_cdf(runs: Sequence[Mapping], Figure: Any) -> tuple[str, float] | None:
    arrivals = [_values(r.get("incidents") or [], "arrival_s") / 60.0 for r in runs]
    if not any(a.size for a in arrivals):
        return None
    # Cut the x axis at the slowest run's 99th percentile (rounded up to 5 min): the far tail is a few
    # incidents and would squeeze the 0–10 min range everyone reads into a corner.
    x_max = max(float(np.percentile(a, 99)) for a in arrivals if a.size)
    x_max = max(12.0, 5.0 * math.ceil(x_max / 5.0))
    # The empirical CDF sampled on a fixed grid: a few hundred vertices per line whatever the run size.
    grid = np.linspace(0.0, x_max, 400)
    fig = Figure(figsize=(10, 4.6))
    ax = fig.add_subplot()
    for run, arr, (colour, dash) in zip(runs, arrivals, _run_styles(runs), strict=True):
        if not arr.size:
            continue
        cdf = np.searchsorted(np.sort(arr), grid, side="right") / arr.size
        ax.plot(grid, cdf * 100, color=colour, linestyle=dash, linewidth=1.8, label=_run_label(run))
    # Labels on either side of their guide: on a long axis 5 and 10 min sit close together.
    for minutes, text, ha in ((5, "5 分钟 min ", "right"), (10, " 10 分钟 min", "left")):
        ax.axvline(minutes, color="#555555", linewidth=1, linestyle=":")
        ax.text(minutes, 101.5, text, ha=ha, va="bottom", fontsize=9, color="#333333")
    ax.set_xlim(0, x_max)
    ax.set_ylim(0, 100)
    ax.set_xlabel("接警至首车到场 received → first unit on scene（分钟 min）")
    ax.set_ylabel("已到场警情占比 share of arrived（%）")
    ax.legend(loc="lower right", fontsize=9)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.92, bottom=0.12)
    return _svg(fig, "cdf", "到场时间分布 Arrival-time CDF"), x_max


def _pair(runs: Sequence[Mapping]) -> list[Mapping]:
    """The runs the per-jurisdiction and per-unit charts compare.

    The largest staffing level run under more than one policy (one run per policy, road first), else the
    runs at the largest staffing level, else the first run — at most two, so the bars stay legible.
    """
    if not runs:
        return []
    by_level: dict[int, dict[str, Mapping]] = {}
    for r in runs:
        by_level.setdefault(int(r.get("units_per_station") or 0), {}).setdefault(str(r.get("policy")), r)
    shared = [u for u, pol in by_level.items() if len(pol) >= 2]
    level = max(shared) if shared else max(by_level)
    cell = by_level[level]
    return [cell[p] for p in sorted(cell, key=_policy_order)][:2]


def _minutes(seconds: float | None) -> float:
    return np.nan if seconds is None else seconds / 60.0  # NaN: matplotlib draws no bar


def _chart_jurisdictions(pair: Sequence[Mapping], Figure: Any) -> tuple[str | None, list[str]]:
    stats = [summarise(r)["per_jurisdiction"] for r in pair]
    names = sorted({n for s in stats for n, v in s.items() if v["p90"] is not None})
    if not names:
        return None, []
    # Busiest jurisdictions first when there are too many; then sorted by the first run's p90, worst on top.
    counts = {n: sum(s.get(n, {}).get("n", 0) for s in stats) for n in names}
    shown = sorted(names, key=lambda n: -counts[n])[:MAX_JURISDICTIONS]
    dropped = sorted(set(names) - set(shown))
    first = stats[0]
    shown.sort(key=lambda n: (first.get(n, {}).get("p90") or 0.0, n))
    k = len(pair)
    h = 0.8 / k
    fig = Figure(figsize=(10, 0.9 + 0.32 * len(shown) * k))
    ax = fig.add_subplot()
    y = np.arange(len(shown), dtype=float)
    handles = []
    for i, (run, s) in enumerate(zip(pair, stats, strict=True)):
        colour = POLICY_COLOURS.get(str(run.get("policy")), OKABE_ITO[i])
        off = y + (k - 1) / 2 * h - i * h  # first run on top within each group
        p90 = np.array([_minutes(s.get(n, {}).get("p90")) for n in shown])
        p50 = np.array([_minutes(s.get(n, {}).get("p50")) for n in shown])
        b90 = ax.barh(off, p90, height=h * 0.9, color=colour, alpha=0.3, edgecolor=colour, linewidth=0.8)
        b50 = ax.barh(off, p50, height=h * 0.45, color=colour)
        for yy, v in zip(off, p90, strict=True):
            if not np.isnan(v):
                ax.text(v + 0.1, yy, f"{v:.1f}", va="center", fontsize=8, color="#333333")
        label = _run_label(run)
        handles += [(b90, f"{label} p90"), (b50, f"{label} p50")]
    ax.axvline(5, color="#555555", linewidth=1, linestyle=":")
    ax.set_yticks(y, shown)
    ax.set_ylim(-0.6, len(shown) - 0.4)
    ax.set_xlabel("到场时间 arrival time（分钟 min）")
    ax.grid(axis="y", visible=False)
    ax.legend([hh for hh, _ in handles], [t for _, t in handles], loc="upper center", ncols=len(handles),
              bbox_to_anchor=(0.5, 1.0 + 0.5 / fig.get_figheight()), fontsize=9)
    fig.subplots_adjust(left=0.2, right=0.97, bottom=0.55 / fig.get_figheight(),
                        top=1.0 - 0.45 / fig.get_figheight())
    return _svg(fig, "jur", "各辖区到场时间 Arrival time by jurisdiction"), dropped


def _chart_utilisation(pair: Sequence[Mapping], Figure: Any) -> str | None:
    panels = []
    for run in pair:
        units = [u for u in run.get("units") or [] if (u.get("on_duty_s") or 0) > 0]
        if units:
            util = [(float(u.get("busy_s") or 0.0) / float(u["on_duty_s"]), str(u.get("call_sign"))) for u in units]
            util.sort(key=lambda t: -t[0])
            panels.append((run, util))
    if not panels:
        return None
    labelled = max(len(util) for _, util in panels) <= MAX_UNIT_LABELS
    fig = Figure(figsize=(10, 4.0 if labelled else 3.2))
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    top = max(max(v for v, _ in util) for _, util in panels)
    for i, (ax, (run, util)) in enumerate(zip(axes, panels, strict=True)):
        colour = POLICY_COLOURS.get(str(run.get("policy")), OKABE_ITO[i])
        vals = np.array([v for v, _ in util]) * 100
        x = np.arange(len(vals))
        ax.bar(x, vals, width=0.8, color=colour)
        mean = summarise(run)["mean_utilisation"]
        if mean is not None:
            ax.axhline(mean * 100, color="#000000", linewidth=1, linestyle="--")
            # Right end: the bars there are the least busy, so the label sits on white above the line.
            ax.annotate(f"平均 mean {mean * 100:.0f}%", (len(vals) - 0.5, mean * 100), xytext=(0, 4),
                        textcoords="offset points", ha="right", va="bottom", fontsize=9,
                        bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none"})
        ax.set_title(_run_label(run), fontsize=10)
        if labelled:
            ax.set_xticks(x, [c for _, c in util], rotation=90, fontsize=8)
        else:
            ax.set_xticks([])
        ax.set_xlim(-0.6, len(vals) - 0.4)
        ax.grid(axis="x", visible=False)
        ax.set_xlabel("警力单元（按利用率排序）units, busiest first")
    axes[0].set_ylabel("利用率 utilisation（%）")
    axes[0].set_ylim(0, max(5.0, min(105.0, top * 100 * 1.15)))
    fig.subplots_adjust(left=0.07, right=0.98, top=0.9, bottom=0.3 if labelled else 0.15, wspace=0.08)
    return _svg(fig, "util", "警力利用率 Unit utilisation")


def _chart_staffing(study: Mapping, Figure: Any) -> str | None:
    cells = _pooled(study)
    levels = sorted({u for _, u in cells})
    if len(levels) < 2:
        return None
    policies = sorted({p for p, _ in cells}, key=_policy_order)
    fig = Figure(figsize=(10, 4.2))
    ax = fig.add_subplot()
    drawn = False
    for i, policy in enumerate(policies):
        pts = [(u, cells[(policy, u)]["share_within_5min"]) for u in levels if (policy, u) in cells]
        pts = [(u, s * 100) for u, s in pts if s is not None]
        if not pts:
            continue
        drawn = True
        colour = POLICY_COLOURS.get(policy, OKABE_ITO[(i + 2) % len(OKABE_ITO)])
        ax.plot([u for u, _ in pts], [s for _, s in pts], marker="os^Dv"[i % 5], markersize=6, linewidth=1.8,
                color=colour, linestyle=POLICY_DASHES.get(policy, ":"), label=_policy_label(policy))
        for u, v in pts:  # a handful of points: print the values, readers quote them
            ax.annotate(f"{v:.1f}%", (u, v), xytext=(0, 7 if i % 2 == 0 else -13), textcoords="offset points",
                        ha="center", fontsize=8, color=colour)
    if not drawn:
        return None
    ax.axhline(TARGET_SHARE * 100, color="#555555", linewidth=1, linestyle=":")
    ax.text(levels[0], TARGET_SHARE * 100 + 1, f"{TARGET_SHARE * 100:.0f}% 目标 target", fontsize=9, va="bottom")
    ax.set_xticks(levels)
    ax.set_ylim(0, 105)
    ax.set_xlabel("每所警组数 units per station")
    ax.set_ylabel("5 分钟内到场 within 5 min（%）")
    ax.legend(loc="lower right", fontsize=9)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.95, bottom=0.13)
    return _svg(fig, "staff", "警组数与5分钟到场率 Share within 5 min vs units per station")


# ----------------------------------------------------------------------------------------------- HTML

_CSS = """
:root { --fonts: FONT_STACK; }
* { box-sizing: border-box; }
body { font-family: var(--fonts); color: #1a1a1a; background: #f4f5f7; margin: 0; line-height: 1.55; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 40px; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .4rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; padding-bottom: .25rem; border-bottom: 2px solid #0072B2; }
.en { color: #555; font-weight: normal; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1.2rem; margin: .6rem 0; }
dl.meta dt { color: #555; } dl.meta dd { margin: 0; }
.warn { border-left: 6px solid #D55E00; background: #fdf0e8; padding: .6rem .9rem; margin: .8rem 0; }
.note { color: #444; font-size: .92rem; }
ul.findings li { margin: .35rem 0; }
.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: .86rem; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .35rem .45rem; text-align: right; vertical-align: bottom; }
th { background: #eef3f8; font-weight: 600; } th .en { display: block; font-size: .78rem; }
td:first-child, th:first-child, td:nth-child(2), th:nth-child(2) { text-align: left; white-space: nowrap; }
figure { margin: 1rem 0 1.6rem; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart text { font-family: var(--fonts) !important; }
figcaption { font-size: .9rem; color: #333; background: #f7f7f7; padding: .45rem .7rem; }
.empty { font-style: italic; color: #555; }
footer { margin-top: 2.4rem; padding-top: .8rem; border-top: 1px solid #ccc; font-size: .85rem; color: #555; }
@media print { body { background: #fff; } main { padding: 0; } figure { break-inside: avoid; } }
""".replace("FONT_STACK", CSS_FONTS)


def _h(zh: str, en: str, level: int = 2) -> str:
    return f'<h{level}>{_e(zh)} <span class="en">{_e(en)}</span></h{level}>'


def _figure(svg: str | None, caption: str, empty: str) -> str:
    if svg is None:
        return f'<p class="empty">{_e(empty)}</p>'
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"


def _findings(study: Mapping, runs: Sequence[Mapping], summaries: Sequence[Mapping]) -> list[str]:
    items: list[str] = []
    for row in compare(study):
        imp = row["improvement"]
        if imp is None:
            verdict = "无法比较 not comparable"
        elif imp >= 0:
            verdict = f"道路路网派警使 p90 缩短 {imp * 100:.1f}% — road-network dispatch cuts p90 by {imp * 100:.1f}%"
        else:
            verdict = (f"道路路网派警使 p90 延长 {-imp * 100:.1f}% — "
                       f"road-network dispatch lengthens p90 by {-imp * 100:.1f}%")
        items.append(
            f"<strong>每所 {row['units_per_station']} 个警组 {row['units_per_station']} units/station：</strong>"
            f"p90 到场 arrival — 道路 road <span class=num>{fmt_min(row['p90_a'])} 分钟 min</span>，"
            f"直线 straight <span class=num>{fmt_min(row['p90_b'])} 分钟 min</span>；{_e(verdict)}。"
            f"5 分钟内 within 5 min：道路 road <span class=num>{fmt_pct(row['share5_a'])}</span> / "
            f"直线 straight <span class=num>{fmt_pct(row['share5_b'])}</span>；"
            f"10 分钟内 within 10 min：道路 road <span class=num>{fmt_pct(row['share10_a'])}</span> / "
            f"直线 straight <span class=num>{fmt_pct(row['share10_b'])}</span>。"
        )
    cells = _pooled(study)
    levels = sorted({u for _, u in cells})
    if len(levels) >= 2:
        for policy in sorted({p for p, _ in cells}, key=_policy_order):
            ok = [u for u in levels if (policy, u) in cells
                  and (cells[(policy, u)]["share_within_5min"] or 0.0) >= TARGET_SHARE]
            tried = [u for u in levels if (policy, u) in cells]
            if ok:
                items.append(f"{_e(_policy_label(policy))}：每所至少 <span class=num>{ok[0]}</span> 个警组可达到 "
                             f"90% 警情 5 分钟内到场 — at least {ok[0]} units/station reach 90% within 5 min.")
            else:
                items.append(f"{_e(_policy_label(policy))}：研究范围内（每所 {tried[0]}–{tried[-1]} 个警组）"
                             f"未达到 90% 警情 5 分钟内到场 — "
                             f"90% within 5 min not reached with {tried[0]}–{tried[-1]} units/station.")
    if not items:  # no policy pair to compare: state each run's headline instead
        for run, s in zip(runs, summaries, strict=True):
            items.append(f"<strong>{_e(_run_label(run))}</strong>：p90 到场 arrival "
                         f"<span class=num>{fmt_min(s['p90_arrival_s'])} 分钟 min</span>；5 分钟内 within 5 min "
                         f"<span class=num>{fmt_pct(s['share_within_5min'])}</span>；10 分钟内 within 10 min "
                         f"<span class=num>{fmt_pct(s['share_within_10min'])}</span>。")
    not_arrived = sum(s["n_not_arrived"] for s in summaries)
    if not_arrived:
        items.append(f"共 <span class=num>{not_arrived}</span> 起警情在模拟结束前无车到场，未计入上述占比 — "
                     f"{not_arrived} incidents had no unit on scene by the end of the simulation and are not "
                     f"in the shares above.")
    return items


_COLUMNS = (
    ("方案", "run"), ("策略", "policy"), ("每所警组", "units/station"), ("警情", "incidents"),
    ("到场", "arrived"), ("未到场", "not arrived"), ("p50 到场", "arrival (min)"), ("p90 到场", "arrival (min)"),
    ("p50 派警时延", "dispatch delay (min)"), ("p90 行驶", "drive (min)"), ("≤5 分钟", "within 5 min"),
    ("≤10 分钟", "within 10 min"), ("利用率", "utilisation"),
)


def _table(runs: Sequence[Mapping], summaries: Sequence[Mapping]) -> str:
    head = "".join(f'<th>{_e(zh)}<span class="en">{_e(en)}</span></th>' for zh, en in _COLUMNS)
    rows = []
    for run, s in zip(runs, summaries, strict=True):
        cells = [
            _e(_run_label(run)), _e(_policy_label(str(run.get("policy")))), _e(run.get("units_per_station", DASH)),
            s["n_incidents"], s["n_arrived"], s["n_not_arrived"], fmt_min(s["p50_arrival_s"]),
            fmt_min(s["p90_arrival_s"]), fmt_min(s["p50_dispatch_s"]), fmt_min(s["p90_drive_s"]),
            fmt_pct(s["share_within_5min"]), fmt_pct(s["share_within_10min"]), fmt_pct(s["mean_utilisation"]),
        ]
        rows.append("<tr>" + "".join(f'<td class="num">{c}</td>' if i > 1 else f"<td>{c}</td>"
                                     for i, c in enumerate(cells)) + "</tr>")
    return (f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _charts(study: Mapping, runs: Sequence[Mapping]) -> list[str]:
    # Figure + savefig(format="svg") never touches pyplot or the global backend, so rendering a report
    # inside the API server or a test cannot open a window or change another caller's backend.
    import matplotlib
    from matplotlib.figure import Figure

    pair = _pair(runs)
    pair_names = " / ".join(_run_label(r) for r in pair)
    with matplotlib.rc_context(_rc()), warnings.catch_warnings():
        # Hosts without a CJK font warn per missing glyph; harmless since the browser draws the text.
        warnings.filterwarnings("ignore", message=r".*Glyph .* missing from font", category=UserWarning)
        cdf_x = _chart_cdf(runs, Figure)
        jur, dropped = _chart_jurisdictions(pair, Figure)
        util = _chart_utilisation(pair, Figure)
        staff = _chart_staffing(study, Figure)
    cdf, x_max = cdf_x if cdf_x else (None, 0.0)
    out = [_h("到场时间分布", "Arrival-time CDF"), _figure(
        cdf,
        "读法：每条线为一个方案，某一横坐标处的高度 = 该时间内有车到场的警情占比（仅计已到场警情）；线越靠左上越好。"
        "颜色区分每所警组数，实线 = 道路路网派警，虚线 = 直线距离派警；竖虚线为 5 / 10 分钟。"
        " How to read: for each run, the height at x is the share of arrived incidents reached within x minutes; "
        "further up and left is better. Colour = units per station, solid = road, dashed = straight; "
        "dotted guides at 5 and 10 min."
        f" 横轴截至 {x_max:.0f} 分钟（最慢方案的 p99） x axis ends at {x_max:.0f} min (slowest run's p99).",
        "没有任何警情有车到场，无法绘制到场时间分布。 No incident had a unit arrive: no arrival-time distribution.")]
    jur_caption = (f"读法：{pair_names} 的各辖区到场时间，深色短条 = p50（中位数），浅色长条与数字 = p90；"
                   "条越短越好，竖虚线为 5 分钟。"
                   f" How to read: arrival time per jurisdiction for {pair_names}; dark inner bar = p50 (median), "
                   "light bar and number = p90; shorter is better; dotted guide at 5 min.")
    if dropped:
        jur_caption += (f" 另有 {len(dropped)} 个警情较少的辖区未画出 "
                        f"Not shown (fewest incidents): {'、'.join(dropped)}.")
    out += [_h("各辖区到场时间", "p50 / p90 arrival by jurisdiction"), _figure(
        jur, jur_caption, "没有带到场时间的辖区数据。 No jurisdiction has arrival data.")]
    out += [_h("警力利用率", "Unit utilisation"), _figure(
        util,
        f"读法：{pair_names} 中每个警力单元的利用率（忙碌时间 / 在岗时间），从高到低排序；虚线为总体平均。"
        "少数单元远高于平均说明警力分布不均。"
        f" How to read: busy / on-duty time of every unit in {pair_names}, busiest first; dashed line = overall "
        "mean. A few units far above the mean means the workload is unevenly spread.",
        "没有在岗警力数据。 No on-duty unit data.")]
    if staff is not None or len({int(r.get("units_per_station") or 0) for r in runs}) >= 2:
        out += [_h("警组数与 5 分钟到场率", "Share within 5 min vs units per station"), _figure(
            staff,
            "读法：每条线为一种派警策略，纵轴为 5 分钟内到场的警情占比（已到场警情），横轴为每所警组数；"
            "线与 90% 目标线相交处即为达到目标所需的最少警组数。"
            " How to read: one line per dispatch policy, share of arrived incidents reached within 5 min against "
            "units per station; where a line crosses the 90% target is the staffing the target needs.",
            "各警组数下均无到场数据。 No arrival data at any staffing level.")]
    return out


def render_html(study: Mapping) -> str:
    """The whole report as one self-contained HTML document (UTF-8 text; no external references).

    `study` keys: title, seed, city, network ("real" | "generated"), sim_hours, started_at (ISO, UTC),
    notes [str], runs [{name, policy ("road" | "straight"), units_per_station, wall_s, sim_hours,
    incidents [{number, category_top, category_label, jurisdiction, received_at, dispatch_s, arrival_s,
    drive_s, unit}], units [{call_sign, type, station, busy_s, on_duty_s}]}]. Missing keys and empty runs
    render as "—" or a sentence instead of a chart.
    """
    runs = list(study.get("runs") or [])
    summaries = [summarise(r) for r in runs]
    title = str(study.get("title") or "警力配置与派警策略研究 Staffing and dispatch-policy study")
    network = str(study.get("network") or "")
    if network == "generated":
        network_text = "程序生成路网（非真实道路） GENERATED road network (not the real streets)"
    elif network == "real":
        network_text = "真实路网 real road network"
    else:
        network_text = network or DASH
    meta = [
        ("城市 City", study.get("city") or DASH),
        ("路网 Road network", network_text),
        ("随机种子 Seed", study.get("seed", DASH)),
        ("模拟时长 Simulated hours", f"{float(study['sim_hours']):g} h" if study.get("sim_hours") is not None
         else DASH),
        ("开始时间 Started", _started(study.get("started_at"))),
        ("方案数 Runs", f"{len(runs)}：" + "、".join(_run_label(r) for r in runs) if runs else "0"),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<header><h1>{_e(title)}</h1>",
        '<dl class="meta">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in meta) + "</dl>",
    ]
    if network == "generated":
        parts.append('<p class="warn"><strong>注意：本研究使用程序生成的路网，不是该城市的真实道路。</strong>'
                     "到场时间只用于比较方案，不能当作真实的出警时间。 "
                     "<strong>Note: this study ran on a GENERATED road network, not the city's real streets.</strong> "
                     "Arrival times compare the options; they are not real-world response times.</p>")
    parts.append("</header>")
    parts.append(_h("主要结论", "Key findings"))
    findings = _findings(study, runs, summaries)
    if findings:
        parts.append('<ul class="findings">' + "".join(f"<li>{f}</li>" for f in findings) + "</ul>")
    else:
        parts.append('<p class="empty">没有可比较的方案。 No runs to compare.</p>')
    parts.append('<p class="note">时间单位为分钟；“5 / 10 分钟内”为已到场警情中在 5 / 10 分钟内到场的占比；'
                 "百分位数为线性插值。"
                 " Times in minutes; “within 5 / 10 min” = share of incidents that had a unit arrive, reached within "
                 "5 / 10 min; percentiles by linear interpolation.</p>")
    parts.append(_h("各方案汇总", "Summary per run"))
    parts.append(_table(runs, summaries) if runs else '<p class="empty">本研究没有方案。 The study has no runs.</p>')
    parts += _charts(study, runs)
    notes = [str(n) for n in study.get("notes") or []]
    if notes:
        parts.append(_h("说明", "Notes"))
        parts.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    parts.append("<footer>本报告中的全部警情、警力与时间均为模拟数据（zhihui sim study），"
                 "不代表真实警情或真实出警表现。"
                 " All incidents, units and times in this report are SIMULATED (zhihui sim study); they are not real "
                 f"incidents or real response performance. 随机种子 seed {_e(study.get('seed', DASH))}.</footer>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    # Write-then-rename so a reader (browser, web server) never sees half a report.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(study: Mapping, path: Path) -> Path:
    """Write the HTML report to `path` and the study itself beside it as JSON (same stem, ``.json``).

    Returns the HTML path. The JSON keeps the raw data with the report, so it can be re-rendered or audited.
    """
    path = Path(path)
    json_path = path.with_suffix(".json")
    if json_path == path:
        raise ValueError(f"report path must not end in .json: {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, render_html(study))
    _write_atomic(json_path, json.dumps(study, ensure_ascii=False, separators=(",", ":")))
    return path
