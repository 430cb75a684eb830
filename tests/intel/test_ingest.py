"""Ingestion of activity files: mappings, normalisation, quarantine with reasons, idempotence, accounting."""

from __future__ import annotations

import copy
import csv
import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml

from zhihui.geo.coords import haversine_m, wgs84_to_gcj02
from zhihui.intel.ingest import (
    QUARANTINE,
    IngestResult,
    MappingError,
    add_keys,
    export_quarantine_csv,
    ingest,
    list_mappings,
    load_mapping,
)
from zhihui.intel.normalise import KEYS_META, KEYS_VERSION, activity_keys, phone_key
from zhihui.intel.schema import ACTIVITY, ACTIVITY_STORED, SOURCES
from zhihui.sim.population import generate_population, id_check_digit, write_population

pytestmark = pytest.mark.dbfree

TODAY = date(2026, 2, 1)  # after the simulator's default window (2026-01-05 + a few days)

# A hand-made mini city: enough estates, hotels, shops and roads for the simulator, no road graph needed.
_ROADS = ("深南大道", "福华路", "彩田路", "红荔路")
_CATS = ("住宅小区", "住宅小区", "酒店", "商业", "写字楼")
PLACES = [
    {
        "id": f"t{i:03d}",
        "name": f"测试{i}号{_CATS[i % 5]}",
        "kind": "place",
        "category": _CATS[i % 5],
        "lat": 22.52 + 0.002 * (i % 8),
        "lon": 114.02 + 0.003 * (i // 8),
        "road": _ROADS[i % 4],
        "house_number": str(2 * i + 1),
        "address": f"{_ROADS[i % 4]}{2 * i + 1}号",
        "buildings": ["1栋", "2栋"],
    }
    for i in range(40)
]


def _id18(body17: str) -> str:
    return body17 + id_check_digit(body17)


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pop = generate_population(PLACES, seed=7, n_persons=300, days=3)
    d = tmp_path_factory.mktemp("sim")
    write_population(pop, d)
    return d


def _csv_rows(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


def _write_csv(path: Path, rows: list[dict[str, Any]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _activity(out: Path) -> pa.Table:
    d = out / "activity"
    return ds.dataset(d, format="parquet").to_table() if d.exists() else ACTIVITY.empty_table()


def _quarantine(r: IngestResult) -> list[dict[str, Any]]:
    return pq.read_table(r.paths["quarantine"]).to_pylist()


def _check_accounts(r: IngestResult, n_data_rows: int) -> None:
    """The invariant, and that the counts agree with what is actually in the files."""
    assert r.rows_in == n_data_rows
    assert r.rows_in == r.rows_ok + r.rows_quarantined + r.rows_skipped_duplicate
    assert sum(pq.read_metadata(p).num_rows for p in r.paths["activity"]) == r.rows_ok
    assert pq.read_metadata(r.paths["quarantine"]).num_rows == r.rows_quarantined
    assert sum(r.reasons.values()) == r.rows_quarantined
    assert sum(r.sources.values()) == r.rows_ok
    for p in r.paths["activity"]:
        schema = pq.read_schema(p)
        assert schema.equals(ACTIVITY_STORED), p  # the canonical columns, then the integer keys
        assert (schema.metadata or {}).get(KEYS_META) == KEYS_VERSION.encode()
        table = pq.read_table(p)  # the keys are those of the stored strings
        assert table.select(ACTIVITY_STORED.names[len(ACTIVITY) :]).equals(activity_keys(table))
        assert Path(p).parent.name == f"source={pq.read_table(p, columns=['source']).column(0)[0]}"
        # the encodings that decode fastest (normalise.parquet_options): a few rows cost a scan of their columns
        meta = pq.read_metadata(p)
        for g in range(meta.num_row_groups):
            col = {meta.row_group(g).column(i).path_in_schema: meta.row_group(g).column(i) for i in range(len(schema))}
            assert "DELTA_BINARY_PACKED" in col["at"].encodings and "RLE_DICTIONARY" not in col["at"].encodings
            for name in ("record_id", "id_number", "phone"):
                assert "DELTA_LENGTH_BYTE_ARRAY" in col[name].encodings, name
    man = json.loads(Path(r.paths["manifest"]).read_text(encoding="utf-8"))
    assert (man["rows_in"], man["rows_ok"], man["rows_quarantined"], man["rows_skipped_duplicate"]) == (
        r.rows_in, r.rows_ok, r.rows_quarantined, r.rows_skipped_duplicate,
    )  # fmt: skip


# --- the simulator's file -----------------------------------------------------------------------------------


def test_sim_activities_ingest_clean(sim_dir: Path, tmp_path: Path) -> None:
    src = sim_dir / "activities.csv"
    rows = _csv_rows(src)
    out = tmp_path / "out"
    r = ingest(src, "sim_activities", out, today=TODAY)
    _check_accounts(r, len(rows))
    assert r.rows_quarantined == 0, _quarantine(r)[:3]
    assert r.rows_skipped_duplicate == 0 and not r.already_ingested
    assert r.sources == dict(Counter(row["kind"] for row in rows))
    assert set(r.sources) <= set(SOURCES) and len(r.sources) == 3
    assert json.loads(json.dumps(r.as_dict()))["rows_ok"] == len(rows)

    table = _activity(out)
    assert "person_id" not in table.column_names
    person_ids = {row["person_id"] for row in rows}
    text = json.dumps(table.to_pylist(), default=str, ensure_ascii=False)
    assert not any(f'"{pid}"' in text for pid in person_ids)  # not smuggled into detail either
    got = sorted(
        table.to_pylist(), key=lambda x: (x["at"], x["source"], x["venue_code"], x["id_number"] or "", x["plate"] or "")
    )
    want = sorted(
        rows, key=lambda x: (datetime.fromisoformat(x["at"]), x["kind"], x["venue_code"], x["id_number"], x["plate"])
    )
    for g, w in zip(got, want, strict=True):
        assert g["at"] == datetime.fromisoformat(w["at"]).astimezone(UTC)
        assert g["source"] == w["kind"]
        assert (g["id_number"] or "") == w["id_number"] and (g["plate"] or "") == w["plate"]
        assert (g["lat"], g["lon"]) == (float(w["lat"]), float(w["lon"]))  # WGS-84 in, unchanged
        det = json.loads(w["detail"])
        assert g["room"] == det.get("room", det.get("seat"))
        assert json.loads(g["detail"]) == det
        if g["source"] != "checkpoint_pass":  # sim IDs are valid: birth date and sex come from them
            assert g["birth_date"] is not None and g["sex"] in ("M", "F")
    assert table.num_rows == len(set(table.column("record_id").to_pylist()))


def test_sim_parquet_input_gives_the_same_record_ids(sim_dir: Path, tmp_path: Path) -> None:
    src = sim_dir / "activities.csv"
    names = _csv_rows(src)[0].keys()
    opts = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False)
    pq.write_table(pacsv.read_csv(src, convert_options=opts), tmp_path / "activities.parquet")
    mapping = {**load_mapping("sim_activities").raw, "format": "parquet"}
    out = tmp_path / "out"
    first = ingest(src, "sim_activities", out, today=TODAY, batch_id="csv")
    second = ingest(tmp_path / "activities.parquet", mapping, out, today=TODAY, batch_id="pq")
    _check_accounts(second, first.rows_in)
    # Same cells → same hashed record ids, whatever the container: all already stored, skipped and counted.
    assert second.rows_skipped_duplicate == first.rows_ok and second.rows_ok == 0
    assert _activity(out).num_rows == first.rows_ok


def _mapping_path(name: str) -> Path:
    import zhihui.intel.mappings as pkg

    return Path(pkg.__file__).parent / f"{name}.yaml"


# --- planted bad rows ---------------------------------------------------------------------------------------


def test_planted_bad_rows_are_quarantined_with_field_and_reason(sim_dir: Path, tmp_path: Path) -> None:
    rows = _csv_rows(sim_dir / "activities.csv")
    hotels = [i for i, r in enumerate(rows) if r["kind"] == "hotel_checkin"]
    cps = [i for i, r in enumerate(rows) if r["kind"] == "checkpoint_pass"]
    no_id, bad_id, bad_check = hotels[:3]
    bad_plate = cps[0]
    others = [i for i in range(len(rows)) if i not in (no_id, bad_id, bad_check, bad_plate)]
    bad_ts, future, lat999, dup_of = others[3], others[4], others[10], others[20]

    rows[bad_ts]["at"] = "2026-01-05 25:61:00"
    rows[future]["at"] = "2027-06-01T00:00:00+00:00"
    rows[lat999]["lat"] = "999"
    rows[no_id]["id_number"] = ""
    rows[bad_id]["id_number"] = "12345-ABC"
    good_id = rows[bad_check]["id_number"]
    wrong_check = good_id[:17] + ("0" if good_id[17] != "0" else "1")
    rows[bad_check]["id_number"] = wrong_check
    rows[bad_plate]["plate"] = "无牌车"
    rows.append(dict(rows[dup_of]))  # an exact repeat: the same hashed record id
    src = _write_csv(tmp_path / "planted.csv", rows)
    with src.open("a", encoding="utf-8") as fh:  # a blank line (not a row), then a truncated row
        fh.write("\nhotel_checkin,2026-01-05T10:00:00+00:00,P99999\n")

    # Small chunks: duplicates and counts must hold across chunk boundaries.
    r = ingest(src, "sim_activities", tmp_path / "out", today=TODAY, chunk_rows=50)
    _check_accounts(r, len(rows) + 1)
    line = {i: i + 2 for i in range(len(rows))}  # header is line 1
    short_line = len(rows) + 3
    expected = {
        line[bad_ts]: ("at", "bad_timestamp"),
        line[future]: ("at", "future_timestamp"),
        line[lat999]: ("lat", "bad_coordinate"),
        line[no_id]: ("id_number", "missing_required"),
        line[bad_id]: ("id_number", "bad_id_number"),
        line[bad_plate]: ("plate", "bad_plate"),
        line[len(rows) - 1]: ("record_id", "duplicate_record"),
        short_line: ("(row)", "bad_row_shape"),
    }
    q = _quarantine(r)
    assert {x["line"]: (x["field"], x["reason"]) for x in q} == expected
    assert r.rows_ok == len(rows) + 1 - len(expected) and r.rows_skipped_duplicate == 0
    assert r.reasons == dict(Counter(reason for _, reason in expected.values()))
    by_line = {x["line"]: x for x in q}
    # The original values travel with the row, minus the simulator's ground truth.
    assert json.loads(by_line[line[lat999]]["raw"])["lat"] == "999"
    assert json.loads(by_line[line[bad_ts]]["raw"])["at"] == "2026-01-05 25:61:00"
    assert all("person_id" not in json.loads(x["raw"]) for x in q)
    assert json.loads(by_line[short_line]["raw"]) == {"kind": "hotel_checkin", "at": "2026-01-05T10:00:00+00:00"}
    man = json.loads(Path(r.paths["manifest"]).read_text(encoding="utf-8"))
    assert man["blank_lines"] == 1 and man["reasons_by_field"]["bad_row_shape.(row)"] == 1
    assert "必填" in by_line[line[no_id]]["reason_zh"] and "required" in by_line[line[no_id]]["reason_en"]
    assert "999" in by_line[line[lat999]]["reason_en"] and "纬度" in by_line[line[lat999]]["reason_zh"]
    assert pq.read_schema(r.paths["quarantine"]).equals(QUARANTINE)

    # The wrong check digit is kept (fuzzy matching needs it), flagged, without birth date or sex.
    kept = {x["id_number"]: x for x in _activity(tmp_path / "out").to_pylist() if x["id_number"]}
    k = kept[wrong_check]
    assert json.loads(k["detail"])["id_problem"] == "check_digit"
    assert k["birth_date"] is None and k["sex"] is None
    stored = set(_activity(tmp_path / "out").column("record_id").to_pylist())
    assert by_line[line[len(rows) - 1]]["record_id"] in stored  # the first occurrence stayed

    with Path(r.paths["quarantine_csv"]).open(encoding="utf-8-sig", newline="") as fh:
        exported = list(csv.DictReader(fh))
    assert sorted(int(x["行号"]) for x in exported) == sorted(expected)
    assert "person_id" not in exported[0]
    assert (
        export_quarantine_csv(tmp_path / "out", r.batch_id, tmp_path / "q.csv").read_text("utf-8-sig").count("\n")
        == len(expected) + 1
    )


# --- a GBK hotel export -------------------------------------------------------------------------------------

HOTEL_HEADER = ("旅客编号", "旅客姓名", "性别", "出生日期", "证件类型", "证件号码", "联系电话", "入住时间",
                "退房时间", "房间号", "旅馆编码", "旅馆名称", "派出所代码", "民族")  # fmt: skip


def _hotel_row(**kw: str) -> dict[str, str]:
    base = dict.fromkeys(HOTEL_HEADER, "")
    base.update({"证件类型": "居民身份证", "旅馆编码": "4403040001", "旅馆名称": "福田锦绣酒店", "民族": "汉"})
    base.update(kw)
    return base


def test_gbk_hotel_file_lands_in_utc(tmp_path: Path) -> None:
    id_a = _id18("44030419900307123")
    id_15 = "440304900307123"  # legacy 15-digit: 1990-03-07, sex digit 3 → male
    rows = [
        _hotel_row(旅客编号="LK001", 旅客姓名="张三", 性别="男", 证件号码=id_a, 联系电话="138-0013-8000",
                   入住时间="2026-01-05 14:30:00", 退房时间="2026-01-07 12:00:00", 房间号="0807",
                   派出所代码="440304010000"),
        _hotel_row(旅客编号="LK002", 旅客姓名="李四", 证件号码=id_15, 入住时间="2026/01/06 00:15:00", 房间号="1203"),
        _hotel_row(旅客编号="LK003", 旅客姓名="王 五", 证件号码=id_a, 入住时间="2026-01-06T09:00:00+00:00",
                   房间号="1203", 出生日期="1990-03-07"),
    ]  # fmt: skip
    src = _write_csv(tmp_path / "旅客登记.csv", rows, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        src.read_bytes().decode("utf-8")  # really GBK, not UTF-8
    r = ingest(src, "hotel_gb", tmp_path / "out", today=TODAY)
    _check_accounts(r, 3)
    assert r.rows_quarantined == 0 and r.sources == {"hotel_checkin": 3}
    got = {x["record_id"]: x for x in _activity(tmp_path / "out").to_pylist()}

    a = got["LK001"]
    assert a["at"] == datetime(2026, 1, 5, 6, 30, tzinfo=UTC)  # 14:30 Beijing
    assert (a["name"], a["name_key"], a["sex"], a["birth_date"]) == ("张三", "zhangsan", "M", date(1990, 3, 7))
    assert (a["phone"], a["room"], a["venue_name"]) == ("13800138000", "0807", "福田锦绣酒店")
    assert a["org_code"] == "440304010000"  # from the file: no resolver given
    assert json.loads(a["detail"]) == {"checkout": "2026-01-07 12:00:00", "id_type": "居民身份证", "ethnicity": "汉"}

    b = got["LK002"]
    assert b["at"] == datetime(2026, 1, 5, 16, 15, tzinfo=UTC)  # 00:15 Beijing is the previous day in UTC
    assert b["id_number"] == _id18("44030419900307123") and len(b["id_number"]) == 18  # upgraded from 15
    assert b["birth_date"] == date(1990, 3, 7) and b["sex"] == "M"
    assert json.loads(b["detail"])["id_raw"] == id_15

    c = got["LK003"]
    assert c["at"] == datetime(2026, 1, 6, 9, 0, tzinfo=UTC)  # an explicit offset is honoured, not re-zoned
    assert c["name_key"] == "wangwu"


def test_reingest_is_idempotent_and_overlaps_are_counted(tmp_path: Path) -> None:
    ids = [_id18(f"4403041990030712{i}") for i in range(5)]
    rows = [_hotel_row(旅客编号=f"LK{i}", 证件号码=ids[i], 入住时间=f"2026-01-0{i + 1} 20:00:00") for i in range(4)]
    out = tmp_path / "out"
    first = ingest(_write_csv(tmp_path / "a.csv", rows, encoding="gbk"), "hotel_gb", out, today=TODAY)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())

    again = ingest(tmp_path / "a.csv", "hotel_gb", out, today=TODAY)
    assert again.already_ingested and again.batch_id == first.batch_id
    assert (again.rows_in, again.rows_ok) == (first.rows_in, first.rows_ok) == (4, 4)
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) == files  # nothing new written

    # The next day's export repeats yesterday's last rows: those are skipped and counted, never doubled.
    later = [*rows[2:], _hotel_row(旅客编号="LK9", 证件号码=ids[4], 入住时间="2026-01-09 20:00:00")]
    second = ingest(_write_csv(tmp_path / "b.csv", later, encoding="gbk"), "hotel_gb", out, today=TODAY)
    _check_accounts(second, 3)
    assert not second.already_ingested and second.batch_id != first.batch_id
    assert (second.rows_ok, second.rows_skipped_duplicate, second.rows_quarantined) == (1, 2, 0)
    man = json.loads(Path(second.paths["manifest"]).read_text(encoding="utf-8"))
    assert {s["record_id"] for s in man["skipped_sample"]} == {"LK2", "LK3"}
    table = _activity(out)
    assert sorted(table.column("record_id").to_pylist()) == ["LK0", "LK1", "LK2", "LK3", "LK9"]

    forced = ingest(tmp_path / "a.csv", "hotel_gb", out, today=TODAY, force=True)
    assert (forced.rows_ok, forced.rows_skipped_duplicate) == (0, 4) and not forced.already_ingested
    assert _activity(out).num_rows == 5


def test_add_keys_rewrites_files_written_before_the_keys(tmp_path: Path) -> None:
    rows = [_hotel_row(旅客编号=f"LK{i}", 旅客姓名="张三", 证件号码=_id18(f"4403041990030712{i}"),
                       入住时间="2026-01-05 14:30:00") for i in range(3)]  # fmt: skip
    out = tmp_path / "out"
    r = ingest(_write_csv(tmp_path / "a.csv", rows, encoding="gbk"), "hotel_gb", out, today=TODAY)
    (path,) = [Path(p) for p in r.paths["activity"]]
    stored = pq.read_table(path)
    pq.write_table(stored.select(ACTIVITY.names).cast(ACTIVITY), path)  # as an older ingest wrote it
    assert add_keys(out) == [path]
    again = pq.read_table(path)
    assert again.schema.equals(ACTIVITY_STORED) and again.equals(stored)
    assert (again.schema.metadata or {}).get(KEYS_META) == KEYS_VERSION.encode()
    assert add_keys(out) == []  # nothing left to do


# --- coordinates, checkpoints, tickets ----------------------------------------------------------------------


def test_gcj02_mapping_converts_to_wgs84(tmp_path: Path) -> None:
    true_pts = [(22.5431, 114.0579), (22.5333, 114.0200)]
    rows = []
    for i, (lat, lon) in enumerate(true_pts):
        glat, glon = wgs84_to_gcj02(lat, lon)
        rows.append({"场所编码": f"44030410000{i}", "场所名称": f"星海网咖{i}", "姓名": "赵六", "证件类型": "身份证",
                     "证件号码": _id18("44030419950101002"), "上机时间": "2026-01-05 21:00:00",
                     "下机时间": "2026-01-05 23:00:00", "机器号": f"A0{i}", "场所纬度": f"{glat:.7f}",
                     "场所经度": f"{glon:.7f}"})  # fmt: skip
        assert haversine_m(lat, lon, glat, glon) > 100  # the offset is real, so the test can fail
    src = _write_csv(tmp_path / "netbar.csv", rows, encoding="gb18030")
    r = ingest(src, "netbar", tmp_path / "out", today=TODAY)
    _check_accounts(r, 2)
    got = sorted(_activity(tmp_path / "out").to_pylist(), key=lambda x: x["venue_code"])
    for g, (lat, lon) in zip(got, true_pts, strict=True):
        assert haversine_m(g["lat"], g["lon"], lat, lon) < 0.05
    assert json.loads(got[0]["detail"])["logout"] == "2026-01-05 23:00:00"
    assert got[0]["room"] == "A00"

    again = ingest(src, "netbar", tmp_path / "out", today=TODAY)
    assert again.already_ingested  # recognised by its sha256


CP_HEADER = ("过车序号", "号牌号码", "号牌颜色", "号牌种类", "过车时间", "卡口编号", "卡口名称", "方向", "车道号",
             "车速", "经度", "纬度")  # fmt: skip


def test_checkpoint_plates_record_ids_and_org_resolver(tmp_path: Path) -> None:
    def row(seq: str, plate: str, t: str, lon: str, lat: str) -> dict[str, str]:
        return dict(zip(CP_HEADER, (seq, plate, "蓝", "02", t, "KK001", "深南大道卡口", "由东向西", "2", "48",
                                    lon, lat), strict=True))  # fmt: skip

    rows = [
        row("1001", "粤B·12345", "20260105081233", "114.06", "22.54"),
        row("1002", "粤b 54321", "2026-01-05 08:13:00", "114.02", "22.53"),
        row("1001", "粤B12345", "2026-01-05 08:14:00", "114.06", "22.54"),  # a repeated 过车序号
        row("1003", "粤B99999", "2026-01-05 08:15:00", "0", "0"),  # the "unknown" placeholder
        row("1004", "粤B88888", "2026-01-05 08:16:00", "2.35", "48.85"),  # Paris: not a Chinese checkpoint
    ]
    calls: list[tuple[float, float]] = []

    def resolver(lat: float, lon: float) -> str | None:
        calls.append((lat, lon))
        return "440304010000" if lon > 114.05 else None

    r = ingest(_write_csv(tmp_path / "kk.csv", rows), "checkpoint", tmp_path / "out", today=TODAY,
               org_resolver=resolver)  # fmt: skip
    _check_accounts(r, 5)
    assert {(x["line"], x["field"], x["reason"]) for x in _quarantine(r)} == {
        (4, "record_id", "duplicate_record"), (6, "lat", "outside_china"),
    }  # fmt: skip
    got = {x["record_id"]: x for x in _activity(tmp_path / "out").to_pylist()}
    assert got["1001"]["plate"] == "粤B12345" and got["1002"]["plate"] == "粤B54321"
    assert got["1001"]["at"] == datetime(2026, 1, 5, 0, 12, 33, tzinfo=UTC)
    assert (got["1001"]["org_code"], got["1002"]["org_code"]) == ("440304010000", None)
    assert got["1003"]["lat"] is None and json.loads(got["1003"]["detail"])["notes"][0]["reason"] == "placeholder_0_0"
    assert json.loads(got["1002"]["detail"])["direction"] == "由东向西"
    assert len(calls) == 2  # one lookup per distinct place, only for rows that are kept


def test_ticket_trip_and_seat(tmp_path: Path) -> None:
    rows = [
        {"票号": "E1234567", "乘车人姓名": "陈七", "证件类型": "二代身份证", "证件号码": _id18("44030419880808123"),
         "车次": "g1234", "发车日期": "20260105", "发车时间": "08:30", "发站": "深圳北", "到站": "广州南",
         "车厢": "05", "座位号": "12F", "售票时间": "2026-01-01 10:00:00"},
        {"票号": "E1234568", "乘车人姓名": "陈八", "证件类型": "二代身份证", "证件号码": _id18("44030419880808124"),
         "车次": "G1234", "发车日期": "2026-01-05", "发车时间": "", "发站": "深圳北", "到站": "广州南",
         "车厢": "05", "座位号": "12D", "售票时间": "2026-01-01 10:00:00"},
    ]  # fmt: skip
    r = ingest(_write_csv(tmp_path / "tickets.csv", rows), "ticket", tmp_path / "out", today=TODAY)
    _check_accounts(r, 2)
    (ok,) = _activity(tmp_path / "out").to_pylist()
    assert ok["trip"] == "G1234_2026-01-05" and ok["room"] == "05车12F"
    assert ok["at"] == datetime(2026, 1, 5, 0, 30, tzinfo=UTC) and ok["venue_code"] == "深圳北"
    (q,) = _quarantine(r)
    assert (q["line"], q["field"], q["reason"]) == (3, "at", "missing_required")  # no departure time


# --- mappings -----------------------------------------------------------------------------------------------


def test_shipped_mappings_load() -> None:
    assert set(list_mappings()) >= {"sim_activities", "hotel_gb", "netbar", "checkpoint", "ticket"}
    assert load_mapping("hotel_gb").encoding == "gbk" and load_mapping("netbar").coords == "gcj02"
    assert load_mapping(_mapping_path("ticket")).sources == ("transport_ticket",)


def _broken(path: tuple[str, ...], value: Any, *, delete: bool = False) -> dict[str, Any]:
    m = copy.deepcopy(yaml.safe_load(_mapping_path("hotel_gb").read_text(encoding="utf-8")))
    node = m
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return m


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("fields", "colour"), "颜色", "fields.colour"),
        (("fields", "at"), "入住时间", "fields.at"),
        (("fields", "room"), {"json": "详情"}, "fields.room.path"),
        (("fields", "room"), {"column": "房间号", "transfrom": "upper"}, "fields.room.transfrom"),
        (("source",), "hotel", "source"),
        (("encoding",), "big5", "encoding"),
        (("coords",), "utm", "coords"),
        (("timestamp", "timezone"), "Mars/Olympus", "timestamp.timezone"),
        (("required",), ["id_number", "plate"], "required"),
        (("record_id",), {"column": "旅客编号", "hash": ["旅客编号"]}, "record_id"),
        (("drop",), ["证件号码"], "drop"),
    ],
)
def test_mapping_errors_name_the_field(path: tuple[str, ...], value: Any, field: str) -> None:
    with pytest.raises(MappingError) as exc:
        load_mapping(_broken(path, value))
    assert exc.value.field == field and field in str(exc.value) and "hotel_gb" in str(exc.value)


