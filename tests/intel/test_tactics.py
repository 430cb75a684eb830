# Copyright 2026 The zhihui authors. Licensed under the Apache License, Version 2.0.
"""Tactics on DuckDB over small hand-built tables: collision (exact, fuzzy, groups, windows), trajectory,
co-presence, high-risk origin, rule validation. ``build_tables`` is shared with the Spark equality test."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from zhihui.geo.coords import haversine_m
from zhihui.intake.text.ids import check_digit
from zhihui.intel.normalise import hash_key, id_pack, with_keys
from zhihui.intel.rules import RuleError, load_rules, parse_rules
from zhihui.intel.schema import ACTIVITY, SOURCES, WATCH_KEYS, WATCHLIST
from zhihui.intel.tactics import (
    HITS,
    KPAIRS_SQL,
    SCORE_COLUMNS,
    SCORE_ROWS_SQL,
    DuckDBEngine,
    clear_watch_cache,
    co_presence,
    collide,
    frame_rescorer,
    high_risk_origin,
    prepare_watch,
    trajectory,
    watch_fingerprint,
)

CST = timedelta(hours=8)


def rid(region: str, birth: str, seq: str) -> str:
    body = region + birth + seq
    return body + check_digit(body)


def swap(s: str, i: int) -> str:
    """``s`` with the characters at 0-based i and i+1 exchanged (a typist's transposition)."""
    return s[:i] + s[i + 1] + s[i] + s[i + 2 :]


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    """A Beijing wall-clock time as the UTC instant the tables hold."""
    return datetime(y, mo, d, h, mi, tzinfo=UTC) - CST


# Key persons --------------------------------------------------------------------------------------------
P1_ID = rid("440304", "19900101", "123")  # 在逃 张三
P7_ID = rid("440305", "19900101", "909")  # 在逃 周九, also known by an alias ID
P7_ALIAS = rid("430521", "19900101", "555")
P2_ID = rid("450102", "19850607", "031")  # 吸毒人员 李四
P3_ID = rid("360102", "19920315", "442")  # 吸毒人员 王五
P4_ID = rid("440306", "19780909", "217")  # 涉稳 赵六
P5_ID = rid("431102", "19951230", "018")  # 盗窃前科 孙七
NAMESAKE_ID = rid("440304", "19911111", "771")  # another 张三, born on another day, on no list
STRANGER_ID = rid("510104", "19880808", "246")
MIGRANT_A = rid("430102", "19930303", "111")
MIGRANT_B = rid("430521", "19940404", "222")
MIGRANT_C = rid("440511", "19970707", "333")

WATCH_ROWS = [
    ("1", "在逃", "一级", P1_ID, "张三", "zhangsan", date(1990, 1, 1), "M", "440304010000"),
    ("2", "吸毒人员", "二级", P2_ID, "李四", "lisi", date(1985, 6, 7), "M", "440304020000"),
    ("3", "吸毒人员", "二级", P3_ID, "王五", "wangwu", date(1992, 3, 15), "M", "440304020000"),
    ("4", "涉稳", "二级", P4_ID, "赵六", "zhaoliu", date(1978, 9, 9), "M", "440304030000"),
    ("5", "盗窃前科", "三级", P5_ID, "孙七", "sunqi", date(1995, 12, 30), "F", "440304030000"),
    ("6", "精神障碍肇事肇祸", "二级", None, "钱八", "qianba", date(1970, 2, 2), "M", "440304040000"),
    ("7", "在逃", "一级", P7_ID, "周九", "zhoujiu", date(1990, 1, 1), "M", "440304010000"),
]
WATCH_KEY_ROWS = [
    ("1", "id_number", P1_ID), ("1", "phone", "13800138000"), ("1", "plate", "粤B12345"),
    ("2", "id_number", P2_ID), ("3", "id_number", P3_ID),
    ("4", "id_number", P4_ID), ("4", "phone", "13900139000"),
    ("5", "id_number", P5_ID), ("6", "plate", "粤B88888"),
    ("7", "id_number", P7_ID), ("7", "id_number", P7_ALIAS),
]  # fmt: skip

HOTEL = {"venue_code": "LG-1", "venue_name": "福田大酒店", "lat": 22.5400, "lon": 114.0500, "org_code": "440304010000"}
HOTEL2 = {"venue_code": "LG-2", "venue_name": "华强宾馆", "lat": 22.5450, "lon": 114.0850, "org_code": "440304020000"}
CAFE = {"venue_code": "WB-1", "venue_name": "极速网吧", "lat": 22.5410, "lon": 114.0510, "org_code": "440304010000"}
CAFE_FAR = {"venue_code": "WB-2", "venue_name": "星空网吧", "lat": 22.6000, "lon": 114.1500, "org_code": "440304030000"}
CP1 = {"venue_code": "KK-1", "venue_name": "深南大道卡口", "lat": 22.5405, "lon": 114.0505, "org_code": "440304010000"}
CP2 = {"venue_code": "KK-2", "venue_name": "滨河大道卡口", "lat": 22.5600, "lon": 114.0700, "org_code": "440304020000"}
STATION = {"venue_code": "HCZ-1", "venue_name": "深圳北站", "lat": 22.6090, "lon": 114.0290, "org_code": "440309000000"}


def _act(record_id: str, source: str, at: datetime, venue: dict, **kw: object) -> dict:
    row = {f.name: None for f in ACTIVITY}
    row.update(venue)
    row.update(record_id=record_id, source=source, batch_id="B1", at=at, **kw)
    return row


def activity_rows() -> list[dict]:
    rows = [
        # 在逃 张三: every exact key, and once with two digits of the sequence number swapped
        _act("H1", "hotel_checkin", local(2026, 1, 5, 22), HOTEL, id_number=P1_ID, name="张三", name_key="zhangsan",
             birth_date=date(1990, 1, 1), sex="M", room="0601"),
        _act("T1", "transport_ticket", local(2026, 1, 6, 9), STATION, id_number=STRANGER_ID, name="吴一",
             name_key="wuyi", phone="13800138000", room="05车12F", trip="G6012/2026-01-06"),
        _act("K1", "checkpoint_pass", local(2026, 1, 6, 10), CP1, plate="粤B12345"),
        _act("C1", "internet_cafe", local(2026, 1, 6, 20), CAFE, id_number=swap(P1_ID, 14), name="章三",
             name_key="zhangsan", birth_date=date(1990, 1, 1), sex="M", room="A012"),
        # a namesake: same name key, another birth date and ID, on no list
        _act("C2", "internet_cafe", local(2026, 1, 6, 21), CAFE, id_number=NAMESAKE_ID, name="张三",
             name_key="zhangsan", birth_date=date(1991, 11, 11), sex="M", room="A013"),
        # 吸毒人员 李四 + 王五 in room 0805 on the night of 5 Jan (22:00 and 01:30 local) → group
        _act("H2", "hotel_checkin", local(2026, 1, 5, 22), HOTEL2, id_number=P2_ID, name="李四", name_key="lisi",
             birth_date=date(1985, 6, 7), sex="M", room="0805"),
        _act("H3", "hotel_checkin", local(2026, 1, 6, 1, 30), HOTEL2, id_number=P3_ID, name="王五",
             name_key="wangwu", birth_date=date(1992, 3, 15), sex="M", room="0805"),
        # the same two in the same room on different nights → no group
        _act("H4", "hotel_checkin", local(2026, 1, 7, 22), HOTEL2, id_number=P2_ID, name="李四", name_key="lisi",
             birth_date=date(1985, 6, 7), sex="M", room="0805"),
        _act("H5", "hotel_checkin", local(2026, 1, 8, 21), HOTEL2, id_number=P3_ID, name="王五",
             name_key="wangwu", birth_date=date(1992, 3, 15), sex="M", room="0805"),
        # 李四 with an unlisted companion on the night of 9 Jan → one listed person, no group
        _act("H8", "hotel_checkin", local(2026, 1, 9, 23), HOTEL2, id_number=P2_ID, name="李四", name_key="lisi",
             birth_date=date(1985, 6, 7), sex="M", room="1203"),
        _act("H9", "hotel_checkin", local(2026, 1, 9, 23, 5), HOTEL2, id_number=STRANGER_ID, name="吴一",
             name_key="wuyi", birth_date=date(1988, 8, 8), sex="M", room="1203"),
        # 涉稳 赵六 buys a ticket with his ID and phone (one hit, exact_id wins), then with a twice-mistyped ID
        _act("T2", "transport_ticket", local(2026, 1, 7, 8), STATION, id_number=P4_ID, name="赵六",
             name_key="zhaoliu", phone="13900139000", room="03车07A", trip="G1002/2026-01-07"),
        _act("T3", "transport_ticket", local(2026, 1, 7, 9), STATION,
             id_number=P4_ID[:8] + "1" + P4_ID[9:15] + "9" + P4_ID[16:], name="赵六", name_key="zhaoliu",
             birth_date=date(1978, 9, 9), room="03车08A", trip="G1004/2026-01-07"),
        # 盗窃前科 孙七 online (exact), online with one wrong digit (fuzzy), and in a hotel (no 前科×hotel rule)
        _act("C3", "internet_cafe", local(2026, 1, 6, 15), CAFE, id_number=P5_ID, name="孙七", name_key="sunqi",
             birth_date=date(1995, 12, 30), sex="F", room="B020"),
        _act("C4", "internet_cafe", local(2026, 1, 8, 15), CAFE, id_number=P5_ID[:15] + "9" + P5_ID[16:],
             name="孙七", name_key="sunqi", birth_date=date(1995, 12, 30), sex="F", room="B021"),
        _act("H6", "hotel_checkin", local(2026, 1, 8, 20), HOTEL, id_number=P5_ID, name="孙七", name_key="sunqi",
             birth_date=date(1995, 12, 30), sex="F", room="0302"),
        # 钱八's car; 周九 checks in on his alias ID
        _act("K2", "checkpoint_pass", local(2026, 1, 7, 18), CP2, plate="粤B88888"),
        _act("H7", "hotel_checkin", local(2026, 1, 10, 12), HOTEL, id_number=P7_ALIAS, name="周九",
             name_key="zhoujiu", birth_date=date(1990, 1, 1), sex="M", room="0909"),
        # co-presence: a stranger and a plate near cases X1 and X2; a migrant near X1 only
        _act("C5", "internet_cafe", local(2026, 1, 12, 20, 10), CAFE, id_number=STRANGER_ID, name="吴一",
             name_key="wuyi", room="A001"),
        _act("K3", "checkpoint_pass", local(2026, 1, 12, 20, 20), CP1, plate="粤B66666"),
        _act("C6", "internet_cafe", local(2026, 1, 13, 2, 15), CAFE_FAR, id_number=STRANGER_ID, name="吴一",
             name_key="wuyi", room="C003"),
        _act("C7", "internet_cafe", local(2026, 1, 13, 2, 40), CAFE_FAR, id_number=MIGRANT_C, name="郑十",
             name_key="zhengshi", room="C004"),
        _act("C8", "internet_cafe", local(2026, 1, 12, 19, 55), CAFE, id_number=MIGRANT_A, name="冯甲",
             name_key="fengjia", room="A002"),
        _act("K4", "checkpoint_pass", local(2026, 1, 13, 2, 30), {**CAFE_FAR, "venue_code": "KK-3",
             "venue_name": "星空路卡口"}, plate="粤B66666"),
        _act("C9", "internet_cafe", local(2026, 1, 12, 23, 0), CAFE, id_number=STRANGER_ID, name="吴一",
             name_key="wuyi", room="A005"),  # 2 h 50 after X1: outside Δt
        # high-risk origin: Hunan (43…) persons in two hotels, across a local midnight
        _act("H10", "hotel_checkin", local(2026, 1, 14, 23, 30), HOTEL, id_number=MIGRANT_A, name="冯甲",
             name_key="fengjia", room="1001"),
        _act("H11", "hotel_checkin", local(2026, 1, 15, 0, 30), HOTEL, id_number=MIGRANT_B, name="陈乙",
             name_key="chenyi", room="1002"),
        _act("H12", "hotel_checkin", local(2026, 1, 15, 9, 0), HOTEL, id_number=MIGRANT_B, name="陈乙",
             name_key="chenyi", room="1002"),
        _act("H13", "hotel_checkin", local(2026, 1, 15, 10, 0), HOTEL2, id_number=MIGRANT_A, name="冯甲",
             name_key="fengjia", room="0101"),
        _act("H14", "hotel_checkin", local(2026, 1, 15, 11, 0), HOTEL2, id_number=MIGRANT_C, name="郑十",
             name_key="zhengshi", room="0102"),
    ]  # fmt: skip
    return rows


CASES = [
    ("X1", local(2026, 1, 12, 20, 0), 22.5402, 114.0503),  # by the hotel / café / CP1 block
    ("X2", local(2026, 1, 13, 2, 20), 22.6003, 114.1497),  # by the far café
    ("X3", local(2026, 1, 20, 12, 0), 22.5000, 114.0000),  # nobody around
]


def build_tables() -> dict[str, pa.Table]:
    return {
        "activity": pa.Table.from_pylist(activity_rows(), schema=ACTIVITY),
        "watchlist": pa.Table.from_pylist(
            [dict(zip(WATCHLIST.names, r, strict=True)) for r in WATCH_ROWS], schema=WATCHLIST
        ),
        "watch_keys": pa.Table.from_pylist(
            [dict(zip(WATCH_KEYS.names, r, strict=True)) for r in WATCH_KEY_ROWS], schema=WATCH_KEYS
        ),
    }


@pytest.fixture(scope="module")
def engine():
    t = build_tables()
    eng = DuckDBEngine(t["activity"], t["watchlist"], t["watch_keys"], threads=1)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def hits(engine) -> pa.Table:
    return collide(engine, load_rules())


def by_record(hits: pa.Table) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in hits.to_pylist():
        out.setdefault(row["record_id"], []).append(row)
    return out


# --- collision -------------------------------------------------------------------------------------------


def test_schema_and_exact_hits_on_every_key_type(hits):
    assert hits.schema == HITS
    rec = by_record(hits)
    fug = {r["record_id"]: r for r in hits.to_pylist() if r["rule_code"] == "FUGITIVE_ANY"}
    assert fug["H1"]["match_type"] == "exact_id" and fug["H1"]["person_key"] == "1"
    assert fug["T1"]["match_type"] == "exact_phone" and fug["T1"]["person_key"] == "1"
    assert fug["K1"]["match_type"] == "exact_plate" and fug["K1"]["person_key"] == "1"
    for r in ("H1", "T1", "K1"):
        assert fug[r]["score"] == 1.0
    assert json.loads(fug["H1"]["reasons"]) == ["身份证号一致"]
    assert json.loads(fug["T1"]["reasons"]) == ["手机号一致"]
    # the plate of a fugitive also meets the any-category plate rule at checkpoints
    assert {r["rule_code"] for r in rec["K1"]} == {"FUGITIVE_ANY", "KEY_PLATE_CHECKPOINT"}
    assert [r["rule_code"] for r in rec["K2"]] == ["KEY_PLATE_CHECKPOINT"]
    assert rec["K2"][0]["category"] == "精神障碍肇事肇祸"
    # an alias ID is an exact ID hit, said so
    assert fug["H7"]["person_key"] == "7" and json.loads(fug["H7"]["reasons"]) == ["身份证号与在册别名证号一致"]
    # ID and phone of one person on one record: a single hit, the ID match kept
    assert [(r["rule_code"], r["match_type"]) for r in rec["T2"]] == [("STABILITY_TRANSPORT", "exact_id")]
    assert [r["rule_code"] for r in rec["C3"]] == ["RECORD_CAFE"]
    assert rec["C3"][0]["category"] == "盗窃前科"
    assert "H6" not in rec  # no rule pairs 前科 with hotels


def test_fuzzy_hit_on_swapped_digits(hits):
    rec = by_record(hits)
    (c1,) = rec["C1"]
    assert (c1["rule_code"], c1["person_key"], c1["match_type"]) == ("FUGITIVE_ANY", "1", "fuzzy_identity")
    assert json.loads(c1["reasons"]) == ["姓名拼音一致", "出生日期一致", "证号相邻两位互换"]
    assert c1["score"] == pytest.approx(0.875)
    (c4,) = rec["C4"]  # one substituted digit under the 0.8 rule for 前科 × café
    assert c4["rule_code"] == "RECORD_CAFE" and c4["match_type"] == "fuzzy_identity"
    assert json.loads(c4["reasons"])[-1] == "证号相差一位"
    assert 0.8 <= c4["score"] < 1.0


def test_fuzzy_non_hits(hits):
    rec = by_record(hits)
    assert "C2" not in rec  # same name, other birth date: not even a candidate
    assert "T3" not in rec  # two scattered wrong digits: 0.75 is under the rule's 0.8


def test_fuzzy_stats_and_threshold_visible_to_rescorer(engine):
    seen = {}

    def rescore(pairs: pa.Table) -> pa.Table:
        seen["pairs"] = pairs.to_pylist()
        return pairs.set_column(pairs.schema.get_field_index("score"), "score", pa.array([1.0] * pairs.num_rows))

    stats: dict = {}
    out = by_record(collide(engine, load_rules(), rescore=rescore, stats=stats))
    pairs = {(p["record_id"], p["person_key"]): p for p in seen["pairs"]}
    assert ("T3", "4") in pairs and pairs[("T3", "4")]["score"] == pytest.approx(0.75)
    assert ("C2", "1") not in pairs  # the namesake shares name and county only: no blocking key meets
    assert pairs[("C1", "1")]["block"].split(",") == ["id_head14", "name_birth", "name_birth_date"]
    assert stats["fuzzy_pairs"] == len(seen["pairs"])
    # with the Python score at 1.0 the twice-mistyped ticket becomes a hit
    assert [r["rule_code"] for r in out["T3"]] == ["STABILITY_TRANSPORT"]


def test_frame_rescorer_adapts_a_pandas_scorer(engine):
    seen = {}

    def score_frame(left, right):  # the interface of the Python identity scorer to come
        seen["cols"] = (list(left.columns), list(right.columns), len(left) == len(right))
        return [1.0 if a == b else 0.0 for a, b in zip(left["name_key"], right["name_key"], strict=True)]

    out = by_record(collide(engine, load_rules(), rescore=frame_rescorer(score_frame, weight=0.5)))
    cols = ["id_number", "name", "name_key", "birth_date", "sex"]
    assert seen["cols"] == (cols, cols, True)
    (t3,) = out["T3"]  # 0.5 × 1.0 + 0.5 × 0.75 = 0.875 ≥ 0.8
    assert t3["score"] == pytest.approx(0.875) and json.loads(t3["reasons"])[-1] == "复核评分0.88"


def test_same_room_night_group(hits):
    drug = [r for r in hits.to_pylist() if r["rule_code"] == "DRUG_SAME_ROOM"]
    assert sorted(r["record_id"] for r in drug) == ["H2", "H3"]
    assert len({r["group_key"] for r in drug}) == 1 and drug[0]["group_key"]
    assert {r["group_size"] for r in drug} == {2}
    assert "同房同晚在册2人" in json.loads(drug[0]["reasons"])
    assert "在册2人" in drug[0]["instruction"]
    others = [r for r in hits.to_pylist() if r["rule_code"] != "DRUG_SAME_ROOM"]
    assert all(r["group_key"] is None for r in others)


def test_group_min_persons_is_data(engine):
    rules = load_rules()
    raw = rules.model_dump()
    for r in raw["rules"]:
        if r["code"] == "DRUG_SAME_ROOM":
            r["group"]["min_persons"] = 3
    got = collide(engine, parse_rules(raw))
    assert "DRUG_SAME_ROOM" not in got.column("rule_code").to_pylist()


def test_hit_key_stable_and_ordered(engine, hits):
    again = collide(engine, load_rules())
    assert again.column("hit_key").to_pylist() == hits.column("hit_key").to_pylist()
    assert len(hits.column("hit_key").unique()) == hits.num_rows
    row = hits.to_pylist()[0]
    expect = hashlib.md5("|".join([row["rule_code"], row["source"], row["record_id"], row["person_key"]]).encode())
    assert row["hit_key"] == expect.hexdigest()
    # urgent first, then time
    ranks = [{"urgent": 0, "high": 1, "normal": 2, "low": 3}[p] for p in hits.column("priority").to_pylist()]
    assert ranks == sorted(ranks)
    urgent = [r["at"] for r in hits.to_pylist() if r["priority"] == "urgent"]
    assert urgent == sorted(urgent)


def test_window(engine, hits):
    since, until = local(2026, 1, 6, 0), local(2026, 1, 7, 0)
    got = collide(engine, load_rules(), since=since, until=until)
    assert got.num_rows > 0
    assert all(since <= t < until for t in got.column("at").to_pylist())
    full = {r["hit_key"] for r in hits.to_pylist() if since <= r["at"] < until and r["group_key"] is None}
    assert set(got.column("hit_key").to_pylist()) == full
    # H3 (01:30 on the 6th) is in the window but its room-mate H2 is not: the group does not form
    assert "DRUG_SAME_ROOM" not in got.column("rule_code").to_pylist()
    with pytest.raises(ValueError, match="timezone-aware"):
        collide(engine, load_rules(), since=datetime(2026, 1, 6))


def test_instruction_rendered(hits):
    h1 = next(r for r in hits.to_pylist() if r["record_id"] == "H1")
    assert h1["at_local"] == "2026-01-05 22:00"
    assert "张三" in h1["instruction"] and "福田大酒店" in h1["instruction"] and "身份证号一致" in h1["instruction"]
    assert h1["rule_name"] == "在逃人员全量比对" and h1["priority"] == "urgent"


def test_rules_subset(engine):
    got = collide(engine, load_rules().only("KEY_PLATE_CHECKPOINT"))
    assert sorted(got.column("record_id").to_pylist()) == ["K1", "K2"]


# --- storage layouts: keys stored at ingest, computed for older files, or both ----------------------------


def write_layouts(root: Path) -> dict[str, Path]:
    """The test activity as ingest writes it (per-source files with keys), as older files without keys, and as a
    mix of the two; plus the watch tables."""
    t = build_tables()
    act = t["activity"]
    out: dict[str, Path] = {}
    for name, table in t.items():
        if name != "activity":
            out[name] = root / f"{name}.parquet"
            pq.write_table(table, out[name])
    for layout in ("keyed", "legacy", "mixed"):
        for i, src in enumerate(SOURCES):
            part = act.filter(pc.equal(act.column("source"), src))
            keyed = layout == "keyed" or (layout == "mixed" and i % 2 == 0)
            d = root / layout / f"source={src}"
            d.mkdir(parents=True)
            pq.write_table(with_keys(part) if keyed else part, d / "part-0.parquet", write_page_index=True)
        out[layout] = root / layout
    return out


@pytest.fixture(scope="module")
def layouts(tmp_path_factory) -> dict[str, Path]:
    return write_layouts(tmp_path_factory.mktemp("layouts"))


@pytest.mark.parametrize("layout", ["keyed", "legacy", "mixed"])
def test_collision_is_the_same_on_every_layout(layouts, hits, layout):
    with DuckDBEngine(layouts[layout], layouts["watchlist"], layouts["watch_keys"], threads=1) as eng:
        got = collide(eng, load_rules())
        pairs = []
        collide(eng, load_rules(), rescore=lambda p: pairs.append(p) or p)
    assert got.equals(hits)
    with DuckDBEngine(*build_tables().values(), threads=1) as eng:  # Arrow input: the keys are computed
        seen = []
        collide(eng, load_rules(), rescore=lambda p: seen.append(p) or p)
    key = ["source", "record_id", "person_key", "w_id_number"]
    assert pairs[0].sort_by([(k, "ascending") for k in key]).equals(seen[0].sort_by([(k, "ascending") for k in key]))


def test_a_key_is_only_a_candidate_the_strings_decide(tmp_path):
    """A hash that matches a watched plate, or a blocking key that meets a watched ID, on a row whose strings do
    not: the row is read, and dropped."""
    t = build_tables()
    act = with_keys(t["activity"])
    rid = act.column("record_id").to_pylist()
    k3 = rid.index("K3")  # 粤B66666, on no list
    c2 = rid.index("C2")  # a namesake of 张三 with another birth date and ID
    plate = act.column("k_plate").to_numpy().copy()
    plate[k3] = hash_key(["粤B12345"])[0]  # the fugitive's plate
    b1 = act.column("k_b1").to_numpy().copy()
    b1[c2] = act.column("k_b1").to_numpy()[rid.index("H1")]  # 张三's ID digits 1-14
    act = act.set_column(act.schema.get_field_index("k_plate"), "k_plate", pa.array(plate))
    act = act.set_column(act.schema.get_field_index("k_b1"), "k_b1", pa.array(b1))
    stats: dict = {}
    with DuckDBEngine(act, t["watchlist"], t["watch_keys"], threads=1) as eng:
        got = collide(eng, load_rules(), stats=stats)
    assert "K3" not in got.column("record_id").to_pylist() and "C2" not in got.column("record_id").to_pylist()
    assert got.equals(collide(DuckDBEngine(*build_tables().values(), threads=1), load_rules()))


# --- the watch side kept per list version ------------------------------------------------------------------


def _write_lists(root: Path, watchlist: pa.Table, watch_keys: pa.Table) -> tuple[Path, Path]:
    root.mkdir(parents=True, exist_ok=True)
    pq.write_table(watchlist, root / "watchlist.parquet")
    pq.write_table(watch_keys, root / "watch_keys.parquet")
    return root / "watchlist.parquet", root / "watch_keys.parquet"


def test_watch_side_cached_by_content(tmp_path, hits):
    """A run over an unchanged list (the same bytes, re-exported under another name) reads the watch side from the
    cache and finds the same hits; a changed list (one ID, one category) is computed afresh, as a new engine finds
    it, and replaces the older entry."""
    t = build_tables()
    cache = tmp_path / "cache"
    wl, keys = _write_lists(tmp_path / "a", t["watchlist"], t["watch_keys"])
    clear_watch_cache()
    with DuckDBEngine(t["activity"], str(wl), str(keys), threads=1, watch_cache=cache) as eng:
        key = prepare_watch(eng, load_rules())
        assert key == watch_fingerprint(eng, load_rules()) and (cache / key).is_dir()
    for memo in (True, False):  # from this process, then as a new process would: from the files
        if not memo:
            clear_watch_cache()
        wl2, keys2 = _write_lists(tmp_path / "b", t["watchlist"], t["watch_keys"])  # the same content, anew
        stats: dict = {}
        with DuckDBEngine(t["activity"], str(wl2), str(keys2), threads=1, watch_cache=cache) as eng:
            assert watch_fingerprint(eng, load_rules()) == key
            assert collide(eng, load_rules(), stats=stats).equals(hits)
        assert stats["watch_cached"]
    # the list changes: 张三's listed ID gets a digit wrong, 李四 moves to another list
    rows = t["watchlist"].to_pylist()
    rows[0]["id_number"] = P1_ID[:-2] + ("0" if P1_ID[-2] != "0" else "1") + P1_ID[-1]
    rows[1]["category"] = "盗窃前科"
    changed = pa.Table.from_pylist(rows, schema=WATCHLIST)
    krows = [r for r in t["watch_keys"].to_pylist() if r["key_value"] != P1_ID]
    krows.append({"person_key": "1", "key_type": "id_number", "key_value": rows[0]["id_number"]})
    changed_keys = pa.Table.from_pylist(krows, schema=WATCH_KEYS)
    wl3, keys3 = _write_lists(tmp_path / "c", changed, changed_keys)
    with DuckDBEngine(t["activity"], changed, changed_keys, threads=1) as eng:  # Arrow lists: nothing cached
        clear_watch_cache()
        want = collide(eng, load_rules())
    assert not want.equals(hits)
    for cached in (False, True):  # computed and stored; then read back by the next run
        stats = {}
        with DuckDBEngine(t["activity"], str(wl3), str(keys3), threads=1, watch_cache=cache) as eng:
            assert watch_fingerprint(eng, load_rules()) != key
            assert collide(eng, load_rules(), stats=stats).equals(want)
        assert stats["watch_cached"] is cached
        clear_watch_cache()
    assert [p.name for p in cache.iterdir()] == [watch_fingerprint(eng, load_rules())]  # the old entry is gone


def test_watch_fingerprint_covers_rules_and_arrow_lists():
    t = build_tables()
    with DuckDBEngine(t["activity"], t["watchlist"], t["watch_keys"], threads=1) as eng:
        a = watch_fingerprint(eng, load_rules())
        assert a != watch_fingerprint(eng, load_rules().only("KEY_PLATE_CHECKPOINT"))
    keys = t["watch_keys"].slice(0, t["watch_keys"].num_rows - 1)
    with DuckDBEngine(t["activity"], t["watchlist"], keys, threads=1) as eng:
        assert watch_fingerprint(eng, load_rules()) != a
        clear_watch_cache()
        want = collide(eng, load_rules())
    with DuckDBEngine(t["activity"], t["watchlist"], t["watch_keys"], threads=1) as eng:
        collide(eng, load_rules())  # the full list's tables kept in memory
    with DuckDBEngine(t["activity"], t["watchlist"], keys, threads=1) as eng:
        assert collide(eng, load_rules()).equals(want)


def _edits(a: str, b: str) -> int:
    """The scoring step's id_edits: Levenshtein distance, a swap of neighbours counting once."""
    d = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, cb in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (ca != cb))
    lev = d[-1]
    swapped = any(b == a[:i] + a[i + 1] + a[i] + a[i + 2 :] for i in range(len(a) - 1))
    return 1 if lev == 2 and swapped else lev


