# Copyright 2026 The zhihui authors. Licensed under the Apache License, Version 2.0.
"""The key index (keyindex.py): a full collision that looks its keys up finds what the scan finds, row for row,
and files the index does not hold as they are now (added, rewritten, removed, without keys) are scanned."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.intel.test_tactics import build_tables, write_layouts
from zhihui.intel import keyindex
from zhihui.intel.normalise import with_keys
from zhihui.intel.rules import load_rules
from zhihui.intel.tactics import DuckDBEngine, collide

HOT_ORDER = "ORDER BY src, filename, file_row_number, probe, v"


def _run(root: Path, lists: dict[str, Path], *, key_index: bool, **kw: object) -> tuple[pa.Table, pa.Table, dict]:
    stats: dict = {}
    with DuckDBEngine(root, lists["watchlist"], lists["watch_keys"], threads=1, key_index=key_index) as eng:
        hits = collide(eng, load_rules(), stats=stats, **kw)
        hot = eng.query(f"SELECT * FROM zh_hot {HOT_ORDER}")
    return hits, hot, stats


@pytest.fixture()
def data(tmp_path: Path) -> dict[str, Path]:
    return write_layouts(tmp_path)


def _same(root: Path, lists: dict[str, Path]) -> dict:
    """Index and scan agree on the hits and on every row the pass found; returns the index run's stats."""
    hits, hot, stats = _run(root, lists, key_index=True)
    hits0, hot0, stats0 = _run(root, lists, key_index=False)
    assert stats0["key_index"] is None
    assert hits.equals(hits0)
    assert hot.cast(hot0.schema).equals(hot0)
    return stats


def test_index_finds_what_the_scan_finds(data):
    root = data["keyed"]
    assert keyindex.open_index(root) is None
    built = keyindex.build(root)
    assert set(built["sources"]) == set(pc.unique(build_tables()["activity"].column("source")).to_pylist())
    assert keyindex.status(root) | {"generation": None} == {
        "built": True, "generation": None, "files": 4, "rows": build_tables()["activity"].num_rows,
        "files_outside": 0, "rows_outside": 0, "rows_indexable_outside": 0}  # fmt: skip
    stats = _same(root, data)
    hot = _run(root, data, key_index=True)[1]
    assert stats["key_index"] == {"files": 4, "rows": hot.num_rows, "files_scanned": 0} and hot.num_rows > 0
    # the same hits as the Arrow tables give (keys computed in memory, no files, no index)
    with DuckDBEngine(*build_tables().values(), threads=1) as eng:
        assert collide(eng, load_rules()).equals(_run(root, data, key_index=True)[0])


def test_files_the_index_does_not_hold_are_scanned(data):
    root = data["mixed"]  # half the sources without stored keys: never in the index
    keyindex.build(root)
    st = keyindex.status(root)
    assert st["files"] == 2 and st["files_outside"] == 2
    stats = _same(root, data)
    assert stats["key_index"]["files"] == 2 and stats["key_index"]["files_scanned"] == 2


