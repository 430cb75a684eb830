"""The GENERATED series of solved cases (zhihui.sim.series): determinism and the stated realism bands."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from zhihui.incidents.categories import categories
from zhihui.sim.series import DEFAULT_BBOX, SeriesKnobs, generate_cases, generate_offenders

pytestmark = pytest.mark.dbfree

N = 300


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    return generate_cases(5, N)


@pytest.fixture(scope="module")
def joined(cases: pd.DataFrame) -> pd.DataFrame:
    off = generate_offenders(5, N).set_index("offender_id")
    return cases.join(off, on="offender_id", rsuffix="_habit")


def _dist_m(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    kx = 111_195.0 * math.cos(math.radians(22.53))
    return np.hypot((a["lon"].to_numpy() - b["lon"].to_numpy()) * kx, (a["lat"].to_numpy() - b["lat"].to_numpy())
                    * 111_195.0)


def test_deterministic_for_a_seed() -> None:
    a, b = generate_cases(11, 40), generate_cases(11, 40)
    pd.testing.assert_frame_equal(a, b)
    c = generate_cases(12, 40)
    assert not a[["lat", "lon"]].equals(c[["lat", "lon"]].iloc[: len(a)].reset_index(drop=True))


def test_fields_are_well_formed(cases: pd.DataFrame) -> None:
    tree = categories()
    assert set(cases["category"]) <= set(tree.nodes)
    assert {"010501", "010504", "010506"} <= set(cases["category"])
    assert str(cases["at"].dt.tz) == "UTC" and cases["at"].is_monotonic_increasing
    assert cases["case_id"].is_unique and list(cases["case_id"]) == sorted(cases["case_id"])
    lat_min, lon_min, lat_max, lon_max = DEFAULT_BBOX
    assert cases["lat"].between(lat_min, lat_max).all() and cases["lon"].between(lon_min, lon_max).all()
    assert (cases["text"].str.count(r"[\u4e00-\u9fff]") >= 20).all()
    # Varied phrasing: far more distinct descriptions than distinct (premises, entry, targets) combinations.
    assert cases["text"].nunique() == len(cases)
    assert {"住宅", "商铺", "写字楼", "车辆"} <= set(cases["premises"])


def test_one_off_offenders_and_prolific_ones(cases: pd.DataFrame) -> None:
    sizes = cases.groupby("offender_id").size()
    assert len(sizes) == N
    assert 0.3 <= (sizes == 1).mean() <= 0.5
    assert sizes.max() >= 15


def test_offenders_cluster_in_space_more_than_random_pairs(cases: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    first = cases.groupby("offender_id").head(1).set_index("offender_id")
    others = cases[~cases["case_id"].isin(cases.groupby("offender_id").head(1)["case_id"])]
    within = _dist_m(others, first.loc[others["offender_id"]])
    i, j = rng.integers(0, len(cases), 5000), rng.integers(0, len(cases), 5000)
    keep = cases["offender_id"].to_numpy()[i] != cases["offender_id"].to_numpy()[j]
    between = _dist_m(cases.iloc[i[keep]], cases.iloc[j[keep]])
    assert np.median(within) < 0.7 * np.median(between)
    # …but not trivially: plenty of an offender's cases are further apart than a typical unrelated pair.
    assert (within > np.median(between)).mean() > 0.1


def test_mo_is_consistent_but_noisy_within_the_stated_band(joined: pd.DataFrame) -> None:
    big = joined[joined["n_cases"] >= 5]
    dev = {
        "premises": (big["premises"] != big["premises_habit"]).mean(),
        "entry": (big["entry"] != big["entry_habit"]).mean(),
        # a case keeps its target habit when it holds the habitual items (it may add one more)
        "targets": np.mean([not set(h.split("、")) <= set(c.split("、"))
                            for c, h in zip(big["targets"], big["targets_habit"], strict=True)]),
    }
    for attr, share in dev.items():
        assert 0.20 <= share <= 0.40, (attr, share)
    k = SeriesKnobs()
    assert k.deviation_range == (0.2, 0.4)
    assert big["p_deviate"].between(*k.deviation_range).all()
    # Same-offender pairs agree on entry method far more often than pairs of different offenders.
    off = big["offender_id"].to_numpy()
    ent = big["entry"].to_numpy()
    i, j = np.triu_indices(len(big), k=1)
    same = off[i] == off[j]
    agree = ent[i] == ent[j]
    assert agree[same].mean() > 2 * agree[~same].mean()
    hour = np.abs(big["local_hour"] - big["hour"])
    assert 0.5 <= (np.minimum(hour, 24 - hour) <= 3).mean() <= 0.9


def test_popular_mos_and_areas_are_shared() -> None:
    off = generate_offenders(5, N)
    top_mo = off.groupby(["premises", "entry"]).size().max() / len(off)
    assert top_mo >= 0.06  # the most popular habit is held by many offenders
    assert 0.45 <= (off["area"] >= 0).mean() <= 0.75
    assert off[off["area"] >= 0].groupby("area").size().max() >= 0.15 * len(off)


def test_time_comes_in_bursts_with_gaps(cases: pd.DataFrame) -> None:
    by = cases.sort_values(["offender_id", "at"])
    gaps = (by.groupby("offender_id")["at"].diff().dt.total_seconds() / 86_400).dropna()
    # Sprees with lulls between: far burstier than a Poisson process (coefficient of variation 1).
    assert gaps.std() / gaps.mean() > 1.4
    assert gaps.median() < 10 and (gaps < 2).mean() > 0.1 and (gaps > 30).mean() > 0.1


def test_snaps_to_places_and_names_them() -> None:
    lat_min, lon_min, lat_max, lon_max = DEFAULT_BBOX
    places = [  # a grid of compounds every ~500 m, every fourth an office tower
        {"name": f"测试{k}{'大厦' if k % 4 == 0 else '花园'}", "kind": "place",
         "category": "写字楼" if k % 4 == 0 else "住宅小区", "lat": lat, "lon": lon, "road": "福华路",
         "house_number": 2 * k + 1, "community": "福华社区"}
        for k, (lat, lon) in enumerate((lat, lon) for lat in np.linspace(lat_min, lat_max, 8)
                                       for lon in np.linspace(lon_min, lon_max, 9))
    ]
    df = generate_cases(3, 80, places=places, bbox=DEFAULT_BBOX)
    snapped = df[df["place"] != ""]
    assert len(snapped) > 0.3 * len(df)
    named = snapped[snapped["premises"].isin(["住宅", "车棚", "楼道", "写字楼"])]
    assert len(named) > 5 and all(row.place in row.text for row in named.itertuples())
    ref = pd.DataFrame([{"lat": next(p["lat"] for p in places if p["name"] == n),
                         "lon": next(p["lon"] for p in places if p["name"] == n)} for n in snapped["place"]])
    assert (_dist_m(snapped.reset_index(drop=True), ref) <= 60).all()
