"""Short-term crime hotspot prediction on a square grid, with the classic open_cp baselines.

Data
----
The benchmark runs on real Toronto Police Service "Major Crime Indicators" incidents
(``toronto_mci_2014_2021.csv.gz`` in the shared data folder: date, hour, category, premises type,
neighbourhood, WGS-84 lat/lon; categories Assault, Break and Enter, Auto Theft, Robbery, Theft Over).
Toronto publishes the coordinates offset to the nearest road intersection, so many incidents share
one point; a few rows carry occurrence dates long before 2014 (reported later).

Grid
----
Lat/lon are projected with a local equirectangular projection about the centre of the data's bounding
box, using the WGS-84 meridional and prime-vertical radii at the centre latitude. Over Toronto's
~30 km north-south extent the scale error is below 0.3 % (under 0.5 m across a 150 m cell), which is
acceptable at city scale. A square grid (150 m by default) covers the data's bounding box; the
*study area* is the set of cells holding at least one incident of any category dated 2014-2016
("masked study area"). Every risk vector is over the study cells (in ascending cell-id order).

Methods (each sees only events strictly before the period's start)
------------------------------------------------------------------
* ``naive_counts`` -- open_cp ``naive.CountingGridKernel`` fed the last 365 days: events per cell.
* ``retro_hotspot`` -- open_cp ``retrohotspot.RetroHotSpotGrid``: events of the last 56 days, quartic
  weight ``(1 - (d/h)^2)^2`` for ``d <= h`` (h = 200 m), ``d`` = distance from the cell's centre to the
  event's (exact) point, summed.
* ``prospective_hotspot`` -- open_cp ``prohotspot.ProspectiveHotSpot`` with ``ClassicWeight`` and
  ``DistanceDiagonalsSame``: weight ``1/((1+s)(1+t))`` when ``s < space_bandwidth`` and ``t < 8``; ``s`` =
  Chebyshev distance in cells between the event's cell and the target cell, ``t`` = whole weeks between
  the event's timestamp (date + hour) and the period start (floor). open_cp's default bandwidth is
  400 m / 50 m = 8 cells; at 150 m we keep 400 m, i.e. ``space_bandwidth = 400/150``, so ``s <= 2``.
* ``etas`` -- a self-exciting (Hawkes / ETAS-style) point process on the grid:
  ``lambda(c, t) = nu + mu b(c) + theta sum_i omega exp(-omega (t - t_i)) g_sigma(c - c_i)``, ``b`` the
  category's 1095-day rate (optionally Gaussian-smoothed), ``g`` a discrete Gaussian in space, ``t_i`` the
  event's date + hour. The risk of a period is its expected count, triggered only by events before it.
  ``omega``, ``sigma`` and the background smoothing are grid-searched and ``nu, mu, theta`` fitted by
  Poisson maximum likelihood on the training periods (``fit_etas``).
* ours -- ``fit_ours`` / ``predict_ours``: a learned, multi-scale non-negative Poisson intensity. For each
  (cell, period) ~60 components are built from the history before the period: per-day rates of the
  category and of all categories over 7 .. 1095 days and the whole history (raw and Gaussian-smoothed
  at 1 and 2 cells), ETAS-style exponential triggering kernels (3 .. 90-day memories, same cell or
  spread over neighbours), the category's rates split by premises type, the other categories'
  long-run rates, and the prospective and retrospective scores. Expected count = constant +
  sum_k a_k x_k with a_k >= 0, fitted by Poisson maximum likelihood (EM updates) on the training
  periods (2017-2018 for 2019). A sum of non-negative kernels is itself a point-process intensity, so
  the fit decides how much of the risk is long-run place effect (at which scale, from which premises
  and crime types) and how much is recent near-repeat excitation. (A Poisson gradient-boosted
  regressor on the same information was no better on the 2018 validation year, and slower.)
  The reported ranking is tiered (``rank_tiers``): the top 1 % of cells by intensity first, then the
  rest by intensity + beta x the raw whole-history rate, beta chosen from a few values by the hit rate
  at 5 % on the training periods (0 = plain intensity). The 1 % set is thus the intensity's, while
  the 5 % set can use the exact-point long-run counts the smoothed components blur.

Evaluation (``evaluate``)
-------------------------
For coverage ``c`` the top ``ceil(c N)`` of the ``N`` study cells are flagged (stable sort on
descending risk, so ties go to the lower cell id, as open_cp's ``top_slice`` does). Hits = events of
the period in flagged cells. Hits and events (study-area events only) are summed over all periods
before dividing: ``hit_rate = sum hits / sum events``, ``PAI = hit_rate / c``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import ndimage

CATEGORIES = ("Assault", "Break and Enter", "Auto Theft", "Robbery", "Theft Over")
HISTORY_START = np.datetime64("2014-01-01", "D")  # the file is complete from here on
_WGS84_A = 6378137.0
_WGS84_E2 = 6.69437999014e-3


def day_number(day: Any) -> int:
    """Days since 1970-01-01 of a date-like (numpy datetime64, str, date) or an int already."""
    if isinstance(day, int | np.integer):
        return int(day)
    return int(np.datetime64(day, "D").astype(np.int64))


# --------------------------------------------------------------------------------------------------
# Projection and grid


@dataclass(frozen=True)
class Projection:
    """Local equirectangular projection about (lat0, lon0) with WGS-84 radii of curvature there."""

    lat0: float
    lon0: float

    @property
    def _radii(self) -> tuple[float, float]:
        s = math.sin(math.radians(self.lat0))
        w = 1.0 - _WGS84_E2 * s * s
        meridional = _WGS84_A * (1.0 - _WGS84_E2) / w**1.5
        prime_vertical = _WGS84_A / math.sqrt(w)
        return prime_vertical * math.cos(math.radians(self.lat0)), meridional

    def forward(self, lat: Any, lon: Any) -> tuple[np.ndarray, np.ndarray]:
        kx, ky = self._radii
        lat = np.asarray(lat, dtype=float)
        lon = np.asarray(lon, dtype=float)
        return kx * np.radians(lon - self.lon0), ky * np.radians(lat - self.lat0)

    def inverse(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        kx, ky = self._radii
        return self.lat0 + np.degrees(np.asarray(y, float) / ky), self.lon0 + np.degrees(np.asarray(x, float) / kx)

    @classmethod
    def about(cls, lat: Any, lon: Any) -> Projection:
        """Centred on the bounding box of the given coordinates (finite values only)."""
        lat = np.asarray(lat, float)
        lon = np.asarray(lon, float)
        ok = np.isfinite(lat) & np.isfinite(lon)
        return cls(float((lat[ok].min() + lat[ok].max()) / 2), float((lon[ok].min() + lon[ok].max()) / 2))


@dataclass(frozen=True, eq=False)
class Grid:
    """Square grid in projected metres; cell id = iy * nx + ix, (x0, y0) the lower-left corner."""

    projection: Projection
    x0: float
    y0: float
    cell_m: float
    nx: int
    ny: int
    study: np.ndarray = field(repr=False)  # bool per cell id: the masked study area

    @property
    def shape(self) -> tuple[int, int]:
        return self.ny, self.nx

    @property
    def n_cells(self) -> int:
        return self.nx * self.ny

    @cached_property
    def study_cells(self) -> np.ndarray:
        return np.flatnonzero(self.study)

    @property
    def n_study(self) -> int:
        return int(self.study_cells.size)

    @cached_property
    def study_index(self) -> np.ndarray:
        """Cell id -> position in the study vector, -1 outside the study area."""
        idx = np.full(self.n_cells, -1, dtype=np.int64)
        idx[self.study_cells] = np.arange(self.study_cells.size)
        return idx

    def cell_of_xy(self, x: Any, y: Any) -> np.ndarray:
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        with np.errstate(invalid="ignore"):
            ix = np.floor((x - self.x0) / self.cell_m)
            iy = np.floor((y - self.y0) / self.cell_m)
        ok = np.isfinite(ix) & np.isfinite(iy) & (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)
        out = np.full(x.shape, -1, dtype=np.int64)
        out[ok] = iy[ok].astype(np.int64) * self.nx + ix[ok].astype(np.int64)
        return out

    def cell_of(self, lat: Any, lon: Any) -> np.ndarray:
        """Cell ids of WGS-84 points; -1 for points outside the grid or without coordinates."""
        return self.cell_of_xy(*self.projection.forward(lat, lon))

    def centre_xy(self, cells: Any) -> tuple[np.ndarray, np.ndarray]:
        cells = np.asarray(cells, dtype=np.int64)
        return self.x0 + (cells % self.nx + 0.5) * self.cell_m, self.y0 + (cells // self.nx + 0.5) * self.cell_m

    def centre_latlon(self, cells: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.projection.inverse(*self.centre_xy(cells))


def valid_coordinates(lat: Any, lon: Any) -> np.ndarray:
    """True where a point has usable coordinates (finite, non-zero, on the globe)."""
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    return np.isfinite(lat) & np.isfinite(lon) & (lat != 0) & (lon != 0) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)


def load_toronto(path: str | Path) -> pd.DataFrame:
    """Toronto MCI incidents with valid coordinates, day-resolution dates, projected x/y in metres.

    Columns: date (numpy datetime64[D] values; pandas stores the column as datetime64[s] at midnight,
    ``df["date"].to_numpy().astype("datetime64[D]")`` gives them back as [D]), hour, category,
    premises_type, lat, lon, x, y.

    ``df.attrs`` records the projection and how many rows were read / dropped for bad coordinates
    and how many carry dates before 2014 (kept: they only enter the whole-history window).
    """
    raw = pd.read_csv(path)
    ok = valid_coordinates(raw["lat"], raw["lon"])
    df = raw.loc[ok].reset_index(drop=True)
    out = pd.DataFrame(
        {
            "date": pd.to_datetime(df["date"]).to_numpy().astype("datetime64[D]"),
            "hour": df["hour"].fillna(0).astype(np.int64).clip(0, 23).to_numpy(),
            "category": df["category"].astype(str).to_numpy(),
            "premises_type": df["premises_type"].astype(str).to_numpy(),
            "lat": df["lat"].to_numpy(float),
            "lon": df["lon"].to_numpy(float),
        }
    )
    projection = Projection.about(out["lat"], out["lon"])
    out["x"], out["y"] = projection.forward(out["lat"], out["lon"])
    out.attrs.update(
        projection=projection,
        rows_read=len(raw),
        rows_dropped_coords=int((~ok).sum()),
        rows_before_2014=int((out["date"].to_numpy() < HISTORY_START).sum()),
    )
    return out


def build_grid(df: pd.DataFrame, cell_m: float = 150.0, study_years: tuple[int, int] = (2014, 2016)) -> Grid:
    """Grid over the bounding box of ``df``; study area = cells with any event dated in study_years."""
    projection = df.attrs.get("projection") or Projection.about(df["lat"], df["lon"])
    x, y = projection.forward(df["lat"], df["lon"])
    # Origin on a multiple of the cell size so the grid does not move with small data changes.
    x0 = math.floor(float(np.min(x)) / cell_m) * cell_m
    y0 = math.floor(float(np.min(y)) / cell_m) * cell_m
    nx = math.floor((float(np.max(x)) - x0) / cell_m) + 1
    ny = math.floor((float(np.max(y)) - y0) / cell_m) + 1
    grid = Grid(projection, x0, y0, float(cell_m), nx, ny, np.zeros(nx * ny, dtype=bool))
    years = pd.DatetimeIndex(df["date"]).year.to_numpy()
    cells = grid.cell_of_xy(x, y)
    in_years = (years >= study_years[0]) & (years <= study_years[1]) & (cells >= 0)
    study = np.zeros(nx * ny, dtype=bool)
    study[cells[in_years]] = True
    return Grid(projection, x0, y0, float(cell_m), nx, ny, study)


# --------------------------------------------------------------------------------------------------
# Events on the grid


@dataclass(frozen=True, eq=False)
class Events:
    """One category's (or all categories') events on a grid, sorted by (day, hour)."""

    day: np.ndarray  # int64 days since 1970-01-01
    hour: np.ndarray  # int64 0..23
    cell: np.ndarray  # int64 grid cell id (inside the grid)
    x: np.ndarray  # projected metres, the grid's projection
    y: np.ndarray
    n_cells: int

    def __len__(self) -> int:
        return int(self.day.size)

    def span(self, first_day: int, end_day: int) -> tuple[int, int]:
        """Index range of events with first_day <= day < end_day."""
        return int(np.searchsorted(self.day, first_day, "left")), int(np.searchsorted(self.day, end_day, "left"))

    def before(self, start: Any) -> Events:
        _, i1 = self.span(0, day_number(start))
        return self.take(slice(0, i1))

    def take(self, sel: Any) -> Events:
        return Events(self.day[sel], self.hour[sel], self.cell[sel], self.x[sel], self.y[sel], self.n_cells)

    @cached_property
    def day_matrix(self) -> sp.csr_matrix:
        """Sparse (days x cells) counts from the first event's day; indptr is the cumulative count by day,
        so any window's per-cell counts cost only the events inside it."""
        if self.day.size == 0:
            return sp.csr_matrix((1, self.n_cells))
        d0 = int(self.day[0])
        rows = self.day - d0
        m = sp.csr_matrix(
            (np.ones(self.day.size), (rows, self.cell)), shape=(int(rows[-1]) + 1, self.n_cells), dtype=np.float64
        )
        m.sum_duplicates()
        return m

    def window_counts(self, first_day: int, end_day: int) -> np.ndarray:
        """Per-cell counts (all grid cells) of events with first_day <= day < end_day."""
        if self.day.size == 0 or end_day <= first_day:
            return np.zeros(self.n_cells)
        m = self.day_matrix
        d0 = int(self.day[0])
        r0 = min(max(first_day - d0, 0), m.shape[0])
        r1 = min(max(end_day - d0, 0), m.shape[0])
        p0, p1 = m.indptr[r0], m.indptr[r1]
        return np.bincount(m.indices[p0:p1], weights=m.data[p0:p1], minlength=self.n_cells)


