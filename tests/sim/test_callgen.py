"""The seeded 110 call-stream generator (zhihui.sim.callgen): rates, space, near repeats, callers."""

from __future__ import annotations

import hashlib
import math
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from zhihui.geo.coords import haversine_m
from zhihui.incidents.categories import categories
from zhihui.incidents.schemas import IncidentCreate
from zhihui.sim.callgen import (
    LOCAL_TZ,
    NEAR_REPEAT_CODES,
    NEAR_REPEAT_MEAN_DAYS,
    SimCall,
    daily_profile,
    generate_calls,
    hotspot_sites,
    hourly_profile,
)
from zhihui.sim.demo import LAT_RANGE, LON_RANGE, REPEAT_CALLER

# Monday 2026-03-02 00:00 in Shenzhen, so that whole local days and weeks fit the streams.
START = datetime(2026, 3, 2, tzinfo=LOCAL_TZ).astimezone(UTC)
BODY_KEYS = {"channel", "caller_phone", "caller_name", "address", "lat", "lon", "category_code", "description"}


@pytest.fixture(scope="module")
def week() -> list[SimCall]:
    return generate_calls(seed=11, start=START, hours=7 * 24)


@pytest.fixture(scope="module")
def fortnight() -> list[SimCall]:
    return generate_calls(seed=12, start=START, hours=14 * 24)


@pytest.fixture(scope="module")
def eight_weeks() -> list[SimCall]:
    return generate_calls(seed=1, start=START, hours=56 * 24)


def firsts(calls: list[SimCall]) -> list[SimCall]:
    """One call per event: its first caller."""
    return [c for c in calls if c.caller_index == 0]


def local_xy(calls: list[SimCall]) -> tuple[np.ndarray, np.ndarray]:
    lat = np.array([c.body["lat"] for c in calls])
    lon = np.array([c.body["lon"] for c in calls])
    return (lon - 114.0) * 111_320.0 * math.cos(math.radians(22.534)), (lat - 22.5) * 111_320.0


def digest(calls: list[SimCall]) -> str:
    return hashlib.sha256(repr(calls).encode()).hexdigest()


# Determinism -------------------------------------------------------------------------------------------


def test_same_seed_gives_the_same_stream_and_another_seed_another() -> None:
    a = generate_calls(seed=5, start=START, hours=48)
    b = generate_calls(seed=5, start=START, hours=48)
    c = generate_calls(seed=6, start=START, hours=48)
    assert a == b
    assert a != c
    assert [x.at for x in a] == sorted(x.at for x in a)
    assert all(x.at.utcoffset() == timedelta(0) for x in a)