def test_key_level_id_edits_match_the_scoring_step():
    """The bound that lets a pair skip the string read uses id_edits computed from the packed IDs; it must be the
    scoring step's exactly (3 standing for 3 or more), whatever the typist did."""
    rng = random.Random(7)
    pairs = []
    for _ in range(3000):
        w = "".join(rng.choice("0123456789") for _ in range(17))
        w += check_digit(w) if rng.random() < 0.7 else rng.choice("0123456789X")
        a = list(w)
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            op, i = rng.choice(("sub", "swap", "shift", "x")), rng.randrange(13, 18)
            if op == "sub":
                a[i] = rng.choice("0123456789")
            elif op == "swap" and i < 17:
                a[i], a[i + 1] = a[i + 1], a[i]
            elif op == "shift":  # a digit dropped here, one added at the end (or the other way round)
                j = rng.randrange(i, 18)
                a = a[:i] + a[i + 1 : j + 1] + [rng.choice("0123456789")] + a[j + 1 :]
            else:
                a[17] = rng.choice("0123456789X")
        if "".join(a[:17]).isdigit():  # what a block can meet: a 17-digit body
            pairs.append(("".join(a[:18]), w))
    pairs += [(rid("440304", "19900101", "123"), rid("440304", "19910101", "123"))]  # not one block: levenshtein
    a_ids, w_ids = [p[0] for p in pairs], [p[1] for p in pairs]
    k, wk = id_pack(a_ids), id_pack(w_ids)
    n = len(pairs)
    # each row meets its own watched ID (v = the row's index) by id_head14 when digits 1-14 agree, else by id_tail11
    head = [a[:14] == w[:14] for a, w in pairs]
    hot = pa.table({"src": [0] * n, "filename": [""] * n, "file_row_number": range(n), "k_id": k,
                    "probe": [1 if h else 2 for h in head], "v": range(n)})  # fmt: skip
    unused = {f"w_b{i}": [-1] * n for i in (3, 4, 5)}
    fz = pa.table({"src": [0] * n, "min_score": [0.65] * n, "person_key": [str(i) for i in range(n)], "w_id": w_ids,
                   "w_k": wk, "w_b1": range(n), "w_b2": range(n), **unused})  # fmt: skip
    with DuckDBEngine(*build_tables().values(), threads=1) as eng:
        eng.register("zh_hot", hot)
        eng.register("zh_fz", fz)
        got = eng.query(KPAIRS_SQL + " ORDER BY file_row_number").to_pylist()
    assert len(got) == len(pairs)
    for row, (a, w) in zip(got, pairs, strict=True):
        assert min(3, row["id_edits"]) == min(3, _edits(a, w)), (a, w, row["id_edits"])