def make_events(df: pd.DataFrame, grid: Grid, category: str | None = None) -> Events:
    """Events of ``category`` (None = all) that fall inside the grid, in the grid's projection."""
    sub = df if category is None else df[df["category"] == category]
    x, y = grid.projection.forward(sub["lat"], sub["lon"])
    cell = grid.cell_of_xy(x, y)
    day = np.asarray(sub["date"].to_numpy().astype("datetime64[D]").astype(np.int64))
    hour = np.asarray(sub["hour"].to_numpy(), dtype=np.int64)
    keep = cell >= 0
    order = np.lexsort((hour[keep], day[keep]))
    return Events(day[keep][order], hour[keep][order], cell[keep][order], x[keep][order], y[keep][order], grid.n_cells)


def period_events(ev: Events, grid: Grid, start: Any, length_days: int) -> np.ndarray:
    """Study-vector positions of the events in [start, start + length_days) inside the study area."""
    s = day_number(start)
    i0, i1 = ev.span(s, s + length_days)
    pos = grid.study_index[ev.cell[i0:i1]]
    return pos[pos >= 0]


# --------------------------------------------------------------------------------------------------
# Evaluation


def evaluate(
    risks_by_period: Sequence[np.ndarray],
    events_by_period: Sequence[np.ndarray],
    coverages: Iterable[float] = (0.01, 0.05, 0.10),
) -> dict[str, Any]:
    """Hit rate and PAI per coverage, hits and events summed over periods before dividing.

    ``risks_by_period[p]`` is a risk per study cell; ``events_by_period[p]`` holds the study-vector
    position of each event of period p (negative positions = outside the study area, ignored).
    """
    coverages = tuple(coverages)
    if len(risks_by_period) != len(events_by_period):
        raise ValueError("one event array per risk vector is needed")
    hits = dict.fromkeys(coverages, 0)
    total = 0
    n = None
    for risk, events in zip(risks_by_period, events_by_period, strict=True):
        risk = np.asarray(risk, dtype=float)
        if n is None:
            n = risk.size
        if risk.size != n or not np.all(np.isfinite(risk)):
            raise ValueError("risk vectors must be finite and of equal length")
        events = np.asarray(events, dtype=np.int64)
        events = events[events >= 0]
        total += int(events.size)
        # Stable sort on -risk: equal risks keep ascending cell order, so ties go to the lower id.
        order = np.argsort(-risk, kind="stable")
        per_cell = np.bincount(events, minlength=n)
        cum = np.cumsum(per_cell[order])
        for c in coverages:
            k = min(n, math.ceil(round(c * n, 9)))
            hits[c] += int(cum[k - 1]) if k > 0 else 0
    hit_rate = {c: (hits[c] / total if total else float("nan")) for c in coverages}
    return {
        "n_cells": n or 0,
        "n_periods": len(risks_by_period),
        "events": total,
        "hits": hits,
        "hit_rate": hit_rate,
        "pai": {c: hit_rate[c] / c for c in coverages},
    }


