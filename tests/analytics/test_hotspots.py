"""Hotspot prediction: evaluation arithmetic, open_cp kernels on toy grids, no leakage, grid, real data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from zhihui.analytics import hotspots as hs
from zhihui.core.config import shared_data

DATA = shared_data("toronto_mci_2014_2021.csv.gz")


def toy_grid(nx: int = 5, ny: int = 5) -> hs.Grid:
    """150 m cells from (0, 0), every cell in the study area."""
    return hs.Grid(hs.Projection(43.7, -79.4), 0.0, 0.0, 150.0, nx, ny, np.ones(nx * ny, dtype=bool))


def toy_events(grid: hs.Grid, points: list[tuple[float, float, int, int]]) -> hs.Events:
    """Events from (x, y, day, hour) tuples, in the grid's metres."""
    x = np.array([p[0] for p in points], float)
    y = np.array([p[1] for p in points], float)
    day = np.array([p[2] for p in points], np.int64)
    hour = np.array([p[3] for p in points], np.int64)
    order = np.lexsort((hour, day))
    cell = grid.cell_of_xy(x, y)
    return hs.Events(day[order], hour[order], cell[order], x[order], y[order], grid.n_cells)


# --- evaluate -----------------------------------------------------------------------------------


def test_evaluate_ties_go_to_lower_cell_and_periods_are_summed() -> None:
    # Period 1: cells 1 and 2 tie at the top; period 2: all tie (cells 0, 1, 2 ... come first).
    r1 = np.array([0, 5, 5, 1, 0, 0, 0, 0, 0, 0], float)
    r2 = np.zeros(10)
    e1 = np.array([2, 2, 1, 7, 3])
    e2 = np.array([0, 9, -1])  # -1: outside the study area, not counted
    res = hs.evaluate([r1, r2], [e1, e2], coverages=(0.1, 0.2, 0.25))
    assert res["events"] == 7 and res["n_periods"] == 2 and res["n_cells"] == 10
    # 10 %: 1 cell -> cell 1 (1 hit of 5), then cell 0 (1 hit of 2): 2/7, not the mean (1/5 + 1/2)/2.
    assert res["hits"] == {0.1: 2, 0.2: 4, 0.25: 5}
    assert res["hit_rate"][0.1] == pytest.approx(2 / 7)
    assert res["pai"][0.1] == pytest.approx((2 / 7) / 0.1)
    # 20 %: cells {1, 2} (3 hits) and {0, 1} (1 hit); 25 %: ceil(2.5) = 3 cells, {1, 2, 3} and {0, 1, 2}.
    assert res["pai"][0.2] == pytest.approx((4 / 7) / 0.2)
    assert res["pai"][0.25] == pytest.approx((5 / 7) / 0.25)


