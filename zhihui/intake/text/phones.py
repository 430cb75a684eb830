"""Caller and witness phone numbers: what kind of number, and where a mobile or landline belongs.

Attribution comes from the ``phone`` package's prefix database (7-digit mobile prefixes →
province, city, area code, original carrier). The landline area-code → city map is derived from the
same records, once, on first use. Carriers are the prefix's original operator: since 2019 a number
can be ported (携号转网), so treat ``carrier`` as a hint.

Everything ``zhihui.incidents.domain.normalise_phone`` accepts parses as valid here; this parser also
accepts what people actually type (``(0755) 1234-5678``, ``+86 755 ...``, ``转 123``).
"""

from __future__ import annotations

import collections
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from zhihui.intake.text.normalise import Problem, ascii_same_length, jsonable

__all__ = ["PhoneInfo", "find_phones", "parse_phone"]

PhoneKind = Literal["mobile", "landline", "service", "emergency", "short"]


@dataclass(frozen=True, slots=True)
class PhoneInfo:
    number: str  # normalised: 13812345678, 0755-12345678[-ext], 110, 4008001234
    valid: bool
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)  # not errors: unknown prefix, no area code...
    kind: PhoneKind | None = None
    province: str | None = None  # as the phone database spells it: 广东, 北京, 内蒙古
    city: str | None = None
    carrier: str | None = None  # 移动 / 联通 / 电信 / 广电 / 虚拟运营商
    carrier_detail: str | None = None  # the database's label, e.g. 电信虚拟运营商
    area_code: str | None = None
    extension: str | None = None
    service_name: str | None = None  # 报警, 火警, 政务服务便民热线...

    def as_dict(self) -> dict[str, Any]:
        return jsonable(self)


# Short codes have no permissive data source; these are the national ones a call-taker meets.
EMERGENCY = {
    "110": "报警",
    "119": "火警",
    "120": "急救",
    "122": "交通事故报警",
    "12110": "短信报警",
    "12395": "水上遇险求救",
    "999": "红十字急救（北京）",
}
SERVICE = {
    "12345": "政务服务便民热线",
    "12315": "市场监管投诉举报",
    "12306": "铁路客服",
    "12333": "人社服务热线",
    "12348": "公共法律服务热线",
    "12355": "青少年服务热线",
    "12366": "纳税服务热线",
    "12369": "环保举报热线",
    "12338": "妇女维权热线",
    "12320": "卫生健康热线",
    "96110": "反诈预警劝阻专线",
    "10086": "中国移动客服",
    "10010": "中国联通客服",
    "10000": "中国电信客服",
    "10099": "中国广电客服",
}
SHORT = {"114": "查号台", "117": "报时台", "121": "天气预报"}

_TABLES: tuple[tuple[dict[str, str], PhoneKind], ...] = (
    (EMERGENCY, "emergency"),
    (SERVICE, "service"),
    (SHORT, "short"),
)
_CARRIERS = {1: "移动", 2: "联通", 3: "电信", 7: "广电"}
_VIRTUAL = {4: "电信虚拟运营商", 5: "联通虚拟运营商", 6: "移动虚拟运营商", 8: "广电虚拟运营商"}


@dataclass(frozen=True, slots=True)
class _Db:
    lookup: Any  # phone.Phone
    by_area: dict[str, tuple[str, str]]  # area code → (province, main city)
    by_segment: dict[str, int]  # 3-digit segment → carrier type when one type holds ≥ 95 % of it


_db: _Db | None = None
_db_lock = threading.Lock()