# --------------------------------------------------------------------------------------------------
# Baselines (open_cp re-implementations)


def naive_counts(ev: Events, grid: Grid, start: Any, window_days: int = 365) -> np.ndarray:
    """Events per study cell over the ``window_days`` days before ``start``."""
    s = day_number(start)
    return ev.window_counts(s - window_days, s)[grid.study_cells]


def quartic(distance: Any, bandwidth: float) -> np.ndarray:
    """open_cp.retrohotspot.Quartic: (1 - (d/h)^2)^2 for d <= h, else 0."""
    d2 = np.asarray(distance, float) ** 2
    h2 = bandwidth * bandwidth
    return (1.0 - d2 / h2) ** 2 * (d2 <= h2)


def _retro_surface(x: np.ndarray, y: np.ndarray, cell: np.ndarray, grid: Grid, bandwidth: float) -> np.ndarray:
    # A cell centre within h of a point is at most ceil(h/cell + 1/2) cells away from the point's cell.
    r = math.ceil(bandwidth / grid.cell_m + 0.5)
    ix, iy = cell % grid.nx, cell // grid.nx
    out = np.zeros(grid.n_cells)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            jx, jy = ix + dx, iy + dy
            ok = (jx >= 0) & (jx < grid.nx) & (jy >= 0) & (jy < grid.ny)
            cx = grid.x0 + (jx[ok] + 0.5) * grid.cell_m
            cy = grid.y0 + (jy[ok] + 0.5) * grid.cell_m
            w = quartic(np.hypot(cx - x[ok], cy - y[ok]), bandwidth)
            out += np.bincount(jy[ok] * grid.nx + jx[ok], weights=w, minlength=grid.n_cells)
    return out