def test_a_candidate_read_for_its_score_gets_id_and_birth_date_from_its_keys():
    """Fuzzy candidates are read for their name key alone: the ID and the birth date come from k_id and k_b5, for a
    birth date equal to the ID's, another one, none, with and without a name."""
    body = rid("440304", "19900101", "123")
    rows = [
        _act("A", "hotel_checkin", local(2026, 1, 5, 22), HOTEL, id_number=body, name_key="zhangsan",
             birth_date=date(1990, 1, 1)),
        _act("B", "hotel_checkin", local(2026, 1, 5, 22), HOTEL, id_number=body, name_key="zhangsan",
             birth_date=date(1985, 6, 7)),
        _act("C", "hotel_checkin", local(2026, 1, 5, 22), HOTEL, id_number=body, name_key="zhangsan"),
        _act("D", "hotel_checkin", local(2026, 1, 5, 22), HOTEL, id_number=body[:17] + "X",
             birth_date=date(1985, 6, 7)),
        _act("E", "hotel_checkin", local(2026, 1, 5, 22), HOTEL, id_number=swap(body, 8), name_key="lisi"),
    ]  # fmt: skip
    act = with_keys(pa.Table.from_pylist(rows, schema=ACTIVITY))
    t = build_tables()
    with DuckDBEngine(act, t["watchlist"], t["watch_keys"], threads=1) as eng:
        keep = act.select(["k_id", "k_b5"]).append_column("src", pa.array([0] * act.num_rows, pa.int32()))
        keep = keep.append_column("filename", pa.array([""] * act.num_rows)).append_column(
            "file_row_number", pa.array(range(act.num_rows), pa.int64()))  # fmt: skip
        eng.register("zh_keep_f", keep)
        eng.fetch_rows("zh_rows_f", "zh_keep_f", SCORE_COLUMNS)
        got = eng.query(SCORE_ROWS_SQL + " ORDER BY file_row_number").to_pylist()
    for g, r in zip(got, rows, strict=True):
        assert (g["source"], g["id_number"], g["birth_date"], g["name_key"]) == (
            r["source"], r["id_number"], r["birth_date"], r["name_key"]), (g, r)  # fmt: skip


