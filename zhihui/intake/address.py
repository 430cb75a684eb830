"""接警地址解析: split a spoken/typed Chinese address into its parts, offline and in microseconds.

A call-taker types what the caller says: "福田区香蜜湖街道侨香路3号", "深南大道和香梅路交叉口",
"锦绣花园3栋2单元501", "车公庙地铁站附近", often inside a longer description ("我在红荔路和香梅路路口这边
被人抢了手机"). `parse_address` returns the components; `zhihui.geo.geocode` puts them on the map.

How it works
* Normalise: NFKC (full-width digits and letters), traditional → simplified (OpenCC t2s, so 繁體 input is
  accepted), whitespace removed, Chinese numerals before 号/栋/单元/室/楼/米 → digits ("三栋二单元五零一"
  → "3栋2单元501"; "十七号街" and "一号路" are street names and stay as they are).
* Administrative divisions (province / city / district, GB/T 2260 adcode): matched against the table that
  ships with `cpca` (`cpca/resources/adcodes.csv`, a 2020 snapshot), read directly instead of through
  `cpca.transform`, whose pandas DataFrame costs ~0.4 s on first use and ~1 ms per call. The snapshot
  lacks Shenzhen's 龙华区, 坪山区 and 光明区 (created 2016–2018), which are added here (`_SUPPLEMENT`).
  A district name shared by several cities ("朝阳区") is resolved with the preceding province/city when
  given, else the home city's, else the home province's, else the lowest code (朝阳区 → 北京 110105).
* Everything below the district is found by one left-to-right scan: at each position every component
  pattern (街道/镇, 社区/村, road, 号, place, 栋, 单元, 室, intersection words, relations such as 附近 or
  往东100米) is tried with the shortest name that ends in its suffix, and the longest resulting token
  wins (so "农园路" is a road, not the place "农园"). Names never contain common function characters
  (我/在/的/被…), which is how an address is cut out of a sentence. Two roads joined by 和/与/交 and/or
  followed by 路口/交叉口 make an intersection.
* `find_address` returns the densest run of components (the address-like span) in a longer text.

The parser knows no street list: it relies on suffixes, so a name that lacks one (a bare "香蜜湖") ends up
in `rest`, and the geocoder matches `rest` against the gazetteer as a last resort. `parse_address` never
raises on a `str`; anything else is treated as empty text.
"""

from __future__ import annotations

import csv
import importlib.resources
import io
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

__all__ = [
    "HOME_ADCODE",
    "AddressSpan",
    "AdminDivision",
    "ParsedAddress",
    "admin_division",
    "find_address",
    "normalize_text",
    "parse_address",
]

HOME_ADCODE = "440300"
"""The bureau's own city (深圳市). An ambiguous district name is read as this city's first."""

_MAX_INPUT = 2000  # characters looked at; a 110 description longer than this is cut (never an error)

# --------------------------------------------------------------------------------------------------
# Normalisation

_CN_DIGIT = {
    "零": 0,
    "〇": 0,
    "○": 0,
    "一": 1,
    "幺": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}
_CN_NUM_CHARS = "".join(_CN_DIGIT) + "".join(_CN_UNIT)
# A Chinese numeral is converted only where it counts something in an address: before these markers.
# 号 followed by a street suffix is part of a street name (一号路, 十七号街) and is left alone.
_CN_NUM_RE = re.compile(
    rf"(?<![{_CN_NUM_CHARS}])([{_CN_NUM_CHARS}]+)(?=号(?![路街道巷])|栋|座|幢|单元|室|房|楼|层|米|公里|户)"
)
# Spoken room numbers after 单元/栋/楼: "五零一" (digit by digit).
_CN_ROOM_RE = re.compile(r"(?:(?<=单元)|(?<=[栋幢座]))([零〇○一幺二两三四五六七八九]{3,5})")
_SPACE_RE = re.compile(r"\s+")