def retro_hotspot(
    ev: Events, grid: Grid, start: Any, window_days: int = 56, bandwidth_m: float = 200.0
) -> np.ndarray:
    """open_cp RetroHotSpotGrid: quartic weights from cell centres to the events of the window."""
    s = day_number(start)
    i0, i1 = ev.span(s - window_days, s)
    surface = _retro_surface(ev.x[i0:i1], ev.y[i0:i1], ev.cell[i0:i1], grid, bandwidth_m)
    return surface[grid.study_cells]


PROSPECTIVE_SPACE_BANDWIDTH = 400.0 / 150.0  # open_cp's 400 m (8 cells of 50 m) on 150 m cells


def bjp_weight(t_weeks: Any, s_cells: Any, time_bandwidth: float = 8, space_bandwidth: float = 400 / 150) -> Any:
    """open_cp.prohotspot.ClassicWeight: 1/((1+s)(1+t)) where t < time_bandwidth and s < space_bandwidth."""
    t = np.asarray(t_weeks, float)
    s = np.asarray(s_cells, float)
    return 1.0 / ((1.0 + s) * (1.0 + t)) * ((t < time_bandwidth) & (s < space_bandwidth))


def bjp_stencil(space_bandwidth: float = PROSPECTIVE_SPACE_BANDWIDTH) -> np.ndarray:
    """Spatial factor 1/(1+s) on a (2r+1)^2 stencil, s the Chebyshev ("diagonals same") distance."""
    r = max(math.ceil(space_bandwidth) - 1, 0)
    d = np.arange(-r, r + 1)
    s = np.maximum(np.abs(d)[:, None], np.abs(d)[None, :])
    return bjp_weight(0, s, space_bandwidth=space_bandwidth)