# --- trajectory, co-presence, high-risk origin ----------------------------------------------------------


def test_trajectory_order_and_keys(engine):
    t = trajectory(engine, id_number=P2_ID)
    assert t.column("record_id").to_pylist() == ["H2", "H4", "H8"]
    ats = t.column("at").to_pylist()
    assert ats == sorted(ats)
    both = trajectory(engine, id_number=P1_ID, plate="粤B12345", phone="13800138000")
    assert both.column("record_id").to_pylist() == ["H1", "T1", "K1"]
    assert both.column("matched_by").to_pylist() == ["id_number", "phone", "plate"]
    assert both.column("at_local").to_pylist()[0] == "2026-01-05 22:00:00"
    windowed = trajectory(engine, id_number=P2_ID, since=local(2026, 1, 6, 0), until=local(2026, 1, 9, 0))
    assert windowed.column("record_id").to_pylist() == ["H4"]
    with pytest.raises(ValueError):
        trajectory(engine)


def test_co_presence(engine):
    got = co_presence(engine, CASES, dt_minutes=30, dd_m=300, k=2)
    rows = {(r["entity_type"], r["entity"]): r for r in got.to_pylist()}
    assert set(rows) == {("id_number", STRANGER_ID), ("plate", "粤B66666")}
    s = rows[("id_number", STRANGER_ID)]
    assert s["case_ids"] == ["X1", "X2"] and s["n_cases"] == 2
    assert [e["record_id"] for e in s["evidence"]] == ["C5", "C6"]  # C9 is 3 h after X1
    assert all(e["distance_m"] <= 300 for e in s["evidence"])
    assert s["evidence"][0]["dt_minutes"] == pytest.approx(10.0)
    assert s["evidence"][0]["distance_m"] == pytest.approx(haversine_m(22.5402, 114.0503, 22.5410, 114.0510), rel=1e-9)
    one = co_presence(engine, CASES, dt_minutes=30, dd_m=300, k=1)
    ents = {(r["entity_type"], r["entity"]) for r in one.to_pylist()}
    assert ("id_number", MIGRANT_A) in ents and ("id_number", MIGRANT_C) in ents and len(ents) == 4
    tight = co_presence(engine, CASES, dt_minutes=30, dd_m=30, k=1)
    assert tight.num_rows == 0  # every record is ≥ 35 m from its case