def test_evaluate_prefers_higher_risk_and_rejects_bad_input() -> None:
    risk = np.array([0.1, 0.2, 0.9, 0.3])
    res = hs.evaluate([risk], [np.array([2, 2, 0])], coverages=(0.25, 0.5, 1.0))
    assert res["hits"] == {0.25: 2, 0.5: 2, 1.0: 3}
    assert res["pai"][1.0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        hs.evaluate([np.array([np.nan, 1.0])], [np.array([0])])
    with pytest.raises(ValueError):
        hs.evaluate([risk], [])


# --- open_cp kernels ------------------------------------------------------------------------------


def test_quartic_values() -> None:
    np.testing.assert_allclose(hs.quartic([0, 100, 150, 200, 250], 200.0), [1, 0.5625, 0.19140625, 0, 0])


def test_retro_hotspot_on_a_toy_grid() -> None:
    g = toy_grid()
    start = 1000
    # Centre of cell (1, 1) = id 6; a point on the (1,1)/(2,1) edge, which floor() puts in cell 7;
    # one 56 days back (inside the window) and one 57 days back (outside).
    ev = toy_events(g, [(225, 225, start - 1, 3), (300, 225, start - 56, 0), (1000, 1000, start - 57, 0)])
    risk = hs.retro_hotspot(ev, g, start).reshape(5, 5)
    w75 = (1 - (75 / 200) ** 2) ** 2
    w150 = (1 - (150 / 200) ** 2) ** 2
    assert risk[1, 1] == pytest.approx(1 + w75)  # its own point at 0 m, the edge point at 75 m
    assert risk[1, 2] == pytest.approx(w150 + w75)  # centre (375, 225)
    assert risk[1, 0] == pytest.approx(w150)  # centre (75, 225): 150 m / 225 m away
    # Centre (375, 375): 212 m from the first point (beyond h), 168 m from the edge point.
    assert risk[2, 2] == pytest.approx((1 - (math.hypot(75, 150) / 200) ** 2) ** 2)
    assert risk[1, 3] == pytest.approx(0.0)  # centre (525, 225): 300 m and 225 m
    assert risk[4, 4] == 0.0  # the 57-day-old event is out of the window


def test_bjp_weights_and_stencil() -> None:
    sb = 400 / 150
    assert hs.bjp_weight(0, 0, space_bandwidth=sb) == pytest.approx(1.0)
    assert hs.bjp_weight(1, 2, space_bandwidth=sb) == pytest.approx(1 / 6)
    assert hs.bjp_weight(7, 2, space_bandwidth=sb) == pytest.approx(1 / 24)
    assert hs.bjp_weight(8, 0, space_bandwidth=sb) == 0.0  # t < 8 weeks only
    assert hs.bjp_weight(0, 3, space_bandwidth=sb) == 0.0  # 3 cells > 400 m / 150 m
    assert hs.bjp_weight(0, 3, space_bandwidth=4) == pytest.approx(1 / 4)
    k = hs.bjp_stencil(sb)
    assert k.shape == (5, 5)
    assert k[2, 2] == 1.0 and k[0, 0] == pytest.approx(1 / 3) and k[1, 3] == pytest.approx(1 / 2)


def test_prospective_hotspot_on_a_toy_grid() -> None:
    g = toy_grid()
    s = 1000
    c22, c42 = (375, 375), (675, 375)  # centres of cells (ix, iy) = (2, 2) and (4, 2)
    ev = toy_events(
        g,
        [
            (*c22, s - 3, 0),  # 72 h -> t = 0
            (*c22, s - 7, 12),  # 156 h -> t = 0 (whole weeks from the timestamp)
            (*c22, s - 7, 0),  # 168 h -> t = 1
            (*c42, s - 20, 0),  # 480 h -> t = 2
            (*c42, s - 56, 5),  # 1339 h -> t = 7
            (*c42, s - 56, 0),  # 1344 h -> t = 8: dropped
            (*c42, s, 1),  # on the start day: not history
        ],
    )
    risk = hs.prospective_hotspot(ev, g, s).reshape(5, 5)
    at_c42 = 1 / 3 + 1 / 8
    assert risk[2, 2] == pytest.approx(1 + 1 + 1 / 2 + at_c42 / 3)  # c42 is 2 cells away
    assert risk[3, 3] == pytest.approx((1 + 1 + 1 / 2) / 2 + at_c42 / 2)  # both 1 cell away (diagonals same)
    assert risk[2, 0] == pytest.approx((1 + 1 + 1 / 2) / 3)  # 2 cells from c22, 4 from c42 (beyond)
    assert risk[2, 4] == pytest.approx((1 + 1 + 1 / 2) / 3 + at_c42)


# --- leakage ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic() -> tuple[pd.DataFrame, hs.Grid, hs.History]:
    rng = np.random.default_rng(7)
    n = 6000
    centres = rng.uniform([43.70, -79.42], [43.73, -79.38], size=(40, 2))
    pick = rng.integers(0, 40, n)
    lat = centres[pick, 0] + rng.normal(0, 0.001, n)
    lon = centres[pick, 1] + rng.normal(0, 0.0015, n)
    days = np.datetime64("2014-01-01") + rng.integers(0, 6 * 365, n).astype("timedelta64[D]")
    df = pd.DataFrame(
        {
            "date": days.astype("datetime64[D]"),
            "hour": rng.integers(0, 24, n),
            "category": rng.choice(list(hs.CATEGORIES), n),
            "premises_type": rng.choice(["House", "Commercial", "Outside", "Transit"], n),
            "lat": lat,
            "lon": lon,
        }
    )
    grid = hs.build_grid(df)
    return df, grid, hs.make_history(df, grid)


def test_no_method_sees_the_period_or_later(synthetic: tuple[pd.DataFrame, hs.Grid, hs.History]) -> None:
    df, grid, _ = synthetic
    cat = "Break and Enter"
    start = hs.day_number("2019-03-04")
    # A burst on the start day and after it, at places with history, so any leak would show.
    burst = df[df["category"] == cat].sample(40, random_state=3).copy()
    burst["date"] = np.datetime64("2019-03-04") + np.tile([0, 0, 1, 3, 9], 8).astype("timedelta64[D]")
    hist = hs.make_history(pd.concat([df, burst], ignore_index=True), grid)
    ev = hist.categories[cat]
    train = [hs.day_number("2018-06-04") + 7 * k for k in range(8)]
    etas_p = hs.fit_etas(ev, grid, train, 7, omegas=(1 / 7, 1 / 30), sigmas=(1.0,), bg_sigmas=(0.0, 1.0))
    ours = hs.fit_ours(hist, cat, train, 7)
    cut = hist.before(start)
    assert len(cut.categories[cat]) < len(ev)

    def risks(h: hs.History, s: int) -> dict[str, np.ndarray]:
        e = h.categories[cat]
        return {
            "naive": hs.naive_counts(e, grid, s),
            "retro": hs.retro_hotspot(e, grid, s),
            "prospective": hs.prospective_hotspot(e, grid, s),
            "etas": hs.etas(e, grid, s, 7, etas_p),
            "ours": hs.predict_ours(ours, h, s),
        }

    full, truncated = risks(hist, start), risks(cut, start)
    # Every component of ours, not just those the fit happened to weight.
    full["ours_components"] = hs.ours_components(hist, cat, start, 7)[0]
    truncated["ours_components"] = hs.ours_components(cut, cat, start, 7)[0]
    for name in full:
        assert np.all(np.isfinite(full[name])), name
        np.testing.assert_allclose(full[name], truncated[name], rtol=1e-12, atol=0, err_msg=name)
    # Positive control: the day before the start does matter (the comparison above can fail).
    earlier = risks(hist.before(start - 1), start)
    assert not np.allclose(full["naive"], earlier["naive"]) or not np.allclose(full["ours"], earlier["ours"])


def test_training_uses_only_its_periods(synthetic: tuple[pd.DataFrame, hs.Grid, hs.History]) -> None:
    _, _, hist = synthetic
    cat = "Assault"
    train = [hs.day_number("2018-01-01") + 7 * k for k in range(6)]
    end = train[-1] + 7
    a = hs.fit_ours(hist, cat, train, 7)
    b = hs.fit_ours(hist.before(end), cat, train, 7)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9, atol=1e-15)