def prospective_hotspot(
    ev: Events,
    grid: Grid,
    start: Any,
    time_bandwidth_weeks: int = 8,
    space_bandwidth: float = PROSPECTIVE_SPACE_BANDWIDTH,
) -> np.ndarray:
    """open_cp ProspectiveHotSpot (ClassicWeight, DistanceDiagonalsSame, time unit one week)."""
    s = day_number(start)
    i0, i1 = ev.span(s - 7 * time_bandwidth_weeks - 1, s)
    # Whole weeks from the event's timestamp (date + hour) to the period start, rounded down.
    hours = 24 * (s - ev.day[i0:i1]) - ev.hour[i0:i1]
    t = np.floor_divide(hours, 24 * 7)
    keep = (t >= 0) & (t < time_bandwidth_weeks)
    per_cell = np.bincount(ev.cell[i0:i1][keep], weights=1.0 / (1.0 + t[keep]), minlength=grid.n_cells)
    # The weight separates into time x space factors, so the sum over events is a stencil correlation.
    surface = ndimage.correlate(per_cell.reshape(grid.shape), bjp_stencil(space_bandwidth), mode="constant")
    return surface.ravel()[grid.study_cells]


# --------------------------------------------------------------------------------------------------
# Shared pieces: separable smoothing and the Poisson fit of a non-negative linear intensity


def gaussian_weights(sigma_cells: float) -> np.ndarray:
    """1-D discrete Gaussian at cell centres (radius ceil(3 sigma)), normalised to sum 1."""
    if sigma_cells <= 0:
        return np.ones(1)
    r = max(1, math.ceil(3 * sigma_cells))
    g = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma_cells) ** 2)
    return g / g.sum()


def smooth(per_cell: np.ndarray, grid: Grid, sigma_cells: float) -> np.ndarray:
    """Per-cell values (all grid cells) convolved with the discrete Gaussian; mass leaving the grid is lost."""
    if sigma_cells <= 0:
        return per_cell
    g = gaussian_weights(sigma_cells)
    # Separable: two 1-D passes cost O(r) per cell instead of O(r^2).
    a = ndimage.correlate1d(per_cell.reshape(grid.shape), g, axis=0, mode="constant")
    return ndimage.correlate1d(a, g, axis=1, mode="constant").ravel()


def fit_poisson_linear(
    x_pos: np.ndarray, y_pos: np.ndarray, totals: np.ndarray, max_iter: int = 3000, tol: float = 1e-10
) -> tuple[np.ndarray, float]:
    """Maximum-likelihood a >= 0 for counts y ~ Poisson(X a), by EM (multiplicative) updates.

    Only the rows with y > 0 enter the log term, so the caller passes those rows (``x_pos``,
    ``y_pos``) and the column sums of X over *all* rows (``totals``): the log-likelihood is
    ``sum y log(x.a) - a.totals``. Columns with a zero total get a zero coefficient.
    """
    k = x_pos.shape[1]
    a = np.zeros(k)
    live = totals > 0
    if not live.any() or y_pos.size == 0:
        return a, 0.0
    x = x_pos[:, live]
    t = totals[live]
    b = np.full(int(live.sum()), y_pos.sum() / t.sum())
    prev = -np.inf
    ll = prev
    for it in range(max_iter):
        lam = np.maximum(x @ b, 1e-300)
        b = b * ((y_pos / lam) @ x) / t
        if it % 25 == 24:
            lam = np.maximum(x @ b, 1e-300)
            ll = float(y_pos @ np.log(lam) - b @ t)
            if abs(ll - prev) <= tol * abs(ll):
                break
            prev = ll
    a[live] = b
    lam = np.maximum(x @ b, 1e-300)
    return a, float(y_pos @ np.log(lam) - b @ t)


def _period_counts(ev: Events, grid: Grid, start: int, length_days: int) -> np.ndarray:
    return np.bincount(period_events(ev, grid, start, length_days), minlength=grid.n_study).astype(float)


