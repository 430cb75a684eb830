"""治安形势评估报告: the daily or monthly situation report, as one self-contained HTML page and as PDF.

A report covers one Beijing day, or the calendar month holding it, and brings together what the
analytics capability already computes:

* totals with 环比 and 同比 (`stats.statistics`; a daily 环比 is the day before, exactly as
  `statistics` computes it; a monthly 环比 is the previous *calendar* month, as monthly bulletins
  use it, not the 28–31 days just before);
* the breakdown by category (类别 and the leading 类型) and by 辖区 (high-incidence areas);
* the hour-of-day profile and the daily trend (the 30 days up to a daily report's day, the days of
  a monthly report's month);
* a map drawn offline by matplotlib: the 辖区 polygons stored on the station orgs, shaded by count,
  with the incident points, or a square-grid heat layer when there are too many points to read;
* the 四色预警 of the latest complete week (`stats.area_warnings`), with the reasons;
* the 处警时效 KPIs per station (`stats.kpis`);
* rule-based 打防对策: the warnings' countermeasures (`warnings.countermeasures_zh`) plus patrol
  focus areas and hours taken from the period's own data (`warnings.peak_hours`);
* a summary paragraph written from the figures by fixed rules (no model, no free text).

The command centre runs on an isolated network, so the HTML carries everything inline: CSS, and the
charts and map as base64 PNG. Matplotlib draws them with a CJK font found through fontconfig (or,
without fontconfig, matplotlib's own font list) and registered with ``font_manager.addfont``, so the
Chinese labels look the same in every browser and in the PDF. Without any CJK font the report still
renders: charts become inline SVG with their text left as text, for the viewer's fonts to draw, and
a warning is logged. The PDF is WeasyPrint over the same HTML, with a URL fetcher that only accepts
``data:`` URLs, so nothing can be fetched while rendering.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
import re
import shutil
import subprocess
import threading
import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhihui.analytics import stats
from zhihui.analytics.warnings import LEVEL_LABEL_ZH, LEVELS, peak_hours
from zhihui.analytics.warnings import _focus as focus_places  # the keyword table of the warnings' 打防对策
from zhihui.core.clock import SHANGHAI, as_utc, utcnow
from zhihui.core.orgs import Org
from zhihui.incidents.categories import categories
from zhihui.incidents.models import Incident
from zhihui.sim.report import OKABE_ITO, fmt_min, fmt_pct

__all__ = ["PERIODS", "CjkFont", "SituationReport", "build_report", "cjk_font", "period_window"]

log = logging.getLogger(__name__)

Period = Literal["daily", "monthly"]
PERIODS: tuple[str, ...] = ("daily", "monthly")
PERIOD_ZH = {"daily": "日报", "monthly": "月报"}
TREND_DAYS = 30  # a daily report shows (and takes its patrol hours from) the 30 days up to its day
TOP_TYPES = 10
TOP_AREAS = 10
FOCUS_AREAS = 3  # patrol-focus suggestions for the busiest areas
MAX_WARNING_ROWS = 15
MAP_MAX_POINTS = 400  # above this the dots hide each other: draw a grid heat layer instead
RISING_MIN_COUNT = 3  # a type rising by half or more is called out from this many incidents on
RISING_CHANGE = 0.5
DASH = "—"
NO_DATA = "无数据"
LEVEL_COLOURS = {"green": "#2e7d32", "yellow": "#f2c200", "orange": "#ef6c00", "red": "#c62828"}
UNLOCATED = "辖区外/未定位"
FALLBACK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei",
                     "PingFang SC")
# Order of preference among the CJK families fontconfig may offer (simplified-Chinese faces first).
PREFERRED_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Source Han Sans CN", "Noto Sans SC",
                      "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "Noto Serif CJK SC",
                      "AR PL UMing CN")
_CJK_FILE = re.compile(r"cjk|wqy|wenquanyi|sourcehan|droidsansfallback|notosanssc|simhei|simsun|msyh|pingfang",
                       re.IGNORECASE)
# rcParams are process-global: two reports rendering at once in the API's thread pool must not mix them.
_RENDER_LOCK = threading.Lock()


# ----------------------------------------------------------------------------------------------- fonts


@dataclass(frozen=True)
class CjkFont:
    family: str
    path: str


def _fontconfig_candidates() -> list[tuple[str, str, str]]:
    """(family, file, style) of every font fontconfig says covers simplified Chinese."""
    exe = shutil.which("fc-list")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, ":lang=zh-cn", "--format", "%{family}\t%{file}\t%{style}\n"],
                             capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[1]:
            found += [(fam.strip(), parts[1], parts[2]) for fam in parts[0].split(",") if fam.strip()]
    return found


def _rank(family: str, path: str, style: str) -> tuple[int, int, int, str]:
    pref = PREFERRED_FAMILIES.index(family) if family in PREFERRED_FAMILIES else len(PREFERRED_FAMILIES)
    regular = 0 if re.search(r"regular|normal|book", style, re.IGNORECASE) or not style else 1
    mono = 1 if "mono" in family.lower() else 0
    return (pref, regular, mono, path)


@lru_cache(maxsize=1)
def cjk_font() -> CjkFont | None:
    """The CJK font the charts are drawn with, registered with matplotlib; None (and a warning) if the host
    has none. Looked up once per process."""
    from matplotlib import font_manager

    candidates = sorted(_fontconfig_candidates(), key=lambda c: _rank(*c))
    if not candidates:  # no fontconfig: matplotlib's own scan of the system font folders
        candidates = [("", p, "") for p in sorted(font_manager.findSystemFonts()) if _CJK_FILE.search(p)]
    for family, path, _style in candidates:
        try:
            font_manager.fontManager.addfont(path)
            known = {f.name for f in font_manager.fontManager.ttflist if f.fname == path}
            name = family if family in known else font_manager.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError) as exc:
            log.debug("font %s unusable: %s", path, exc)
            continue
        return CjkFont(name, path)
    log.warning("no CJK font found (install fonts-noto-cjk): report charts keep their text as SVG text for the "
                "viewer's fonts to draw, and the PDF may show boxes instead of Chinese characters")
    return None


def _css_fonts(font: CjkFont | None) -> str:
    families = ([font.family] if font else []) + [f for f in FALLBACK_FAMILIES if not font or f != font.family]
    return ", ".join(f'"{f}"' for f in families) + ", sans-serif"


# ----------------------------------------------------------------------------------------------- windows


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time(), SHANGHAI).astimezone(UTC)


def period_window(period: str, day: date) -> tuple[datetime, datetime, datetime]:
    """(since, until, previous_since) in UTC for the Beijing day, or the calendar month holding `day`;
    the comparison (环比) period is [previous_since, since)."""
    if period == "daily":
        return _midnight(day), _midnight(day + timedelta(days=1)), _midnight(day - timedelta(days=1))
    if period == "monthly":
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        previous = (first - timedelta(days=1)).replace(day=1)
        return _midnight(first), _midnight(following), _midnight(previous)
    raise ValueError(f"period must be one of {', '.join(PERIODS)}")


def _local(at: datetime) -> datetime:
    return as_utc(at).astimezone(SHANGHAI)


def _md(d: date) -> str:
    return f"{d.month}月{d.day}日"


def _period_zh(period: str, day: date) -> str:
    if period == "monthly":
        return f"{day.year}年{day.month}月"
    return f"{day.year}年{day.month}月{day.day}日（{stats.WEEKDAYS_ZH[day.weekday()]}）"


def _hours_zh(start: int, end: int) -> str:
    # Same wording as warnings.countermeasures_zh: "21–次日1 时", "20–24 时".
    stop = "24" if end == 0 else f"次日{end}" if end < start else str(end)
    return f"{start}–{stop} 时"


def _change(now: int, before: int) -> float | None:
    return None if before == 0 else round((now - before) / before, 4)


def _change_zh(kind: str, change: float | None, now: int, before: int, ref: str) -> str:
    if change is None:
        return f"{ref}无警情，{kind}不可比" if now else f"{ref}亦无警情"
    if change == 0:
        return f"{kind}持平（{ref} {before} 起）"
    return f"{kind}{'上升' if change > 0 else '下降'} {abs(change) * 100:.1f}%（{ref} {before} 起）"


# ----------------------------------------------------------------------------------------------- the report


@dataclass
class SituationReport:
    """The figures of one report; `html()`, `pdf()` and `as_dict()` render them."""

    period: str
    day: date
    since: datetime
    until: datetime
    previous_since: datetime
    org_name: str | None
    generated_at: datetime
    totals: dict[str, Any]
    categories: list[dict[str, Any]]
    types: list[dict[str, Any]]
    areas: list[dict[str, Any]]
    hours: list[int]
    trend: list[dict[str, Any]]
    trend_reference: float | None  # previous month's daily mean (monthly) or the trend's own mean (daily)
    kpi_overall: dict[str, Any] | None
    kpi_stations: list[dict[str, Any]]
    warnings: dict[str, Any]
    countermeasures: list[str]
    summary: str
    map_areas: list[dict[str, Any]] = field(repr=False, default_factory=list)  # name, count, geometry
    map_points: list[tuple[float, float, str]] = field(repr=False, default_factory=list)  # lon, lat, 类别
    _html: str | None = field(default=None, repr=False, compare=False)

    @property
    def title(self) -> str:
        return f"治安形势评估报告（{PERIOD_ZH[self.period]}）"

    @property
    def period_label(self) -> str:
        return _period_zh(self.period, self.day)

    @property
    def map_mode(self) -> str:
        if not self.map_points:
            return "areas" if self.map_areas else "none"
        return "grid" if len(self.map_points) > MAP_MAX_POINTS else "points"

    def filename(self, ext: str) -> str:
        key = self.day.strftime("%Y-%m") if self.period == "monthly" else self.day.isoformat()
        return f"situation-{self.period}-{key}.{ext}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-able figures (times ISO 8601 in UTC; non-finite numbers as null)."""
        return _jsonable({
            "title": self.title, "period": self.period, "period_label": self.period_label,
            "date": self.day, "since": self.since, "until": self.until, "previous_since": self.previous_since,
            "org_name": self.org_name, "generated_at": self.generated_at, "summary": self.summary,
            "totals": self.totals, "categories": self.categories, "types": self.types, "areas": self.areas,
            "hours": self.hours, "trend": self.trend, "trend_reference": self.trend_reference,
            "kpi_overall": self.kpi_overall, "kpi_stations": self.kpi_stations, "warnings": self.warnings,
            "countermeasures": self.countermeasures,
            "map": {"mode": self.map_mode, "areas": len(self.map_areas), "points": len(self.map_points)},
        })

    def html(self) -> str:
        """The report as one self-contained HTML document (inline CSS and images, no external references)."""
        if self._html is None:
            self._html = _render_html(self)
        return self._html

    def pdf(self) -> bytes:
        """The same document as an A4 PDF (WeasyPrint; fonts from the system's fontconfig)."""
        import weasyprint

        page = self.html()
        # Only data: URLs may be resolved: the page must never reach for the network or the disk.
        fetcher = weasyprint.URLFetcher(allowed_protocols=("data",))
        with _RENDER_LOCK:
            return weasyprint.HTML(string=page, url_fetcher=fetcher).write_pdf()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # warnings.summarise ranks an area with a zero baseline at ratio inf
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