def _cn_to_int(s: str) -> int | None:
    """'三' → 3, '二十三' → 23, '一百零八' → 108, '五零一' → 501 (digit by digit when there is no unit)."""
    if not s:
        return None
    if not any(c in _CN_UNIT for c in s):
        if all(c in _CN_DIGIT for c in s):
            return int("".join(str(_CN_DIGIT[c]) for c in s))
        return None
    total, current = 0, 0
    for c in s:
        if c in _CN_DIGIT:
            current = _CN_DIGIT[c]
        elif c in _CN_UNIT:
            total += (current or 1) * _CN_UNIT[c]
            current = 0
        else:
            return None
    return total + current


def _num_sub(m: re.Match[str]) -> str:
    value = _cn_to_int(m.group(1))
    return m.group(1) if value is None else str(value)


@lru_cache(maxsize=1)
def _opencc():
    try:
        import opencc

        return opencc.OpenCC("t2s")
    except Exception:  # pragma: no cover - opencc is a declared dependency; degrade rather than fail
        return None


def normalize_text(text: str) -> str:
    """NFKC + traditional→simplified + no whitespace + Chinese counting numerals → digits."""
    if not isinstance(text, str) or not text:
        return ""
    s = unicodedata.normalize("NFKC", text[:_MAX_INPUT])
    cc = _opencc()
    if cc is not None and any(ord(c) > 0x2E7F for c in s):
        try:
            s = cc.convert(s)
        except Exception:  # pragma: no cover - defensive: never fail intake over a conversion
            pass
    s = _SPACE_RE.sub("", s)
    # Surrogates and other unencodable characters would break downstream encoders; drop them.
    s = s.encode("utf-8", "ignore").decode("utf-8")
    s = _CN_NUM_RE.sub(_num_sub, s)
    s = _CN_ROOM_RE.sub(_num_sub, s)
    return s


# --------------------------------------------------------------------------------------------------
# Administrative divisions (GB/T 2260) from cpca's table


@dataclass(frozen=True, slots=True)
class AdminDivision:
    adcode: str  # 6 digits
    name: str
    level: int  # 0 province, 1 city, 2 county/district
    lat: float | None  # as in the source table (cpca: GCJ-02, see zhihui.geo.gazetteer)
    lon: float | None
    source: str = "cpca"


# Shenzhen districts created after cpca's snapshot (GB/T 2260 codes). Coordinates come from the shared
# district polygons when available (zhihui.geo.gazetteer), not from here.
_SUPPLEMENT = (
    ("440309", "龙华区"),
    ("440310", "坪山区"),
    ("440311", "光明区"),
)
_SPECIAL_ABBR = {
    "内蒙古自治区": "内蒙古",
    "广西壮族自治区": "广西",
    "西藏自治区": "西藏",
    "新疆维吾尔自治区": "新疆",
    "宁夏回族自治区": "宁夏",
    "香港特别行政区": "香港",
    "澳门特别行政区": "澳门",
}
_SKIP_NAMES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


class _AdminTable:
    def __init__(self) -> None:
        self.by_code: dict[str, AdminDivision] = {}
        rows: list[tuple[str, str, str, str]] = []
        try:
            raw = importlib.resources.files("cpca.resources").joinpath("adcodes.csv").read_text("utf-8")
            for rec in csv.DictReader(io.StringIO(raw)):
                rows.append((rec["adcode"][:6], rec["name"], rec["longitude"], rec["latitude"]))
        except Exception:  # pragma: no cover - cpca missing: parse without admin divisions
            rows = []
        for code, name, _ in ((c, n, None) for c, n in _SUPPLEMENT):
            rows.append((code, name, "", ""))
        self.names: dict[str, list[AdminDivision]] = {}
        for code, name, lon, lat in rows:
            if name in _SKIP_NAMES or len(code) != 6 or code in self.by_code:
                continue
            level = 0 if code.endswith("0000") else 1 if code.endswith("00") else 2
            div = AdminDivision(
                code,
                name,
                level,
                float(lat) if lat else None,
                float(lon) if lon else None,
                "cpca" if (code, name) not in _SUPPLEMENT else "supplement",
            )
            self.by_code[code] = div
            keys = {name}
            if level < 2:
                abbr = _SPECIAL_ABBR.get(name) or re.sub(r"(省|市|特别行政区|自治区)$", "", name)
                if len(abbr) >= 2:
                    keys.add(abbr)
            for key in keys:
                self.names.setdefault(key, []).append(div)
        for divs in self.names.values():
            divs.sort(key=lambda d: d.adcode)
        self.max_len = max((len(k) for k in self.names), default=0)
        self.first_chars = {k[0] for k in self.names}


