"""Duplicate-call scoring: gates, signals and ranking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from zhihui.intake.duplicates import CallFeatures, DupParams, candidates, category_agreement, dice, score, text_bigrams

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
P = DupParams()
FIRE = "报警人称红荔路一栋居民楼三楼起火，有浓烟冒出"


def call(text: str = FIRE, *, minutes: float = 0, lat: float | None = 22.5480, lon: float | None = 114.0300,
         category: str | None = "0501", ref: int | None = None, **kw: object) -> CallFeatures:
    return CallFeatures(at=T0 + timedelta(minutes=minutes), text=text, lat=lat, lon=lon, category=category,
                        ref=ref, **kw)  # type: ignore[arg-type]


def test_second_caller_of_a_fire_is_a_duplicate() -> None:
    first = call(ref=1)
    second = call("我家对面楼着火了，三楼窗户一直在冒烟", minutes=4, lat=22.5483, lon=114.0304)
    s = score(second, first, P)
    assert s is not None and s.score >= P.threshold
    assert s.distance_m is not None and 40 < s.distance_m < 60
    assert any("相距" in r for r in s.reasons)


def test_hard_gates_space_and_time() -> None:
    first = call(ref=1)
    assert score(call(minutes=31), first, P) is None  # outside 30 min
    assert score(call(lat=22.5520), first, P) is None  # about 440 m away
    wider = DupParams(radius_m=600)
    assert score(call(lat=22.5520), first, wider) is not None


def test_different_event_nearby_is_not_suggested() -> None:
    first = call("商场门口有人打架，五六个人", category="0201", ref=1)
    theft = call("我的电动车电瓶被偷了", minutes=10, lat=22.5490, lon=114.0310, category="0105")
    s = score(theft, first, P)
    assert s is not None and s.score < P.threshold


def test_without_points_same_address_or_same_caller() -> None:
    a = call(lat=None, lon=None, address="深圳市福田区红荔路18号", ref=1, phone="13800138000")
    b = call("红荔路18号着火了", minutes=3, lat=None, lon=None, address="福田区红荔路18号")
    assert score(b, a, P) is not None
    c = call("刚才报过警，火越来越大了", minutes=8, lat=None, lon=None, phone="13800138000")
    s = score(c, a, P)
    assert s is not None and s.same_caller and s.score >= P.threshold
    assert score(call(lat=None, lon=None), a, P) is None  # nothing places them together


def test_candidates_ranked_best_first() -> None:
    theft = call("电动车被偷", ref=3, category="0105")
    others = [call(ref=1, minutes=-20, lat=22.5500), call(ref=2, minutes=-2), theft]
    found = candidates(call(minutes=0), others, P)
    assert [f.ref for f in found][:1] == [2]
    assert all(f.score >= P.threshold for f in found)
    assert 3 not in [f.ref for f in found]


def test_signals() -> None:
    assert category_agreement("050101", "0501") == 1.0
    assert category_agreement("0501", "0502") == 0.6
    assert category_agreement("0501", "0105") == 0.0
    assert category_agreement(None, "0105") == 0.5
    # Call-taker boilerplate does not make two different calls look alike.
    assert dice(text_bigrams("报警人称有人打架"), text_bigrams("报警人称有人溺水")) < 0.4


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200), st.text(max_size=200), st.floats(-40, 40), st.floats(-0.01, 0.01))
def test_score_is_bounded_and_symmetric_in_gates(a: str, b: str, minutes: float, dlat: float) -> None:
    x, y = call(a, ref=1), call(b, minutes=minutes, lat=22.548 + dlat)
    s1, s2 = score(x, y, P), score(y, x, P)
    assert (s1 is None) == (s2 is None)
    if s1 is not None:
        assert 0.0 <= s1.score <= 1.0