def _with_previous(now: dict[str, Any], prev: dict[str, Any]) -> dict[str, Any]:
    """`now` with 环比 taken against the separately counted window `prev` (a monthly report's previous
    calendar month) instead of statistics' equal-length window."""
    before = {g["key"]: g["count"] for g in prev["groups"]}
    groups = [g | {"previous": before.get(g["key"], 0), "mom_change": _change(g["count"], before.get(g["key"], 0))}
              for g in now["groups"]]
    return now | {"previous_total": prev["total"], "mom_change": _change(now["total"], prev["total"]),
                  "groups": groups}


async def _statistics(session: AsyncSession, period: str, since: datetime, until: datetime, previous: datetime,
                      by: str) -> dict[str, Any]:
    out = await stats.statistics(session, since, until, by)  # type: ignore[arg-type]
    if period == "monthly":
        out = _with_previous(out, await stats.statistics(session, previous, since, by))  # type: ignore[arg-type]
    return out


def _group_row(g: dict[str, Any]) -> dict[str, Any]:
    return {k: g.get(k) for k in ("key", "label", "count", "share", "previous", "mom_change", "year_before",
                                  "yoy_change")}


async def _warnings(session: AsyncSession, until: datetime) -> dict[str, Any]:
    """四色预警 of the latest week that is complete by the end of the report period."""
    week = stats.week_start(until) - timedelta(days=7)
    start = _local(week).date()
    base = {"week_start": week, "week_label": f"{_md(start)}—{_md(start + timedelta(days=6))}"}
    try:
        out = await stats.area_warnings(session, week)
    except ValueError as exc:  # the rule needs 4 earlier weeks of history before it grades anything
        log.info("no 四色预警 for the week of %s: %s", start, exc)
        return base | {"warnings": [], "summary": None, "countermeasures": [], "n": 0,
                       "unavailable": "历史数据不足（需至少4周警情记录），本期暂不评定四色预警"}
    graded = out["warnings"]
    shown = [w for w in graded if w["level"] != "green"]
    return base | {"warnings": shown, "summary": out["summary"], "countermeasures": out["countermeasures"],
                   "n": len(graded), "rule": out.get("rule"), "unavailable": None if graded else
                   "最近一周及历史期内无治安类警情，无可评定项"}