def _load() -> _Db:
    """Read the package's records once: area codes → city (the city with most prefixes wins, so 028 is
    成都 not 眉山, 0731 长沙 not 株洲) and 3-digit segment → dominant carrier."""
    global _db
    if _db is None:
        with _db_lock:
            if _db is None:
                from phone import Phone

                lookup = Phone()
                buf: bytes = lookup.buf
                # 500k fixed-size records (<iiB: prefix, content offset, carrier type), counted with numpy.
                records = np.frombuffer(
                    buf,
                    dtype=np.dtype([("prefix", "<i4"), ("offset", "<i4"), ("type", "u1")]),
                    offset=lookup.first_phone_record_offset,
                    count=lookup.phone_record_count,
                )
                offsets, per_offset = np.unique(records["offset"], return_counts=True)
                best: dict[str, tuple[int, str, str]] = {}
                for offset, n in zip(offsets.tolist(), per_offset.tolist(), strict=True):
                    end = buf.find(b"\x00", offset)
                    province, city, _zip, area = buf[offset:end].decode().split("|")
                    if re.fullmatch(r"0\d{2,3}", area) and n > best.get(area, (0, "", ""))[0]:
                        best[area] = (n, province, city)
                keys, per_key = np.unique(
                    (records["prefix"] // 10000).astype(np.int64) * 16 + records["type"], return_counts=True
                )
                per_segment: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
                for key, n in zip(keys.tolist(), per_key.tolist(), strict=True):
                    per_segment[str(key // 16)][key % 16] += n
                segments = {}
                for seg, counter in per_segment.items():
                    ptype, n = counter.most_common(1)[0]
                    if n >= 0.95 * sum(counter.values()):
                        segments[seg] = ptype
                _db = _Db(
                    lookup=lookup,
                    by_area={a: (p, c) for a, (_n, p, c) in best.items()},
                    by_segment=segments,
                )
    return _db


def _p(code: str, message: str, message_en: str) -> Problem:
    return Problem(code=code, message=message, message_en=message_en)


def _carrier(ptype: int | None) -> tuple[str | None, str | None]:
    if ptype in _CARRIERS:
        return _CARRIERS[ptype], _CARRIERS[ptype]
    if ptype in _VIRTUAL:
        return "虚拟运营商", _VIRTUAL[ptype]
    return None, None


_EXT_RE = re.compile(r"^(.*?\d)-?(?:转|分机|ext\.?|x|#|,)(\d{1,6})$", re.IGNORECASE)
_DROP = str.maketrans("", "", "()（）[]【】")
_DASHES_RE = re.compile(r"[\-‐‑‒–—―－.·]+")
_PREFIXES = ("+86", "0086", "+0086")
_MOBILE_OR_400_RE = re.compile(r"1\d{10}$|[48]00\d{7}$")


def _mobile(digits: str, notes: list[Problem]) -> PhoneInfo:
    db = _load()
    info = db.lookup.find(digits)
    if info:
        ptype = next((k for k, v in {**_CARRIERS, **_VIRTUAL}.items() if v == info["phone_type"]), None)
        carrier, detail = _carrier(ptype)
        return PhoneInfo(
            number=digits,
            valid=True,
            notes=notes,
            kind="mobile",
            province=info["province"] or None,
            city=info["city"] or None,
            carrier=carrier,
            carrier_detail=detail,
            area_code=info["area_code"] or None,
        )
    carrier, detail = _carrier(db.by_segment.get(digits[:3]))
    notes.append(
        _p(
            "unknown_prefix",
            f"号段 {digits[:7]} 不在归属地库中，无法判断归属地",
            f"Prefix {digits[:7]} is not in the attribution database",
        )
    )
    return PhoneInfo(number=digits, valid=True, notes=notes, kind="mobile", carrier=carrier, carrier_detail=detail)


def _landline(area: str, local: str, ext: str | None, notes: list[Problem]) -> PhoneInfo:
    place = _load().by_area.get(area)
    if place is None:
        notes.append(_p("unknown_area_code", f"区号 {area} 未知", f"Unknown area code {area}"))
    return PhoneInfo(
        number=f"{area}-{local}" + (f"-{ext}" if ext else ""),
        valid=True,
        notes=notes,
        kind="landline",
        province=place[0] if place else None,
        city=place[1] if place else None,
        area_code=area,
        extension=ext,
    )


def _split_landline(groups: list[str], ext: str | None) -> tuple[str, str, str | None] | None:
    """(area code, local number, extension) for a number starting with 0, or None."""
    split = _split_area(groups)
    if split is None and ext is None and len(groups) >= 2 and len(groups[-1]) <= 6:
        # 0755-8888888-123: the last dash group is an extension.
        split, ext = _split_area(groups[:-1]), groups[-1]
    return (split[0], split[1], ext) if split else None


def _split_area(groups: list[str]) -> tuple[str, str] | None:
    digits = "".join(groups)
    if len(digits) < 10:
        return None
    areas = _load().by_area
    if len(groups) > 1 and 3 <= len(groups[0]) <= 4:  # the caller showed where the area code ends
        lengths = [len(groups[0])]
    elif (digits[1] in "12" or digits[:3] in areas) and digits[:4] not in areas:
        lengths = [3, 4]  # 010 and 02x are the 3-digit codes
    else:
        lengths = [4, 3]
    for n in lengths:
        if 7 <= len(digits) - n <= 8:
            return digits[:n], digits[n:]
    return None


def parse_phone(raw: str) -> PhoneInfo:
    """Classify and attribute one phone number as typed; never raises."""
    text = ascii_same_length(raw if isinstance(raw, str) else str(raw))
    s = "".join(ch for ch in text if not ch.isspace()).translate(_DROP)
    s = _DASHES_RE.sub("-", s).strip("-")
    notes: list[Problem] = []
    if not s:
        return PhoneInfo(number="", valid=False, problems=[_p("empty", "未填写电话号码", "No phone number given")])

    ext: str | None = None
    if m := _EXT_RE.match(s):
        s, ext = m.group(1), m.group(2)
    international = False
    while s.startswith(_PREFIXES):
        s = s[len(next(p for p in _PREFIXES if s.startswith(p))) :].lstrip("-")
        international = True
    groups = [g for g in s.split("-") if g]
    digits = "".join(groups)
    if not digits or not digits.isascii() or not digits.isdigit():
        return PhoneInfo(
            number=s,
            valid=False,
            problems=[_p("not_a_number", "电话号码只能包含数字", "A phone number is digits only")],
        )
    if len(digits) == 13 and re.fullmatch(r"861[3-9]\d{9}", digits):  # 86 without the + or 00
        digits, groups, international = digits[2:], [digits[2:]], True
    if international and 9 <= len(digits) <= 11 and digits[0] != "0" and not _MOBILE_OR_400_RE.match(digits):
        digits = "0" + digits  # +86 755 ... drops the trunk 0 of the area code
        groups = ["0" + groups[0], *groups[1:]]

    if ext is None:
        if len(digits) == 11 and digits[0] == "1":
            if digits[1] in "3456789":
                return _mobile(digits, notes)
            return PhoneInfo(
                number=digits,
                valid=False,
                problems=[
                    _p(
                        "bad_prefix",
                        f"手机号应以13–19开头，此号码以{digits[:2]}开头",
                        f"Mobile numbers start with 13-19, not {digits[:2]}",
                    )
                ],
            )
        if len(digits) == 12 and re.fullmatch(r"01[3-9]\d{9}", digits):
            notes.append(_p("leading_zero", "手机号前多拨了0，已去掉", "Dropped the 0 dialled before a mobile number"))
            return _mobile(digits[1:], notes)
        if len(digits) == 10 and digits[:3] in ("400", "800"):
            return PhoneInfo(
                number=digits, valid=True, kind="service", service_name=f"{digits[:3]}客服热线", notes=notes
            )
        for table, kind in _TABLES:
            if digits in table:
                return PhoneInfo(number=digits, valid=True, kind=kind, service_name=table[digits], notes=notes)
        if digits.startswith("95") and 5 <= len(digits) <= 8:
            return PhoneInfo(number=digits, valid=True, kind="service", service_name="95开头全国服务号码")
        if (len(digits) == 5 and digits.startswith(("10", "12", "96"))) or re.fullmatch(r"96\d{4}", digits):
            return PhoneInfo(number=digits, valid=True, kind="service", notes=notes)
        if 7 <= len(digits) <= 8 and not (len(groups) > 1 and groups[0][0] == "0"):  # 0755-123 lacks digits
            notes.append(_p("no_area_code", "本地固话号码，未带区号", "Local landline number without an area code"))
            return PhoneInfo(number=digits, valid=True, kind="landline", notes=notes)
    if digits[0] == "0" and (split := _split_landline(groups, ext)):
        return _landline(*split, notes)

    if len(digits) <= 6:
        problem = _p(
            "unknown_short_number",
            f"{digits} 不是已知的紧急或服务号码",
            f"{digits} is not a known emergency or service number",
        )
    else:
        problem = _p(
            "bad_length",
            f"号码位数不对（{len(digits)}位）：手机11位，固话为区号加7–8位",
            f"Wrong number of digits ({len(digits)}): mobiles have 11, landlines an area code plus 7-8",
        )
    return PhoneInfo(number=digits + (f"-{ext}" if ext else ""), valid=False, problems=[problem])


# Digit groups joined by at most a few separators; a run may hold several numbers.
_GROUP_RE = re.compile(r"[0-9]+")
_GAP_RE = re.compile(r"[ \t\u00a0\u3000\-‐‑–—－()（）]{1,3}")
_LONG_KINDS = frozenset({"mobile", "landline"})


def find_phones(text: str, *, include_short: bool = False) -> list[tuple[int, int, PhoneInfo]]:
    """(start, end, parsed) for valid phone numbers in free text, e.g. "我电话是138 1234 5678".

    By default only mobiles, landlines with an area code and 400/800 numbers are returned: in a
    narrative "120" or "12345678" is more often a distance or an amount than a number to call back.
    ``include_short=True`` adds emergency, service and short codes and local numbers without area code.
    """
    if not isinstance(text, str):
        text = str(text)
    src = ascii_same_length(text)
    groups = [(m.start(), m.end()) for m in _GROUP_RE.finditer(src)]
    runs: list[list[tuple[int, int]]] = []
    for g in groups:
        if runs and _GAP_RE.fullmatch(src, runs[-1][-1][1], g[0]):
            runs[-1].append(g)
        else:
            runs.append([g])
    found: list[tuple[int, int, PhoneInfo]] = []
    for run in runs:
        i = 0
        while i < len(run):
            hit = None
            for j in range(min(len(run), i + 6) - 1, i - 1, -1):
                start, end = run[i][0], run[j][1]
                if sum(e - s for s, e in run[i : j + 1]) > 16:
                    continue
                if start > 0 and src[start - 1] == "+":
                    start -= 1
                elif start > 0 and src[start - 1] in "(（" and any(c in ")）" for c in src[start:end]):
                    start -= 1  # (0755)8888-1234: keep the bracket pair together
                info = parse_phone(src[start:end])
                if info.valid and _wanted(info, include_short, src, start, end):
                    hit = (start, end, info, j)
                    break
            if hit:
                found.append(hit[:3])
                i = hit[3] + 1
            else:
                i += 1
    return found


def _wanted(info: PhoneInfo, include_short: bool, src: str, start: int, end: int) -> bool:
    if include_short:
        # 粤B12345 or "No.12345" is not a phone number.
        return not (start > 0 and src[start - 1].isascii() and src[start - 1].isalpha()) and not (
            end < len(src) and src[end].isascii() and src[end].isalpha()
        )
    if info.kind == "landline":
        return info.area_code is not None
    return info.kind in _LONG_KINDS or (info.kind == "service" and len(info.number) == 10)