def test_same_stream_in_another_process_with_other_hash_seed() -> None:
    code = ("import hashlib, datetime as d; from zhihui.sim.callgen import generate_calls; "
            f"s = d.datetime.fromisoformat({START.isoformat()!r}); "
            "print(hashlib.sha256(repr(generate_calls(seed=5, start=s, hours=6)).encode()).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                         timeout=120)
    assert out.stdout.strip() == digest(generate_calls(seed=5, start=START, hours=6))


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        generate_calls(seed=1, start=datetime(2026, 3, 2), hours=1)  # naive
    with pytest.raises(ValueError):
        generate_calls(seed=1, start=START, hours=1, branching=1.0)  # explosive


# Rate --------------------------------------------------------------------------------------------------


def test_events_per_week_match_calls_per_day(week: list[SimCall]) -> None:
    # Counted: events (first callers), near-repeat offspring included; later callers of an event are not.
    events = firsts(week)
    expected = 500.0 * 7
    print(f"\n7 days at 500/day: {len(events)} events, {len(week)} calls (expected {expected:.0f} events)")
    assert abs(len(events) - expected) <= 0.15 * expected
    assert len({c.event_id for c in week}) == len(events)
    assert all(START <= c.at < START + timedelta(days=7) for c in week)
    # Repeat callers come on top, a few percent of calls.
    assert 0.01 < (len(week) - len(events)) / len(week) < 0.2


def test_profiles_have_mean_one_and_the_right_shape() -> None:
    hourly, daily = hourly_profile(), daily_profile()
    assert len(hourly) == 24 and len(daily) == 7
    assert math.isclose(sum(hourly) / 24, 1.0) and math.isclose(sum(daily) / 7, 1.0)
    assert max(hourly[3:6]) < 0.6 < 1.2 < min(hourly[18:23])


def test_nights_are_quieter_than_evenings(fortnight: list[SimCall]) -> None:
    by_hour = Counter(c.at.astimezone(LOCAL_TZ).hour for c in firsts(fortnight))
    night = sum(by_hour[h] for h in (3, 4, 5)) / 3  # events per local hour-of-day slot, 14 days
    evening = sum(by_hour[h] for h in range(18, 24)) / 6
    print(f"\nper hour over 14 days: 03-06 {night:.0f}, 18-24 {evening:.0f}")
    assert night < 0.5 * evening


def test_fridays_and_saturdays_are_busier(fortnight: list[SimCall]) -> None:
    by_day = Counter(c.at.astimezone(LOCAL_TZ).date() for c in firsts(fortnight))
    assert len(by_day) == 14
    weekend = [n for d, n in by_day.items() if d.weekday() in (4, 5)]
    weekdays = [n for d, n in by_day.items() if d.weekday() <= 3]
    print(f"\nper day: Fri+Sat {statistics.mean(weekend):.0f}, Mon-Thu {statistics.mean(weekdays):.0f}")
    assert statistics.mean(weekend) > statistics.mean(weekdays) * 1.05


# Near repeats ------------------------------------------------------------------------------------------


def test_near_repeat_offspring(eight_weeks: list[SimCall]) -> None:
    events = firsts(eight_weeks)
    by_id = {c.event_id: c for c in events}
    near = [c for c in events if c.category_code in NEAR_REPEAT_CODES]
    triggered = [c for c in near if c.parent_event is not None]
    inside = [c for c in triggered if c.parent_event > 0]  # parents from the burn-in are not listed
    assert all(c.parent_event is None for c in events if c.category_code not in NEAR_REPEAT_CODES)
    assert len(inside) >= 50
    assert all(by_id[c.parent_event].at < c.at for c in inside)
    assert all(by_id[c.parent_event].category_code == c.category_code for c in inside)
    assert all(c.parent_event < 0 for c in triggered if c.parent_event not in by_id)
    dist = [haversine_m(c.body["lat"], c.body["lon"], by_id[c.parent_event].body["lat"],
                       by_id[c.parent_event].body["lon"]) for c in inside]
    gap_days = [(c.at - by_id[c.parent_event].at).total_seconds() / 86_400 for c in inside]
    share = len(triggered) / len(near)  # stationary share of offspring = branching ratio
    print(f"\nnear-repeat events {len(near)}, triggered {len(triggered)} (share {share:.2f}), "
          f"median distance {statistics.median(dist):.0f} m, median gap {statistics.median(gap_days):.2f} d, "
          f"mean gap {statistics.mean(gap_days):.2f} d")
    assert statistics.median(dist) < 600
    assert 0.25 * NEAR_REPEAT_MEAN_DAYS < statistics.median(gap_days) < 1.5 * NEAR_REPEAT_MEAN_DAYS
    assert statistics.mean(gap_days) < 2 * NEAR_REPEAT_MEAN_DAYS
    assert 0.25 < share < 0.55


def knox(calls: list[SimCall], *, metres: float = 200.0, days: float = 7.0, shuffles: int = 200,
         seed: int = 0) -> tuple[int, np.ndarray]:
    """Pairs close in space and time, observed and with the times shuffled among the events (which
    keeps where they are and how many happen when, and breaks any space–time interaction)."""
    x, y = local_xy(calls)
    t = np.array([(c.at - START).total_seconds() / 86_400 for c in calls])
    near = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]) < metres
    upper = np.triu(np.ones_like(near), 1)

    def count(tt: np.ndarray) -> int:
        return int((near & upper & (np.abs(tt[:, None] - tt[None, :]) < days)).sum())

    rng = np.random.default_rng(seed)
    return count(t), np.array([count(rng.permutation(t)) for _ in range(shuffles)])


def test_burglaries_cluster_in_space_and_time_beyond_a_shuffled_baseline(eight_weeks: list[SimCall]) -> None:
    near = [c for c in firsts(eight_weeks) if c.category_code in NEAR_REPEAT_CODES]
    observed, shuffled = knox(near)
    ratio = observed / shuffled.mean()
    z = (observed - shuffled.mean()) / shuffled.std()
    print(f"\nKnox 200 m / 7 d over 56 days: {observed} pairs vs {shuffled.mean():.1f} shuffled, "
          f"ratio {ratio:.2f}, z {z:.1f}")
    assert ratio > 1.05 and z > 2.0


# Space -------------------------------------------------------------------------------------------------