async def build_report(session: AsyncSession, *, period: Period, day: date) -> SituationReport:
    """The situation report of the Beijing day `day` (period "daily") or of the month holding it ("monthly")."""
    if isinstance(day, datetime):
        day = _local(day).date()
    since, until, previous = period_window(period, day)
    tree = categories()
    by_cat = await _statistics(session, period, since, until, previous, "category")
    by_type = await _statistics(session, period, since, until, previous, "category2")
    by_area = await _statistics(session, period, since, until, previous, "jurisdiction")
    kpi_all = await stats.kpis(session, since, until, "overall")
    kpi_station = await stats.kpis(session, since, until, "station")
    four = await _warnings(session, until)

    orgs = (await session.execute(select(Org.id, Org.name, Org.kind, Org.boundary).order_by(Org.id))).all()
    bureau = next((o.name for o in orgs if o.kind == "bureau"), None)
    context_since = min(since, until - timedelta(days=TREND_DAYS))
    rows = (await session.execute(
        select(Incident.received_at, Incident.category_code, Incident.status, Incident.level,
               Incident.jurisdiction_org_id, Incident.lat, Incident.lon)
        .where(Incident.received_at >= context_since, Incident.received_at < until, Incident.status != "merged")
    )).all()

    def police(r: Any) -> bool:  # the security situation leaves out what went to 12345, as area_warnings does
        cat = tree.get(str(r.category_code)[:2])
        return r.status != "diverted" and (cat is None or cat.police)

    def area_key(r: Any) -> str:
        return str(r.jurisdiction_org_id) if r.jurisdiction_org_id is not None else "none"

    current = [r for r in rows if as_utc(r.received_at) >= since]
    hours = [0] * 24
    for r in current:
        hours[_local(r.received_at).hour] += 1
    per_day = Counter(_local(r.received_at).date() for r in rows)
    first_day = _local(since).date() if period == "monthly" else day - timedelta(days=TREND_DAYS - 1)
    last_day = _local(until).date() - timedelta(days=1)
    trend = [{"day": d, "count": per_day.get(d, 0)}
             for d in (first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1))]
    if period == "monthly":
        prev_days = (since - previous).days
        reference = round(by_cat["previous_total"] / prev_days, 2) if prev_days else None
    else:
        reference = round(sum(t["count"] for t in trend) / len(trend), 2) if trend else None

    # Patrol hours per area come from the context window (the 30 days to a daily report's day): one day
    # seldom holds the PEAK_MIN_EVENTS a peak needs.
    area_hours: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    all_hours = [0] * 24
    area_types: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        if not police(r):
            continue
        h = _local(r.received_at).hour
        area_hours[area_key(r)][h] += 1
        all_hours[h] += 1
        if as_utc(r.received_at) >= since:
            area_types[area_key(r)][tree.label(str(r.category_code)[:4]) or str(r.category_code)] += 1

    areas = []
    for g in by_area["groups"][:TOP_AREAS]:
        peak = peak_hours(area_hours[g["key"]]) if g["key"] in area_hours else None
        top = area_types[g["key"]].most_common(1)
        areas.append(_group_row(g) | {
            "top_type": top[0][0] if top else None,
            "peak": {"start": peak[0], "end": peak[1], "share": round(peak[2], 4), "label": _hours_zh(*peak[:2])}
            if peak else None})

    totals = {k: by_cat[k] for k in ("total", "previous_total", "mom_change", "year_before_total", "yoy_change")}
    totals |= {"diverted": sum(r.status == "diverted" for r in current),
               "police": sum(police(r) for r in current),
               "level1": sum(r.level == 1 for r in current),
               "located": sum(r.lat is not None and r.lon is not None for r in current)}

    kpi_overall = kpi_all["groups"][0] if kpi_all["groups"] else None
    kpi_stations = [g | {"label": "未关联派出所" if g["group"] == "unknown" else g["label"]}
                    for g in kpi_station["groups"]]
    kpi_stations.sort(key=lambda g: (g["group"] == "unknown", -g["incidents"], g["label"]))

    area_counts = {g["key"]: g["count"] for g in by_area["groups"]}
    map_areas = [{"id": o.id, "name": o.name, "count": area_counts.get(str(o.id), 0), "geometry": o.boundary}
                 for o in orgs if o.boundary]
    map_points = [(float(r.lon), float(r.lat), tree.label(str(r.category_code)[:2]) or str(r.category_code)[:2])
                  for r in current if r.lat is not None and r.lon is not None]

    report = SituationReport(
        period=period, day=day, since=since, until=until, previous_since=previous, org_name=bureau,
        generated_at=utcnow(), totals=totals, categories=[_group_row(g) for g in by_cat["groups"]],
        types=[_group_row(g) for g in by_type["groups"][:TOP_TYPES]], areas=areas, hours=hours, trend=trend,
        trend_reference=reference, kpi_overall=kpi_overall, kpi_stations=kpi_stations, warnings=four,
        countermeasures=[], summary="", map_areas=map_areas, map_points=map_points)
    report.countermeasures = _countermeasures(report, all_hours)
    report.summary = _summary(report)
    return report