# --------------------------------------------------------------------------------------------------
# Self-exciting point process (ETAS / Hawkes style)


@dataclass(frozen=True)
class EtasParams:
    nu: float  # uniform background, events per study cell per day
    mu: float  # multiplier on the smoothed long-term rate (events per day)
    theta: float  # expected number of direct offspring per event (branching ratio)
    omega: float  # triggering decay rate, per day
    sigma_cells: float  # triggering spatial standard deviation, in cells
    bg_sigma_cells: float  # smoothing of the long-term rate, in cells
    bg_window_days: int = 1095
    trigger_days: int = 365  # triggering from older events is negligible for the fitted omegas


def _etas_background(ev: Events, grid: Grid, s: int, length: int, bg_sigma: float, bg_window: int) -> np.ndarray:
    rate = ev.window_counts(s - bg_window, s) / bg_window
    return smooth(rate, grid, bg_sigma)[grid.study_cells] * length


def _etas_trigger(
    ev: Events, grid: Grid, s: int, length: int, omega: float, sigma: float, trigger_days: int
) -> np.ndarray:
    i0, i1 = ev.span(s - trigger_days, s)
    age = s - (ev.day[i0:i1] + ev.hour[i0:i1] / 24.0)  # days from the event to the period start, > 0
    # The kernel omega exp(-omega dt) integrated over [start, start + length).
    w = np.exp(-omega * age) - np.exp(-omega * (age + length))
    per_cell = np.bincount(ev.cell[i0:i1], weights=w, minlength=grid.n_cells)
    return smooth(per_cell, grid, sigma)[grid.study_cells]


def etas(ev: Events, grid: Grid, start: Any, length_days: int, params: EtasParams) -> np.ndarray:
    """Expected count per study cell over [start, start + length_days) given the events before start."""
    s = day_number(start)
    b = _etas_background(ev, grid, s, length_days, params.bg_sigma_cells, params.bg_window_days)
    g = _etas_trigger(ev, grid, s, length_days, params.omega, params.sigma_cells, params.trigger_days)
    return params.nu * length_days + params.mu * b + params.theta * g


def fit_etas(
    ev: Events,
    grid: Grid,
    train_starts: Sequence[Any],
    length_days: int,
    omegas: Sequence[float] = (1.0, 1 / 3, 1 / 7, 1 / 14, 1 / 30, 1 / 90),
    sigmas: Sequence[float] = (0.5, 1.0, 2.0),
    bg_sigmas: Sequence[float] = (0.0, 0.5, 1.0, 2.0),
    bg_window_days: int = 1095,
    trigger_days: int = 365,
) -> EtasParams:
    """Grid search over (omega, sigma, bg_sigma); (nu, mu, theta) by Poisson maximum likelihood.

    The likelihood is that of each training period's cell counts given the history before it
    (expected count = nu L + mu b + theta g), summed over the periods.
    """
    starts = [day_number(s) for s in train_starts]
    n = grid.n_study
    ys = [_period_counts(ev, grid, s, length_days) for s in starts]
    pos = [np.flatnonzero(y) for y in ys]
    y_pos = np.concatenate([y[p] for y, p in zip(ys, pos, strict=True)])
    bgs = {b: [_etas_background(ev, grid, s, length_days, b, bg_window_days) for s in starts] for b in bg_sigmas}
    best: tuple[float, EtasParams] | None = None
    for omega in omegas:
        for sigma in sigmas:
            trig = [_etas_trigger(ev, grid, s, length_days, omega, sigma, trigger_days) for s in starts]
            trig_pos = np.concatenate([t[p] for t, p in zip(trig, pos, strict=True)])
            trig_total = float(sum(t.sum() for t in trig))
            for b in bg_sigmas:
                x_pos = np.column_stack(
                    [
                        np.full(y_pos.size, float(length_days)),
                        np.concatenate([g[p] for g, p in zip(bgs[b], pos, strict=True)]),
                        trig_pos,
                    ]
                )
                totals = np.array([n * length_days * len(starts), sum(g.sum() for g in bgs[b]), trig_total])
                a, ll = fit_poisson_linear(x_pos, y_pos, totals)
                if best is None or ll > best[0]:
                    params = EtasParams(*(float(v) for v in a), omega, sigma, b, bg_window_days, trigger_days)
                    best = (ll, params)
    assert best is not None
    return best[1]


# --------------------------------------------------------------------------------------------------
# Ours: a multi-scale non-negative Poisson intensity model

PREMISES_GROUPS = ("Apartment", "Commercial", "House", "Outside", "Other")  # Transit, Educational -> Other


@dataclass(frozen=True, eq=False)
class History:
    """The events a method may look at, on one grid: all categories, per category, per category x premises."""

    grid: Grid
    everything: Events
    categories: dict[str, Events]
    premises: dict[tuple[str, str], Events]

    def before(self, start: Any) -> History:
        return History(
            self.grid,
            self.everything.before(start),
            {k: v.before(start) for k, v in self.categories.items()},
            {k: v.before(start) for k, v in self.premises.items()},
        )