# --- grid ---------------------------------------------------------------------------------------


def test_cell_of_round_trips_and_rejects_outside(synthetic: tuple[pd.DataFrame, hs.Grid, hs.History]) -> None:
    _, grid, _ = synthetic
    cells = np.random.default_rng(1).integers(0, grid.n_cells, 500)
    lat, lon = grid.centre_latlon(cells)
    np.testing.assert_array_equal(grid.cell_of(lat, lon), cells)
    x, y = grid.centre_xy(cells)
    np.testing.assert_array_equal(grid.cell_of_xy(x + 0.49 * grid.cell_m, y - 0.49 * grid.cell_m), cells)
    lat0, lon0 = grid.centre_latlon([0])
    outside = grid.cell_of([lat0[0] - 0.01, np.nan, 50.0], [lon0[0], -79.4, -79.4])
    np.testing.assert_array_equal(outside, [-1, -1, -1])
    # 150 m cells are 150 m on the ground (haversine between neighbouring centres).
    la, lo = grid.centre_latlon([grid.nx * 3 + 3, grid.nx * 3 + 4, grid.nx * 4 + 3])
    r = 6371008.8
    east = r * math.radians(lo[1] - lo[0]) * math.cos(math.radians(la[0]))
    north = r * math.radians(la[2] - la[0])
    assert east == pytest.approx(150, rel=0.005) and north == pytest.approx(150, rel=0.005)


def test_study_area_is_the_cells_with_2014_2016_events(synthetic: tuple[pd.DataFrame, hs.Grid, hs.History]) -> None:
    df, _, _ = synthetic
    # A far-away cluster seen only from 2017 on must stay outside the study area.
    late = pd.DataFrame(
        {"date": np.array(["2017-05-01", "2019-02-01"], dtype="datetime64[D]"), "hour": [1, 2],
         "category": ["Robbery", "Robbery"], "premises_type": ["Outside", "Outside"],
         "lat": [43.76, 43.76], "lon": [-79.30, -79.30]}
    )
    both = pd.concat([df, late], ignore_index=True)
    grid = hs.build_grid(both)
    years = pd.DatetimeIndex(both["date"]).year
    cells = grid.cell_of(both["lat"], both["lon"])
    expected = np.unique(cells[(years >= 2014) & (years <= 2016)])
    np.testing.assert_array_equal(grid.study_cells, expected)
    assert not grid.study[grid.cell_of([43.76], [-79.30])[0]]
    assert grid.study_index[grid.study_cells[5]] == 5 and grid.n_study == expected.size