# ----------------------------------------------------------------------------------------------- rule-based text


def _ref_zh(period: str) -> tuple[str, str, str]:
    """(this period, the previous one, a year earlier) as the text names them."""
    return ("本日", "前一日", "去年同日") if period == "daily" else ("本月", "上月", "去年同月")


def _countermeasures(r: SituationReport, all_hours: Sequence[int]) -> list[str]:
    """打防对策: the warnings' own suggestions first, then patrol focus from this period's figures
    (`all_hours`: the police incidents' hour profile over the month, or the 30 days to the day)."""
    this, prev, _ = _ref_zh(r.period)
    span = "本月" if r.period == "monthly" else f"近{TREND_DAYS}日"
    out = list(r.warnings.get("countermeasures") or [])
    total = r.totals["total"]
    for a in [a for a in r.areas if a["key"] != "none"][:FOCUS_AREAS]:
        text = f"{a['label']}：{this}警情 {a['count']} 起（占 {fmt_pct(a['share'])}）"
        if a["top_type"]:
            text += f"，以{a['top_type']}为主"
        if a["peak"]:
            text += (f"；{span}高发时段 {a['peak']['label']}（占该辖区警情 {a['peak']['share'] * 100:.0f}%），"
                     "建议在该时段加密巡逻、前置警力")
        else:
            text += "；警情时段分散，保持常态化巡防"
        text += f"，重点{focus_places(a['top_type'] or '')}。"
        out.append(text)
    peak = peak_hours(all_hours)
    if peak is not None:
        out.append(f"全局：{span}警情高发时段为 {_hours_zh(peak[0], peak[1])}（占 {peak[2] * 100:.0f}%），"
                   "建议在该时段前完成巡组交接、调集机动警力，提高路面见警率。")
    for t in r.types:
        change = t.get("mom_change")
        if t["count"] >= RISING_MIN_COUNT and change is not None and change >= RISING_CHANGE:
            out.append(f"{t['label']}：{this} {t['count']} 起，较{prev}（{t['previous']} 起）上升 "
                       f"{change * 100:.0f}%，建议列为研判重点，重点{focus_places(t['label'])}。")
    if not out:
        out.append(f"{this}无警情数据，暂无针对性对策建议；保持常态化巡逻防控。" if total == 0 else
                   f"{this}警情量小且分散，暂无集中高发区域或时段；保持常态化巡逻防控。")
    return out


def _summary(r: SituationReport) -> str:
    """The 总体情况 paragraph: fixed sentences filled in from the figures, each left out when it has none."""
    this, prev, yoy = _ref_zh(r.period)
    t = r.totals
    n = t["total"]
    mom = _change_zh("环比", t["mom_change"], n, t["previous_total"], prev)
    same = _change_zh("同比", t["yoy_change"], n, t["year_before_total"], yoy)
    if n == 0:
        return (f"{r.period_label}，{this}未接报警情（{NO_DATA}）；{prev} {t['previous_total']} 起，"
                f"{yoy} {t['year_before_total']} 起。")
    parts = [f"{r.period_label}，{this}共接报警情 {n} 起，{mom}，{same}。"]
    if t["diverted"]:
        parts.append(f"其中分流转 12345 {t['diverted']} 起，涉警警情 {t['police']} 起。")
    if t["level1"]:
        parts.append(f"一类警情 {t['level1']} 起，需重点关注。")
    cats = r.categories
    if len(cats) > 1 and cats[0]["count"] == cats[1]["count"]:  # a tie has no single 主要类别
        tied = [c for c in cats if c["count"] == cats[0]["count"]]
        parts.append(f"警情类别以{'、'.join(c['label'] for c in tied)}为主（各 {cats[0]['count']} 起）。")
    elif cats:
        text = f"警情类别以{cats[0]['label']}为主（{cats[0]['count']} 起，占 {fmt_pct(cats[0]['share'])}）"
        if len(cats) > 1:
            text += f"，其次为{cats[1]['label']}（{cats[1]['count']} 起）"
        parts.append(text + "。")
    if r.types:
        parts.append("高发类型：" + "、".join(f"{x['label']}（{x['count']} 起）" for x in r.types[:3]) + "。")
    located = [a for a in r.areas if a["key"] != "none"]
    if located:
        parts.append("高发区域：" + "、".join(f"{a['label']}（{a['count']} 起，占 {fmt_pct(a['share'])}）"
                                         for a in located[:3]) + "。")
    peak = peak_hours(r.hours)
    if peak is not None:
        parts.append(f"警情集中在 {_hours_zh(peak[0], peak[1])}（占 {peak[2] * 100:.0f}%）。")
    w = r.warnings
    if w.get("summary"):
        lv = w["summary"]["by_level"]
        alerts = [x for x in w["warnings"] if x["level"] in ("red", "orange")][:2]
        text = (f"四色预警（{w['week_label']}）：红色 {lv['red']} 项、橙色 {lv['orange']} 项、"
                f"黄色 {lv['yellow']} 项")
        if alerts:
            text += "，" + "、".join(f"{x['area']}{x['category']}{x['level_label_zh'][:2]}" for x in alerts)
        parts.append(text + "。")
    k = r.kpi_overall
    if k and k["received_to_arrival"]["n"]:
        ra = k["received_to_arrival"]
        parts.append(f"处警时效：接警至到场中位 {fmt_min(ra['p50_s'])} 分钟，90% 警情 {fmt_min(ra['p90_s'])} "
                     f"分钟内到场；超时签收 {k['sign_overdue']} 次。")
    return "".join(parts)


