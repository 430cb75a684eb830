"""Hotspots and short-term prediction over the platform's own incidents (the map layer 警情热点/预测).

The methods are the ones measured on real Toronto data in ``bench/hotspots.py`` (see
:mod:`zhihui.analytics.hotspots`), applied to whatever the command centre has recorded:

* ``prospective`` — Bowers–Johnson–Pease prospective hotspotting (near-repeat: the last 8 weeks, weight
  1/((1+s)(1+t)) over cells s and weeks t): the next week's prediction;
* ``kde`` — Gaussian kernel density of the last 28 days (σ = 1.5 cells): where incidents are now;
* ``naive`` — counts per cell over the last 365 days: the long-run hotspots.

Every answer carries its own **backtest**: the same method run a horizon earlier, scored on the incidents
that then happened (hit rate and PAI at the requested coverage), so a leader sees how far to trust it on
this city's data rather than a figure from elsewhere. Days are Beijing days; cells are ``cell_m`` squares
in a local metric projection, the study area being the grid over the incidents' extent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

from zhihui.analytics import hotspots as hs

Method = Literal["prospective", "kde", "naive"]
METHODS: tuple[str, ...] = Method.__args__  # type: ignore[attr-defined]
METHOD_LABELS = {"prospective": "近重复预测（下周）", "kde": "核密度热点（近28天）", "naive": "长期热点（近一年）"}
HISTORY_DAYS = {"prospective": 8 * 7 + 1, "kde": 28, "naive": 365}
KDE_SIGMA_CELLS = 1.5
CST_OFFSET = timedelta(hours=8)  # Asia/Shanghai, no DST since 1991


@dataclass(frozen=True)
class Forecast:
    method: str
    start: date  # first Beijing day predicted
    horizon_days: int
    cell_m: float
    coverage: float
    cells: list[dict[str, Any]]  # ranked, highest risk first
    n_study_cells: int
    n_events_used: int
    backtest: dict[str, Any]

    def geojson(self) -> dict[str, Any]:
        """GeoJSON FeatureCollection of the selected cells (WGS-84 polygons) and the run's metadata."""
        features = [
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [c["ring"]]},
             "properties": {k: v for k, v in c.items() if k != "ring"}}
            for c in self.cells
        ]
        return {
            "type": "FeatureCollection", "features": features, "method": self.method,
            "method_label": METHOD_LABELS[self.method], "start": self.start.isoformat(),
            "horizon_days": self.horizon_days, "cell_m": self.cell_m, "coverage": self.coverage,
            "n_study_cells": self.n_study_cells, "n_events_used": self.n_events_used, "backtest": self.backtest,
        }


def local_day_hour(at: Sequence[datetime]) -> tuple[np.ndarray, np.ndarray]:
    """Beijing day numbers (days since 1970-01-01) and hours of UTC instants."""
    ts = pd.to_datetime(pd.Series(list(at), dtype=object), utc=True) + CST_OFFSET
    days = (ts.dt.tz_localize(None).to_numpy().astype("datetime64[D]").astype(np.int64))
    return days, ts.dt.hour.to_numpy(dtype=np.int64)


def frame(rows: Sequence[tuple[float | None, float | None, datetime]]) -> pd.DataFrame:
    """(lat, lon, received_at UTC) rows → the frame the methods read; rows without coordinates dropped."""
    df = pd.DataFrame(rows, columns=["lat", "lon", "at"])
    df = df[hs.valid_coordinates(df["lat"].to_numpy(float), df["lon"].to_numpy(float))] if len(df) else df
    if not len(df):
        return pd.DataFrame({"lat": [], "lon": [], "day": np.array([], np.int64), "hour": np.array([], np.int64)})
    day, hour = local_day_hour(df["at"].tolist())
    return pd.DataFrame({"lat": df["lat"].to_numpy(float), "lon": df["lon"].to_numpy(float), "day": day, "hour": hour})


def _grid(df: pd.DataFrame, cell_m: float) -> hs.Grid:
    proj = hs.Projection.about(df["lat"], df["lon"])
    x, y = proj.forward(df["lat"], df["lon"])
    # One cell of margin so a kernel's mass near the edge lands somewhere visible.
    x0, y0 = float(x.min()) - cell_m, float(y.min()) - cell_m
    nx = int(np.floor((x.max() - x0) / cell_m)) + 2
    ny = int(np.floor((y.max() - y0) / cell_m)) + 2
    return hs.Grid(proj, x0, y0, cell_m, nx, ny, np.ones(nx * ny, dtype=bool))