@lru_cache(maxsize=1)
def _admin() -> _AdminTable:
    return _AdminTable()


def admin_division(adcode: str | None) -> AdminDivision | None:
    """The division with this 6-digit code (also accepts cpca's 12-digit codes), or None."""
    if not adcode:
        return None
    return _admin().by_code.get(str(adcode)[:6])


def _belongs(child: AdminDivision, parent: AdminDivision) -> bool:
    return child.adcode.startswith(parent.adcode[: (parent.level + 1) * 2])


# A division name directly followed by one of these is part of a street or place name (北京路, 中山公园).
_ADMIN_BLOCK_RE = re.compile(r"(?:路|街|大道|道|巷|公园|广场|大厦|花园|小区|医院|酒店|学校|小学|中学|站|村|桥)")


def _match_admin(s: str, home: str) -> tuple[dict[int, AdminDivision], list[tuple[int, int]]]:
    """Province/city/county found in s: {level: division} and the character spans they occupy."""
    table = _admin()
    found: dict[int, AdminDivision] = {}
    spans: list[tuple[int, int]] = []
    last: AdminDivision | None = None
    i, n = 0, len(s)
    while i < n:
        if s[i] not in table.first_chars:
            i += 1
            continue
        hit = None
        for length in range(min(table.max_len, n - i), 1, -1):
            cands = table.names.get(s[i : i + length])
            if cands:
                hit = (length, cands)
                break
        if hit is None:
            i += 1
            continue
        length, cands = hit
        if _ADMIN_BLOCK_RE.match(s, i + length):
            i += length
            continue
        if length <= 2 and last is None and i > 0 and s[i - 1] not in _STOP:
            # 东区, 城区, 矿区… inside a name ("新世纪新村东区") are not the districts of that name
            i += 1
            continue
        if last is not None:
            choice = next((d for d in cands if _belongs(d, last) and d.level > last.level), None)
        else:
            choice = (
                next((d for d in cands if d.adcode.startswith(home[:4])), None)
                or next((d for d in cands if d.adcode.startswith(home[:2])), None)
                or cands[0]
            )
        if choice is not None and choice.level not in found:
            found[choice.level] = choice
            spans.append((i, i + length))
            last = choice
            if choice.level == 2:
                break
        i += length
    return found, spans


# --------------------------------------------------------------------------------------------------
# Sub-district components

