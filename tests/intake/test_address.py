"""parse_address / find_address: real-world 110 phrasings (no road graph needed)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhihui.intake.address import ParsedAddress, admin_division, find_address, normalize_text, parse_address


def test_full_address_with_admin_levels() -> None:
    p = parse_address("广东省深圳市福田区香蜜湖街道侨香路3号")
    assert (p.province, p.city, p.district, p.adcode) == ("广东省", "深圳市", "福田区", "440304")
    assert p.township == "香蜜湖街道"
    assert p.road == "侨香路"
    assert p.house_number == "3"
    assert p.intersection is None


def test_district_without_city_prefers_home_city() -> None:
    p = parse_address("福田区香蜜湖街道侨香路3号")
    assert p.city == "深圳市" and p.adcode == "440304"
    assert p.road == "侨香路" and p.house_number == "3"


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("深南大道和益田路交叉口", ("深南大道", "益田路")),
        ("红荔路与香梅路", ("红荔路", "香梅路")),
        ("深南大道香蜜湖路口", ("深南大道", "香蜜湖路")),
        ("红荔路交香梅路", ("红荔路", "香梅路")),
        ("和平路和红荔路十字路口", ("和平路", "红荔路")),  # 和 inside a name is not a connector
    ],
)
def test_intersections(text: str, pair: tuple[str, str]) -> None:
    assert parse_address(text).intersection == pair


def test_address_inside_a_description() -> None:
    text = "我在红荔路和香梅路路口这边被人抢了手机"
    p = parse_address(text)
    assert p.intersection == ("红荔路", "香梅路")
    assert p.relation == "这边"
    span = find_address(text)
    assert span is not None and span.startswith("红荔路和香梅路路口")
    assert "手机" not in span
    assert span.normalized[span.start : span.end] == span
    assert parse_address(span).intersection == ("红荔路", "香梅路")  # the span is a str


def test_place_building_unit_room() -> None:
    p = parse_address("锦绣花园3栋2单元501")
    assert (p.place, p.building, p.unit, p.room) == ("锦绣花园", "3栋", "2", "501")


def test_spoken_numbers() -> None:
    p = parse_address("锦绣花园三栋二单元五零一")
    assert (p.building, p.unit, p.room) == ("3栋", "2", "501")
    assert parse_address("侨香路二十三号").house_number == "23"
    # Street names with numerals are not numbers.
    assert parse_address("十七号街").road == "十七号街"
    assert parse_address("泰然四路").road == "泰然四路"


def test_place_with_relation() -> None:
    p = parse_address("车公庙地铁站附近")
    assert p.place == "车公庙地铁站" and p.relation == "附近"
    p = parse_address("深南大道往东100米")
    assert p.road == "深南大道" and p.relation == "往东100米"


def test_suffix_conflicts() -> None:
    assert parse_address("农园路").road == "农园路"  # not the place "农园"
    assert parse_address("科技广场路").road == "科技广场路"  # not the place "科技广场"
    assert parse_address("上沙东村九巷").road == "上沙东村九巷"  # not the community "上沙东村"
    assert parse_address("上沙村").community == "上沙村"
    assert parse_address("香蜜社区工作站").place == "香蜜社区工作站"
    assert parse_address("北京路").adcode is None  # a street named after a city
    assert parse_address("深南大道辅路").road == "深南大道辅路"


def test_other_city() -> None:
    p = parse_address("北京市朝阳区建国路88号")
    assert (p.province, p.city, p.district, p.adcode) == ("北京市", "北京市", "朝阳区", "110105")
    assert p.road == "建国路" and p.house_number == "88"


def test_districts_missing_from_cpca_snapshot() -> None:
    p = parse_address("深圳市龙华区民治街道")
    assert p.adcode == "440309" and p.district == "龙华区" and p.township == "民治街道"
    assert admin_division("440311").name == "光明区"


def test_traditional_characters() -> None:
    p = parse_address("福田區香蜜湖街道僑香路三號")
    assert p.adcode == "440304" and p.road == "侨香路" and p.house_number == "3"
    assert parse_address("紅荔路與香梅路交叉口").intersection == ("红荔路", "香梅路")


def test_full_width_and_spaces() -> None:
    p = parse_address("侨香路 ３号 ")
    assert p.road == "侨香路" and p.house_number == "3"
    assert normalize_text("Ａ座") == "A座"


@pytest.mark.parametrize("text", ["", "asdfgh", "今天天气很好", "😀😀😀", "\x00\ud800", "1234567", "。。。"])
def test_nonsense_has_no_address(text: str) -> None:
    p = parse_address(text)
    assert isinstance(p, ParsedAddress)
    assert p.is_empty
    assert p.as_dict()["road"] is None


def test_non_str_input() -> None:
    assert parse_address(None).is_empty  # type: ignore[arg-type]
    assert parse_address(123).is_empty  # type: ignore[arg-type]
    assert find_address(None) is None  # type: ignore[arg-type]


_ADDRESS_CHARS = "福田区深南大道红荔路香梅和与交叉口号栋单元室小区花园附近往东米0123456789我在的這邊區"


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=80), st.text(alphabet=_ADDRESS_CHARS, max_size=40)))
def test_parse_never_raises(text: str) -> None:
    p = parse_address(text)
    d = p.as_dict()
    assert isinstance(d, dict)
    if p.span is not None:
        assert 0 <= p.span[0] <= p.span[1] <= len(p.text)