def make_history(df: pd.DataFrame, grid: Grid) -> History:
    group = df["premises_type"].where(df["premises_type"].isin(PREMISES_GROUPS[:-1]), "Other")
    cats = sorted(set(df["category"]) | set(CATEGORIES))
    categories = {c: make_events(df, grid, c) for c in cats}
    premises = {
        (c, p): make_events(df[(df["category"] == c) & (group == p)], grid) for c in cats for p in PREMISES_GROUPS
    }
    return History(grid, make_events(df, grid), categories, premises)


OURS_WINDOWS = (7, 28, 91, 182, 365, 730, 1095)
# (omega per day, sigma in cells): from a few days' to a season's memory, same cell or spread by a cell.
OURS_TRIGGERS = tuple((omega, sigma) for omega in (1 / 3, 1 / 14, 1 / 30, 1 / 90) for sigma in (0.0, 1.0))


def ours_components(hist: History, category: str, start: Any, length_days: int) -> tuple[np.ndarray, list[str]]:
    """Non-negative intensity components per study cell (columns) for the period at ``start``.

    Every component is built from events strictly before ``start``: per-day rates of the category
    and of all categories over nested windows and the whole history (raw and Gaussian-smoothed at
    1 and 2 cells), exponential triggering kernels integrated over the period (ETAS-style, several
    decays / spatial spreads), the category's rates split by premises type, the other categories'
    long-run rates, and the prospective and retrospective scores.
    """
    grid = hist.grid
    s = day_number(start)
    study = grid.study_cells
    h0 = day_number(HISTORY_START)
    cols: list[np.ndarray] = []
    names: list[str] = []

    def add(name: str, per_cell: np.ndarray, sigmas: tuple[float, ...] = ()) -> None:
        cols.append(per_cell[study])
        names.append(name)
        for sg in sigmas:
            cols.append(smooth(per_cell, grid, sg)[study])
            names.append(f"{name}_g{sg:g}")

    ev_cat = hist.categories[category]
    for tag, ev in (("cat", ev_cat), ("all", hist.everything)):
        for w in OURS_WINDOWS:
            add(f"{tag}_{w}d", ev.window_counts(s - w, s) / w, (1.0, 2.0) if w in (365, 1095) else ())
        add(f"{tag}_hist", ev.window_counts(h0, s) / max(s - h0, 1), (1.0, 2.0))
    for omega, sigma in OURS_TRIGGERS:
        cols.append(_etas_trigger(ev_cat, grid, s, length_days, omega, sigma, 365))
        names.append(f"trigger_{1 / omega:.0f}d_s{sigma:g}")
    for p in PREMISES_GROUPS:
        ev = hist.premises[(category, p)]
        for w in (365, 1095):
            add(f"cat_{p}_{w}d", ev.window_counts(s - w, s) / w)
        add(f"cat_{p}_hist", ev.window_counts(h0, s) / max(s - h0, 1))
    for other in CATEGORIES:
        if other != category and other in hist.categories:
            ev = hist.categories[other]
            add(f"{other}_1095d", ev.window_counts(s - 1095, s) / 1095)
            add(f"{other}_hist", ev.window_counts(h0, s) / max(s - h0, 1))
    cols.append(prospective_hotspot(ev_cat, grid, s))
    names.append("prospective")
    cols.append(retro_hotspot(ev_cat, grid, s))
    names.append("retrospective")
    return np.column_stack(cols), names


@dataclass(frozen=True)
class OursModel:
    category: str
    length_days: int
    names: tuple[str, ...]
    coef: np.ndarray  # per component, >= 0
    constant: float  # uniform rate per study cell per period
    loglik: float
    n_periods: int
    # Coverage-aware second tier (see ``rank_tiers``): cells below the top ``tier_coverage`` are
    # ranked by intensity + ``blend`` x the category's raw whole-history rate (both scaled to mean 1).
    blend: float = 0.0
    tier_coverage: float = 0.01

    def weights(self) -> dict[str, float]:
        """Non-zero component weights, largest first (interpretation aid)."""
        pairs = sorted(zip(self.names, self.coef, strict=True), key=lambda p: -p[1])
        return {n: float(c) for n, c in pairs if c > 0}


OURS_BLENDS = (0.0, 0.1, 0.25, 0.5, 1.0)  # candidate second-tier weights, chosen on the training periods
OURS_BLEND_COVERAGE = 0.05  # the coverage the second tier is tuned for
OURS_BLEND_PERIODS = 52  # at most this many (evenly spaced) training periods choose the blend: memory