# ----------------------------------------------------------------------------------------------- charts

_SVG_START = re.compile(r"<svg\b")
_SVG_ID = re.compile(r'\bid="([^"]+)"')
_SVG_REF = re.compile(r'(url\(#|href="#)([^")]+)')
_SVG_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


def _rc(font: CjkFont | None) -> dict[str, Any]:
    return {
        "font.family": ["sans-serif"],
        "font.sans-serif": [font.family, "DejaVu Sans"] if font else [*FALLBACK_FAMILIES, "DejaVu Sans"],
        "axes.unicode_minus": False,  # not every CJK font has U+2212
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.axisbelow": True,
        "grid.color": "#e3e3e3",
        "grid.linewidth": 0.6,
        "legend.frameon": False,
        "svg.fonttype": "none",  # only used without a CJK font: the viewer then draws the text
        "svg.hashsalt": "zhihui-situation",
    }


def _embed(fig: Any, name: str, alt: str, font: CjkFont | None) -> str:
    if font is not None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=150, metadata={"Software": None})
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        return f'<img class="chart" alt="{_e(alt)}" src="data:image/png;base64,{data}">'
    sbuf = io.StringIO()
    fig.savefig(sbuf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = sbuf.getvalue()
    m = _SVG_START.search(text)
    text = text[m.start():] if m else text
    text = _SVG_XMLNS.sub("", text)  # inline SVG needs no namespace URLs; the page must hold no URL at all
    text = _SVG_ID.sub(lambda m: f'id="{name}-{m.group(1)}"', text)
    text = _SVG_REF.sub(lambda m: f"{m.group(1)}{name}-{m.group(2)}", text)
    return text.replace("<svg ", f'<svg role="img" aria-label="{_e(alt)}" class="chart" ', 1)


def _chart_categories(r: SituationReport, Figure: Any) -> Any:
    cats = [c for c in r.categories if c["count"]][::-1]
    if not cats:
        return None
    fig = Figure(figsize=(7.0, 0.9 + 0.28 * len(cats)))
    ax = fig.add_subplot()
    bars = ax.barh([c["label"] for c in cats], [c["count"] for c in cats], color="#1f5fa8", height=0.6)
    ax.bar_label(bars, labels=[f"{c['count']}（{fmt_pct(c['share'])}）" for c in cats], padding=3, fontsize=8)
    ax.set_xlabel("警情数（起）")
    ax.grid(axis="y", visible=False)
    ax.margins(x=0.18)
    fig.tight_layout()
    return fig


def _chart_hours(r: SituationReport, Figure: Any) -> Any:
    if not any(r.hours):
        return None
    peak = peak_hours(r.hours)
    hot = {(peak[0] + i) % 24 for i in range(4)} if peak else set()
    fig = Figure(figsize=(7.0, 2.4))
    ax = fig.add_subplot()
    ax.bar(range(24), r.hours, color=["#d55e00" if h in hot else "#7a9cc6" for h in range(24)], width=0.8)
    ax.set_xticks(range(24))
    ax.set_xlim(-0.6, 23.6)
    ax.set_xlabel("时（北京时间）" + (f"；橙色为高发时段 {_hours_zh(peak[0], peak[1])}" if peak else ""))
    ax.set_ylabel("警情数")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="x", visible=False)
    fig.tight_layout()
    return fig


def _chart_trend(r: SituationReport, Figure: Any) -> Any:
    if not r.trend or not any(t["count"] for t in r.trend):
        return None
    days = [t["day"] for t in r.trend]
    counts = [t["count"] for t in r.trend]
    fig = Figure(figsize=(7.0, 2.4))
    ax = fig.add_subplot()
    x = np.arange(len(days))
    if r.period == "monthly":
        ax.bar(x, counts, color="#7a9cc6", width=0.75)
        ref_label = "上月日均"
    else:
        ax.plot(x, counts, color="#1f5fa8", marker="o", markersize=3, linewidth=1.2)
        ax.plot([x[-1]], [counts[-1]], marker="o", markersize=7, color="#d55e00", linestyle="none",
                label=f"本日 {counts[-1]} 起")
        ref_label = f"近{len(days)}日日均"
    if r.trend_reference is not None:
        ax.axhline(r.trend_reference, color="#555", linestyle="--", linewidth=0.9,
                   label=f"{ref_label} {r.trend_reference:g} 起")
    step = max(1, len(days) // 10)
    ax.set_xticks(x[::step], [f"{d.month}/{d.day}" for d in days[::step]])
    ax.set_ylabel("警情数")
    ax.set_ylim(bottom=0)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def _rings(geom: Any) -> list[Any]:
    polys = getattr(geom, "geoms", [geom])
    return [p for p in polys if p.geom_type == "Polygon" and not p.is_empty]


def _nice_km(width_km: float) -> float:
    target = width_km / 5
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100):
        if step >= target:
            return step
    return 100.0