def test_missing_column_is_named_before_any_output(tmp_path: Path) -> None:
    rows = [{k: v for k, v in _hotel_row(旅客编号="1", 入住时间="2026-01-05 10:00:00").items() if k != "旅客姓名"}]
    src = _write_csv(tmp_path / "h.csv", rows, encoding="gbk")
    with pytest.raises(MappingError) as exc:
        ingest(src, "hotel_gb", tmp_path / "out", today=TODAY)
    assert exc.value.field == "fields.name" and "旅客姓名" in str(exc.value)
    assert not (tmp_path / "out" / "batches").exists() and not (tmp_path / "out" / "activity").exists()
    with pytest.raises(MappingError) as exc:
        load_mapping(_broken(("timestamp",), None, delete=True))
    assert exc.value.field == "timestamp"


def test_undecodable_cells_quarantine_and_a_wrong_encoding_is_named(tmp_path: Path) -> None:
    utf8 = {**load_mapping("hotel_gb").raw, "encoding": "utf-8"}
    good = _hotel_row(
        旅客编号="1", 旅客姓名="张三", 证件号码=_id18("44030419900307123"), 入住时间="2026-01-05 10:00:00"
    )
    bad = {**good, "旅客编号": "2", "旅客姓名": "@NAME@"}
    _write_csv(tmp_path / "h.csv", [good, bad])
    data = (tmp_path / "h.csv").read_bytes().replace(b"@NAME@", "李四".encode("gbk"))  # one GBK cell in UTF-8
    (tmp_path / "h.csv").write_bytes(data)
    r = ingest(tmp_path / "h.csv", utf8, tmp_path / "out", today=TODAY)
    _check_accounts(r, 2)
    (q,) = _quarantine(r)
    assert (q["line"], q["field"], q["reason"], q["record_id"]) == (3, "旅客姓名", "encoding_error", None)
    assert _activity(tmp_path / "out").column("name").to_pylist() == ["张三"]

    # A whole GBK file declared UTF-8: the header itself does not decode, and the error says so.
    _write_csv(tmp_path / "g.csv", [good], encoding="gbk")
    with pytest.raises(MappingError) as exc:
        ingest(tmp_path / "g.csv", utf8, tmp_path / "out2", today=TODAY)
    assert exc.value.field == "encoding"