# Characters that never occur inside a place or street name: they cut an address out of a sentence.
_STOP = (
    "我你他她它们的了是被把从往就这那说叫着很也还又再要想呢吧吗啊呀哦嗯喂请帮在有刚才正快让给抢偷打"
    "，。、！？；：,.!?;:()（）【】[]\"'“”‘’<>《》/\\|-—_~·…#*@&%$^+=`"
)
_NAME = rf"[^{re.escape(_STOP)}\d]"  # one name character (CJK, letters…; digits are numbers, not names)
_NAMED = rf"[^{re.escape(_STOP)}]"  # a name character that may also be a digit (7天酒店)
_ROAD_SUFFIX = r"(?:大道|大街|公路|立交桥|立交|大桥|隧道|高速|路|街(?!道)|道|巷|桥|坊)(?:辅路|辅道)?"
_PLACE_SUFFIX = (
    r"(?:社区工作站|社区健康服务中心|党群服务中心|工作站|社康中心|地铁站|公交站|火车站|高铁站|汽车站|客运站|"
    r"小区|花园|家园|新村|公寓|华庭|雅居|山庄|苑|大厦|大楼|写字楼|广场|商务中心|中心|酒店|宾馆|饭店|酒家|"
    r"招待所|学校|实验学校|小学|中学|大学|学院|幼儿园|医院|卫生院|卫生站|诊所|门诊部|公园|商场|超市|市场|"
    r"农贸市场|购物中心|银行|派出所|警务室|停车场|加油站|体育馆|体育中心|图书馆|博物馆|剧院|影院|电影院|"
    r"网吧|酒吧|大排档|餐厅|工业区|工业园|科技园|产业园|口岸|码头|大院|宿舍|城)"
)
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    # (component, pattern anchored at the scan position); order = priority on equal length
    ("township", re.compile(rf"({_NAME}{{1,6}}?)(街道办事处|街道办|街道|镇|乡)(?![路街道巷])")),
    ("place", re.compile(rf"({_NAME}{{1,8}}?{_ROAD_SUFFIX})(小学|中学|学校|地铁站|公交站|站|派出所|医院|幼儿园)")),
    (
        "place",
        re.compile(
            rf"((?:{_NAME}|\d){{0,2}}{_NAME}{{0,8}}?)({_PLACE_SUFFIX})((?:[一二三四五六七八九十\d]{{1,2}}期|[东西南北A-Za-z]区)?)"
            r"(?![路街道巷])"
        ),
    ),
    ("community", re.compile(rf"({_NAME}{{1,6}}?)(社区|村)(?![路街道巷]|社区|工作站|服务中心|健康|党群|居委)")),
    ("road", re.compile(rf"({_NAME}{{1,10}}?)({_ROAD_SUFFIX})")),
    ("house_number", re.compile(r"(\d{1,5}(?:[-之]\d{1,4})?)号(院)?(?!楼)")),
    ("building", re.compile(r"(\d{1,3}|[A-Za-z])(?:号楼|栋|座|幢|#楼|#)")),
    ("unit", re.compile(r"(\d{1,2})单元")),
    ("room", re.compile(r"(\d{1,5})(室|房|号房)")),
    ("floor", re.compile(r"(\d{1,3})(楼|层)(?!\d)")),
    ("marker", re.compile(r"的?(交叉路口|交叉口|交汇处|交界处|十字路口|丁字路口|路口|交口|口)")),
    (
        "relation",
        re.compile(
            r"(?:往|向|朝)?([东南西北]{1,2})(?:边|面|侧|方向)?(?:约|大概|差不多)?(\d{1,5})(米|公里|km|m)"
            r"|(斜对面|对面|附近|旁边|边上|隔壁|门口|楼下|楼上|后面|前面|里面|周边|一带|这边|那边|这里|那里|路边|旁)"
            r"|([东南西北]{1,2}(?:侧|门|口|角))"
        ),
    ),
]
_CONNECTOR_RE = re.compile(r"(和|与|交|跟|及|、|/|同|至|到)")
_BARE_ROOM_RE = re.compile(r"(\d{3,5})(?!\d|号|栋|座|幢|单元|米)")
_COMPONENT_KINDS = {
    "township",
    "community",
    "road",
    "place",
    "house_number",
    "building",
    "unit",
    "room",
    "floor",
    "marker",
    "relation",
    "connector",
}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    start: int
    end: int
    text: str
    groups: tuple[str | None, ...]


def _tokenize(s: str, start: int = 0, end: int | None = None) -> list[_Token]:
    end = len(s) if end is None else end
    tokens: list[_Token] = []
    i = start
    while i < end:
        prev = tokens[-1] if tokens and tokens[-1].end == i else None
        best: _Token | None = None
        # A connector between two roads outranks a longer road match ("红荔路和香梅路": 和 is not a name).
        if prev is not None and prev.kind == "road":
            m = _CONNECTOR_RE.match(s, i, end)
            if m:
                nxt = _PATTERNS[4][1].match(s, m.end(), end)
                if nxt:
                    best = _Token("connector", i, m.end(), m.group(0), m.groups())
        if best is None and prev is not None and prev.kind in ("unit", "building"):
            m = _BARE_ROOM_RE.match(s, i, end)
            if m:
                best = _Token("room", i, m.end(), m.group(0), (m.group(1), None))
        if best is None:
            for kind, pat in _PATTERNS:
                if kind == "marker" and (prev is None or prev.kind != "road"):
                    continue
                m = pat.match(s, i, end)
                if m and (best is None or m.end() > best.end):
                    best = _Token(kind, i, m.end(), m.group(0), m.groups())
        if best is None:
            i += 1
            continue
        tokens.append(best)
        i = best.end
    return tokens


