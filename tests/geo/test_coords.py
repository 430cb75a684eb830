"""WGS-84 / GCJ-02 / BD-09 conversion: published reference values, round trips, no shift abroad."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhihui.geo.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    haversine_m,
    out_of_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

DEG_TOL = 1e-6  # ≈ 0.1 m

# (wgs_lat, wgs_lon, gcj_lat, gcj_lon)
WGS_GCJ_REFERENCE = [
    # googollee/eviltransform, python/test.py `TESTS` (same vectors in its C/Go/JS/PHP ports).
    pytest.param(31.1774276, 121.5272106, 31.17530398364597, 121.531541859215, id="shanghai-eviltransform"),
    pytest.param(22.543847, 113.912316, 22.540796131694766, 113.9171764808363, id="shenzhen-eviltransform"),
    pytest.param(39.911954, 116.377817, 39.91334545536069, 116.38404722455657, id="beijing-eviltransform"),
    # wandergis/coordtransform, test/app.js (wgs84togcj02(116.404, 39.915), Tiananmen); the same value is
    # asserted in dromara/hutool CoordinateUtilTest.wgs84ToGcj02Test.
    pytest.param(39.915, 116.404, 39.91640428150164, 116.41024449916938, id="tiananmen-coordtransform"),
]

# (wgs_lat, wgs_lon, bd_lat, bd_lon)
WGS_BD_REFERENCE = [
    # dromara/hutool CoordinateUtilTest.wgs84toBd09Test (reference: wandergis/coordtransform).
    pytest.param(39.915, 116.404, 39.922699552216216, 116.41662724378733, id="tiananmen-hutool"),
    # dromara/hutool CoordinateUtilTest.wgs84toBd09Test2 (values checked there against https://tool.lu/coordinate/).
    pytest.param(44.99804071, 122.99395597, 45.0063690918959, 123.00636516028885, id="jilin-hutool-toollu"),
]

OUTSIDE_CHINA = [
    pytest.param(48.8566, 2.3522, id="paris"),
    pytest.param(-33.8688, 151.2093, id="sydney"),
    pytest.param(35.68, 139.69, id="tokyo"),  # east of lon 137.8347, so outside the rectangle
    pytest.param(40.7128, -74.0060, id="new-york"),
]

ALL_CONVERSIONS = [
    wgs84_to_gcj02,
    gcj02_to_wgs84,
    gcj02_to_bd09,
    bd09_to_gcj02,
    wgs84_to_bd09,
    bd09_to_wgs84,
]

china_lat = st.floats(min_value=18.0, max_value=53.0, allow_nan=False, allow_infinity=False)
china_lon = st.floats(min_value=74.0, max_value=134.0, allow_nan=False, allow_infinity=False)


# ── published reference values ──────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), WGS_GCJ_REFERENCE)
def test_wgs84_to_gcj02_matches_published_values(wgs_lat, wgs_lon, gcj_lat, gcj_lon):
    lat, lon = wgs84_to_gcj02(wgs_lat, wgs_lon)
    assert lat == pytest.approx(gcj_lat, abs=DEG_TOL)
    assert lon == pytest.approx(gcj_lon, abs=DEG_TOL)


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), WGS_GCJ_REFERENCE)
def test_gcj02_to_wgs84_recovers_published_wgs_point(wgs_lat, wgs_lon, gcj_lat, gcj_lon):
    # eviltransform's own `gcj2wgs_exact` test only asks for < 0.5 m; the iteration does far better.
    lat, lon = gcj02_to_wgs84(gcj_lat, gcj_lon)
    assert haversine_m(lat, lon, wgs_lat, wgs_lon) < 0.01


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "bd_lat", "bd_lon"), WGS_BD_REFERENCE)
def test_wgs84_to_bd09_matches_published_values(wgs_lat, wgs_lon, bd_lat, bd_lon):
    lat, lon = wgs84_to_bd09(wgs_lat, wgs_lon)
    assert lat == pytest.approx(bd_lat, abs=DEG_TOL)
    assert lon == pytest.approx(bd_lon, abs=DEG_TOL)
    back = bd09_to_wgs84(bd_lat, bd_lon)
    assert haversine_m(*back, wgs_lat, wgs_lon) < 0.01


def test_gcj02_bd09_match_coordtransform_values():
    # wandergis/coordtransform test/app.js: gcj02tobd09(116.404, 39.915) and bd09togcj02(116.404, 39.915).
    lat, lon = gcj02_to_bd09(39.915, 116.404)
    assert lat == pytest.approx(39.92133699351021, abs=DEG_TOL)
    assert lon == pytest.approx(116.41036949371029, abs=DEG_TOL)
    # Their bd09togcj02 is the one-step approximation; ours is refined to the exact inverse, which
    # differs from it by a few centimetres only, so it still agrees to 1e-6°.
    lat, lon = bd09_to_gcj02(39.915, 116.404)
    assert lat == pytest.approx(39.90865673957631, abs=DEG_TOL)
    assert lon == pytest.approx(116.39762729119315, abs=DEG_TOL)
    assert gcj02_to_bd09(lat, lon) == pytest.approx((39.915, 116.404), abs=1e-9)


def test_shenzhen_futian_offset_is_a_few_hundred_metres():
    lat, lon = 22.54, 114.05
    gcj = wgs84_to_gcj02(lat, lon)
    offset = haversine_m(lat, lon, *gcj)
    assert 200.0 < offset < 700.0
    # BD-09 adds Baidu's further shift on top; still a street-level error if it went unconverted.
    assert haversine_m(lat, lon, *wgs84_to_bd09(lat, lon)) > offset


# ── exact inverses ──────────────────────────────────────────────────────────────────────────────────


@settings(max_examples=500, deadline=None)
@given(lat=china_lat, lon=china_lon)
def test_round_trip_wgs_gcj_wgs_is_sub_metre(lat, lon):
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon))
    assert haversine_m(lat, lon, *back) < 1.0
    # In practice the iteration stops at ~1e-9° (≈0.1 mm): hold it to a millimetre.
    assert haversine_m(lat, lon, *back) < 1e-3


@settings(max_examples=500, deadline=None)
@given(lat=china_lat, lon=china_lon)
def test_round_trip_wgs_bd_wgs_is_sub_metre(lat, lon):
    back = bd09_to_wgs84(*wgs84_to_bd09(lat, lon))
    assert haversine_m(lat, lon, *back) < 1.0
    assert haversine_m(lat, lon, *back) < 1e-3


@settings(max_examples=300, deadline=None)
@given(lat=china_lat, lon=china_lon)
def test_inverse_is_exact_in_the_other_direction_too(lat, lon):
    # Start from a GCJ/BD point (what a phone reports) and check forward(inverse(p)) == p.
    assert haversine_m(lat, lon, *wgs84_to_gcj02(*gcj02_to_wgs84(lat, lon))) < 1e-3
    assert haversine_m(lat, lon, *gcj02_to_bd09(*bd09_to_gcj02(lat, lon))) < 1e-3


def test_iterated_inverse_beats_one_step_approximation():
    # The one-step inverse subtracts the offset evaluated at the GCJ point; it is metres off in places.
    worst_one_step = 0.0
    for lat in range(18, 54, 5):
        for lon in range(74, 135, 5):
            gcj = wgs84_to_gcj02(lat, lon)
            g2 = wgs84_to_gcj02(*gcj)
            one_step = (2 * gcj[0] - g2[0], 2 * gcj[1] - g2[1])
            worst_one_step = max(worst_one_step, haversine_m(lat, lon, *one_step))
            assert haversine_m(lat, lon, *gcj02_to_wgs84(*gcj)) < 1e-3
    assert worst_one_step > 0.1  # so the comparison above is meaningful


# ── outside China: never shifted ────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(("lat", "lon"), OUTSIDE_CHINA)
def test_no_shift_outside_china(lat, lon):
    assert out_of_china(lat, lon)
    for convert in ALL_CONVERSIONS:
        assert convert(lat, lon) == (lat, lon), convert.__name__
    for crs in ("wgs84", "gcj02", "bd09"):
        assert to_wgs84(lat, lon, crs) == (lat, lon)
        assert from_wgs84(lat, lon, crs) == (lat, lon)


@pytest.mark.parametrize(
    ("lat", "lon", "outside"),
    [
        (39.9, 116.4, False),  # Beijing
        (22.54, 114.05, False),  # Shenzhen
        (43.8, 87.6, False),  # Ürümqi
        (35.68, 139.69, True),  # Tokyo
        (0.5, 110.0, True),  # south of the rectangle
        (56.0, 120.0, True),  # north of it
        (40.0, 72.0, True),  # west of it
        (40.0, 138.0, True),  # east of it
    ],
)
def test_out_of_china_rectangle(lat, lon, outside):
    assert out_of_china(lat, lon) is outside


def test_inside_china_is_shifted():
    lat, lon = 31.2304, 121.4737  # Shanghai
    assert wgs84_to_gcj02(lat, lon) != (lat, lon)
    assert wgs84_to_bd09(lat, lon) != wgs84_to_gcj02(lat, lon)


# ── dispatch at the API edge ────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("crs", "forward"),
    [
        ("gcj02", wgs84_to_gcj02),
        ("GCJ-02", wgs84_to_gcj02),
        ("Gcj02", wgs84_to_gcj02),
        ("bd09", wgs84_to_bd09),
        ("BD-09", wgs84_to_bd09),
        ("BD09", wgs84_to_bd09),
    ],
)
def test_dispatch_by_crs_name(crs, forward):
    lat, lon = 22.54, 114.05
    shifted = from_wgs84(lat, lon, crs)
    assert shifted == forward(lat, lon)
    assert shifted != (lat, lon)
    assert haversine_m(lat, lon, *to_wgs84(*shifted, crs)) < 1e-3


@pytest.mark.parametrize("crs", ["wgs84", "WGS84", "WGS-84", "wgs-84"])
def test_wgs84_dispatch_is_identity(crs):
    assert to_wgs84(22.54, 114.05, crs) == (22.54, 114.05)
    assert from_wgs84(22.54, 114.05, crs) == (22.54, 114.05)


@pytest.mark.parametrize("crs", ["epsg:4326", "mars", "", "bd09mc", "gcj"])
def test_unknown_crs_is_rejected_by_name(crs):
    with pytest.raises(ValueError, match=re.escape(repr(crs))):
        to_wgs84(22.54, 114.05, crs)
    with pytest.raises(ValueError, match="gcj02"):
        from_wgs84(22.54, 114.05, crs)


# ── distance ────────────────────────────────────────────────────────────────────────────────────────


def test_haversine_one_degree_of_latitude():
    expected = 6371008.8 * math.pi / 180.0  # ≈ 111 195 m
    assert haversine_m(30.0, 114.0, 31.0, 114.0) == pytest.approx(expected, rel=1e-12)


def test_haversine_basic_properties():
    assert haversine_m(39.9, 116.4, 39.9, 116.4) == 0.0
    d = haversine_m(39.9042, 116.4074, 31.2304, 121.4737)  # Beijing – Shanghai, ≈ 1 067 km
    assert 1_060_000 < d < 1_075_000
    assert d == pytest.approx(haversine_m(31.2304, 121.4737, 39.9042, 116.4074), rel=1e-12)
    assert haversine_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(6371008.8 * math.pi, rel=1e-12)