def test_added_rewritten_and_removed_files(data):
    root = data["keyed"]
    keyindex.build(root)
    act = with_keys(build_tables()["activity"])
    # a new batch: the hotel rows again under new record ids (the same persons, so the same hits, twice)
    hotel = act.filter(pc.equal(act.column("source"), "hotel_checkin"))
    hotel = hotel.set_column(0, "record_id", pc.binary_join_element_wise("B2-", hotel.column("record_id"), ""))
    pq.write_table(hotel, root / "source=hotel_checkin" / "batch-2.parquet")
    stats = _same(root, data)
    assert stats["key_index"] == {"files": 4, "rows": stats["key_index"]["rows"], "files_scanned": 1}
    hits = _run(root, data, key_index=True)[0]
    assert any(r.startswith("B2-") for r in hits.column("record_id").to_pylist())
    # a file rewritten (another mtime) is scanned, not looked up
    cafe = root / "source=internet_cafe" / "part-0.parquet"
    t = pq.read_table(cafe)
    pq.write_table(t.slice(0, max(1, t.num_rows // 2)), cafe)
    stats = _same(root, data)
    assert stats["key_index"]["files_scanned"] == 2
    # a file removed: its rows are in the index still, and must not come back
    os.remove(root / "source=transport_ticket" / "part-0.parquet")
    stats = _same(root, data)
    assert stats["key_index"]["files"] == 2
    hits = _run(root, data, key_index=True)[0]
    assert "transport_ticket" not in hits.column("source").to_pylist()


def test_refresh_rebuilds_when_enough_is_outside(data):
    root = data["keyed"]
    first = keyindex.refresh(root)
    assert first["rebuilt"] and first["rows_outside"] == 0
    assert not keyindex.refresh(root)["rebuilt"]  # nothing new
    shutil.copy(root / "source=hotel_checkin" / "part-0.parquet", root / "source=hotel_checkin" / "b.parquet")
    waiting = keyindex.refresh(root, fraction=100.0)  # a little new data: left to the scan
    assert not waiting["rebuilt"] and waiting["files_outside"] == 1
    again = keyindex.refresh(root)
    assert again["rebuilt"] and again["files_outside"] == 0 and again["generation"] != first["generation"]
    # the generation before stays (a run may have it open); older ones go
    assert {p.name for p in (root / keyindex.INDEX_DIR).iterdir() if p.is_dir()} == {again["generation"],
                                                                                     first["generation"]}
    third = keyindex.build(root)["generation"]
    assert {p.name for p in (root / keyindex.INDEX_DIR).iterdir() if p.is_dir()} == {third, again["generation"]}
    _same(root, data)


def test_windowed_runs_and_file_lists_scan(data):
    root = data["keyed"]
    keyindex.build(root)
    from datetime import UTC, datetime

    _, _, stats = _run(root, data, key_index=True, since=datetime(2020, 1, 1, tzinfo=UTC))
    assert "key_index" not in stats  # a window prunes by time: the scan of the files it needs
    files = sorted(str(p) for p in root.rglob("*.parquet") if keyindex.INDEX_DIR not in p.parts)
    with DuckDBEngine(files, data["watchlist"], data["watch_keys"], threads=1) as eng:
        stats = {}
        collide(eng, load_rules(), stats=stats)
    assert stats["key_index"] is None  # a batch's files: no directory, no index


def test_an_index_of_another_format_is_not_read(data):
    root = data["keyed"]
    keyindex.build(root)
    gen = keyindex.open_index(root).gen
    manifest = json.loads((gen / "manifest.json").read_text())
    (gen / "manifest.json").write_text(json.dumps({**manifest, "keys_version": "0"}))
    assert keyindex.open_index(root) is None
    assert _same(root, data)["key_index"] is None


def test_a_damaged_index_is_not_trusted(data, caplog):
    root = data["keyed"]
    keyindex.build(root)
    gen = keyindex.open_index(root).gen
    (gen / "internet_cafe" / "k_b3.keys.npy").unlink()  # listed in the manifest, gone from the disk
    stats = _same(root, data)
    assert stats["key_index"] is None and "key index not used" in caplog.text
    assert keyindex.refresh(root)["rebuilt"] is False  # refresh looks at the files, not the arrays: --rebuild mends
    keyindex.build(root)
    assert _same(root, data)["key_index"]["files"] == 4


def test_probe_sets_in_any_order_find_the_same(data):
    """The look-up sorts what it is given if it must: a watch side whose probe sets come shuffled, in pieces and with
    repeats gives the same rows as the scan."""
    from zhihui.intel import tactics

    root = data["keyed"]
    keyindex.build(root)
    hits0, hot0, _ = _run(root, data, key_index=False)
    real = tactics._watch_tables

    def shuffled(*a: object, **kw: object) -> dict:
        out = real(*a, **kw)
        p = out["zh_probe"]
        p = pa.concat_tables([p, p.slice(0, max(1, p.num_rows // 3))])  # repeats, and a set in two pieces
        out["zh_probe"] = p.take(pa.array(list(range(p.num_rows))[::-1]))
        return out

    tactics.clear_watch_cache()
    try:
        tactics._watch_tables = shuffled
        hits, hot, stats = _run(root, data, key_index=True)
    finally:
        tactics._watch_tables = real
        tactics.clear_watch_cache()
    assert stats["key_index"]["rows"] > 0
    assert hits.equals(hits0) and hot.cast(hot0.schema).equals(hot0)


def test_files_the_index_cannot_hold_are_scanned_and_not_rebuilt_for(data):
    """Files without keys never enter the index: refresh does not rebuild for them again and again."""
    root = data["mixed"]
    assert keyindex.refresh(root)["rebuilt"]
    st = keyindex.refresh(root)
    assert not st["rebuilt"] and st["rows_outside"] > 0 and st["rows_indexable_outside"] == 0


def test_a_file_in_another_sources_directory_is_scanned(data):
    """The engines take a row's source from its source=... directory: a file put in the wrong one is not indexed
    under its rows' own source, and the run gives what the scan gives."""
    root = data["keyed"]
    (root / "source=hotel_checkin" / "part-0.parquet").rename(root / "source=internet_cafe" / "part-1.parquet")
    keyindex.build(root)
    assert keyindex.status(root)["files_outside"] == 1
    assert _same(root, data)["key_index"]["files_scanned"] == 1


def test_a_file_replaced_by_a_copy_with_its_size_and_time_is_scanned(data):
    root = data["keyed"]
    keyindex.build(root)
    f = root / "source=hotel_checkin" / "part-0.parquet"
    copy = shutil.copy2(f, root / "copy.tmp")  # same bytes, same mtime (as cp -p or rsync -t leave it)
    os.replace(copy, f)
    assert _same(root, data)["key_index"]["files_scanned"] == 1


def test_null_keys_are_not_indexed(data):
    """A keyed file with NULL in a key column (ingest never writes one): scanned, where the scan skips the NULLs."""
    root = data["keyed"]
    f = root / "source=internet_cafe" / "part-0.parquet"
    t = pq.read_table(f)
    i = t.schema.get_field_index("k_id")
    k = t.column("k_id").to_pylist()
    k[0] = None
    pq.write_table(t.set_column(i, t.schema.field("k_id").with_nullable(True), pa.array(k, pa.int64())), f)
    keyindex.build(root)
    assert keyindex.status(root)["files_outside"] == 1
    assert _same(root, data)["key_index"]["files_scanned"] == 1