def test_high_risk_origin(engine):
    got = high_risk_origin(engine, ["43", "4405"], since=local(2026, 1, 14, 0), until=local(2026, 1, 16, 0))
    rows = [(r["region_prefix"], str(r["local_day"]), r["venue_code"], r["records"], r["persons"], r["prefix_persons"])
            for r in got.to_pylist()]  # fmt: skip
    assert rows == [
        ("43", "2026-01-14", "LG-1", 1, 1, 2),  # 冯甲 23:30 local on the 14th
        ("43", "2026-01-15", "LG-1", 2, 1, 2),  # 陈乙 twice, 00:30 and 09:00 local
        ("43", "2026-01-15", "LG-2", 1, 1, 2),
        ("4405", "2026-01-15", "LG-2", 1, 1, 1),  # 郑十 (440511)
    ]
    only_cafes = high_risk_origin(engine, ["43"], since=local(2026, 1, 12, 0), until=local(2026, 1, 13, 0),
                                  sources=["internet_cafe"])  # fmt: skip
    assert only_cafes.column("venue_code").to_pylist() == ["WB-1"] and only_cafes.column("persons")[0].as_py() == 1
    with pytest.raises(ValueError, match="2, 4 or 6 digits"):
        high_risk_origin(engine, ["431"], since=local(2026, 1, 1, 0), until=local(2026, 2, 1, 0))


