"""机动车号牌 (GA 36): format checks and kind for plates read out by callers or typed by call-takers.

The letter after the province is the issuing authority (发牌机关代号), not reliably a city: which
letter means which city is published per province and changes, and no permissively licensed
dataset carries it, so ``PlateInfo`` has no city. Letters I and O are never used in serials (they
read as 1 and 0). Traditional characters (粵, 遼, 領, 掛...) are converted with OpenCC first.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

from zhihui.intake.text.normalise import Problem, ascii_same_length, jsonable, t2s

__all__ = ["PROVINCES", "PlateInfo", "find_plates", "parse_plate"]

PlateKind = Literal[
    "ordinary",
    "new_energy_small",
    "new_energy_large",
    "police",
    "trailer",
    "coach",
    "hk_macau",
    "embassy",
    "consulate",
    "military_or_armed_police",
    "temporary",
    "unknown",
]

# The 31 province-level abbreviations on plates (no library carries them).
PROVINCES: dict[str, str] = {
    "京": "北京市",
    "津": "天津市",
    "冀": "河北省",
    "晋": "山西省",
    "蒙": "内蒙古自治区",
    "辽": "辽宁省",
    "吉": "吉林省",
    "黑": "黑龙江省",
    "沪": "上海市",
    "苏": "江苏省",
    "浙": "浙江省",
    "皖": "安徽省",
    "闽": "福建省",
    "赣": "江西省",
    "鲁": "山东省",
    "豫": "河南省",
    "鄂": "湖北省",
    "湘": "湖南省",
    "粤": "广东省",
    "桂": "广西壮族自治区",
    "琼": "海南省",
    "渝": "重庆市",
    "川": "四川省",
    "贵": "贵州省",
    "云": "云南省",
    "藏": "西藏自治区",
    "陕": "陕西省",
    "甘": "甘肃省",
    "青": "青海省",
    "宁": "宁夏回族自治区",
    "新": "新疆维吾尔自治区",
}
_SUFFIX_KIND: dict[str, PlateKind] = {
    "警": "police",
    "挂": "trailer",
    "学": "coach",
    "港": "hk_macau",
    "澳": "hk_macau",
    "领": "consulate",
    "临": "temporary",
}
_SERIAL = "0-9A-HJ-NP-Z"  # digits and letters without I and O
_NEV_CLASS = "A-HJK"  # 新能源 energy letters: D/F originally, A-K (no I) in the extended series
_SEPARATORS_RE = re.compile(r"[\s·•.・‧∙⋅\-‐‑–—－_]+")
_MILITARY_RE = re.compile(rf"(?:WJ[{''.join(PROVINCES)}]?[0-9]{{4,5}}[{_SERIAL}]?|[{_SERIAL[3:]}]{{2}}[0-9]{{5}})")


@dataclass(frozen=True, slots=True)
class PlateInfo:
    number: str  # normalised: no spaces or dots, upper case, simplified characters (粤B12345)
    valid: bool
    problems: list[Problem] = field(default_factory=list)
    kind: PlateKind = "unknown"
    province_abbr: str | None = None
    province: str | None = None
    authority: str | None = None  # the 发牌机关 letter, e.g. B

    def as_dict(self) -> dict[str, Any]:
        return jsonable(self)


def _p(code: str, message: str, message_en: str) -> Problem:
    return Problem(code=code, message=message, message_en=message_en)


def _clean(raw: str) -> str:
    s = unicodedata.normalize("NFKC", ascii_same_length(raw if isinstance(raw, str) else str(raw)))
    s = _SEPARATORS_RE.sub("", s).upper()
    return t2s(s) if not s.isascii() else s


def _serial_problems(serial: str) -> list[Problem]:
    bad = sorted({c for c in serial if c in "IO"})
    if bad:
        return [
            _p(
                "bad_letter",
                f"号牌序号不使用字母{'、'.join(bad)}（易与1、0混淆）",
                f"Plate serials never use the letter(s) {', '.join(bad)} (they read as 1 and 0)",
            )
        ]
    if not re.fullmatch(r"[0-9A-Z]*", serial):
        return [_p("bad_character", "号牌序号只能是数字和字母", "A plate serial is digits and letters only")]
    return []


def parse_plate(raw: str) -> PlateInfo:
    """Check one plate as typed (spaces, 粤B·12345, lower case, traditional characters allowed); never raises."""
    s = _clean(raw)
    if not s:
        return PlateInfo(number="", valid=False, problems=[_p("empty", "未填写号牌号码", "No plate number given")])

    # 使馆: 使 + 6 digits (the pre-2007 black plates put 使 last).
    if "使" in s:
        digits = s.replace("使", "")
        if s.count("使") == 1 and (s[0] == "使" or s[-1] == "使") and re.fullmatch(r"[0-9]{6}", digits):
            return PlateInfo(number=s, valid=True, kind="embassy")
        return PlateInfo(
            number=s,
            valid=False,
            kind="embassy",
            problems=[_p("bad_format", "使馆号牌应为「使」加6位数字", "An embassy plate is 使 plus 6 digits")],
        )
    if _MILITARY_RE.fullmatch(s):
        return PlateInfo(number=s, valid=True, kind="military_or_armed_police")

    abbr = s[0]
    province = PROVINCES.get(abbr)
    if province is None:
        return PlateInfo(
            number=s,
            valid=False,
            problems=[
                _p(
                    "unknown_province",
                    f"号牌首字「{abbr}」不是省份简称",
                    f"'{abbr}' is not a province abbreviation used on plates",
                )
            ],
        )
    authority = s[1] if len(s) > 1 else None
    suffix = s[-1] if len(s) > 2 and s[-1] in _SUFFIX_KIND else ""
    kind: PlateKind = _SUFFIX_KIND[suffix] if suffix else "ordinary"
    serial = s[2 : len(s) - len(suffix)]
    problems: list[Problem] = []

    letter_ok = authority is not None and "A" <= authority <= "Z" and authority != "I"
    if not letter_ok or (authority == "O" and kind != "police"):
        problems.append(
            _p(
                "bad_authority",
                "省份简称后应为发牌机关代号字母（不用I，O仅见于警车）",
                "The province must be followed by the issuing authority's letter (never I; O only on police cars)",
            )
        )
    problems += _serial_problems(serial)

    if suffix:
        if len(serial) != 4 and not (suffix == "临" and 4 <= len(serial) <= 6):
            problems.append(
                _p(
                    "bad_length",
                    f"「{suffix}」字号牌应为省份、发牌机关代号、4位序号加「{suffix}」",
                    f"A '{suffix}' plate is province, authority letter, 4 characters and '{suffix}'",
                )
            )
        if suffix in "港澳" and (abbr, authority) != ("粤", "Z"):
            problems.append(
                _p(
                    "bad_format",
                    "港澳入出境车号牌为「粤Z」开头",
                    "Hong Kong/Macau cross-border plates start with 粤Z",
                )
            )
    elif len(serial) == 6:
        if re.fullmatch(rf"[{_NEV_CLASS}][{_SERIAL}][0-9]{{4}}", serial):
            kind = "new_energy_small"
        elif re.fullmatch(rf"[0-9]{{5}}[{_NEV_CLASS}]", serial):
            kind = "new_energy_large"
        else:
            kind = "unknown"
            if not problems:
                problems.append(
                    _p(
                        "bad_format",
                        "新能源号牌：小型车序号首位为D/F等能源字母、后4位为数字；大型车前5位为数字、末位为能源字母",
                        "New-energy plates: small vehicles have an energy letter (D, F...) first and 4 digits last; "
                        "large vehicles 5 digits then the energy letter",
                    )
                )
    elif len(serial) != 5:
        kind = "unknown"
        problems.append(
            _p(
                "bad_length",
                f"号牌应为省份简称、发牌机关代号加5位序号（新能源6位），此处为{len(serial)}位",
                f"A plate is province, authority letter and 5 characters (6 for new energy), not {len(serial)}",
            )
        )
    return PlateInfo(
        number=s,
        valid=not problems,
        problems=problems,
        kind=kind,
        province_abbr=abbr,
        province=province,
        authority=authority if authority and "A" <= authority <= "Z" else None,
    )


_ABBRS = "".join(PROVINCES) + "粵遼滬蘇閩贛魯貴雲陝寧瓊晉"  # with the traditional forms
_SEP = r"[\s·•.・‧\-]?"
_FIND_RE = re.compile(
    rf"(?<![0-9A-Za-z])(?:[{_ABBRS}]{_SEP}[A-Za-z]{_SEP}[0-9A-Za-z]{{4,6}}[警挂学港澳领临掛學領臨]?"
    rf"|使{_SEP}[0-9]{{3}}{_SEP}[0-9]{{3}})(?![0-9A-Za-z])"
)


def find_plates(text: str) -> list[tuple[int, int, PlateInfo]]:
    """(start, end, parsed) for plate-shaped strings in free text, e.g. "一辆粤B12345的白色轿车".

    A candidate needs at least three digits in its serial (filters words such as 新iPhone); invalid
    candidates (粤B1234I) are returned too, for the call-taker to confirm."""
    if not isinstance(text, str):
        text = str(text)
    src = ascii_same_length(text)
    found: list[tuple[int, int, PlateInfo]] = []
    for m in _FIND_RE.finditer(src):
        candidate = m.group()
        if sum(c.isdigit() for c in candidate) < 3:
            continue
        found.append((m.start(), m.end(), parse_plate(candidate)))
    return found