# --------------------------------------------------------------------------------------------------
# Public API


@dataclass(slots=True)
class ParsedAddress:
    """Components of an address. All optional; `text` is the normalised input, `span` the address part."""

    text: str = ""
    span: tuple[int, int] | None = None
    province: str | None = None
    city: str | None = None
    district: str | None = None
    adcode: str | None = None
    township: str | None = None
    community: str | None = None
    road: str | None = None
    house_number: str | None = None
    place: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    intersection: tuple[str, str] | None = None
    relation: str | None = None
    rest: str = ""
    roads: list[str] = field(default_factory=list)
    """Every road named, in order (the first is `road` unless it is part of the intersection)."""
    places: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        """The address-like part of the text ('' if none was found)."""
        return self.text[self.span[0] : self.span[1]] if self.span else ""

    @property
    def is_empty(self) -> bool:
        return not any(
            (self.adcode, self.township, self.community, self.road, self.place, self.intersection, self.house_number)
        )

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["intersection"] = list(self.intersection) if self.intersection else None
        d["span"] = list(self.span) if self.span else None
        d["address"] = self.address
        return d


class AddressSpan(str):
    """The address-like part of a text: a `str` (so it can be passed straight to `parse_address`) that
    also carries where it is: `start`/`end` are offsets into `normalized` (the normalised input)."""

    __slots__ = ("end", "normalized", "start")
    start: int
    end: int
    normalized: str

    def __new__(cls, start: int, end: int, normalized: str) -> AddressSpan:
        obj = super().__new__(cls, normalized[start:end])
        obj.start, obj.end, obj.normalized = start, end, normalized
        return obj

    @property
    def text(self) -> str:
        return str(self)


_GAP_BREAK_RE = re.compile(rf"[{re.escape(_STOP.replace('的', ''))}]")


def _clusters(s: str, tokens: list[_Token], admin_spans: list[tuple[int, int]]) -> list[list[_Token | tuple[int, int]]]:
    """Runs of components separated by at most 4 name characters (车公庙 in "深南大道车公庙这里")."""
    items: list[Any] = sorted([*tokens, *admin_spans], key=lambda t: t.start if isinstance(t, _Token) else t[0])
    groups: list[list[Any]] = []
    last_end = -10
    for it in items:
        st, en = (it.start, it.end) if isinstance(it, _Token) else it
        if groups and st - last_end <= 4 and not _GAP_BREAK_RE.search(s, last_end, st):
            groups[-1].append(it)
        else:
            groups.append([it])
        last_end = max(last_end, en)
    return groups


_WEIGHT = {
    "road": 3,
    "place": 3,
    "house_number": 2,
    "community": 2,
    "township": 2,
    "building": 2,
    "unit": 2,
    "room": 1,
    "floor": 1,
    "marker": 2,
    "connector": 1,
    "relation": 1,
}


def _score_group(group: list[Any]) -> int:
    return sum(_WEIGHT.get(it.kind, 0) if isinstance(it, _Token) else 3 for it in group)


def _best_group(s: str, home: str) -> tuple[list[_Token], dict[int, AdminDivision], tuple[int, int] | None]:
    found, admin_spans = _match_admin(s, home)
    # Tokens are scanned around the admin names (a district is never the start of a street name).
    tokens: list[_Token] = []
    pos = 0
    for a, b in sorted(admin_spans):
        tokens += _tokenize(s, pos, a)
        pos = b
    tokens += _tokenize(s, pos)
    if not tokens and not admin_spans:
        return [], found, None
    groups = _clusters(s, tokens, admin_spans)
    # A lone relation ("这边") or floor is not an address.
    groups = [g for g in groups if _score_group(g) >= 2 or any(not isinstance(it, _Token) for it in g)]
    if not groups:
        return [], found, None
    best = max(groups, key=_score_group)
    starts = [it.start if isinstance(it, _Token) else it[0] for it in best]
    ends = [it.end if isinstance(it, _Token) else it[1] for it in best]
    group_tokens = [it for it in best if isinstance(it, _Token)]
    # Admin divisions outside the chosen group still count (the caller said the district elsewhere).
    return group_tokens, found, (min(starts), max(ends))