# --- rule validation ------------------------------------------------------------------------------------


def _one(**over: object) -> dict:
    rule = {
        "code": "T_RULE",
        "name": "测试规则",
        "categories": ["在逃"],
        "sources": ["hotel_checkin"],
        "match": {"keys": ["id_number"]},
        "instruction": {"kind": "verify", "feedback_minutes": 60, "content": "{name}于{at_local}入住{venue_name}"},
        "priority": "high",
    }
    rule.update(over)
    return {"version": 1, "rules": [rule]}


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"sources": ["hotel", "internet_cafe"]}, "sources"),
        ({"match": {"keys": ["passport"]}}, "match.keys"),
        ({"match": {"keys": ["id_number"], "fuzzy": True, "min_score": 1.5}}, "match.min_score"),
        ({"match": {"keys": []}}, "match"),
        ({"instruction": {"kind": "verify", "content": "请核查{nmae}"}}, "instruction.content"),
        ({"instruction": {"kind": "arrest", "content": "x"}}, "instruction.kind"),
        ({"instruction": {"kind": "verify", "feedback_minutes": 0, "content": "x"}}, "instruction.feedback_minutes"),
        ({"group": {"kind": "same_room_night", "min_persons": 1}, "sources": ["hotel_checkin"]}, "group.min_persons"),
        ({"group": {"kind": "same_room_night"}, "sources": ["internet_cafe"]}, "group.kind same_room_night"),
        ({"priority": "asap"}, "priority"),
        ({"code": "bad code"}, "code"),
        ({"name": "no chinese"}, "name"),
        ({"categories": ["涉%"]}, "categories"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_rule_validation_names_the_field(over, field):
    with pytest.raises(RuleError) as e:
        parse_rules(_one(**over))
    assert "rules[0] (" in str(e.value) and field in str(e.value)


def test_rule_file_level_errors():
    with pytest.raises(RuleError, match="duplicate rule code"):
        parse_rules({"version": 1, "rules": [_one()["rules"][0], _one()["rules"][0]]})
    with pytest.raises(RuleError, match="version"):
        parse_rules({"version": 2, "rules": []})
    with pytest.raises(RuleError, match="not YAML"):
        parse_rules("rules: [")
    assert parse_rules(_one(sources="*")).rules[0].sources == (
        "hotel_checkin", "internet_cafe", "checkpoint_pass", "transport_ticket")  # fmt: skip