def test_service_numbers_are_nobodys_phone() -> None:
    """A key on 12345 or 110 would join every record that mentions the hotline; mobiles and landlines normalise."""
    assert phone_key("+86 138-0013-8000") == "13800138000"
    assert phone_key("0755-83201234") == "0755-83201234"
    assert [phone_key(x) for x in ("12345", "110", "95588", "1380013800", "")] == [None] * 5


def test_foreign_documents_are_kept_and_collide_exactly(tmp_path: Path) -> None:
    """A foreign guest's passport (证件类型 护照) or a 港澳通行证 is a good row, not a bad ID: kept (upper case, no
    spaces) for exact matching, and a key person listed by that passport is hit. A mistyped 身份证号 declared as
    one is still quarantined."""
    from zhihui.intel.normalise import doc_key
    from zhihui.intel.rules import load_rules
    from zhihui.intel.schema import WATCH_KEYS, WATCHLIST
    from zhihui.intel.tactics import DuckDBEngine, collide

    assert doc_key("e1234567 8") == "E12345678" and doc_key("H12345678") == "H12345678"
    assert doc_key("P1234567") is None and doc_key("P1234567", "护照") == "P1234567"
    assert doc_key("12345-ABC", "居民身份证") is None and doc_key("4403041990030712", None) is None
    rows = [
        _hotel_row(旅客编号="LK101", 旅客姓名="JOHN SMITH", 证件类型="护照", 证件号码="p 1234 567",
                   入住时间="2026-01-05 22:00:00", 房间号="0901"),
        _hotel_row(旅客编号="LK102", 旅客姓名="陈大文", 证件类型="港澳居民来往内地通行证", 证件号码="H87654321",
                   入住时间="2026-01-05 22:10:00", 房间号="0902"),
        _hotel_row(旅客编号="LK103", 旅客姓名="刘某", 证件号码="4403041990030712", 入住时间="2026-01-05 22:20:00",
                   房间号="0903"),  # 16 digits declared a 居民身份证: a bad ID
    ]  # fmt: skip
    src = _write_csv(tmp_path / "境外旅客.csv", rows, encoding="gbk")
    r = ingest(src, "hotel_gb", tmp_path / "out", today=TODAY)
    _check_accounts(r, 3)
    assert r.rows_ok == 2 and r.rows_quarantined == 1 and r.reasons == {"bad_id_number": 1}
    got = {x["record_id"]: x for x in _activity(tmp_path / "out").to_pylist()}
    assert got["LK101"]["id_number"] == "P1234567" and got["LK101"]["birth_date"] is None
    assert json.loads(got["LK101"]["detail"])["id_kind"] == "document"
    assert got["LK102"]["id_number"] == "H87654321"

    wl = pa.Table.from_pylist([{"person_key": "7", "category": "在逃", "id_number": None, "name": "JOHN SMITH",
                                "name_key": "johnsmith", "birth_date": None, "sex": None, "org_code": None}],
                              schema=WATCHLIST)
    keys = pa.Table.from_pylist([{"person_key": "7", "key_type": "id_number", "key_value": "P1234567"}],
                                schema=WATCH_KEYS)
    with DuckDBEngine(str(tmp_path / "out" / "activity"), wl, keys, threads=1) as eng:
        hits = collide(eng, load_rules()).to_pylist()
    assert {(h["record_id"], h["rule_code"], h["match_type"]) for h in hits} == {("LK101", "FUGITIVE_ANY", "exact_id")}