def find_address(text: str, *, home: str = HOME_ADCODE) -> AddressSpan | None:
    """The address-like span of a free-text description (a str with .start/.end), or None if none."""
    s = normalize_text(text if isinstance(text, str) else "")
    _, _, span = _best_group(s, home)
    if span is None:
        return None
    return AddressSpan(span[0], span[1], s)


def parse_address(text: str, *, home: str = HOME_ADCODE) -> ParsedAddress:
    """Parse the (first, densest) address in `text`. Never raises on a str; non-str input → empty result."""
    try:
        return _parse(text if isinstance(text, str) else "", home)
    except Exception:  # pragma: no cover - last-resort guard: intake must never fail on a parse
        return ParsedAddress(text=text if isinstance(text, str) else "", rest=text if isinstance(text, str) else "")


def _parse(text: str, home: str) -> ParsedAddress:
    s = normalize_text(text)
    out = ParsedAddress(text=s)
    if not s:
        return out
    tokens, admin, span = _best_group(s, home)
    out.span = span
    if admin:
        most = admin[max(admin)]
        out.adcode = most.adcode
        table = _admin()
        prov = table.by_code.get(most.adcode[:2] + "0000")
        city = table.by_code.get(most.adcode[:4] + "00") if most.level >= 1 else None
        out.province = prov.name if prov else None
        if most.adcode[:2] in ("11", "12", "31", "50"):  # 直辖市: the city is the municipality itself
            out.city = out.province if most.level >= 1 or most.level == 0 else None
        else:
            out.city = city.name if city else None
        out.district = most.name if most.level == 2 else None
    consumed: list[tuple[int, int]] = []
    roads: list[tuple[int, str]] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        kind = t.kind
        if kind == "road":
            roads.append((i, t.text))
        elif kind == "township" and out.township is None:
            out.township = t.text
        elif kind == "community" and out.community is None:
            out.community = t.text
        elif kind == "place":
            out.places.append(t.text)
            if out.place is None:
                out.place = t.text
        elif kind == "house_number" and out.house_number is None:
            out.house_number = t.groups[0]
        elif kind == "building" and out.building is None:
            out.building = t.text
        elif kind == "unit" and out.unit is None:
            out.unit = t.groups[0]
        elif kind in ("room", "floor") and out.room is None:
            out.room = t.text
        elif kind == "relation" and out.relation is None:
            out.relation = t.text
        consumed.append((t.start, t.end))
        i += 1
    out.roads = [r for _, r in roads]
    # Intersection: road (connector) road [marker], or road road marker.
    for a in range(len(roads) - 1):
        ia, name_a = roads[a]
        ib, name_b = roads[a + 1]
        between = [tok.kind for tok in tokens[ia + 1 : ib]]
        after = tokens[ib + 1].kind if ib + 1 < len(tokens) else None
        if name_a == name_b:
            continue
        if between == ["connector"] or (between == [] and after == "marker"):
            out.intersection = (name_a, name_b)
            break
    if out.intersection is None and len(roads) == 1 and out.house_number is None:
        # "香梅路口" alone is still a road; mark nothing more.
        pass
    rest_roads = [r for r in out.roads if not out.intersection or r not in out.intersection]
    out.road = rest_roads[0] if rest_roads else None
    if span is not None:
        a, b = span
        chars = []
        pos = a
        for st, en in sorted(consumed):
            if st > pos:
                chars.append(s[pos:st])
            pos = max(pos, en)
        if pos < b:
            chars.append(s[pos:b])
        out.rest = "".join(chars)
        # Admin names inside the span are not "rest".
        for div in admin.values():
            out.rest = out.rest.replace(div.name, "")
    else:
        out.rest = s
    return out