def test_load_drops_rows_without_coordinates(tmp_path) -> None:
    p = tmp_path / "mci.csv"
    p.write_text(
        "date,hour,category,premises_type,neighbourhood,lat,lon\n"
        "2015-01-02,3,Assault,House,A,43.70,-79.40\n"
        "2015-01-03,4,Robbery,Outside,B,0,0\n"
        "2015-01-04,5,Robbery,Outside,B,,\n"
        "1999-05-04,6,Theft Over,Commercial,C,43.71,-79.41\n"
    )
    df = hs.load_toronto(p)
    assert len(df) == 2 and df.attrs["rows_dropped_coords"] == 2 and df.attrs["rows_before_2014"] == 1
    days = df["date"].to_numpy().astype("datetime64[D]")
    np.testing.assert_array_equal(days, np.array(["2015-01-02", "1999-05-04"], dtype="datetime64[D]"))
    assert (df["date"].to_numpy() == days).all()  # day resolution: midnights only
    assert {"x", "y", "category", "lat", "lon"} <= set(df.columns)


# --- real data ----------------------------------------------------------------------------------


@pytest.mark.skipif(DATA is None, reason="shared data file toronto_mci_2014_2021.csv.gz is missing")
def test_real_toronto_slice_all_methods_finite_and_naive_beats_random() -> None:
    assert DATA is not None
    df = hs.load_toronto(DATA)
    grid = hs.build_grid(df)
    hist = hs.make_history(df, grid)
    cat = "Break and Enter"
    ev = hist.categories[cat]
    starts = [hs.day_number("2019-01-07") + 7 * k for k in range(4)]
    train = [hs.day_number("2018-09-03") + 7 * k for k in range(8)]
    etas_p = hs.fit_etas(ev, grid, train, 7, omegas=(1 / 30,), sigmas=(1.0,), bg_sigmas=(0.0,))
    ours = hs.fit_ours(hist, cat, train, 7)
    methods = {
        "naive": lambda s: hs.naive_counts(ev, grid, s),
        "retro": lambda s: hs.retro_hotspot(ev, grid, s),
        "prospective": lambda s: hs.prospective_hotspot(ev, grid, s),
        "etas": lambda s: hs.etas(ev, grid, s, 7, etas_p),
        "ours": lambda s: hs.predict_ours(ours, hist, s),
    }
    events = [hs.period_events(ev, grid, s, 7) for s in starts]
    assert sum(e.size for e in events) > 300
    pai = {}
    for name, f in methods.items():
        risks = [f(s) for s in starts]
        assert all(r.shape == (grid.n_study,) and np.all(np.isfinite(r)) for r in risks), name
        pai[name] = hs.evaluate(risks, events)["pai"][0.01]
    assert pai["naive"] > 3, pai
    assert all(v > 2 for v in pai.values()), pai


# --- ours: coverage-aware tiers -------------------------------------------------------------------


def test_rank_tiers_keeps_the_top_tier_and_reorders_the_rest() -> None:
    intensity = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.4, 0.3, 0.2, 0.1])
    raw = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 9.0])  # cell 9: a long-run hot point
    top = lambda v, k: list(np.argsort(-v, kind="stable")[:k])  # noqa: E731
    plain = hs.rank_tiers(intensity, raw, 0.0, 0.2)
    assert top(plain, 10) == top(intensity, 10)  # blend 0 = the intensity's order
    tiered = hs.rank_tiers(intensity, raw, 1.0, 0.2)
    assert top(tiered, 2) == [0, 1]  # the top 20 % (2 cells) stays, in intensity order ...
    assert top(tiered, 3) == [0, 1, 9]  # ... and the raw hot point leads the second tier
    # Even a huge blend cannot push a second-tier cell above the top tier.
    assert top(hs.rank_tiers(intensity, raw * 1e6, 1.0, 0.2), 2) == [0, 1]


def test_fit_ours_picks_a_blend_from_its_candidates(synthetic: tuple[pd.DataFrame, hs.Grid, hs.History]) -> None:
    _, grid, hist = synthetic
    cat = "Robbery"
    train = [hs.day_number("2018-01-01") + 7 * k for k in range(6)]
    m = hs.fit_ours(hist, cat, train, 7, blends=(0.0, 0.5))
    assert m.blend in (0.0, 0.5) and m.tier_coverage == 0.01
    s = hs.day_number("2018-03-05")
    lam = hs.predict_ours_intensity(m, hist, s)
    score = hs.predict_ours(m, hist, s)
    assert score.shape == lam.shape == (grid.n_study,) and np.all(np.isfinite(score))
    k = math.ceil(0.01 * grid.n_study)
    # Whatever the blend, the 1 % set is the intensity's.
    assert set(np.argsort(-score, kind="stable")[:k]) == set(np.argsort(-lam, kind="stable")[:k])
    # No candidates but 0: the score is the intensity itself.
    m0 = hs.fit_ours(hist, cat, train, 7, blends=(0.0,))
    np.testing.assert_allclose(hs.predict_ours(m0, hist, s), hs.predict_ours_intensity(m0, hist, s))