def _events(df: pd.DataFrame, grid: hs.Grid) -> hs.Events:
    x, y = grid.projection.forward(df["lat"], df["lon"])
    cell = grid.cell_of_xy(x, y)
    day, hour = df["day"].to_numpy(np.int64), df["hour"].to_numpy(np.int64)
    order = np.lexsort((hour, day))
    return hs.Events(day[order], hour[order], cell[order], x[order], y[order], grid.n_cells)


def _risk(ev: hs.Events, grid: hs.Grid, start: int, method: str) -> np.ndarray:
    if method == "prospective":
        return hs.prospective_hotspot(ev, grid, start)
    if method == "kde":
        return hs.smooth(ev.window_counts(start - HISTORY_DAYS["kde"], start), grid, KDE_SIGMA_CELLS)
    return hs.naive_counts(ev, grid, start, HISTORY_DAYS["naive"])


def _top(risk: np.ndarray, k: int) -> np.ndarray:
    # Ties broken by cell id so the same data always give the same map.
    order = np.lexsort((np.arange(risk.size), -risk))
    top = order[:k]
    return top[risk[top] > 0]


def history_needed(method: str, horizon_days: int) -> int:
    """Days of incidents before `start` that :func:`forecast` reads (its backtest included)."""
    return HISTORY_DAYS[method] + horizon_days + 1


def forecast(df: pd.DataFrame, start: date, *, method: Method = "prospective", horizon_days: int = 7,
             cell_m: float = 150.0, coverage: float = 0.05) -> Forecast:
    """Rank cells for the `horizon_days` Beijing days from `start` using incidents before `start`.

    df: output of :func:`frame`. coverage: share of the study cells to return (at least one cell)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    if not 0 < coverage <= 1:
        raise ValueError("coverage must be in (0, 1]")
    s = hs.day_number(np.datetime64(start.isoformat(), "D"))
    past = df[df["day"] < s] if len(df) else df
    if not len(past):
        return Forecast(method, start, horizon_days, cell_m, coverage, [], 0, 0,
                        {"events": 0, "hits": 0, "hit_rate": None, "pai": None})
    grid = _grid(past, cell_m)
    ev = _events(past, grid)
    k = max(1, round(coverage * grid.n_study))
    risk = _risk(ev, grid, s, method)
    top = _top(risk, k)
    recent = ev.window_counts(s - 28, s)
    cells = []
    for rank, cell in enumerate(top.tolist(), start=1):
        ix, iy = cell % grid.nx, cell // grid.nx
        xs = grid.x0 + np.array([ix, ix + 1, ix + 1, ix, ix]) * cell_m
        ys = grid.y0 + np.array([iy, iy, iy + 1, iy + 1, iy]) * cell_m
        lat, lon = grid.projection.inverse(xs, ys)
        clat, clon = grid.centre_latlon([cell])
        cells.append({
            "rank": rank, "cell": int(cell), "score": round(float(risk[cell]), 4),
            "share": round(float(risk[cell] / risk.sum()), 4) if risk.sum() > 0 else None,
            "recent_28d": int(recent[cell]), "lat": round(float(clat[0]), 6), "lon": round(float(clon[0]), 6),
            "ring": [[round(float(a), 6), round(float(b), 6)] for a, b in zip(lon, lat, strict=True)],
        })
    used0, used1 = ev.span(s - HISTORY_DAYS[method], s)
    return Forecast(method, start, horizon_days, cell_m, coverage, cells, grid.n_study, used1 - used0,
                    _backtest(ev, grid, s, method, horizon_days, k))


def _backtest(ev: hs.Events, grid: hs.Grid, s: int, method: str, horizon: int, k: int) -> dict[str, Any]:
    """The same method a horizon earlier, scored on what happened in [s - horizon, s)."""
    b = s - horizon
    i0, i1 = ev.span(b, s)
    cells = ev.cell[i0:i1]
    cells = cells[cells >= 0]
    if cells.size == 0:
        return {"start": _date(b).isoformat(), "events": 0, "hits": 0, "hit_rate": None, "pai": None}
    top = _top(_risk(ev, grid, b, method), k)
    hits = int(np.isin(cells, top).sum())
    rate = hits / cells.size
    return {"start": _date(b).isoformat(), "events": int(cells.size), "hits": hits, "hit_rate": round(rate, 4),
            "pai": round(rate / (k / grid.n_study), 3), "coverage": round(k / grid.n_study, 4)}


def _date(day_number: int) -> date:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day_number)).date()