def _chart_map(r: SituationReport, Figure: Any) -> tuple[Any, str] | None:
    """The 辖区 polygons shaded by count, with the incident points or a square-grid heat layer on top."""
    from matplotlib import colormaps, patheffects
    from matplotlib.colors import Normalize
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath
    from shapely.geometry import shape

    shapes = []
    for a in r.map_areas:
        try:
            g = shape(a["geometry"])
        except (ValueError, TypeError, AttributeError, KeyError):
            continue  # a malformed boundary must not cost the whole report its map
        if not g.is_empty:
            shapes.append((a, g))
    pts = np.array([(p[0], p[1]) for p in r.map_points], dtype=float).reshape(-1, 2)
    if not shapes and not len(pts):
        return None
    if shapes:
        b = np.array([g.bounds for _, g in shapes])
        x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    else:  # no boundaries loaded: frame the bulk of the points, so a stray geocode does not shrink the city
        x0, y0 = np.percentile(pts, 1, axis=0)
        x1, y1 = np.percentile(pts, 99, axis=0)
    pad_x, pad_y = max((x1 - x0) * 0.04, 0.002), max((y1 - y0) * 0.04, 0.002)
    x0, x1, y0, y1 = x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y
    kx = math.cos(math.radians((y0 + y1) / 2))
    aspect = (y1 - y0) / max((x1 - x0) * kx, 1e-9)
    fig = Figure(figsize=(7.0, min(8.5, max(3.6, 6.6 * aspect))))
    ax = fig.add_subplot()
    ax.set_aspect(1 / kx)  # equirectangular: right at city scale (well under 1 % across 30 km)
    ax.grid(False)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(True)
        ax.spines[side].set_color("#999")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#fafafa")

    blues = colormaps["Blues"]
    top = max([a["count"] for a, _ in shapes] + [1])
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for a, g in shapes:
        for poly in _rings(g):
            verts: list[tuple[float, float]] = []
            codes: list[int] = []
            for ring in (poly.exterior, *poly.interiors):
                coords = list(ring.coords)
                verts += coords
                codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(coords) - 2) + [MplPath.CLOSEPOLY]
            # Shade areas by count, except under a heat layer, where a second colour scale would confuse.
            colour = "#f2f2f2" if r.map_mode == "grid" else blues(0.05 + 0.3 * a["count"] / top)
            ax.add_patch(PathPatch(MplPath(verts, codes), facecolor=colour, edgecolor="none", zorder=1))
            ax.add_patch(PathPatch(MplPath(verts, codes), facecolor="none", edgecolor="#34495e", linewidth=0.9,
                                   zorder=3))
        p = g.representative_point()
        ax.text(p.x, p.y, f"{a['name']}\n{a['count']} 起", ha="center", va="center", fontsize=7.5, zorder=4,
                color="#1b2631", path_effects=halo)

    inside = (pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1) if len(pts) else None
    outside = int((~inside).sum()) if inside is not None else 0
    mode = r.map_mode
    note = ""
    if mode == "points":
        cats = [p[2] for p in r.map_points]
        order = [c for c, _ in Counter(cats).most_common()]
        colours = {c: OKABE_ITO[i] if i < len(OKABE_ITO) - 1 else "#888888" for i, c in enumerate(order)}
        for c in order:
            sel = np.array([x == c for x in cats]) & inside
            if sel.any():
                ax.scatter(pts[sel, 0], pts[sel, 1], s=16, color=colours[c], edgecolors="white", linewidths=0.5,
                           zorder=3, label=f"{c}（{int(sel.sum())}）")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7.5, title="警情类别", title_fontsize=8)
        note = "圆点为警情位置，颜色区分类别"
    elif mode == "grid":
        # Cells about 1/45 of the map's width, at least 150 m: a few thousand points then read as a surface.
        width_m = (x1 - x0) * kx * 111_320
        cell_m = max(150.0, round(width_m / 45, -1))
        dx, dy = cell_m / (111_320 * kx), cell_m / 111_320
        xe, ye = np.arange(x0, x1 + dx, dx), np.arange(y0, y1 + dy, dy)
        grid, _, _ = np.histogram2d(pts[inside, 0], pts[inside, 1], bins=[xe, ye])
        masked = np.ma.masked_equal(grid.T, 0)
        mesh = ax.pcolormesh(xe, ye, masked, cmap="YlOrRd", norm=Normalize(vmin=0, vmax=float(grid.max()) or 1),
                             alpha=0.85, zorder=2, shading="flat")
        bar = fig.colorbar(mesh, ax=ax, shrink=0.6, pad=0.02)
        bar.set_label(f"每格警情数（格网 {cell_m:.0f} m）")
        note = f"格网热力：每格 {cell_m:.0f} m × {cell_m:.0f} m 内的警情数"
    km = _nice_km((x1 - x0) * kx * 111.32)
    sx, sy = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.05
    ax.plot([sx, sx + km / (111.32 * kx)], [sy, sy], color="#222", linewidth=3, solid_capstyle="butt", zorder=5)
    ax.text(sx, sy + (y1 - y0) * 0.015, f"{km:g} km", fontsize=7.5, zorder=5, path_effects=halo)
    ax.annotate("N", xy=(0.97, 0.97), xytext=(0.97, 0.88), xycoords="axes fraction", ha="center", va="center",
                fontsize=8, arrowprops={"arrowstyle": "-|>", "color": "#222", "linewidth": 1}, zorder=5)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    fig.tight_layout()
    if outside:
        note += f"；另有 {outside} 起位于图幅之外"
    if not shapes:
        note += "；未录入辖区边界"
    return fig, note


def _charts(r: SituationReport) -> dict[str, tuple[str, str] | None]:
    """name → (embedded image, caption note) or None when there is nothing to draw."""
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: the API process must never touch a GUI backend

    font = cjk_font()
    out: dict[str, tuple[str, str] | None] = {}
    with _RENDER_LOCK, matplotlib.rc_context(_rc(font)), warnings.catch_warnings():
        # Without a CJK font matplotlib warns per missing glyph; the SVG keeps the text for the viewer anyway.
        warnings.filterwarnings("ignore", message=r".*Glyph .* missing from font", category=UserWarning)
        for name, alt, make in (("categories", "警情类别分布", _chart_categories), ("hours", "时段分布", _chart_hours),
                                ("trend", "警情走势", _chart_trend)):
            fig = make(r, Figure)
            out[name] = (_embed(fig, name, alt, font), "") if fig is not None else None
        made = _chart_map(r, Figure)
        out["map"] = (_embed(made[0], "map", "警情分布图", font), made[1]) if made else None
    return out


# ----------------------------------------------------------------------------------------------- HTML