def test_every_point_is_inside_the_city_box(eight_weeks: list[SimCall]) -> None:
    for c in eight_weeks:
        assert LAT_RANGE[0] <= c.body["lat"] <= LAT_RANGE[1], c
        assert LON_RANGE[0] <= c.body["lon"] <= LON_RANGE[1], c


def test_hotspot_calls_cluster_around_their_centre(week: list[SimCall]) -> None:
    sites = hotspot_sites(seed=11)
    assert 3 <= len(sites) <= 6
    events = firsts(week)
    per_site: dict[int, list[float]] = defaultdict(list)
    for c in events:
        if c.hotspot is not None:
            h = sites[c.hotspot]
            per_site[c.hotspot].append(haversine_m(c.body["lat"], c.body["lon"], h.lat, h.lon))
    assert set(per_site) == {h.index for h in sites}
    for i, d in per_site.items():
        print(f"\nhotspot {sites[i].label}: {len(d)} events, mean distance {statistics.mean(d):.0f} m", end="")
        assert len(d) >= 20 and statistics.mean(d) < 400
    # Fights (治安 02) and disputes (纠纷 08) are drawn to hotspots more than traffic (04) is.
    hot, diffuse = Counter(), Counter()
    for c in events:
        (hot if c.hotspot is not None else diffuse)[c.category_code[:2]] += 1
    share = {top: hot[top] / (hot[top] + diffuse[top]) for top in ("02", "08", "04")}
    assert share["02"] > 2 * share["04"] and share["08"] > 2 * share["04"]


def test_generated_points_are_named_by_a_nearby_house_number(week: list[SimCall]) -> None:
    # Hotspot and offspring points are drawn, then named: the named house must be near the point.
    from zhihui.geo.gazetteer import load_default

    gaz = load_default()
    if not gaz.road_names:
        pytest.skip("no road graph: fallback streets only")
    off = []
    for c in firsts(week):
        if c.hotspot is None and c.parent_event is None:
            continue
        m = re.fullmatch(r"深圳市福田区(.+?)(\d+)号", c.body["address"])
        assert m, c.body["address"]
        road = gaz.road(m.group(1))
        assert road is not None, c.body["address"]
        lat, lon, _, _ = gaz.interpolate(road, int(m.group(2)))
        off.append(haversine_m(lat, lon, c.body["lat"], c.body["lon"]))
    assert len(off) > 100
    assert statistics.median(off) < 80 and np.percentile(off, 95) <= 121


# Bodies and callers ------------------------------------------------------------------------------------


def test_bodies_are_valid_incident_posts(week: list[SimCall]) -> None:
    tree = categories()
    for c in week:
        assert set(c.body) == BODY_KEYS
        IncidentCreate(**c.body)  # raises on anything the API would refuse
        assert c.body["category_code"] == c.category_code
        assert tree.nodes[c.category_code].police == c.police
        if c.body["channel"] == "12110-SMS":
            assert c.body["description"].startswith("12110短信：")
    events = firsts(week)
    non_police = sum(not c.police for c in events) / len(events)
    print(f"\nnon-police share {non_police:.3f}, channels {Counter(c.body['channel'] for c in week)}")
    assert 0.10 <= non_police <= 0.20


def test_repeat_callers_report_the_same_event_minutes_later(week: list[SimCall]) -> None:
    by_event: dict[int, list[SimCall]] = defaultdict(list)
    for c in week:
        by_event[c.event_id].append(c)
    repeated = {e: cs for e, cs in by_event.items() if len(cs) > 1}
    assert len(repeated) > 50
    for cs in by_event.values():
        assert [c.caller_index for c in cs] == list(range(len(cs)))
    for cs in repeated.values():
        first = cs[0]
        assert first.police and first.category_code[:2] in REPEAT_CALLER
        assert len({c.body["caller_phone"] for c in cs}) == len(cs)
        for c in cs[1:]:
            assert first.at < c.at <= first.at + timedelta(minutes=10)
            assert (c.category_code, c.body["address"], c.parent_event, c.hotspot) == \
                (first.category_code, first.body["address"], first.parent_event, first.hotspot)
            assert haversine_m(c.body["lat"], c.body["lon"], first.body["lat"], first.body["lon"]) < 100


def test_a_week_generates_quickly(week: list[SimCall]) -> None:
    t0 = time.perf_counter()
    calls = generate_calls(seed=99, start=START, hours=7 * 24)
    elapsed = time.perf_counter() - t0
    print(f"\n7 days at 500/day: {len(calls)} calls in {elapsed:.2f} s")  # reported, not asserted
    assert calls