def rank_tiers(intensity: np.ndarray, raw_rate: np.ndarray, blend: float, tier_coverage: float) -> np.ndarray:
    """Priority score: the top ``tier_coverage`` cells by intensity first (in intensity order), then the
    rest by intensity + ``blend`` x raw rate, each scaled to mean 1.

    The Poisson intensity is the best ordering for the sharpest hotspots (1 %), but at wider coverage the
    marginal cells are better told apart by the raw long-run counts (Toronto geocodes to intersections, so
    counts pile up on exact points that the smoothed components blur). Nesting keeps the 1 % set unchanged
    and gives one consistent ranking (a patrol priority list) rather than a separate map per coverage.
    """
    n = intensity.size
    k = min(n, math.ceil(round(tier_coverage * n, 9)))

    def unit(v: np.ndarray) -> np.ndarray:
        m = float(v.mean())
        return v / m if m > 0 else v

    second = unit(intensity) + blend * unit(raw_rate)
    if k == 0:
        return second
    top = np.argsort(-intensity, kind="stable")[:k]
    score = second.copy()
    # Above every second-tier score; +rank keeps the intensity order within the top tier.
    score[top] = float(second.max()) + 1.0 + np.arange(k, 0, -1, dtype=float)
    return score


def _raw_rate(hist: History, category: str, s: int) -> np.ndarray:
    h0 = day_number(HISTORY_START)
    return hist.categories[category].window_counts(h0, s)[hist.grid.study_cells] / max(s - h0, 1)


def _hit_share(scores: Sequence[np.ndarray], counts: Sequence[np.ndarray], coverage: float) -> float:
    n = scores[0].size
    k = min(n, math.ceil(round(coverage * n, 9)))
    hits = sum(float(y[np.argsort(-r, kind="stable")[:k]].sum()) for r, y in zip(scores, counts, strict=True))
    total = sum(float(y.sum()) for y in counts)
    return hits / total if total else 0.0


def fit_ours(
    hist: History,
    category: str,
    train_starts: Sequence[Any],
    length_days: int,
    blends: Sequence[float] = OURS_BLENDS,
    tier_coverage: float = 0.01,
) -> OursModel:
    """Poisson ML fit (identity link, non-negative weights) of the period counts on the components,
    then the second-tier blend (``rank_tiers``) that maximises the hit rate at 5 % on the same
    training periods (ties go to the smaller blend; 0 = pure intensity).

    A sum of non-negative kernels is itself a point-process intensity: the fit learns how much of
    the rate is long-run place effect (at which spatial scale, from which premises and categories)
    and how much is recent, near-repeat excitation.
    """
    x_pos, y_pos, totals = [], [], None
    names: list[str] = []
    starts = [day_number(s) for s in train_starts]
    step = max(1, math.ceil(len(starts) / OURS_BLEND_PERIODS))
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (components, counts, raw rate) to pick the blend
    for i, start in enumerate(starts):
        x, names = ours_components(hist, category, start, length_days)
        y = _period_counts(hist.categories[category], hist.grid, start, length_days)
        pos = y > 0
        x_pos.append(np.column_stack([np.ones(int(pos.sum())), x[pos]]))
        y_pos.append(y[pos])
        col_sums = np.concatenate([[float(x.shape[0])], x.sum(axis=0)])
        totals = col_sums if totals is None else totals + col_sums
        if len(blends) > 1 and (len(starts) - 1 - i) % step == 0:  # the latest periods are always kept
            kept.append((x.astype(np.float32), y, _raw_rate(hist, category, start)))
    assert totals is not None, "at least one training period is needed"
    a, ll = fit_poisson_linear(np.concatenate(x_pos), np.concatenate(y_pos), totals)
    coef, constant = a[1:], float(a[0])
    blend = float(blends[0]) if blends else 0.0
    if kept:
        lam = [x @ coef.astype(np.float32) + constant for x, _, _ in kept]
        counts = [y for _, y, _ in kept]
        share = {
            b: _hit_share([rank_tiers(m, r, b, tier_coverage) for m, (_, _, r) in zip(lam, kept, strict=True)],
                          counts, OURS_BLEND_COVERAGE)
            for b in sorted(blends)
        }
        blend = max(share, key=lambda b: (share[b], -b))
    return OursModel(category, length_days, tuple(names), coef, constant, ll, len(starts), blend, tier_coverage)


def predict_ours_intensity(model: OursModel, hist: History, start: Any) -> np.ndarray:
    """Expected count per study cell over the period (the fitted Poisson intensity)."""
    x, _ = ours_components(hist, model.category, start, model.length_days)
    return x @ model.coef + model.constant


def predict_ours(model: OursModel, hist: History, start: Any) -> np.ndarray:
    """Priority score per study cell (higher = flag first): the intensity, tiered by ``rank_tiers``.

    With ``blend == 0`` this orders cells exactly as the intensity does.
    """
    lam = predict_ours_intensity(model, hist, start)
    if model.blend == 0.0:
        return lam
    return rank_tiers(lam, _raw_rate(hist, model.category, day_number(start)), model.blend, model.tier_coverage)
