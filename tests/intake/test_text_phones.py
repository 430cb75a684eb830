"""Phone numbers: kind, attribution, the existing intake validator's numbers, free-text search."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from zhihui.incidents.domain import PHONE_RE, normalise_phone
from zhihui.intake.text import PhoneInfo, find_phones, parse_phone

PROPERTY = settings(max_examples=150, deadline=None)
# Any str: all planes, plus lone surrogates (legal in a Python str) and a dense dose of emoji.
ANY_TEXT = st.text(
    st.characters() | st.characters(categories=["Cs"]) | st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)
)


def codes(r: PhoneInfo) -> list[str]:
    return [p.code for p in r.problems]


@pytest.mark.parametrize(
    "raw", ["13510001234", "135 1000 1234", "135-1000-1234", "+86 135 1000 1234", "0086-13510001234", "8613510001234"]
)
def test_shenzhen_mobile(raw: str) -> None:
    r = parse_phone(raw)
    assert r.valid and r.kind == "mobile" and r.number == "13510001234"
    assert (r.province, r.city, r.area_code, r.carrier) == ("广东", "深圳", "0755", "移动")


def test_mobile_with_a_zero_dialled_first() -> None:
    r = parse_phone("013510001234")
    assert r.valid and r.number == "13510001234" and r.city == "深圳"
    assert [n.code for n in r.notes] == ["leading_zero"]


def test_other_carriers() -> None:
    assert parse_phone("18912345678").carrier == "电信"
    assert parse_phone("13012345678").carrier == "联通"
    assert parse_phone("19212345678").carrier == "广电"
    virtual = parse_phone("17101234567")
    assert virtual.carrier == "虚拟运营商" and virtual.carrier_detail is not None
    assert virtual.carrier_detail.endswith("虚拟运营商")


@pytest.mark.parametrize(
    "raw", ["0755-88881234", "075588881234", "(0755) 8888 1234", "（0755）88881234", "+86 755 8888 1234"]
)
def test_shenzhen_landline(raw: str) -> None:
    r = parse_phone(raw)
    assert r.valid and r.kind == "landline"
    assert (r.number, r.area_code, r.province, r.city) == ("0755-88881234", "0755", "广东", "深圳")


@pytest.mark.parametrize(
    ("raw", "number", "city"),
    [
        ("010-12345678", "010-12345678", "北京"),
        ("01012345678", "010-12345678", "北京"),
        ("02887654321", "028-87654321", "成都"),  # 028 is shared with 眉山/资阳: the main city wins
        ("0731-8888888", "0731-8888888", "长沙"),
        ("07318888888", "0731-8888888", "长沙"),
    ],
)
def test_area_codes(raw: str, number: str, city: str) -> None:
    r = parse_phone(raw)
    assert r.valid and r.number == number and r.city == city


@pytest.mark.parametrize("raw", ["0755-88881234-802", "0755-88881234转802", "075588881234 ext 802", "075588881234-802"])
def test_extension(raw: str) -> None:
    r = parse_phone(raw)
    assert r.valid and r.number == "0755-88881234-802" and r.extension == "802" and r.city == "深圳"


@pytest.mark.parametrize(
    ("raw", "kind", "name"),
    [
        ("110", "emergency", "报警"),
        ("119", "emergency", "火警"),
        ("120", "emergency", "急救"),
        ("122", "emergency", "交通事故报警"),
        ("12110", "emergency", "短信报警"),
        ("12345", "service", "政务服务便民热线"),
        ("96110", "service", "反诈预警劝阻专线"),
        ("10086", "service", "中国移动客服"),
        ("114", "short", "查号台"),
    ],
)
def test_short_numbers(raw: str, kind: str, name: str) -> None:
    r = parse_phone(raw)
    assert r.valid and r.kind == kind and r.service_name == name


@pytest.mark.parametrize("raw", ["95588", "9510 1234", "400-800-1234", "800 820 8820", "12306"])
def test_service_numbers(raw: str) -> None:
    r = parse_phone(raw)
    assert r.valid and r.kind == "service"


def test_local_number_without_area_code() -> None:
    r = parse_phone("8888 1234")
    assert r.valid and r.kind == "landline" and r.area_code is None
    assert [n.code for n in r.notes] == ["no_area_code"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ["empty"]),
        ("  -- ", ["empty"]),
        ("abc", ["not_a_number"]),
        ("138一二三四", ["not_a_number"]),
        ("12812345678", ["bad_prefix"]),
        ("1381234567", ["bad_length"]),
        ("138123456789", ["bad_length"]),
        ("123", ["unknown_short_number"]),
        ("999999", ["unknown_short_number"]),
        ("0755-123", ["bad_length"]),
    ],
)
def test_garbage(raw: str, expected: list[str]) -> None:
    r = parse_phone(raw)
    assert not r.valid and codes(r) == expected and r.problems[0].message and r.problems[0].message_en


def test_as_dict_is_json() -> None:
    d = parse_phone("+86 135 1000 1234").as_dict()
    assert json.loads(json.dumps(d, ensure_ascii=False)) == d
    assert d["city"] == "深圳" and d["problems"] == []


def test_find_in_free_text() -> None:
    text = "我电话是138 1234 5678，单位座机(0755)8888-1234，或者+86 139 1234 5678。"
    found = find_phones(text)
    assert [text[s:e] for s, e, _ in found] == ["138 1234 5678", "(0755)8888-1234", "+86 139 1234 5678"]
    assert [r.number for _, _, r in found] == ["13812345678", "0755-88881234", "13912345678"]


def test_find_separates_adjacent_numbers() -> None:
    found = find_phones("13812345678 13912345678")
    assert [r.number for _, _, r in found] == ["13812345678", "13912345678"]


def test_find_skips_dates_amounts_and_longer_runs() -> None:
    text = "2024-05-06 晚上被骗了12345678元，离家120米，卡号6222021234567890123，身份证11010519491231002X"
    assert find_phones(text) == []


def test_find_short_numbers_on_request() -> None:
    text = "已拨打110和120，车牌粤B12345"
    assert [r.number for _, _, r in find_phones(text, include_short=True)] == ["110", "120"]
    assert find_phones(text) == []


# The existing intake validator's caller IDs must all be valid here.
validator_numbers = st.from_regex(PHONE_RE, fullmatch=True)


@PROPERTY
@given(validator_numbers)
def test_everything_normalise_phone_accepts_is_valid(raw: str) -> None:
    assert parse_phone(raw).valid, raw


@PROPERTY
@given(validator_numbers, st.sampled_from(["", "+86", "0086", "+86-", "+86 ", " ("]), st.sampled_from(["", " ", ")"]))
def test_prefixed_numbers_normalise_phone_accepts_are_valid(number: str, prefix: str, suffix: str) -> None:
    raw = prefix + number + suffix
    try:
        normalise_phone(raw)
    except ValueError:
        assume(False)
    assert parse_phone(raw).valid, raw


@PROPERTY
@given(ANY_TEXT)
def test_never_raises(text: str) -> None:
    r = parse_phone(text)
    assert r.valid == (r.problems == [])
    json.dumps(r.as_dict(), ensure_ascii=False)
    for start, end, found in find_phones(text, include_short=True):
        assert 0 <= start < end <= len(text) and found.valid


@PROPERTY
@given(st.text(alphabet="0123456789 -+()转", max_size=40))
def test_never_raises_on_phone_like_input(text: str) -> None:
    parse_phone(text)
    for _, _, found in find_phones(text, include_short=True):
        assert found.valid
