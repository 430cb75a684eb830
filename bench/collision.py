# Copyright 2026 The zhihui authors. Licensed under the Apache License, Version 2.0.
"""Batch-collision (批量比对碰撞) benchmark: ``zhihui.intel.tactics.collide`` on DuckDB over Parquet on disk.

Method
------
1. Generate (seeded, vectorised, deterministic) ``--rows`` activity rows in the canonical ``ACTIVITY`` layout,
   time-ordered over 30 days, plus a ``--watchlist``-entry watchlist and its keys (every ID, 1 % alias IDs, 60 %
   phones, 30 % plates). Persons are functions of an index (GB 11643 IDs with the MOD 11-2 check digit over a
   migrant city's region mix, birth dates 1950-2007, a pool of Chinese names and their pinyin keys, phones,
   plates), so the watchlist shares regions, birth dates and names with the population and the blocking keys meet
   real noise. Sources: 45 % checkpoint passes (plate only), 25 % internet café, 15 % hotel, 15 % transport
   tickets. Hits: about 1e-4 of the rows carry a watched person's identity (exact), 3e-5 a corrupted one (two
   adjacent ID digits swapped, one digit mistyped, or the exact ID under another name); the corruptions are
   recorded as ground truth. The rows are written as ingest writes them (:mod:`zhihui.intel.ingest`): one
   directory per source (``source=<name>``), a file per source per 10^7 generated rows (row groups of 10^6), the
   integer key columns (``schema.ACTIVITY_KEYS``) computed by ``normalise.with_keys`` — the function ingest runs on
   every batch — and the column encodings of ``normalise.parquet_options``. Computing the keys is ingest-time work
   (once, when data arrives) and is not in the collision time; it is timed here (``keys_seconds``). The data is
   reused when its manifest matches (``GEN_VERSION``).
2. Time ``collide`` with the shipped rules end-to-end (engine set-up, the watch side, the pass over the Parquet
   files, the fuzzy pass on the candidates, reading the candidate rows, the rule join, rendering) on DuckDB with
   all cores, ``--repeat`` times each way; the load average is printed with each run (the machine may be shared):

   * cold: nothing kept (as a new process with a new list): the watch side is computed in the run;
   * warm: the list unchanged since the watch side was prepared (``tactics.prepare_watch``, timed on its own as
     ``prepare_watch_seconds``, like the ingest-time keys): the run hashes the list's files and reads the watch
     side from the cache directory;
   * warm_scan: as warm, but the engine told not to use the key index: the pass scans every row's keys, as every
     run did before the index. Run alternately with warm, on the same data: the baseline of the same run.

   Cold and warm runs look the keys up in the activity's key index (``zhihui.intel.keyindex``), built once after
   generation as the service builds it after ingest (``keyindex.refresh``; ingest-time work like the keys, timed
   as ``index_seconds``, its size ``index_bytes``) and reused with the data. ``seconds`` is the best cold run: it
   holds whatever the list did since the last run, and it is the figure earlier rounds reported;
   ``seconds_warm`` is the scheduled run over an unchanged list. Every run must give the same hits.
3. Baseline: pandas ``merge`` of a 10^7-row slice (the first file of each source) with the watched ID numbers (the
   merge alone; reading the slice into pandas is timed separately).

``--quick``: 10^5 rows, 10^4 watchlist (a smoke test). The last printed line is one JSON object.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zhihui.intel import keyindex
from zhihui.intel.normalise import KEYS_META, KEYS_VERSION, name_key, parquet_options, with_keys
from zhihui.intel.rules import load_rules
from zhihui.intel.schema import ACTIVITY, ACTIVITY_STORED, WATCH_KEYS, WATCHLIST
from zhihui.intel.tactics import DuckDBEngine, clear_watch_cache, collide, prepare_watch

# 7: per-source files with the integer keys (schema.ACTIVITY_STORED, keys v2), normalise.parquet_options
# 8: parquet_options with delta encodings ("at", the strings that hardly repeat)
GEN_VERSION = 8
ROOT = Path(__file__).resolve().parent.parent / "var" / "bench" / "collision"
CHUNK = 1_000_000
ROW_GROUP = 1_000_000
FILE_ROWS = 10_000_000
T0_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
SPAN_US = 30 * 86_400_000_000
SOURCES = ("checkpoint_pass", "internet_cafe", "hotel_checkin", "transport_ticket")
SOURCE_P = (0.45, 0.25, 0.15, 0.15)
RID_PREFIX = {"checkpoint_pass": b"K", "internet_cafe": b"C", "hotel_checkin": b"H", "transport_ticket": b"T"}
EXACT_RATE = 1e-4
FUZZY_RATE = 3e-5
CATEGORIES = (
    ("在逃", 4), ("吸毒人员", 20), ("涉稳", 6), ("盗窃前科", 25), ("诈骗前科", 12), ("涉毒前科", 10), ("抢劫前科", 5),
    ("精神障碍肇事肇祸", 8), ("重点上访", 10),
)  # fmt: skip
PROVINCES = (
    ("44", 40), ("43", 15), ("45", 10), ("42", 7), ("36", 6), ("51", 5), ("41", 5), ("35", 2), ("50", 2), ("52", 2),
    ("34", 2), ("37", 1), ("61", 1), ("13", 1), ("32", 1),
)  # fmt: skip
PLATE_PROVINCES = "粤湘桂鄂赣川豫闽渝贵皖鲁陕冀苏"
PLATE_SPACE = len(PLATE_PROVINCES) * 24 * 34 * 10_000
PLATE_MULT = 7_919_993  # coprime to PLATE_SPACE (2^8·3^2·5^5·17): idx → plate is one-to-one
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦"
    "付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉玲宇浩凯健俊帆帅旭宁龙林欣佳怡晨阳琳雪婷倩颖峰建国文斌波"
    "志刚海燕丹梅飞鑫然博宏亮翔琴云莉晶慧淑珍凤春燕彬瑶楠蕾瑞祥振鸿晓东兵成坤嘉睿泽轩诗雨思涵子豪梓浩一鸣天佑家乐"
)


# --- deterministic per-index attributes ---------------------------------------------------------------------


def mix(x: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of (x, salt): independent uniform 64-bit streams per attribute, no tables of size P."""
    z = x.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def unit(x: np.ndarray, salt: int) -> np.ndarray:
    return (mix(x, salt) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) ASCII digit matrix of non-negative integers, zero-padded."""
    out = np.empty((len(values), width), np.uint8)
    v = values.astype(np.int64).copy()
    for j in range(width - 1, -1, -1):
        out[:, j] = 48 + v % 10
        v //= 10
    return out


def strings(mat: np.ndarray) -> pa.Array:
    """A pa.string array from an (n, w) byte matrix of valid UTF-8 rows, without a Python loop."""
    n, w = mat.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(mat))])


def scatter(n: int, parts: list[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """An n-row array with parts[i][1] at rows parts[i][0] and nulls elsewhere."""
    sel = np.concatenate([i for i, _ in parts]) if parts else np.empty(0, np.int64)
    rest = np.setdiff1d(np.arange(n), sel, assume_unique=True)
    values = pa.concat_arrays([a for _, a in parts] + [pa.nulls(len(rest), parts[0][1].type)])
    where = np.empty(n, np.int64)
    where[np.concatenate([sel, rest])] = np.arange(n)
    return values.take(pa.array(where))


def masked(arr: pa.Array, keep: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(keep), arr, pa.scalar(None, arr.type))


_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], np.int64)
_CHECK = np.frombuffer(b"10X98765432", np.uint8)


class World:
    """Reference pools (regions, names, venues) and the identity of person ``i`` as vectorised functions."""

    def __init__(self, seed: int, pop: int) -> None:
        self.seed, self.pop = seed, pop
        rng = np.random.default_rng([seed, 7])
        codes, weights = [], []
        for prov, w in PROVINCES:
            n_pref = 21 if prov == "44" else 12
            for pref in range(1, n_pref):
                for county in range(1, 16):
                    codes.append(int(prov) * 10000 + pref * 100 + county)
                    boost = 3.0 if (prov, pref) == ("44", 3) else 1.0  # Shenzhen's own hukou
                    weights.append(w * boost / (n_pref * 15) * rng.uniform(0.3, 1.7))
        self.regions = np.array(codes, np.int64)
        cw = np.cumsum(weights)
        self.region_cdf = cw / cw[-1]
        sur_w = 1.0 / np.arange(1, len(SURNAMES) + 1) ** 0.9
        names = set()
        while len(names) < 60_000:
            s = SURNAMES[rng.choice(len(SURNAMES), p=sur_w / sur_w.sum())]
            given = "".join(GIVEN[i] for i in rng.integers(0, len(GIVEN), rng.choice((1, 2), p=(0.3, 0.7))))
            names.add(s + given)
        pool = sorted(names)
        order = rng.permutation(len(pool))
        self.names = pa.array([pool[i] for i in order], pa.string())
        self.name_keys = pa.array([name_key(pool[i]) for i in order], pa.string())
        self.venues = {src: self._venues(rng, src, n) for src, n in
                       (("hotel_checkin", 4000), ("internet_cafe", 2500), ("checkpoint_pass", 1500),
                        ("transport_ticket", 200))}  # fmt: skip
        self.rooms = {
            "hotel_checkin": pa.array([f"{f}{r:02d}" for f in range(2, 31) for r in range(1, 41)]),
            "internet_cafe": pa.array([f"{z}{s:03d}" for z in "ABCD" for s in range(1, 121)]),
            "transport_ticket": pa.array(
                [f"{c:02d}车{r:02d}{x}" for c in range(1, 17) for r in range(1, 21) for x in "ABCDF"]
            ),
        }
        self.trips = pa.array([f"{'GDK'[i % 3]}{1000 + i}/2026-01-{1 + i % 30:02d}" for i in range(3000)])

    @staticmethod
    def _venues(rng: np.random.Generator, src: str, n: int) -> dict[str, Any]:
        tag = {"hotel_checkin": ("LG", "酒店"), "internet_cafe": ("WB", "网吧"), "checkpoint_pass": ("KK", "卡口"),
               "transport_ticket": ("ZD", "站")}[src]  # fmt: skip
        return {
            "venue_code": pa.array([f"{tag[0]}-{i:05d}" for i in range(n)]),
            "venue_name": pa.array([f"第{i}号{tag[1]}" for i in range(n)]),
            "lat": 22.45 + 0.3 * rng.random(n),
            "lon": 113.75 + 0.55 * rng.random(n),
            "org_code": pa.array([f"4403{rng.integers(1, 10):02d}{rng.integers(1, 40):02d}0000" for _ in range(n)]),
        }

    def identity(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        s = self.seed * 1_000_003
        at = np.searchsorted(self.region_cdf, unit(idx, s + 1), side="right")
        region = self.regions[at.clip(0, len(self.regions) - 1)]
        birth = np.datetime64("1950-01-01") + (mix(idx, s + 2) % np.uint64(21184)).astype("timedelta64[D]")
        y = birth.astype("datetime64[Y]").astype(np.int64) + 1970
        m = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
        d = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
        # Sequence numbers 000-499 for the population, 500-999 for the watched: their IDs never coincide
        # by chance (only injected rows carry a watched ID), while region, birth date and name still do.
        seq = (mix(idx, s + 3) % np.uint64(500)).astype(np.int64) + np.where(idx >= self.pop, 500, 0)
        body = np.concatenate([digits(region, 6), digits(y * 10000 + m * 100 + d, 8), digits(seq, 3)], axis=1)
        check = _CHECK[((body - 48).astype(np.int64) @ _WEIGHTS) % 11]
        ids = np.concatenate([body, check[:, None]], axis=1)
        name = (len(self.names) * unit(idx, s + 4) ** 1.6).astype(np.int64)
        phone = 13_000_000_000 + (idx * 2_654_435_761 + 12_345) % 7_000_000_000  # a bijection: one phone each
        return {"ids": ids, "birth": birth.astype("datetime64[D]").astype(np.int32), "seq": seq, "name": name,
                "phone": phone, "plate": self.plates(idx)}  # fmt: skip

    def plates(self, idx: np.ndarray) -> np.ndarray:
        """One plate per index (a bijection onto 15 provinces × 24 letters × 34 × 10^4), as 9 UTF-8 bytes."""
        prov = np.frombuffer(PLATE_PROVINCES.encode(), np.uint8).reshape(-1, 3)
        letters = np.frombuffer(b"ABCDEFGHJKLMNPQRSTUVWXYZ", np.uint8)
        alnum = np.frombuffer(b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", np.uint8)
        code = (idx.astype(np.int64) * PLATE_MULT + self.seed) % PLATE_SPACE
        out = np.empty((len(idx), 9), np.uint8)
        out[:, 4:] = digits(code % 10_000, 5)
        code //= 10_000
        out[:, 4] = alnum[code % 34]
        code //= 34
        out[:, 3] = letters[code % 24]
        out[:, :3] = prov[code // 24]
        return out


def valid_check(ids: np.ndarray) -> np.ndarray:
    body = (ids[:, :17] - 48).astype(np.int64)
    return _CHECK[(body @ _WEIGHTS) % 11] == ids[:, 17]


# --- generation ------------------------------------------------------------------------------------------------


def activity_chunk(
    world: World, c: int, offset: int, n: int, rows: int, pop: int, active: int
) -> tuple[pa.Table, dict[str, Any]]:
    rng = np.random.default_rng([world.seed, 100 + c])
    src = rng.choice(len(SOURCES), n, p=SOURCE_P)
    person = (pop * rng.random(n) ** 2).astype(np.int64)
    exact = rng.random(n) < EXACT_RATE
    person[exact] = pop + rng.integers(0, active, int(exact.sum()))
    fuzzy = ~exact & (rng.random(n) < FUZZY_RATE) & (src != 0)
    person[fuzzy] = pop + rng.integers(0, active, int(fuzzy.sum()))
    ident = world.identity(person)
    ids, name = ident["ids"], ident["name"]
    kind = np.full(n, -1)
    fi = np.flatnonzero(fuzzy)
    kind[fi] = rng.integers(0, 3, len(fi))
    for i in fi:  # a few thousand rows at most: the corruptions a typist makes
        if kind[i] == 0:
            j = int(rng.integers(0, 17))
            ids[i, j], ids[i, j + 1] = ids[i, j + 1], ids[i, j]
        elif kind[i] == 1:
            j = int(rng.integers(0, 17))
            ids[i, j] = 48 + (ids[i, j] - 48 + int(rng.integers(1, 10))) % 10
        else:
            name[i] = (name[i] + 1) % len(world.names)
    ok = valid_check(ids)
    at = np.sort(T0_US + (SPAN_US * (c + rng.random(n)) / max(1, -(-rows // CHUNK))).astype(np.int64))
    cp, hotel, ticket = src == 0, src == 2, src == 3
    has_id = ~cp
    cols: dict[str, pa.Array] = {}
    rid = np.empty((n, 12), np.uint8)
    rid[:, 0] = np.frombuffer(b"KCHT", np.uint8)[src]
    rid[:, 1:] = digits(np.arange(offset, offset + n), 11)
    cols["record_id"] = strings(rid)
    cols["source"] = pa.array(np.array(SOURCES, dtype=object)[src], pa.string())
    cols["batch_id"] = pa.array([f"B{c:05d}"] * n, pa.string())
    cols["at"] = pa.array(at, pa.timestamp("us", tz="UTC"))
    cols["id_number"] = masked(strings(ids), has_id)
    cols["name"] = masked(world.names.take(pa.array(name)), has_id)
    cols["name_key"] = masked(world.name_keys.take(pa.array(name)), has_id)
    cols["birth_date"] = masked(pa.array(ident["birth"], pa.date32()), has_id & ok)
    cols["sex"] = masked(pa.array(np.where(ident["seq"] % 2 == 1, "M", "F").astype(object), pa.string()), has_id)
    cols["phone"] = masked(strings(digits(ident["phone"], 11)), ticket | (hotel & (rng.random(n) < 0.5)))
    cols["plate"] = masked(strings(ident["plate"]), cp)
    parts: dict[str, list[tuple[np.ndarray, pa.Array]]] = {"venue_code": [], "venue_name": [], "org_code": [],
                                                            "room": []}  # fmt: skip
    lat = np.empty(n)
    lon = np.empty(n)
    for k, s in enumerate(SOURCES):
        sel = np.flatnonzero(src == k)
        ven = world.venues[s]
        vi = pa.array((len(ven["lat"]) * rng.random(len(sel)) ** 1.3).astype(np.int64))  # a few busy venues
        for key in ("venue_code", "venue_name", "org_code"):
            parts[key].append((sel, ven[key].take(vi)))
        lat[sel], lon[sel] = ven["lat"][vi], ven["lon"][vi]
        if s in world.rooms:
            pool = world.rooms[s]
            parts["room"].append((sel, pool.take(pa.array(rng.integers(0, len(pool), len(sel))))))
    for key, got in parts.items():
        cols[key] = scatter(n, got)
    cols["trip"] = masked(world.trips.take(pa.array(rng.integers(0, len(world.trips), n))), ticket)
    cols["lat"], cols["lon"] = pa.array(lat), pa.array(lon)
    cols["detail"] = pa.nulls(n, pa.string())
    table = pa.Table.from_arrays([cols[f.name] for f in ACTIVITY], schema=ACTIVITY)
    truth = {
        "record_id": cols["record_id"].filter(pa.array(fuzzy)).to_pylist(),
        "source": [SOURCES[k] for k in src[fuzzy]],
        "person_key": [str(p - pop + 1) for p in person[fuzzy]],
        "corruption": [("swap", "digit", "name")[k] for k in kind[fuzzy]],
        "exact_rows": int(exact.sum()),
    }
    return table, truth


def watch_tables(world: World, pop: int, n: int) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng([world.seed, 3])
    idx = pop + np.arange(n, dtype=np.int64)
    ident = world.identity(idx)
    key = pa.array(np.arange(1, n + 1)).cast(pa.string())
    names, cats = [c for c, _ in CATEGORIES], np.array([w for _, w in CATEGORIES], float)
    cat = rng.choice(len(names), n, p=cats / cats.sum())
    second = np.flatnonzero(rng.random(n) < 0.05)
    rows_i = np.concatenate([np.arange(n), second])
    cat_all = np.concatenate([cat, (cat[second] + 1 + rng.integers(0, len(names) - 1, len(second))) % len(names)])
    ids = strings(ident["ids"])
    t = pa.Table.from_arrays(
        [
            key.take(pa.array(rows_i)),
            pa.array(np.array(names, dtype=object)[cat_all], pa.string()),
            pa.array(np.array(["一级", "二级", "三级"], dtype=object)[rng.integers(0, 3, len(rows_i))], pa.string()),
            ids.take(pa.array(rows_i)),
            world.names.take(pa.array(ident["name"][rows_i])),
            world.name_keys.take(pa.array(ident["name"][rows_i])),
            pa.array(ident["birth"][rows_i], pa.date32()),
            pa.array(np.where(ident["seq"][rows_i] % 2 == 1, "M", "F").astype(object), pa.string()),
            pa.array([f"4403{i % 9 + 1:02d}{i % 39 + 1:02d}0000" for i in range(len(rows_i))], pa.string()),
        ],
        schema=WATCHLIST,
    )
    alias = np.flatnonzero(rng.random(n) < 0.01)
    alias_ids = strings(world.identity(pop + n + alias)["ids"])
    phone = np.flatnonzero(rng.random(n) < 0.6)
    plate = np.flatnonzero(rng.random(n) < 0.3)
    parts = [
        (np.arange(n), "id_number", ids),
        (alias, "id_number", alias_ids),
        (phone, "phone", strings(digits(ident["phone"][phone], 11))),
        (plate, "plate", strings(ident["plate"][plate])),
    ]
    keys = pa.Table.from_arrays(
        [
            pa.concat_arrays([key.take(pa.array(i)) for i, _, _ in parts]),
            pa.array([k for i, k, _ in parts for _ in range(len(i))], pa.string()),
            pa.concat_arrays([v for _, _, v in parts]),
        ],
        schema=WATCH_KEYS,
    )
    return t, keys


def generate(rows: int, watch: int, seed: int, out: Path, log: list[str]) -> dict[str, Any]:
    manifest = out / "manifest.json"
    want = {"version": GEN_VERSION, "rows": rows, "watchlist": watch, "seed": seed}
    if manifest.exists():
        got = json.loads(manifest.read_text())
        if {k: got.get(k) for k in want} == want:
            log.append(f"data: reusing {out} (generated in {got['generation_s']} s)")
            return got
    t = time.perf_counter()
    shutil.rmtree(out / "activity", ignore_errors=True)
    (out / "activity").mkdir(parents=True, exist_ok=True)
    pop = max(1000, rows // 5)
    world = World(seed, pop)
    active = min(watch, max(100, rows // 2000))
    wl, wk = watch_tables(world, pop, watch)
    pq.write_table(wl, out / "watchlist.parquet", compression="snappy")
    pq.write_table(wk, out / "watch_keys.parquet", compression="snappy")
    truth: dict[str, list] = {"record_id": [], "source": [], "person_key": [], "corruption": []}
    exact_rows = 0
    keys_s = 0.0
    # The layout ingest writes: one directory per source (source=<name>), the key columns after the canonical ones.
    writers: dict[str, pq.ParquetWriter] = {}
    pending: dict[str, list[pa.Table]] = {s: [] for s in SOURCES}

    def flush(src: str, final: bool = False) -> None:
        if pending[src] and (final or sum(p.num_rows for p in pending[src]) >= ROW_GROUP):
            writers[src].write_table(pa.concat_tables(pending[src]), row_group_size=ROW_GROUP)
            pending[src].clear()

    for c, offset in enumerate(range(0, rows, CHUNK)):
        n = min(CHUNK, rows - offset)
        if offset % FILE_ROWS == 0:
            for src in list(writers):
                flush(src, final=True)
                writers.pop(src).close()
            for src in SOURCES:
                (out / "activity" / f"source={src}").mkdir(exist_ok=True)
        table, tr = activity_chunk(world, c, offset, n, rows, pop, active)
        k = time.perf_counter()
        table = with_keys(table)  # what ingest does to every batch
        keys_s += time.perf_counter() - k
        for src in SOURCES:
            part = table.filter(pc.equal(table.column("source"), src))
            if src not in writers:  # the column encodings ingest chooses (normalise.parquet_options)
                path = out / "activity" / f"source={src}" / f"part-{offset // FILE_ROWS:05d}.parquet"
                writers[src] = pq.ParquetWriter(path, ACTIVITY_STORED.with_metadata({KEYS_META: KEYS_VERSION.encode()}),
                                                **parquet_options(part, "snappy"))  # fmt: skip
            pending[src].append(part)
            flush(src)
        exact_rows += tr.pop("exact_rows")
        for key in truth:
            truth[key].extend(tr[key])
        if c % 10 == 9:
            print(f"  generated {offset + n:,} rows ({time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)
    for src in list(writers):
        flush(src, final=True)
        writers.pop(src).close()
    pq.write_table(pa.table(truth), out / "truth.parquet")
    size = sum(p.stat().st_size for p in out.rglob("*.parquet"))
    got = {**want, "population": pop, "active_watch": active, "exact_rows_injected": exact_rows,
           "fuzzy_rows_injected": len(truth["record_id"]), "bytes": size,
           "generation_s": round(time.perf_counter() - t, 1), "keys_s": round(keys_s, 1)}  # fmt: skip
    manifest.write_text(json.dumps(got))
    log.append(f"data: generated {out} in {got['generation_s']} s ({size / 2**30:.2f} GiB; keys {keys_s:.1f} s)")
    return got


# --- timing --------------------------------------------------------------------------------------------------


def engine(out: Path, threads: int | None, cache: Path | None, key_index: bool = True) -> DuckDBEngine:
    return DuckDBEngine(out / "activity", out / "watchlist.parquet", out / "watch_keys.parquet", threads=threads,
                        watch_cache=cache, key_index=key_index)  # fmt: skip


def ensure_index(out: Path) -> dict[str, Any]:
    """The activity's key index, built as the service builds it (``keyindex.refresh``) and timed; kept with the
    data and reused while it covers every file."""
    info = out / "keyindex.json"
    if not info.exists():  # built here, so that its time is known
        shutil.rmtree(out / "activity" / keyindex.INDEX_DIR, ignore_errors=True)
    got = keyindex.refresh(out / "activity")
    if got["rebuilt"] or not info.exists():
        size = sum(p.stat().st_size for p in (out / "activity" / keyindex.INDEX_DIR).rglob("*.npy"))
        info.write_text(json.dumps({"index_seconds": got["seconds"], "index_bytes": size,
                                    "load": round(os.getloadavg()[0], 2)}))  # fmt: skip
    assert got["rows_outside"] == 0, got
    return json.loads(info.read_text())


def time_collide(out: Path, threads: int | None, cache: Path | None,
                 key_index: bool = True) -> tuple[float, pa.Table, dict[str, Any]]:  # fmt: skip
    """One run in a state as a new process has it: nothing kept in memory; ``cache``: the watch-side files;
    ``key_index``: False scans every row (the pass as it was before the index: the same run's baseline)."""
    clear_watch_cache()
    rules = load_rules()
    stats: dict[str, Any] = {"load_before": round(os.getloadavg()[0], 2)}
    t = time.perf_counter()
    with engine(out, threads, cache, key_index) as eng:
        hits = collide(eng, rules, stats=stats)
    seconds = time.perf_counter() - t
    stats["load_after"] = round(os.getloadavg()[0], 2)
    return seconds, hits, stats


def time_prepare(out: Path, threads: int | None, cache: Path) -> tuple[float, float]:
    """(seconds, load): the watch side computed and written under ``cache`` (once per watchlist version)."""
    clear_watch_cache()
    shutil.rmtree(cache, ignore_errors=True)
    t = time.perf_counter()
    with engine(out, threads, cache) as eng:
        prepare_watch(eng, load_rules())
    return time.perf_counter() - t, round(os.getloadavg()[0], 2)


def fuzzy_truth(out: Path, hits: pa.Table) -> dict[str, int]:
    """Injected corruptions found as fuzzy hits of the right person, and fuzzy hits that are not injected.

    ``truth_eligible``: corrupted-ID rows (not name-only) whose person is on a list that a fuzzy, non-group rule
    reads for that source: those a perfect fuzzy pass could report (whether the score clears the rule's
    threshold depends on where the error is)."""
    truth = pq.read_table(out / "truth.parquet").to_pylist()
    want = {(t["source"], t["record_id"]): t for t in truth}
    keys = pa.array(sorted({t["person_key"] for t in truth}), pa.string())
    wl = pq.read_table(out / "watchlist.parquet", columns=["person_key", "category"])
    cats: dict[str, set[str]] = {}
    for r in wl.filter(pc.is_in(wl.column("person_key"), keys)).to_pylist():
        cats.setdefault(r["person_key"], set()).add(r["category"])
    rules = [r for r in load_rules().active if r.match.fuzzy and r.group is None]

    def covered(t: dict[str, Any]) -> bool:
        on = cats.get(t["person_key"], set())
        return t["corruption"] != "name" and any(
            t["source"] in r.sources and any(fnmatch.fnmatchcase(c, p) for c in on for p in r.categories) for r in rules
        )

    eligible = sum(map(covered, truth))
    cols = hits.select(["source", "record_id", "person_key", "match_type"]).to_pylist()
    fz = [h for h in cols if h["match_type"] == "fuzzy_identity"]
    found = {
        (h["source"], h["record_id"])
        for h in fz
        if want.get((h["source"], h["record_id"]), {}).get("person_key") == h["person_key"]
    }
    by_kind: dict[str, int] = {}
    for k in found:
        by_kind[want[k]["corruption"]] = by_kind.get(want[k]["corruption"], 0) + 1
    fz_rows = {(h["source"], h["record_id"]) for h in fz}
    return {
        "fuzzy_hit_rows": len(fz_rows),
        "truth_found": len(found),
        "truth_injected": len(truth),
        "truth_eligible": eligible,
        "found_swap": by_kind.get("swap", 0),
        "found_digit": by_kind.get("digit", 0),
        "not_injected": len(fz_rows - set(want)),
    }


def time_pandas(out: Path) -> dict[str, Any]:
    """pandas merge of the first 10^7 rows (the first file of each source) with the watched ID numbers."""
    first = sorted((out / "activity").glob("source=*/part-00000.parquet"))
    t = time.perf_counter()
    df = pd.concat([pq.read_table(f, columns=["record_id", "source", "id_number"]).to_pandas() for f in first],
                   ignore_index=True)  # fmt: skip
    keys = pq.read_table(out / "watch_keys.parquet").to_pandas()
    keys = keys[keys["key_type"] == "id_number"][["person_key", "key_value"]]
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    merged = df.merge(keys, left_on="id_number", right_on="key_value", how="inner")
    merge_s = time.perf_counter() - t
    return {"rows": len(df), "read_s": read_s, "merge_s": merge_s, "matches": len(merged)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000_000, help="activity rows (default 10^8)")
    ap.add_argument("--watchlist", type=int, default=1_000_000, help="watchlist entries (default 10^6)")
    ap.add_argument("--seed", type=int, default=20260105)
    ap.add_argument("--repeat", type=int, default=2, help="collide runs; 'seconds' is the fastest")
    ap.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    ap.add_argument("--quick", action="store_true", help="10^5 rows, 10^4 watchlist (smoke test)")
    ap.add_argument("--no-pandas", action="store_true", help="skip the pandas baseline")
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.watchlist = 100_000, 10_000
    out = ROOT / f"s{args.seed}-r{args.rows}-w{args.watchlist}"
    log: list[str] = []
    man = generate(args.rows, args.watchlist, args.seed, out, log)
    print("\n".join(log))
    print(f"rows {args.rows:,} activity, {args.watchlist:,} watchlist entries, {man['population']:,} persons; "
          f"injected {man['exact_rows_injected']:,} exact-identity rows, {man['fuzzy_rows_injected']:,} corrupted; "
          f"{os.cpu_count()} cores")  # fmt: skip
    index = ensure_index(out)
    print(f"key index: {index['index_bytes'] / 2**30:.2f} GiB, built in {index['index_seconds']} s "
          f"(load {index['load']})")  # fmt: skip
    cache = out / "watch_cache"
    shutil.rmtree(cache, ignore_errors=True)
    runs: dict[str, list[tuple[float, float, float, dict[str, float]]]] = {"cold": [], "warm": [], "warm_scan": []}
    hits = pa.table({})
    stats: dict[str, Any] = {}
    all_hits: dict[str, pa.Table] = {}
    for _ in range(max(1, args.repeat)):  # cold: nothing kept, the watch side computed in the run
        s, hits, stats = time_collide(out, args.threads, None)
        assert not stats["watch_cached"]
        runs["cold"].append((s, stats["load_before"], stats["load_after"], stats["step_seconds"]))
        all_hits["cold"] = hits
    prep_s, prep_load = time_prepare(out, args.threads, cache)
    for _ in range(max(1, args.repeat)):  # warm: the list unchanged since the last run, its watch side on disk
        for kind, use in (("warm", True), ("warm_scan", False)):  # alternately with the scan, on the same data
            s, got, st = time_collide(out, args.threads, cache, use)
            assert st["watch_cached"] and bool(st["key_index"]) == use, st.get("key_index")
            runs[kind].append((s, st["load_before"], st["load_after"], st["step_seconds"]))
            all_hits[kind] = got
            if use:
                hits, stats = got, st
    for kind in ("warm", "warm_scan"):
        if not all_hits["cold"].equals(all_hits[kind]):
            raise SystemExit(f"cold and {kind} runs disagree")
    mt = hits.group_by("match_type").aggregate([("hit_key", "count")]).to_pylist()
    by_rule = hits.group_by("rule_code").aggregate([("hit_key", "count")]).to_pylist()
    truth = fuzzy_truth(out, hits)
    base = None if args.no_pandas else time_pandas(out)

    print(f"\n{'step':44s} {'seconds':>9s}  note")
    print(f"{'generate Parquet':44s} {man['generation_s']:9.1f}  {man['bytes'] / 2**30:.2f} GiB on disk, snappy")
    print(f"{'  keys at ingest (not timed below)':44s} {man['keys_s']:9.1f}  normalise.with_keys on every row")
    print(f"{'  key index at ingest (not timed below)':44s} {index['index_seconds']:9.1f}  keyindex.refresh, "
          f"{index['index_bytes'] / 2**30:.2f} GiB")  # fmt: skip
    for kind, note in (("cold", "nothing kept: the watch side computed in the run"),
                       ("warm", "the list unchanged: its watch side read from the cache"),
                       ("warm_scan", "as warm, every row scanned (no key index)")):  # fmt: skip
        if kind == "warm":
            print(f"{'prepare the watch side (once per list)':44s} {prep_s:9.2f}  to the cache; load {prep_load}")
        for i, (s, la, lb, _) in enumerate(runs[kind], 1):
            print(f"{f'collide on DuckDB, {kind} run {i}':44s} {s:9.2f}  {note}; load {la}/{lb}")
        best = min(runs[kind], key=lambda r: r[0])
        for step, sec in best[3].items():
            print(f"{'  ' + step:44s} {sec:9.2f}")
    if base:
        print(f"{'pandas: read 10^7-row slice':44s} {base['read_s']:9.2f}  {base['rows']:,} rows, 3 columns")
        print(f"{'pandas: merge slice on id_number':44s} {base['merge_s']:9.2f}  {base['matches']:,} exact ID matches")
    print(
        f"\ncandidate rows (pass 1) {stats['candidate_rows']:,}; key-level fuzzy pairs {stats['key_pairs']:,}; "
        f"rows read {stats['read_rows']:,}; fuzzy pairs scored {stats['fuzzy_pairs']:,}; hits {hits.num_rows:,}"
    )
    print("hits by match type: " + ", ".join(f"{r['match_type']} {r['hit_key_count']:,}" for r in mt))
    print("hits by rule: " + ", ".join(f"{r['rule_code']} {r['hit_key_count']:,}" for r in by_rule))
    print(f"fuzzy: {truth['truth_found']:,} injected corruptions found as fuzzy hits of the right person "
          f"(swap {truth['found_swap']:,}, digit {truth['found_digit']:,}) of {truth['truth_eligible']:,} a fuzzy rule "
          f"reads ({truth['truth_injected']:,} injected; name-only ones stay exact hits); "
          f"{truth['not_injected']:,} fuzzy-hit rows not injected")  # fmt: skip
    summary = {
        "rows": args.rows,
        "watchlist": args.watchlist,
        "seconds": round(min(r[0] for r in runs["cold"]), 3),
        "seconds_cold": round(min(r[0] for r in runs["cold"]), 3),
        "seconds_warm": round(min(r[0] for r in runs["warm"]), 3),
        "seconds_warm_scan": round(min(r[0] for r in runs["warm_scan"]), 3),
        "index_seconds": index["index_seconds"],
        "index_bytes": index["index_bytes"],
        "prepare_watch_seconds": round(prep_s, 3),
        "runs_s": {k: [round(r[0], 3) for r in v] for k, v in runs.items()},
        "pandas_seconds_1e7": round(base["merge_s"], 3) if base else None,
        "pandas_read_seconds_1e7": round(base["read_s"], 3) if base else None,
        "pandas_rows": base["rows"] if base else None,
        "hits": hits.num_rows,
        "hits_by_match_type": {r["match_type"]: r["hit_key_count"] for r in mt},
        "hits_by_rule": {r["rule_code"]: r["hit_key_count"] for r in by_rule},
        "candidate_rows": stats["candidate_rows"],
        "key_pairs": stats["key_pairs"],
        "read_rows": stats["read_rows"],
        "full_rows": stats["full_rows"],
        "fuzzy_candidates": stats["fuzzy_pairs"],
        "fuzzy_truth": truth,
        "fuzzy_recall": round(truth["truth_found"] / truth["truth_eligible"], 4) if truth["truth_eligible"] else None,
        "step_seconds": {k: min(v, key=lambda r: r[0])[3] for k, v in runs.items()},
        "load_average": {k: [(r[1], r[2]) for r in v] for k, v in runs.items()},
        "keys_seconds": man.get("keys_s"),
        "generation_seconds": man["generation_s"],
        "bytes_on_disk": man["bytes"],
        "threads": args.threads or os.cpu_count(),
        "goal_seconds": 3.0,
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