_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm;
  @top-left { content: string(doctitle); font-size: 8pt; color: #777; }
  @top-right { content: string(period); font-size: 8pt; color: #777; }
  @bottom-center { content: "第 " counter(page) " 页 / 共 " counter(pages) " 页"; font-size: 8pt; color: #777; } }
html { font-family: FONTS; font-size: 10.5pt; line-height: 1.6; color: #1a1a1a; }
body { margin: 0; background: #eef0f3; }
main { max-width: 186mm; margin: 0 auto; background: #fff; padding: 12mm 12mm 14mm; }
h1 { font-size: 19pt; text-align: center; letter-spacing: .08em; margin: 0 0 1mm; string-set: doctitle content(); }
.sub { text-align: center; color: #444; margin: 0 0 5mm; }
.sub .period { string-set: period content(); }
h2 { font-size: 13pt; margin: 7mm 0 2.5mm; padding-left: 2.5mm; border-left: 4px solid #1f4e9c;
  break-after: avoid; }
h3 { font-size: 11pt; margin: 4mm 0 1.5mm; break-after: avoid; }
.summary { background: #f3f6fb; border: 1px solid #d5deec; padding: 3mm 4mm; text-indent: 2em; margin: 0; }
.tiles { display: flex; gap: 3mm; margin: 4mm 0 2mm; }
.tile { flex: 1; border: 1px solid #d9dde3; border-radius: 1.5mm; padding: 2mm 3mm; }
.tile b { display: block; font-size: 15pt; line-height: 1.3; }
.tile .lbl { color: #555; font-size: 8.5pt; }
table { border-collapse: collapse; width: 100%; font-size: 8.8pt; margin: 1.5mm 0 3mm; }
th, td { border: 1px solid #c9ced6; padding: 1mm 1.6mm; text-align: left; vertical-align: top; }
th { background: #eef1f6; font-weight: 700; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.key { white-space: nowrap; }
table.kpi { font-size: 8.2pt; }
table.kpi th.num { white-space: normal; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
.up { color: #b71c1c; } .down { color: #1b5e20; }
.chip { display: inline-block; min-width: 3.4em; text-align: center; border-radius: 1mm; padding: 0 1.4mm;
  color: #fff; font-size: 8.3pt; white-space: nowrap; -webkit-print-color-adjust: exact; }
.chip.green { background: #2e7d32; } .chip.yellow { background: #f2c200; color: #222; }
.chip.orange { background: #ef6c00; } .chip.red { background: #c62828; }
figure { margin: 2mm 0 4mm; break-inside: avoid; }
.chart { width: 100%; height: auto; display: block; }
figcaption { font-size: 8.5pt; color: #444; margin-top: 1mm; }
.empty { color: #666; border: 1px dashed #bbb; padding: 2.5mm; text-align: center; margin: 2mm 0; }
.note { font-size: 8.5pt; color: #555; }
ol.cm li { margin-bottom: 1.2mm; }
footer { margin-top: 6mm; border-top: 1px solid #ccc; padding-top: 2mm; font-size: 8pt; color: #555; }
@media print { body { background: #fff; } main { max-width: none; margin: 0; padding: 0; } }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _chg(x: float | None) -> str:
    if x is None:
        return DASH
    cls = "up" if x > 0 else "down" if x < 0 else ""
    return f'<span class="{cls}">{x * 100:+.1f}%</span>' if cls else "0.0%"


def _empty(text: str = NO_DATA) -> str:
    return f'<p class="empty">{_e(text)}</p>'


def _table(head: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]], cls: str = "") -> str:
    """head: (title, kind) with kind "num" (right-aligned), "key" (kept on one line) or "text" (wraps);
    a newline in a title breaks the header line; cells are pre-escaped HTML."""
    th = "".join(f'<th class="{kind}">{_e(h).replace(chr(10), "<br>")}</th>' for h, kind in head)
    body = "".join("<tr>" + "".join(f'<td class="{head[i][1]}">{c}</td>' for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _tile(label: str, value_html: str) -> str:
    return f'<div class="tile"><span class="lbl">{_e(label)}</span><b>{value_html}</b></div>'


def _figure(chart: tuple[str, str] | None, caption: str, empty: str) -> str:
    if chart is None:
        return _empty(empty)
    img, note = chart
    return f"<figure>{img}<figcaption>{_e(caption + ('；' + note if note else ''))}</figcaption></figure>"


def _group_table(groups: Sequence[dict[str, Any]], name: str, extra: bool = False) -> str:
    head = [("序号", "num"), (name, "text"), ("数量", "num"), ("占比", "num"), ("环比", "num"), ("同比", "num")]
    if extra:
        head += [("主要类型", "text"), ("高发时段", "key")]
    rows = []
    for i, g in enumerate(groups, start=1):
        row = [i, _e(g["label"]), g["count"], fmt_pct(g["share"]),
               f"{_chg(g['mom_change'])}（{g['previous']}）", f"{_chg(g['yoy_change'])}（{g['year_before']}）"]
        if extra:
            row += [_e(g.get("top_type") or DASH), _e(g["peak"]["label"] if g.get("peak") else DASH)]
        rows.append(row)
    return _table(head, rows)


def _kpi_table(r: SituationReport) -> str:
    head = [("派出所", "key"), ("警情", "num"), ("接警→派警\np50 / p90", "num"), ("派警→签收\np50 / p90", "num"),
            ("签收→到场\np50 / p90", "num"), ("接警→到场\np50 / p90", "num"), ("超时\n签收", "num"),
            ("反馈\n及时率", "num"), ("结案率", "num")]

    def pair(m: dict[str, Any]) -> str:
        return f"{fmt_min(m['p50_s'])} / {fmt_min(m['p90_s'])}" if m["n"] else DASH

    rows = []
    for g in [*r.kpi_stations, *([r.kpi_overall | {"label": "合计"}] if r.kpi_overall else [])]:
        rows.append([_e(g["label"]), g["incidents"], pair(g["answer_to_dispatch"]), pair(g["dispatch_to_sign"]),
                     pair(g["sign_to_arrival"]), pair(g["received_to_arrival"]), g["sign_overdue"],
                     fmt_pct(g["feedback_on_time_rate"]), fmt_pct(g["closure_rate"])])
    return _table(head, rows, "kpi")


def _warning_section(r: SituationReport) -> str:
    w = r.warnings
    parts = [f'<p class="note">评定周：{_e(w["week_label"])}（北京时间，截至报告期末最近一个完整周）。'
             "口径：治安类警情（不含分流 12345），按辖区×警情类别，与历史基线比较。</p>"]
    if w.get("unavailable"):
        return "".join(parts) + _empty(f"{NO_DATA}：{w['unavailable']}")
    lv = w["summary"]["by_level"]
    chips = "　".join(f'<span class="chip {k}">{_e(LEVEL_LABEL_ZH[k][:2])}</span> {lv[k]} 项'
                     for k in reversed(LEVELS))
    parts.append(f"<p>共评定 {w['n']} 项：{chips}</p>")
    shown = w["warnings"][:MAX_WARNING_ROWS]
    if not shown:
        return "".join(parts) + '<p class="empty">各辖区各类警情均为绿色（正常），无预警。</p>'
    rows = [[f'<span class="chip {x["level"]}">{_e(x["level_label_zh"])}</span>', _e(x["area"]), _e(x["category"]),
             x["observed"], f"{x['expected']:.1f}", f"{x['ratio']:.2f}", _e(x["reason_zh"])] for x in shown]
    parts.append(_table([("等级", "key"), ("辖区", "key"), ("类别", "key"), ("本周", "num"), ("基线", "num"),
                         ("比值", "num"), ("依据", "text")], rows))
    if len(w["warnings"]) > len(shown):
        parts.append(f'<p class="note">另有 {len(w["warnings"]) - len(shown)} 项黄色及以上预警未列出。</p>')
    return "".join(parts)


def _render_html(r: SituationReport) -> str:
    charts = _charts(r)
    font = cjk_font()
    this, prev, yoy = _ref_zh(r.period)
    t = r.totals
    local_since, local_until = _local(r.since), _local(r.until) - timedelta(seconds=1)
    org = f"{_e(r.org_name)} · " if r.org_name else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="zhihui analytics report">',
        f"<title>{_e(r.title)} {_e(r.period_label)}</title>",
        f"<style>{_CSS.replace('FONTS', _css_fonts(font))}</style></head><body><main>",
        f"<h1>{_e(r.title)}</h1>",
        f'<p class="sub">{org}<span class="period">{_e(r.period_label)}</span><br>'
        f"统计时段：{local_since:%Y-%m-%d %H:%M} 至 {local_until:%Y-%m-%d %H:%M}（北京时间）　"
        f"生成时间：{_local(r.generated_at):%Y-%m-%d %H:%M}</p>",
        "<h2>一、总体情况</h2>",
        f'<p class="summary">{_e(r.summary)}</p>',
        '<div class="tiles">',
        _tile(f"{this}接报警情（起）", str(t["total"])),
        _tile(f"环比（{prev} {t['previous_total']} 起）", _chg(t["mom_change"])),
        _tile(f"同比（{yoy} {t['year_before_total']} 起）", _chg(t["yoy_change"])),
        _tile("涉警 / 分流 12345", f"{t['police']} / {t['diverted']}"),
        _tile("一类警情（起）", str(t["level1"])),
        "</div>",
        "<h2>二、警情类别</h2>",
    ]
    if r.categories:
        parts.append(_figure(charts["categories"], "各类别警情数及占比", NO_DATA))
        parts.append(_group_table(r.categories, "类别"))
        parts.append(f"<h3>高发类型（前 {TOP_TYPES} 位）</h3>")
        parts.append(_group_table(r.types, "类型"))
        parts.append('<p class="note">环比、同比列括号内为比较期数量；比较期为 0 时记“—”。</p>')
    else:
        parts.append(_empty(f"{NO_DATA}：{this}未接报警情。"))
    parts.append("<h2>三、高发区域</h2>")
    parts.append(_figure(charts["map"], f"{this}警情分布（底图为辖区边界，颜色越深警情越多；离线绘制，无在线底图）",
                         f"{NO_DATA}：无辖区边界，也无带坐标的警情。"))
    if r.areas:
        parts.append(_group_table(r.areas, "辖区", extra=True))
        span = "本月" if r.period == "monthly" else f"近{TREND_DAYS}日"
        parts.append(f'<p class="note">高发时段为{span}该辖区涉警警情最集中的连续 4 小时（不少于 10 起时给出）。</p>')
    else:
        parts.append(_empty(f"{NO_DATA}：{this}未接报警情。"))
    parts.append("<h2>四、时段与走势</h2>")
    parts.append(_figure(charts["hours"], f"{this}警情按小时分布（北京时间）", f"{NO_DATA}：{this}未接报警情。"))
    trend_caption = (f"{r.day.month}月逐日警情数，虚线为上月日均" if r.period == "monthly"
                     else f"近{TREND_DAYS}日逐日警情数，虚线为期间日均，橙点为本日")
    parts.append(_figure(charts["trend"], trend_caption, f"{NO_DATA}：走势期内未接报警情。"))
    parts.append("<h2>五、四色预警</h2>")
    parts.append(_warning_section(r))
    parts.append("<h2>六、处警时效</h2>")
    if r.kpi_overall:
        parts.append(_kpi_table(r))
        parts.append('<p class="note">时长单位为分钟，p50 为中位数、p90 为 90% 分位数；派出所按首个派警指令的警组归属，'
                     "“合计”含未派警的警情。</p>")
    else:
        parts.append(_empty(f"{NO_DATA}：{this}无处警记录。"))
    parts.append("<h2>七、打防对策建议</h2>")
    parts.append('<p class="note">以下建议由规则根据上述统计与预警自动生成，供研判参考，不替代指挥员判断。</p>')
    parts.append('<ol class="cm">' + "".join(f"<li>{_e(c)}</li>" for c in r.countermeasures) + "</ol>")
    parts.append("<footer>口径说明：警情数为接报登记的警情（重复报警合并后不重复计数，含分流 12345 的非警务警情）；"
                 f"日、月均按北京时间划分；{this}环比对比{prev}，同比对比{yoy}。"
                 "本报告由 zhihui 情指行一体化平台根据平台数据自动生成。</footer>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"
