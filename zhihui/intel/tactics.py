# Copyright 2026 The zhihui authors. Licensed under the Apache License, Version 2.0.
"""技战法 (tactics) over the intelligence tables: batch collision against watchlists (批量比对碰撞), trajectories
(人员轨迹), co-presence around cases (串并) and high-risk-origin search (高危地区检索).

Every tactic is SQL written once, in DuckDB's dialect, over the three views of :mod:`zhihui.intel.schema`
(``activity``, ``watchlist``, ``watch_keys``) plus small parameter tables. :class:`DuckDBEngine` (embedded, the
default) runs the text as written; :class:`SparkEngine` (province scale) runs ``sqlglot``'s Spark translation of
the same text (:func:`to_spark`), so the two cannot drift apart; a test proves their results equal.

Collision is a chain of steps, each materialised by the engine, then one query. Activity files carry integer keys
written at ingest (:data:`zhihui.intel.schema.ACTIVITY_KEYS`: the packed ID, phone and plate hashes, the fuzzy
pass's blocking keys); files without them are keyed when the engine opens them. The strings of a row are read only
if it can be a hit:

1. the watch side (small): ``zh_person`` (one identity per listed person, and which sources and match types the
   rules cover it for), then, in Python with the functions ingest uses, per source the exact keys (``zh_xkey``),
   the watched IDs a fuzzy rule reads with their blocking keys (``zh_fz``) and the probe sets (``zh_probe``). A pure
   function of the lists and the rules: kept per version of them (a hash of their bytes), in the process and,
   given ``watch_cache``, on disk (:func:`prepare_watch`), so runs over an unchanged list skip it.
2. ``zh_hot`` – the only pass over every row: per source and key column a semi-join with that source's probe
   set, on 8-byte integers, which DuckDB pushes into the Parquet scan (:data:`HOT_SQL`).
3. ``zh_kpairs`` – fuzzy candidates on keys: found rows × the watched IDs their blocks meet, with each pair's exact
   id_edits and the score it could reach at best; ``zh_keep`` – the rows to read: exact-key finds and rows of
   pairs that can reach their threshold (every candidate when a re-scorer is to see them).
4. ``zh_touched`` – those rows read (``Engine.fetch_rows``: a look-up per file on DuckDB, which costs about a scan
   of each column read): fuzzy candidates first for their name key only, scored (step 5), then exact finds and the
   candidates that scored as hits in full, in one read.
5. ``zh_pairs`` – the fuzzy pairs on the strings: blocks confirmed, scored in SQL (levenshtein, adjacent
   transpositions recognised), the best pair per (record, person) kept. A Python re-scorer can replace the scores
   here (``rescore=``; every candidate is then read in full).
6. hits (:data:`HITS_SQL`) – exact and fuzzy matches × the rule tables (source, match type and score, category
   pattern), one hit per (rule, record, person), the same-room-night groups, the dedupe key and a total order.

A key only proposes a row: every match is decided on the strings, as before, so a hash collision costs a read.

Times: ``at`` is UTC; engines run with session time zone UTC and add 8 hours for Asia/Shanghai (no DST since
1991). A hotel *night* runs from local noon to noon, so a 01:30 check-in belongs to the previous evening's night.
Distances: haversine on a sphere of mean Earth radius (6 371 008.8 m) in SQL, after a bounding-box pre-filter.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from zhihui.intel.keyindex import KeyIndex, open_index
from zhihui.intel.normalise import (
    KEYS_META,
    KEYS_VERSION,
    activity_keys,
    block_keys,
    distinct,
    hash_key,
    id_pack,
    name_hash,
    ymd,
)
from zhihui.intel.rules import RuleSet, load_rules
from zhihui.intel.schema import ACTIVITY, ACTIVITY_KEYS, SOURCES

__all__ = [
    "CO_PRESENCE",
    "HIGH_RISK",
    "HITS",
    "PAIRS",
    "TRAJECTORY",
    "DuckDBEngine",
    "Engine",
    "SparkEngine",
    "clear_watch_cache",
    "co_presence",
    "collide",
    "frame_rescorer",
    "high_risk_origin",
    "prepare_watch",
    "spark_session",
    "to_spark",
    "trajectory",
    "watch_fingerprint",
]

Source = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | pa.Table
Rescorer = Callable[[pa.Table], pa.Table]

# Open bounds as instants both engines can hold (Spark stops at year 9999), so one SQL text serves every call.
_MIN_AT = datetime(1900, 1, 1, tzinfo=UTC)
_MAX_AT = datetime(9999, 1, 1, tzinfo=UTC)
_CST_HOURS = 8
_EARTH_DIAMETER_M = 2 * 6371008.8
_M_PER_DEG_LAT = 111_320.0  # for the bounding box only; the distance itself is haversine

HITS = pa.schema(
    [
        ("hit_key", pa.string()),
        ("rule_code", pa.string()),
        ("rule_name", pa.string()),
        ("priority", pa.string()),
        ("record_id", pa.string()),
        ("source", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("at_local", pa.string()),
        ("person_key", pa.string()),
        ("person_name", pa.string()),
        ("person_id_number", pa.string()),
        ("category", pa.string()),
        ("match_type", pa.string()),
        ("score", pa.float64()),
        ("reasons", pa.string()),
        ("id_number", pa.string()),
        ("name", pa.string()),
        ("phone", pa.string()),
        ("plate", pa.string()),
        ("venue_code", pa.string()),
        ("venue_name", pa.string()),
        ("room", pa.string()),
        ("org_code", pa.string()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("group_key", pa.string()),
        ("group_size", pa.int64()),
        ("instruction", pa.string()),
    ]
)
# What a re-scorer gets (and must give back, score and reasons possibly changed, rows possibly dropped).
PAIRS = pa.schema(
    [
        ("source", pa.string()),
        ("record_id", pa.string()),
        ("person_key", pa.string()),
        ("id_number", pa.string()),
        ("name", pa.string()),
        ("name_key", pa.string()),
        ("birth_date", pa.date32()),
        ("sex", pa.string()),
        ("w_id_number", pa.string()),
        ("w_name", pa.string()),
        ("w_name_key", pa.string()),
        ("w_birth_date", pa.date32()),
        ("w_sex", pa.string()),
        ("block", pa.string()),
        ("id_edits", pa.int64()),
        ("score", pa.float64()),
        ("reasons", pa.string()),
    ]
)
TRAJECTORY = pa.schema(
    [
        ("at", pa.timestamp("us", tz="UTC")),
        ("at_local", pa.string()),
        ("source", pa.string()),
        ("record_id", pa.string()),
        ("matched_by", pa.string()),
        ("id_number", pa.string()),
        ("name", pa.string()),
        ("phone", pa.string()),
        ("plate", pa.string()),
        ("venue_code", pa.string()),
        ("venue_name", pa.string()),
        ("room", pa.string()),
        ("trip", pa.string()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("org_code", pa.string()),
    ]
)
_EVIDENCE = pa.struct(
    [
        ("at", pa.timestamp("us", tz="UTC")),
        ("case_id", pa.string()),
        ("source", pa.string()),
        ("record_id", pa.string()),
        ("venue_code", pa.string()),
        ("venue_name", pa.string()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("distance_m", pa.float64()),
        ("dt_minutes", pa.float64()),
    ]
)
CO_PRESENCE = pa.schema(
    [
        ("entity_type", pa.string()),  # id_number / plate
        ("entity", pa.string()),
        ("n_cases", pa.int64()),
        ("case_ids", pa.list_(pa.string())),
        ("n_records", pa.int64()),
        ("first_at", pa.timestamp("us", tz="UTC")),
        ("last_at", pa.timestamp("us", tz="UTC")),
        ("evidence", pa.list_(_EVIDENCE)),
    ]
)
HIGH_RISK = pa.schema(
    [
        ("region_prefix", pa.string()),
        ("local_day", pa.date32()),
        ("venue_code", pa.string()),
        ("venue_name", pa.string()),
        ("source", pa.string()),
        ("records", pa.int64()),
        ("persons", pa.int64()),
        ("prefix_persons", pa.int64()),  # distinct persons of the prefix over the whole window
    ]
)
_CASES = pa.schema(
    [
        ("case_id", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("t_lo", pa.timestamp("us", tz="UTC")),
        ("t_hi", pa.timestamp("us", tz="UTC")),
        ("lat_lo", pa.float64()),
        ("lat_hi", pa.float64()),
        ("lon_lo", pa.float64()),
        ("lon_hi", pa.float64()),
    ]
)


# --- engines ---------------------------------------------------------------------------------------------

# What a collision reads of the candidate rows it fetches (the columns of HITS and PAIRS), and of those it reads
# only to score them (a row is read column by column, so every column left out counts).
FETCH_COLUMNS = (
    "source", "record_id", "at", "id_number", "name", "name_key", "birth_date", "sex", "phone", "plate",
    "venue_code", "venue_name", "room", "org_code", "lat", "lon",
)  # fmt: skip
SCORE_COLUMNS = ("name_key",)
_KEY_NAMES = tuple(ACTIVITY_KEYS.names)
_KEY_SOURCES = ("source", "at", "id_number", "name_key", "birth_date", "phone", "plate")  # what the keys are made of
_KEYED = pa.schema([*(ACTIVITY.field(c) for c in ("source", "at")), *ACTIVITY_KEYS,
                    pa.field("filename", pa.string()), pa.field("file_row_number", pa.int64())])  # fmt: skip
# Above this many candidate rows a fetch reads the files once instead of looking rows up one by one.
_POINT_FETCH_MAX = 200_000


class Engine(ABC):
    """Runs DuckDB-dialect SQL over the views ``activity``, ``watchlist``, ``watch_keys`` (+ parameter tables).

    ``activity_keyed`` holds every activity row's source, time, integer keys (schema.ACTIVITY_KEYS) and location
    (filename, file_row_number): read from the files that carry the keys, computed here for those that do not.
    ``$name`` placeholders take ``params``; an engine is one caller's (the parameter views have fixed names)."""

    dialect: str
    # Where the watch side is kept between runs (see prepare_watch); None: in this process only.
    watch_cache: Path | None = None
    _watch_sources: tuple[Source, Source] | None = None

    def _register_arrow_activity(self, activity: pa.Table) -> None:
        """Arrow activity (tests, small batches): the rows' "location" is their index, as file row numbers are."""
        n = activity.num_rows
        rows = activity.append_column("filename", pa.array([""] * n, pa.string()))
        rows = rows.append_column("file_row_number", pa.array(range(n), pa.int64()))
        self.register("activity", activity)
        self.register("activity_rows", rows)

    @abstractmethod
    def register(self, name: str, table: pa.Table) -> None:
        """Expose a (small) Arrow table as a view."""

    @abstractmethod
    def materialise(self, name: str, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run ``sql`` once and keep the result as table ``name``."""

    @abstractmethod
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run ``sql`` and return the result as Arrow."""

    def fetch(self, name: str) -> pa.Table:
        return self.query(f"SELECT * FROM {name}")

    def count(self, name: str) -> int:
        return int(self.query(f"SELECT count(*) AS n FROM {name}").column(0)[0].as_py())

    def fetch_rows(self, name: str, locations: str, columns: Sequence[str] = FETCH_COLUMNS) -> None:
        """Materialise ``name``: the FETCH_COLUMNS of the activity rows listed in table ``locations`` (filename,
        file_row_number, src, k_id), with those four columns; those of ``columns`` read, the others NULL. A join;
        engines with a cheaper point look-up override."""
        cols = _fetch_list(columns, "a.")
        self.materialise(
            name,
            f"""
            SELECT {cols}, l.filename, l.file_row_number, l.src, l.k_id FROM activity_rows a
            JOIN {locations} l ON l.filename = a.filename AND l.file_row_number = a.file_row_number""",
        )

    @abstractmethod
    def ensure_keyed(self) -> None:
        """Define ``activity_keyed`` (a collision's first step; other tactics never need it)."""

    def key_index(self) -> KeyIndex | None:
        """The activity's key index, where the engine has one (DuckDB over a directory); None: scan."""
        return None

    @property
    def files(self) -> list[str]:
        """The activity's Parquet files (paths)."""
        return list(getattr(self, "_files", []))

    def file_name(self, path: str) -> str:
        """How a row's ``filename`` names the file ``path`` after the pass (the path, unless the engine says)."""
        return path

    def short_locations(self, sql: str) -> str:
        """``sql`` (rows of the pass, ``filename`` the path) with the files named as :meth:`file_name` does."""
        return sql

    def keyed_view(self, name: str, files: Sequence[str]) -> None:
        """A view like ``activity_keyed`` over some of the activity files (engines with a key index)."""
        raise NotImplementedError

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fetch_list(columns: Sequence[str], prefix: str = "") -> str:
    """SQL select list of FETCH_COLUMNS: the ``columns`` read, the others typed NULLs."""
    out = []
    for c in FETCH_COLUMNS:
        t = {"at": "TIMESTAMPTZ", "birth_date": "DATE", "lat": "DOUBLE", "lon": "DOUBLE"}.get(c, "VARCHAR")
        out.append(f'{prefix}"{c}"' if c in columns else f'CAST(NULL AS {t}) AS "{c}"')
    return ", ".join(out)


def _files(src: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    """The Parquet files of a path, directory (recursively; names starting with '_' or '.' skipped, as Spark and
    pyarrow do) or glob, in a stable order."""
    items = [src] if isinstance(src, str | os.PathLike) else list(src)
    out: list[str] = []
    for p in items:
        s = os.fspath(p)
        if os.path.isdir(s):
            root = Path(s)
            found = (f for f in root.rglob("*.parquet")
                     if not any(part.startswith(("_", ".")) for part in f.relative_to(root).parts))  # fmt: skip
            out.extend(sorted(str(f) for f in found))
        elif any(ch in s for ch in "*?["):
            out.extend(sorted(glob.glob(s, recursive=True)))
        else:
            out.append(s)
    return out


def _has_keys(schema: pa.Schema) -> bool:
    """Whether a file (or table) carries the integer keys of this version."""
    meta = schema.metadata or {}
    return meta.get(KEYS_META) == KEYS_VERSION.encode() and all(n in schema.names for n in _KEY_NAMES)


def _split(files: list[str]) -> tuple[list[str], list[str]]:
    """(files with the keys, files without): decided from each footer."""
    keyed, legacy = [], []
    for f in files:
        (keyed if _has_keys(pq.read_schema(f)) else legacy).append(f)
    return keyed, legacy


def _computed_keys(tables: Iterable[tuple[str, pa.Table]]) -> pa.Table:
    """_KEYED rows for activity without stored keys (older files, Arrow input): computed now, once per engine."""
    parts = []
    for filename, t in tables:
        keys = activity_keys(t)
        cols = [t.column("source"), t.column("at"), *keys.columns,
                pa.array([filename] * t.num_rows, pa.string()), pa.array(range(t.num_rows), pa.int64())]  # fmt: skip
        parts.append(pa.Table.from_arrays([c.cast(f.type) for c, f in zip(cols, _KEYED, strict=True)], schema=_KEYED))
    return pa.concat_tables(parts) if parts else _KEYED.empty_table()


def _quoted(files: Sequence[str]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


class DuckDBEngine(Engine):
    """The embedded engine: an in-memory DuckDB connection; Parquet paths (files, directories, globs) or Arrow
    tables become the views ``activity``, ``watchlist``, ``watch_keys`` (and ``activity_keyed``). ``watch_cache``:
    a directory where collisions keep the watch side per list version (see :func:`prepare_watch`). ``key_index``:
    a full collision over a directory looks its keys up in the directory's key index where it has one
    (:mod:`zhihui.intel.keyindex`); False: always scan (the benchmark's baseline)."""

    dialect = "duckdb"

    def __init__(
        self,
        activity: Source,
        watchlist: Source,
        watch_keys: Source,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
        watch_cache: str | os.PathLike[str] | None = None,
        key_index: bool = True,
    ) -> None:
        import duckdb

        self.watch_cache = Path(watch_cache) if watch_cache is not None else None
        self._watch_sources = (watchlist, watch_keys)
        self.con = duckdb.connect(":memory:")
        self._tables: set[str] = set()
        # Local days are computed as UTC + 8 h, so the session must not shift instants on its own.
        self.con.execute("SET TimeZone = 'UTC'").fetchall()
        # the footers are read by the pass over activity and again by each read of candidate rows
        self.con.execute("SET parquet_metadata_cache = true").fetchall()
        # Every result that is shown has an ORDER BY; the steps in between are sets, and keeping the scan's order
        # costs the pass over activity some 8 % (one 10^8-row union materialised)
        self.con.execute("SET preserve_insertion_order = false").fetchall()
        if threads:
            self.con.execute(f"SET threads = {int(threads)}").fetchall()
        if memory_limit:
            self.con.execute(f"SET memory_limit = '{memory_limit.replace(chr(39), '')}'").fetchall()
        for name, src in (("watchlist", watchlist), ("watch_keys", watch_keys)):
            if isinstance(src, pa.Table):
                self.register(name, src)
            else:
                self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({_quoted(_files(src))})"
                                 ).fetchall()  # fmt: skip
        self._arrow_activity = isinstance(activity, pa.Table)
        self._activity = activity
        self._index_root: Path | None = None
        self._fileno: dict[str, str] = {}
        self._keyed = False
        if isinstance(activity, pa.Table):
            self._register_arrow_activity(activity)
            return
        self._files = _files(activity)
        # a directory of activity may carry a key index (keyindex.py); a list of files (a batch) is scanned
        self._index_root = (
            Path(activity)
            if key_index and isinstance(activity, str | os.PathLike) and os.path.isdir(activity)
            else None
        )
        if not self._files:
            raise ValueError(f"no Parquet files in {activity!r}")
        self.con.execute(f"CREATE OR REPLACE VIEW activity AS SELECT * FROM read_parquet({_quoted(self._files)}, "
                         "union_by_name = true)").fetchall()  # fmt: skip
        # A row's location is (file, row number); the file is named by its number in the list, a short string: the
        # steps after the pass join on it, and a path of ~100 bytes on each of a million candidates costs them
        # about half their time. fetch_rows turns it back into the path.
        self._fileno = {f: str(i) for i, f in enumerate(self._files)}
        self.register("zh_files", pa.table({"path": pa.array(list(self._fileno), pa.string()),
                                            "fileno": pa.array(list(self._fileno.values()), pa.string())}))  # fmt: skip
        self.con.execute(
            "CREATE OR REPLACE VIEW activity_rows AS SELECT r.* EXCLUDE (filename), f.fileno AS filename "
            f"FROM read_parquet({_quoted(self._files)}, union_by_name = true, filename = true, "
            "file_row_number = true) r "
            "JOIN zh_files f ON f.path = r.filename"
        ).fetchall()

    def ensure_keyed(self) -> None:
        if self._keyed:
            return
        self._keyed = True
        if isinstance(self._activity, pa.Table):
            act = self._activity
            if _has_keys(act.schema):
                n = act.num_rows
                self.register("activity_keyed", pa.Table.from_arrays(
                    [*(act.column(c) for c in ("source", "at", *_KEY_NAMES)), pa.array([""] * n, pa.string()),
                     pa.array(range(n), pa.int64())], schema=_KEYED))  # fmt: skip
            else:
                self.register("activity_keyed", _computed_keys([("", act)]))
            return
        self.keyed_view("activity_keyed", self._files)

    def keyed_view(self, name: str, files: Sequence[str]) -> None:
        """View ``name``: the _KEYED rows of ``files`` (stored keys read, or computed for files without them)."""
        keyed, legacy = _split(list(files))
        cols = ", ".join(f'"{f.name}"' for f in _KEYED)
        parts = []
        if keyed:
            parts.append(f"SELECT {cols} FROM read_parquet({_quoted(keyed)}, union_by_name = true, filename = true, "
                         "file_row_number = true)")  # fmt: skip
        if legacy:  # keys for files written before them, computed here (ingest.add_keys rewrites such files)
            self.register(f"{name}_computed", _computed_keys((f, pq.read_table(f, columns=list(_KEY_SOURCES)))
                                                             for f in legacy))  # fmt: skip
            parts.append(f"SELECT {cols} FROM {name}_computed")
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS " + " UNION ALL ".join(parts)).fetchall()

    def file_name(self, path: str) -> str:
        return self._fileno[path]

    def short_locations(self, sql: str) -> str:
        # file_index would name files by number in the scan itself, but counts only the files left after pruning
        if self._arrow_activity:
            return sql
        return (f"SELECT h.src, f.fileno AS filename, h.file_row_number, h.k_id, h.k_b5, h.probe, h.v FROM ({sql}) h "
                "JOIN zh_files f ON f.path = h.filename")  # fmt: skip

    def key_index(self) -> KeyIndex | None:
        """The key index of the activity directory (see :mod:`zhihui.intel.keyindex`), if it has one and the engine
        may use it."""
        if self._index_root is None:
            return None
        return open_index(self._index_root)

    def register(self, name: str, table: pa.Table) -> None:
        if name in self._tables:  # a step's result replaced by Arrow (a re-scorer's pairs)
            self.con.execute(f"DROP TABLE {name}").fetchall()
            self._tables.discard(name)
        self.con.register(name, table)

    def materialise(self, name: str, sql: str, params: Mapping[str, Any] | None = None) -> None:
        if name not in self._tables:
            self.con.unregister(name)  # no-op when nothing is registered under the name
        self._tables.add(name)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}", dict(params or {})).fetchall()

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        return self.con.sql(sql, params=dict(params) if params else None).to_arrow_table()

    def fetch_rows(self, name: str, locations: str, columns: Sequence[str] = FETCH_COLUMNS) -> None:
        # One scan per file with its row numbers as constants: DuckDB then reads only the pages holding them (the
        # Parquet page index), where a join would decode every page of every column.
        locs = self.query(f"SELECT filename, file_row_number FROM {locations} ORDER BY 1, 2")
        if self._arrow_activity or locs.num_rows > _POINT_FETCH_MAX or locs.num_rows == 0:
            return super().fetch_rows(name, locations, columns)
        cols = _fetch_list(columns)
        files = locs.column("filename").to_pylist()
        rows = locs.column("file_row_number").to_pylist()
        parts, start = [], 0
        for i in range(1, len(files) + 1):
            if i == len(files) or files[i] != files[start]:
                lst = ", ".join(str(r) for r in rows[start:i])
                path = self._files[int(files[start])]
                parts.append(
                    f"SELECT {cols}, '{files[start]}' AS filename, file_row_number FROM read_parquet("
                    f"{_quoted([path])}, file_row_number = true) WHERE file_row_number IN ({lst})"
                )
                start = i
        # Prefetching would read whole column chunks; a point look-up wants a few pages of each.
        self.con.execute("SET disable_parquet_prefetching = true").fetchall()
        try:
            self.materialise(
                name,
                f"""
                SELECT r.*, l.src, l.k_id FROM ({" UNION ALL ".join(parts)}) r
                JOIN {locations} l ON l.filename = r.filename AND l.file_row_number = r.file_row_number""",
            )
        finally:
            self.con.execute("RESET disable_parquet_prefetching").fetchall()

    def close(self) -> None:
        self.con.close()


@functools.lru_cache(maxsize=64)
def to_spark(sql: str) -> str:
    """The Spark SQL of a DuckDB-dialect statement (``$name`` → ``:name``), via sqlglot."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")
    # DuckDB-only CTE hints: sqlglot passes them through, Spark's parser rejects them.
    for cte in tree.find_all(exp.CTE):
        cte.set("materialized", None)
    return tree.sql(dialect="spark")


def spark_session(
    master: str = "local[2]",
    *,
    shuffle_partitions: int = 4,
    app_name: str = "zhihui-tactics",
    conf: Mapping[str, str] | None = None,
) -> Any:
    """A local SparkSession for the tactics: UI off, loopback only, session time zone UTC, Arrow transfer on;
    ``conf`` adds or overrides settings."""
    from pyspark.sql import SparkSession

    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        **(conf or {}),
    }
    builder = SparkSession.builder.master(master).appName(app_name)
    for k, v in settings.items():
        builder = builder.config(k, v)
    return builder.getOrCreate()


class SparkEngine(Engine):
    """Apache Spark: the same Parquet files as temp views, the same SQL through :func:`to_spark`.

    Pass ``spark`` to reuse a session (its ``spark.sql.session.timeZone`` is set to UTC); otherwise a local one
    is made and stopped by :meth:`close`. Collision steps are written as Parquet under ``scratch_dir`` (default: a
    temporary directory; on a cluster, give a shared path); ``watch_cache`` as for :class:`DuckDBEngine`."""

    dialect = "spark"

    def __init__(
        self,
        activity: Source,
        watchlist: Source,
        watch_keys: Source,
        *,
        spark: Any = None,
        master: str = "local[2]",
        shuffle_partitions: int = 4,
        scratch_dir: str | None = None,
        watch_cache: str | os.PathLike[str] | None = None,
    ) -> None:
        self.watch_cache = Path(watch_cache) if watch_cache is not None else None
        self._watch_sources = (watchlist, watch_keys)
        self._own = spark is None
        self.spark = spark if spark is not None else spark_session(master, shuffle_partitions=shuffle_partitions)
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        self._steps: dict[str, str] = {}
        self._registered: dict[str, pa.Table] = {}
        self._gen = 0
        self._tmp = scratch_dir
        if scratch_dir is not None:
            os.makedirs(scratch_dir, exist_ok=True)
        for name, src in (("watchlist", watchlist), ("watch_keys", watch_keys)):
            if isinstance(src, pa.Table):
                self.register(name, src)
            else:
                self.spark.read.parquet(*_files(src)).createOrReplaceTempView(name)
        self._activity = activity
        self._keyed = False
        if isinstance(activity, pa.Table):
            self._register_arrow_activity(activity)
            return
        from pyspark.sql import functions as F

        self._files = _files(activity)
        self._located = [F.col("_metadata.file_path").alias("filename"),
                         F.col("_metadata.row_index").alias("file_row_number")]  # fmt: skip
        self.spark.read.option("mergeSchema", "true").parquet(*self._files).createOrReplaceTempView("activity")
        rows = self.spark.read.option("mergeSchema", "true").parquet(*self._files).select("*", *self._located)
        rows.createOrReplaceTempView("activity_rows")

    def ensure_keyed(self) -> None:
        if self._keyed:
            return
        self._keyed = True
        if isinstance(self._activity, pa.Table):
            act = self._activity
            if _has_keys(act.schema):
                n = act.num_rows
                table = pa.Table.from_arrays(
                    [*(act.column(c) for c in ("source", "at", *_KEY_NAMES)), pa.array([""] * n, pa.string()),
                     pa.array(range(n), pa.int64())], schema=_KEYED)  # fmt: skip
            else:
                table = _computed_keys([("", act)])
            self.register("activity_keyed", table)
            return
        keyed, legacy = _split(self._files)
        parts = []
        if keyed:
            parts.append(self.spark.read.parquet(*keyed).select("source", "at", *_KEY_NAMES, *self._located))
        if legacy:  # keys for files written before them, computed on the driver (ingest.add_keys rewrites such files)
            raw = self.spark.read.parquet(*legacy).select(*_KEY_SOURCES, *self._located).toArrow()
            keys = activity_keys(raw)
            table = pa.Table.from_arrays(
                [raw.column("source"), raw.column("at"), *keys.columns, raw.column("filename"),
                 raw.column("file_row_number").cast(pa.int64())], schema=_KEYED)  # fmt: skip
            parts.append(self.spark.createDataFrame(table))
        df = parts[0]
        for more in parts[1:]:
            df = df.unionByName(more)
        df.createOrReplaceTempView("activity_keyed")

    def _sql(self, sql: str, params: Mapping[str, Any] | None) -> Any:
        return self.spark.sql(to_spark(sql), args=dict(params) if params else None)

    def register(self, name: str, table: pa.Table) -> None:
        same = self._registered.get(name)
        if same is not None and same.equals(table):  # the same rule tables again: skip the JVM round trip
            return
        self.spark.createDataFrame(table).createOrReplaceTempView(name)
        self._registered[name] = table

    def materialise(self, name: str, sql: str, params: Mapping[str, Any] | None = None) -> None:
        # Steps go to Parquet: the next query sees a plain file scan with a known size (so it broadcasts small
        # steps), not a cached plan that Spark re-canonicalises or a checkpoint of unknown size.
        self._gen += 1
        path = os.path.join(self._scratch(), f"{name}-{self._gen}")
        self._sql(sql, params).write.parquet(path)
        df = self.spark.read.parquet(path)
        df.createOrReplaceTempView(name)
        old = self._steps.pop(name, None)
        self._steps[name] = path
        self._registered.pop(name, None)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _scratch(self) -> str:
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="zhihui-spark-")
        return self._tmp

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        return self._sql(sql, params).toArrow()

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        self._steps.clear()
        if self._own:
            self.spark.stop()


# --- shared helpers --------------------------------------------------------------------------------------


def _window(since: datetime | None, until: datetime | None) -> dict[str, datetime]:
    for label, t in (("since", since), ("until", until)):
        if t is not None and (t.tzinfo is None or t.utcoffset() is None):
            raise ValueError(f"{label} must be timezone-aware (activity times are UTC instants)")
    lo = since.astimezone(UTC) if since is not None else _MIN_AT
    hi = until.astimezone(UTC) if until is not None else _MAX_AT
    if lo >= hi:
        raise ValueError("since must be before until")
    return {"since": lo, "until": hi}


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Both engines' output in one exact schema (Spark says int32 where DuckDB says int64, and so on)."""
    cols = []
    for f in schema:
        col = table.column(f.name)
        cols.append(col.cast(f.type) if col.type != f.type else col)
    return pa.Table.from_arrays(cols, schema=schema)


_LOCAL = f"""strftime("at" + INTERVAL {_CST_HOURS} HOUR, '%Y-%m-%d %H:%M:%S')"""


# --- collision -------------------------------------------------------------------------------------------

# The fuzzy pass's blocks, on the 17-digit body of an ID (digits 1-6 region R, 7-14 birth date B, 15-17 sequence S).
# A single wrong digit or a swap of neighbours leaves R+B intact (error in S), B+S (error in R) or digits 1-5 and
# 16-17 (error in 6-15: all of B and both of its borders); the first two meet whatever the name says, the last with
# the name key. Two wrong digits in R and S with name and birth date agreeing meet name_birth; name_birth_date is the
# name key with the birth date the record states itself (a card reader, a ticket form), whatever the ID says.
# Every key is a shift and a mask of the packed ID (k_id, see normalise.py); activity rows carry them precomputed
# (k_b1..k_b5), the watch side computes the same with the same function.
_M27, _M38, _TAG = (1 << 27) - 1, (1 << 38) - 1, 1 << 50


# Each block's field of a packed ID ``{k}``: two IDs meet in a block when the fields are equal.
_BLK_FIELD = {
    "id_head14": "({k} >> 15)",
    "id_tail11": f"(({{k}} >> 4) & {_M38})",
    "name_birth": f"(({{k}} >> 15) & {_M27})",
    "name_outer": "(({k} >> 46) * 128 + (({k} >> 4) & 127))",
}


def _blk(name: str, k: str, *, named: str | None = None) -> str:
    """SQL: block ``name``'s condition between packed IDs ``k`` (activity) and ``w.w_k`` (watched), name keys equal
    where the block is named (``named``: the activity row's name_key column)."""
    field = _BLK_FIELD[name]
    cond = f"{field.format(k=k)} = {field.format(k='w.w_k')}"
    return f"{cond} AND {named} = w.w_name_key" if named else cond


_BLOCKS = ("id_head14", "id_tail11", "name_birth", "name_outer")
_NAMED = {"name_birth", "name_outer"}
_DATE_BLOCK = "name_birth_date"

# Pass 1 probes: (probe number, activity key column, the probe set it is looked up in). Sets 1-5 are blocks (3 holds
# both name+ID birth date and name+stated birth date: k_b3 and k_b5 probe it), 6-8 exact phone, plate, odd ID. The
# exact-ID match needs no probe of its own: an ID equal to a watched one meets id_head14, whose set holds the heads
# of every watched ID a rule reads for the source; it is confirmed on the few rows found.
_PROBES = ((1, "k_b1", 1), (2, "k_b2", 2), (3, "k_b3", 3), (4, "k_b4", 4), (5, "k_b5", 3), (6, "k_phone", 6),
           (7, "k_plate", 7), (8, "k_id", 8))  # fmt: skip


def _swapped(x: str, y: str) -> str:
    """SQL: the 18-character ``y`` is ``x`` with two adjacent characters exchanged."""
    terms = [
        f"{y} = substr({x}, 1, {i - 1}) || substr({x}, {i + 1}, 1) || substr({x}, {i}, 1) || substr({x}, {i + 2})"
        for i in range(1, 18)
    ]
    return "(" + " OR ".join(terms) + ")"


def _unpack_id(k: str) -> str:
    """SQL: the 18-character ID a packed k_id (> 0) stands for ('?' for a check character other than 0-9 and X)."""
    return (
        f"lpad(CAST({k} >> 46 AS VARCHAR), 5, '0') || CAST(({k} >> 42) & 15 AS VARCHAR)"
        f" || lpad(CAST(({k} >> 15) & {_M27} AS VARCHAR), 8, '0') || CAST(({k} >> 11) & 15 AS VARCHAR)"
        f" || lpad(CAST(({k} >> 4) & 127 AS VARCHAR), 2, '0')"
        f" || CASE {k} & 15 WHEN 11 THEN 'X' WHEN 15 THEN '?' ELSE CAST(({k} & 15) - 1 AS VARCHAR) END"
    )


# Which (source, match type) each watchlist category is covered for by some rule, with the lowest threshold.
COVER_SQL = """
SELECT c.category, s.source, m.match_type, min(m.min_score) AS min_score
FROM (SELECT DISTINCT category FROM watchlist) c
JOIN zh_rule_category rc ON c.category LIKE rc.category_like
JOIN zh_rule_source s ON s.rule_code = rc.rule_code
JOIN zh_rule_match m ON m.rule_code = rc.rule_code
GROUP BY c.category, s.source, m.match_type
"""

_SRC = {s: i for i, s in enumerate(SOURCES)}  # small integer codes: join keys of pass 1 and the steps after it
_MATCH = ("exact_id", "exact_phone", "exact_plate", "fuzzy_identity")
_KEY_TYPE = {"id_number": 0, "phone": 1, "plate": 2}

WATCHLIST_SQL = "SELECT person_key, category, id_number, name, name_key, birth_date, sex FROM watchlist"
WATCH_KEYS_SQL = "SELECT person_key, key_type, key_value FROM watch_keys"


def _hot_sql(windowed: bool = True, table: str = "activity_keyed") -> str:
    # Pass 1, the only pass over every row: one semi-join per (source, key column) against that source's probe set.
    # Each reads one 8-byte column (0, no value, is never probed), and DuckDB pushes the probe set into the scan as a
    # filter, so rows that cannot match leave the scan early; the source predicate prunes whole files (source=...
    # directories). Every column a branch carries costs a read per row: the exact probes (6-8) carry no k_id or
    # k_b5, which only the fuzzy steps read (KEEP_SQL's min() skips the NULLs); without a window, no "at".
    when = ' AND a."at" >= $since AND a."at" < $until' if windowed else ""
    keys = {p: "a.k_id, a.k_b5" for p in range(1, 6)}
    keys |= {
        6: "CAST(NULL AS BIGINT) AS k_id, CAST(NULL AS BIGINT) AS k_b5",
        7: "CAST(NULL AS BIGINT) AS k_id, CAST(NULL AS BIGINT) AS k_b5",
        8: "a.k_id, CAST(NULL AS BIGINT) AS k_b5",
    }
    branches = [
        f"""SELECT {code} AS src, a.filename, a.file_row_number, {keys[probe]}, {probe} AS probe, a.{col} AS v
FROM {table} a
SEMI JOIN (SELECT v FROM zh_probe WHERE src = {code} AND probe = {pset}) p ON p.v = a.{col}
WHERE a.{col} <> 0 AND a.source = '{src}'{when}"""
        for src, code in _SRC.items()
        for probe, col, pset in _PROBES
    ]
    return "\nUNION ALL\n".join(branches)


def _kpairs_sql() -> str:
    # The fuzzy candidates on keys alone: rows found by a block × the watched IDs they meet, with the pair's id_edits
    # and the score it could reach if name and birth date agreed. id_edits is exact: after id_head14 (digits 1-14
    # equal) the IDs differ only in their last four characters, whose edit distance is integer arithmetic on the
    # packed IDs; the other blocks' pairs (few) unpack the ID and compare with levenshtein, as the scoring step does.
    cand = "\n    UNION ALL\n    ".join(
        f"SELECT h.src, h.filename, h.file_row_number, h.k_id, f.w_id, f.w_k, f.min_score "
        f"FROM (SELECT * FROM zh_hot WHERE probe = {probe}) h JOIN zh_fz f ON f.src = h.src AND f.{col} = h.v"
        for probe, col in ((2, "w_b2"), (3, "w_b3"), (3, "w_b5"), (5, "w_b5"), (4, "w_b4"))
    )
    # the last four characters as character codes (1-10 digits, 11 X, 15 other), x of the row and y of the watched
    x = ["((k_id >> 11) & 15) + 1", "((k_id >> 4) & 127) // 10 + 1", "((k_id >> 4) & 127) % 10 + 1", "k_id & 15"]
    y = [e.replace("k_id", "w_k") for e in x]
    ham = " + ".join(f"CASE WHEN x{i} <> y{i} THEN 1 ELSE 0 END" for i in range(4))

    def same(pairs: Iterable[tuple[str, str]]) -> str:
        return "(" + " AND ".join(f"{a} = {b}" for a, b in pairs) + ")"

    # neighbours i, i+1 exchanged, the rest equal
    rest = {i: [(f"x{j}", f"y{j}") for j in range(4) if j not in (i, i + 1)] for i in range(3)}
    swap = " OR ".join(same([(f"x{i}", f"y{i + 1}"), (f"x{i + 1}", f"y{i}"), *rest[i]]) for i in range(3))
    # one character dropped from each (a deletion and an insertion): lev <= 2 with three or four differences
    shift = " OR ".join(
        same(zip([f"x{m}" for m in range(4) if m != i], [f"y{m}" for m in range(4) if m != j], strict=True))
        for i in range(4)
        for j in range(4)
        if i != j
    )
    bound = "(5 * greatest(0, 1000 - 250 * id_edits) + 3 * 1000 + 2 * 1000) / 10000 AS max_score"
    return f"""
WITH
head AS (
    SELECT h.src, h.filename, h.file_row_number, h.k_id, f.w_k, f.min_score,
           {", ".join(f"{e} AS x{i}" for i, e in enumerate(x))}, {", ".join(f"{e} AS y{i}" for i, e in enumerate(y))}
    FROM (SELECT * FROM zh_hot WHERE probe = 1) h JOIN zh_fz f ON f.src = h.src AND f.w_b1 = h.v
),
head_e AS (SELECT head.*, {ham} AS h4 FROM head),
other AS (
    SELECT c.*, CASE WHEN (k_id & 15) <> 15 THEN {_unpack_id("k_id")} END AS a_id
    FROM (
    {cand}
    ) c
),
other_e AS (SELECT other.*, levenshtein(a_id, w_id) AS lev FROM other)
SELECT src, filename, file_row_number, id_edits, min_score, {bound}
FROM (
    SELECT src, filename, file_row_number, min_score,
           CASE WHEN h4 <= 1 THEN h4 WHEN h4 = 2 AND ({swap}) THEN 1 WHEN h4 = 2 THEN 2
                WHEN {shift} THEN 2 ELSE 3 END AS id_edits
    FROM head_e
    UNION ALL  -- the same id_edits as the scoring step (a swap of neighbours counts once); 0 where it cannot be told
    SELECT src, filename, file_row_number, min_score,
           CASE WHEN a_id IS NULL THEN 0 WHEN lev = 2 AND {_swapped("a_id", "w_id")} THEN 1 ELSE lev END
    FROM other_e
) e
"""


# The rows to read: those an exact key found (an exact ID confirmed: id_head14 also finds near misses) and those of
# fuzzy pairs that can reach their threshold (every fuzzy candidate when a re-scorer is to see them). ``whole``: read
# in full at once (exact finds, and IDs the keys do not spell out); the others are read for the name key first.
KEEP_SQL = """
SELECT h.src, h.filename, h.file_row_number, min(h.k_id) AS k_id, min(h.k_b5) AS k_b5,
       bool_or(h.probe >= 6 OR x.k IS NOT NULL) OR min(h.k_id) <= 0 OR min(h.k_id) & 15 = 15 AS whole
FROM zh_hot h
LEFT JOIN zh_xkey x ON x.src = h.src AND x.key_type = 0 AND x.k = h.k_id AND h.probe = 1
LEFT JOIN (SELECT DISTINCT src, filename, file_row_number FROM zh_kpairs WHERE max_score >= min_score OR $keep_all) p
       ON p.src = h.src AND p.filename = h.filename AND p.file_row_number = h.file_row_number
WHERE h.probe >= 6 OR x.k IS NOT NULL OR p.src IS NOT NULL OR ($keep_all AND h.probe <= 5)
GROUP BY h.src, h.filename, h.file_row_number
"""

# A fuzzy candidate read for its score: the name key read, ID and birth date spelled out by its keys.
SCORE_ROWS_SQL = f"""
SELECT CASE l.src {" ".join(f"WHEN {i} THEN '{n}'" for n, i in _SRC.items())} END AS source, t.record_id, t."at",
       {_unpack_id("l.k_id")} AS id_number, t.name, t.name_key,
       CASE WHEN l.k_b5 = -1 THEN NULL ELSE make_date(CAST(b.ymd // 10000 AS INTEGER),
            CAST(b.ymd // 100 % 100 AS INTEGER), CAST(b.ymd % 100 AS INTEGER)) END AS birth_date,
       {", ".join(f't."{c}"' for c in FETCH_COLUMNS[7:])}, t.filename, t.file_row_number, t.src, t.k_id
FROM zh_rows_f t
JOIN zh_keep_f l ON l.filename = t.filename AND l.file_row_number = t.file_row_number
JOIN (SELECT filename, file_row_number,
             CASE WHEN k_b5 = 0 THEN (k_id >> 15) & {_M27} ELSE k_b5 & {_M27} END AS ymd FROM zh_keep_f) b
  ON b.filename = t.filename AND b.file_row_number = t.file_row_number
"""

# Of the fuzzy candidates read for their score only, those with a pair that clears the lowest fuzzy threshold: the
# rows to read in full.
FUZZY_HIT_ROWS_SQL = """
SELECT l.src, l.filename, l.file_row_number, l.k_id
FROM zh_keep_f l
WHERE EXISTS (SELECT 1 FROM zh_pairs_f p WHERE p.filename = l.filename AND p.file_row_number = l.file_row_number
              AND p.score >= (SELECT min(min_score) FROM zh_rule_match WHERE match_type = 'fuzzy_identity'))
"""

# The rows read in full: exact finds and fuzzy hits.
KEEP_XH_SQL = """
SELECT src, filename, file_row_number, k_id FROM zh_keep_x UNION ALL SELECT * FROM zh_keep_h
"""
# The fuzzy pairs of the rows read for their score get the record ids of the full read; those of the exact finds have
# them already.
_PAIRS_REST = ", ".join("p." + f.name for f in PAIRS if f.name not in ("source", "record_id"))
PAIRS_RECORD_SQL = f"""
SELECT p.source, coalesce(p.record_id, t.record_id) AS record_id, {_PAIRS_REST}, p.filename, p.file_row_number
FROM zh_pairs_f p
LEFT JOIN zh_rows_xh t ON t.filename = p.filename AND t.file_row_number = p.file_row_number
UNION ALL
SELECT * FROM zh_pairs_x
"""


# The watched birth date as the scoring step compares it: the listed one, else digits 7-14 of the watched ID.
_W_BIRTH8 = "coalesce(strftime(w.w_birth_date, '%Y%m%d'), substr(w.w_id, 7, 8)) AS w_birth8"


def _pairs_sql() -> str:
    # rows are joined by where they live (file, row): in two-step reads the record id comes with the second step
    loc = "src, filename, file_row_number"
    unions = []
    for name in _BLOCKS:
        on = _blk(name, "a.k_id", named="a.name_key" if name in _NAMED else None)
        unions.append(
            f"SELECT a.src, a.filename, a.file_row_number, w.person_key, w.w_id, {_W_BIRTH8}, '{name}' AS block "
            f"FROM zh_touched a JOIN fz w ON w.src = a.src AND {on} WHERE a.k_id > 0 AND w.w_k > 0"
        )
    unions.append(
        f"SELECT a.src, a.filename, a.file_row_number, w.person_key, w.w_id, {_W_BIRTH8}, '{_DATE_BLOCK}' AS block "
        "FROM zh_touched a JOIN fz w ON w.src = a.src AND w.w_name_key = a.name_key "
        "AND w.w_birth_date = a.birth_date WHERE a.k_id > 0"
    )
    cand = "\n    UNION ALL\n    ".join(unions)
    # The watched IDs any block can meet, in one pass over zh_fz (a million rows for a 10^6 list): the joins below
    # then build on a few thousand rows, five times, instead of on all of them.
    head, tail = _BLK_FIELD["id_head14"].format, _BLK_FIELD["id_tail11"].format
    return f"""
WITH
fz AS MATERIALIZED (
    SELECT w.* FROM zh_fz w
    WHERE w.src IN (SELECT src FROM zh_touched)
      AND ({head(k="w.w_k")} IN (SELECT {head(k="a.k_id")} FROM zh_touched a WHERE a.k_id > 0)
           OR {tail(k="w.w_k")} IN (SELECT {tail(k="a.k_id")} FROM zh_touched a WHERE a.k_id > 0)
           OR w.w_name_key IN (SELECT name_key FROM zh_touched))
),
cand AS (
    {cand}
),
cand1 AS (  -- one row per (record, watched ID), with the blocks that met it
    SELECT {loc}, person_key, w_id, min(w_birth8) AS w_birth8,
           array_to_string(list_sort(list_distinct(list(block))), ',') AS block
    FROM cand
    GROUP BY {loc}, person_key, w_id
),
d AS (
    SELECT c.*, t.source, t.record_id, t.id_number, t.name, t.name_key, t.birth_date, t.sex,
           p.w_name, p.w_name_key, p.w_birth_date, p.w_sex,
           coalesce(strftime(t.birth_date, '%Y%m%d'), substr(t.id_number, 7, 8)) AS a_birth8,
           levenshtein(t.id_number, c.w_id) AS lev,
           CASE WHEN t.name_key IS NULL OR p.w_name_key IS NULL THEN NULL
                ELSE levenshtein(t.name_key, p.w_name_key) END AS name_lev,
           greatest(length(t.name_key), length(p.w_name_key)) AS name_len
    FROM cand1 c
    JOIN zh_touched t ON t.src = c.src AND t.filename = c.filename AND t.file_row_number = c.file_row_number
    JOIN zh_person p ON p.person_key = c.person_key
    -- not the rows matched exactly on ID
    WHERE NOT EXISTS (SELECT 1 FROM watch_keys k WHERE k.key_type = 'id_number' AND k.key_value = t.id_number)
),
e AS (
    SELECT d.*, CASE WHEN lev = 2 AND {_swapped("d.id_number", "d.w_id")} THEN 1 ELSE lev END AS id_edits
    FROM d
),
s AS (  -- points out of 1000 per part, weighted 5:3:2 (ID, name, birth date): the same doubles in both engines
    SELECT e.*,
           greatest(0, 1000 - 250 * id_edits) AS id_pts,
           CASE WHEN name_lev IS NULL OR name_len = 0 THEN 0
                ELSE greatest(0, 1000 - 1000 * name_lev / name_len) END AS name_pts,
           CASE WHEN a_birth8 = w_birth8 THEN 1000 ELSE 0 END AS birth_pts
    FROM e
),
r AS (
    SELECT s.*, (5 * id_pts + 3 * name_pts + 2 * birth_pts) / 10000 AS score FROM s
),
best AS (
    SELECT r.*, row_number() OVER (PARTITION BY {loc}, person_key ORDER BY score DESC, w_id) AS rn
    FROM r
)
SELECT source, record_id, person_key, id_number, name, name_key, birth_date, sex,
       w_id AS w_id_number, w_name, w_name_key, w_birth_date, w_sex, block, id_edits, score,
       '[' || concat_ws(',',
           CASE WHEN name_lev = 0 THEN '"姓名拼音一致"'
                WHEN name_pts >= 750 THEN '"姓名拼音相近"'
                WHEN name_key IS NULL THEN '"未登记姓名"'
                ELSE '"姓名不一致"' END,
           CASE WHEN a_birth8 = w_birth8 THEN '"出生日期一致"' ELSE '"出生日期不一致"' END,
           CASE WHEN lev = 2 AND id_edits = 1 THEN '"证号相邻两位互换"'
                WHEN lev = 1 THEN '"证号相差一位"'
                WHEN lev = 2 THEN '"证号相差两位"'
                ELSE '"证号相差' || CAST(lev AS VARCHAR) || '位"' END
       ) || ']' AS reasons,
       filename, file_row_number
FROM best
WHERE rn = 1
"""


# The watch keys equal to a key of a row read (the strings compared), and the persons and list entries of those and
# of the fuzzy pairs: small tables, so that the hits query joins nothing of the watchlist's size.
EXACT_SQL = """
SELECT k.person_key, k.key_type, k.key_value
FROM watch_keys k
WHERE (k.key_type = 'id_number' AND k.key_value IN (SELECT id_number FROM zh_touched))
   OR (k.key_type = 'phone' AND k.key_value IN (SELECT phone FROM zh_touched))
   OR (k.key_type = 'plate' AND k.key_value IN (SELECT plate FROM zh_touched))
"""
HIT_PERSON_SQL = """
SELECT * FROM zh_person
WHERE person_key IN (SELECT person_key FROM zh_exact UNION SELECT person_key FROM zh_pairs)
"""
HIT_LIST_SQL = "SELECT * FROM watchlist WHERE person_key IN (SELECT person_key FROM zh_hit_person)"


# Every CTE is read once, so Spark inlines a straight chain instead of planning shared sub-trees twice.
_HITS_SQL = f"""
WITH
m AS (
    SELECT t.*, k.person_key, 'exact_id' AS match_type, 0 AS match_rank, CAST(1 AS DOUBLE) AS score,
           '[' || concat_ws(',',
               CASE WHEN k.key_value = p.w_id_number OR p.w_id_number IS NULL THEN '"身份证号一致"'
                    ELSE '"身份证号与在册别名证号一致"' END,
               CASE WHEN t.name_key <> p.w_name_key THEN '"登记姓名与在册姓名不一致"' END) || ']' AS reasons
    FROM zh_touched t
    JOIN zh_exact k ON k.key_type = 'id_number' AND k.key_value = t.id_number
    JOIN zh_hit_person p ON p.person_key = k.person_key
    UNION ALL
    SELECT t.*, k.person_key, 'exact_phone', 1, CAST(1 AS DOUBLE), '["手机号一致"]'
    FROM zh_touched t JOIN zh_exact k ON k.key_type = 'phone' AND k.key_value = t.phone
    UNION ALL
    SELECT t.*, k.person_key, 'exact_plate', 2, CAST(1 AS DOUBLE), '["车牌号一致"]'
    FROM zh_touched t JOIN zh_exact k ON k.key_type = 'plate' AND k.key_value = t.plate
    UNION ALL
    SELECT t.*, f.person_key, 'fuzzy_identity', 3, f.score, f.reasons
    FROM zh_pairs f JOIN zh_touched t ON t.source = f.source AND t.record_id = f.record_id
),
rm AS (  -- a match counts for a rule when its source, its match type and its score qualify
    SELECT r.rule_code, r.priority_rank, r.group_kind, r.min_persons, m.*
    FROM m
    JOIN zh_rule_source s ON s.source = m.source
    JOIN zh_rule_match x ON x.rule_code = s.rule_code AND x.match_type = m.match_type AND m.score >= x.min_score
    JOIN zh_rule r ON r.rule_code = s.rule_code
),
rc AS (  -- ... and the person is on a list the rule covers; the covered lists, joined
    SELECT rm.rule_code, rm.priority_rank, rm.group_kind, rm.min_persons, rm.source, rm.record_id, rm."at",
           rm.id_number, rm.name, rm.phone, rm.plate, rm.venue_code, rm.venue_name, rm.room, rm.org_code,
           rm.lat, rm.lon, rm.person_key, rm.match_type, rm.match_rank, rm.score, rm.reasons,
           array_to_string(list_sort(list_distinct(list(w.category))), '、') AS category
    FROM rm
    JOIN zh_hit_list w ON w.person_key = rm.person_key
    JOIN zh_rule_category c ON c.rule_code = rm.rule_code AND w.category LIKE c.category_like
    GROUP BY rm.rule_code, rm.priority_rank, rm.group_kind, rm.min_persons, rm.source, rm.record_id, rm."at",
             rm.id_number, rm.name, rm.phone, rm.plate, rm.venue_code, rm.venue_name, rm.room, rm.org_code,
             rm.lat, rm.lon, rm.person_key, rm.match_type, rm.match_rank, rm.score, rm.reasons
),
best AS (  -- one hit per (rule, record, person): the strongest way it matched
    SELECT rc.*, CAST(rc."at" - INTERVAL {12 - _CST_HOURS} HOUR AS DATE) AS night,  -- local noon-to-noon night
           row_number() OVER (PARTITION BY rule_code, source, record_id, person_key
                              ORDER BY match_rank, score DESC) AS rn
    FROM rc
),
h AS (
    SELECT b.*,
           CASE WHEN group_kind = 'same_room_night' AND venue_code IS NOT NULL AND room IS NOT NULL
                THEN array_length(list_distinct(
                    list(person_key) OVER (PARTITION BY rule_code, venue_code, room, night)))
           END AS group_size  -- a window, not a self-join: Spark would plan h twice
    FROM best b WHERE rn = 1
)
SELECT md5(concat_ws('|', h.rule_code, h.source, h.record_id, h.person_key)) AS hit_key,
       h.rule_code, h.priority_rank, h.record_id, h.source, h."at",
       strftime(h."at" + INTERVAL {_CST_HOURS} HOUR, '%Y-%m-%d %H:%M') AS at_local,
       h.person_key, p.w_name AS person_name, p.w_id_number AS person_id_number,
       h.category, h.match_type, h.score,
       CASE WHEN h.group_size IS NULL THEN h.reasons
            ELSE substr(h.reasons, 1, length(h.reasons) - 1) || CASE WHEN h.reasons = '[]' THEN '' ELSE ',' END
                 || '"同房同晚在册' || CAST(h.group_size AS VARCHAR) || '人"]' END AS reasons,
       h.id_number, h.name, h.phone, h.plate, h.venue_code, h.venue_name, h.room, h.org_code, h.lat, h.lon,
       CASE WHEN h.group_size IS NULL THEN NULL
            ELSE md5(concat_ws('|', h.rule_code, h.venue_code, h.room, strftime(h.night, '%Y-%m-%d'))) END
           AS group_key,
       h.group_size
FROM h
JOIN zh_hit_person p ON p.person_key = h.person_key
WHERE h.group_kind IS NULL OR h.group_size >= h.min_persons
ORDER BY h.priority_rank, h."at", h.rule_code, h.source, h.record_id, h.person_key
"""

HOT_SQL = _hot_sql()
HOT_ALL_SQL = _hot_sql(windowed=False)  # no since/until: every row
TOUCHED_SQL = HOT_SQL  # the pass over activity (the name of the step it replaced)
KPAIRS_SQL = _kpairs_sql()
PAIRS_SQL = _pairs_sql()
HITS_SQL = _HITS_SQL


def _catmask(cover: pa.Table) -> pa.Table:
    """Per category the bits of zh_person.cover and the fuzzy thresholds per source (see _watch_side)."""
    rows: dict[str, dict[str, Any]] = {}
    for r in cover.to_pylist():
        if r["source"] not in _SRC or r["match_type"] not in _MATCH:
            continue
        row = rows.setdefault(r["category"], {"mask": 0})
        i = _SRC[r["source"]]
        row["mask"] |= 1 << (4 * i + _MATCH.index(r["match_type"]))
        if r["match_type"] == "fuzzy_identity":
            row[f"fz{i}"] = r["min_score"]
    cats = sorted(rows)
    cols: dict[str, pa.Array] = {"category": pa.array(cats, pa.string()),
                                 "mask": pa.array([rows[c]["mask"] for c in cats], pa.int64())}  # fmt: skip
    for i in range(len(SOURCES)):
        cols[f"fz{i}"] = pa.array([rows[c].get(f"fz{i}") for c in cats], pa.float64())
    return pa.table(cols)


def _codes(
    keys: pa.Array | pa.ChunkedArray, other: pa.Array | pa.ChunkedArray
) -> tuple[np.ndarray, pa.Array, np.ndarray]:
    """(code of each ``keys`` row, the distinct keys by code, code of each ``other`` row or -1): person keys as small
    integers. A key_persons id is a number: sorted integers then, a hash table of strings otherwise."""
    keys, other = _combined(keys), _combined(other)
    try:
        ints, oth = pc.cast(keys, pa.int64()), pc.cast(other, pa.int64())
        if not (pc.all(pc.equal(ints.cast(pa.string()), keys)).as_py() is not False
                and pc.all(pc.equal(oth.cast(pa.string()), other)).as_py() is not False):  # fmt: skip
            raise ValueError("not canonical integers")
        uniq, codes = np.unique(ints.to_numpy(zero_copy_only=False), return_inverse=True)
        o = oth.to_numpy(zero_copy_only=False)
        pos = np.minimum(np.searchsorted(uniq, o), max(len(uniq) - 1, 0))
        ocodes = np.where(len(uniq) and (uniq[pos] == o) if len(uniq) else np.zeros(len(o), bool), pos, -1)
        return codes.astype(np.int64), pa.array(uniq).cast(pa.string()), np.asarray(ocodes, np.int64)
    except (pa.ArrowInvalid, ValueError):
        enc = keys.dictionary_encode()
        ocodes = pc.index_in(other, value_set=enc.dictionary).fill_null(-1).to_numpy(zero_copy_only=False)
        return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary, ocodes.astype(np.int64)


def _combined(a: pa.Array | pa.ChunkedArray) -> pa.Array:
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


def _group_min(codes: np.ndarray, n: int, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """min(values) per code 0..n-1, nulls skipped (SQL's min): most persons have one row; the rows of the others are
    sorted to find theirs, so that the strings are copied once, by one take of the winning rows."""
    values = _combined(values)
    at = np.full(n, -1, np.int64)
    at[codes] = np.arange(len(codes))  # a person's row (of those with several, one: overwritten below)
    multi = np.flatnonzero(np.bincount(codes, minlength=n)[codes] > 1)
    if multi.size:
        sub = pa.table({"c": codes[multi], "v": values.take(pa.array(multi))})
        order = pc.sort_indices(sub, sort_keys=[("c", "ascending"), ("v", "ascending")]).to_numpy()  # nulls last
        c = codes[multi][order]
        first = np.concatenate([[True], c[1:] != c[:-1]])  # the least value, or null if every value is
        at[c[first]] = multi[order[first]]
    return values.take(pa.array(at, mask=at < 0))


def _watch_side(watchlist: pa.Table, watch_keys: pa.Table, catmask: pa.Table) -> dict[str, pa.Table]:
    """zh_person (one identity per listed person: each attribute the least of its rows, as SQL's min; cover: bit
    4 * source + match type (_MATCH) set when a rule covers one of the person's lists for that source and match type;
    fz<i>: the lowest fuzzy threshold of those rules for source i) and the tables of _watch_tables. In Python: the
    watch side is small, and integer person codes spare the grouping and the joins on strings."""
    codes, persons, kcodes = _codes(watchlist.column("person_key"), watch_keys.column("person_key"))
    n = len(persons)
    cat = pc.index_in(watchlist.column("category"), value_set=catmask.column("category"))
    known = cat.is_valid().to_numpy(zero_copy_only=False)
    ci = cat.fill_null(0).to_numpy(zero_copy_only=False)
    mask = np.where(known, catmask.column("mask").to_numpy(zero_copy_only=False)[ci] if len(catmask) else 0, 0)
    cover = np.zeros(n, np.int64)
    np.bitwise_or.at(cover, codes, mask.astype(np.int64))
    person = {"person_key": persons}
    for c in ("id_number", "name", "name_key", "birth_date", "sex"):
        person["w_" + c] = _group_min(codes, n, watchlist.column(c))
    person["cover"] = pa.array(cover)
    for i in range(len(SOURCES)):
        fz = np.full(n, np.nan)
        col = catmask.column(f"fz{i}").to_numpy(zero_copy_only=False).astype(float) if len(catmask) else np.zeros(0)
        np.fmin.at(fz, codes, np.where(known, col[ci] if len(col) else np.nan, np.nan))
        person[f"fz{i}"] = pa.array(fz, pa.float64(), mask=np.isnan(fz))
    zh_person = pa.table(person)
    # the watch keys of covered persons (rows ``keep`` of watch_keys, persons ``who``): their strings are taken only
    # for the rows the tables keep
    keep = np.flatnonzero(kcodes >= 0)
    keep = keep[cover[kcodes[keep]] != 0]
    return {"zh_person": zh_person, **_watch_tables(watch_keys, keep, kcodes[keep], zh_person)}


def _watch_tables(watch_keys: pa.Table, keep: np.ndarray, who: np.ndarray, person: pa.Table) -> dict[str, pa.Table]:
    """From the covered watch keys (rows ``keep`` of ``watch_keys``, of the zh_person rows ``who``; see _watch_side):
    per source, the exact keys (zh_xkey), the watched IDs a fuzzy rule reads with their blocking keys (zh_fz), and the
    probe sets of pass 1 (zh_probe); keys computed by the functions ingest uses (normalise.py), so that equal strings
    meet as equal integers."""
    n = len(keep)
    kind = pc.index_in(watch_keys.column("key_type"), value_set=pa.array(list(_KEY_TYPE))).fill_null(-1)
    kind = kind.to_numpy(zero_copy_only=False)[keep]
    value = _combined(watch_keys.column("key_value"))
    cover = person.column("cover").to_numpy(zero_copy_only=False).astype(np.int64)[who]
    k = np.zeros(n, np.int64)
    is_id, other = np.flatnonzero(kind == 0), np.flatnonzero(kind > 0)
    if is_id.size:
        k[is_id] = id_pack(pc.take(value, pa.array(keep[is_id])))
    if other.size:
        k[other] = hash_key(pc.take(value, pa.array(keep[other])), dedupe=False)
    bit = [[(cover >> (4 * i + m)) & 1 == 1 for m in range(4)] for i in range(len(SOURCES))]
    # the watched IDs a fuzzy rule reads somewhere (18 characters, as the scoring step compares them)
    id18 = (kind == 0) & (pc.utf8_length(value).fill_null(0).to_numpy(zero_copy_only=False)[keep] == 18)
    fz = np.flatnonzero(id18 & np.logical_or.reduce([b[3] for b in bit]))
    w_k = k[fz]
    fz_who = pa.array(who[fz])
    w_birth_date = _combined(person.column("w_birth_date")).take(fz_who)
    w_name_key = _combined(person.column("w_name_key")).take(fz_who)
    birth, ok = ymd(w_birth_date)
    blocks = block_keys(w_k, name_hash(w_name_key), birth, ok, b5_needs_body=False)
    # per source: which of those IDs (rows of the fuzzy table), and the values of each probe set
    rows, srcs, mins, x_parts, probes = [], [], [], [], []
    for i in range(len(SOURCES)):
        fsel = np.flatnonzero(bit[i][3][fz])
        rows.append(fsel)
        srcs.append(np.full(len(fsel), i, np.int32))
        mins.append(person.column(f"fz{i}").to_numpy(zero_copy_only=False)[who[fz[fsel]]])
        b3, b5 = blocks["k_b3"][fsel], blocks["k_b5"][fsel]
        sets = {1: [blocks["k_b1"][fsel]], 2: [blocks["k_b2"][fsel]], 3: [b3, b5[b5 != b3]], 4: [blocks["k_b4"][fsel]]}
        for tname, t in _KEY_TYPE.items():
            xsel = np.flatnonzero((kind == t) & bit[i][t])
            x_parts.append((np.full(len(xsel), i, np.int32), np.full(len(xsel), t, np.int32), k[xsel]))
            if tname == "id_number":  # heads of exact IDs not already in the fuzzy set, and the odd IDs
                extra = k[np.flatnonzero((kind == 0) & bit[i][0] & ~(id18 & bit[i][3]) & (k > 0))]
                sets[1].append((extra >> 15) | _TAG)
                sets[8] = [k[xsel][k[xsel] < 0]]
            else:
                sets[6 if tname == "phone" else 7] = [k[xsel]]
        for pset, vs in sets.items():
            v = np.concatenate(vs)
            v = distinct(v[v != 0])  # sorted and distinct: the key index searches a set as it is
            probes.append((np.full(len(v), i, np.int32), np.full(len(v), pset, np.int32), v))
    order = np.concatenate(rows)
    pick = fz[order]
    whose = pa.array(who[pick])  # each row's person: its strings taken once, from zh_person
    fz_table = pa.table({
        "src": pa.array(np.concatenate(srcs)), "min_score": pa.array(np.concatenate(mins), pa.float64()),
        "person_key": _combined(person.column("person_key")).take(whose),
        "w_id": value.take(pa.array(keep[pick])),
        **{c: _combined(person.column(c)).take(whose) for c in ("w_name_key", "w_birth_date")},
        "w_k": pa.array(w_k[order]),
        **{"w_" + b.removeprefix("k_"): pa.array(v[order]) for b, v in blocks.items()},
    })  # fmt: skip

    def stack(parts: list[tuple[np.ndarray, ...]], names: tuple[str, ...]) -> pa.Table:
        return pa.table({nm: pa.array(np.concatenate([p[j] for p in parts])) for j, nm in enumerate(names)})

    return {"zh_fz": fz_table, "zh_xkey": stack(x_parts, ("src", "key_type", "k")),
            "zh_probe": stack(probes, ("src", "probe", "v"))}  # fmt: skip


# --- the watch side, kept per watchlist version ----------------------------------------------------------
# The watch side is a pure function of the watchlist, the watch keys and the rule tables, so a run whose inputs hash
# the same as an earlier run's reuses that run's tables: from this process (the last one computed) or from
# ``engine.watch_cache`` (Arrow IPC files, memory-mapped). The key is a hash of the inputs' bytes, never of names or
# times: the service re-exports the same list before every run.
_WATCH_FORMAT = b"zhihui.watch-side/2"  # bump when _watch_side's output changes for the same inputs
_WATCH_NAMES = ("zh_person", "zh_fz", "zh_xkey", "zh_probe")
_watch_memo: dict[str, tuple[str, dict[str, pa.Table]]] = {}  # per dialect: (fingerprint, tables) of the last list


def _digest_table(h: Any, table: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    h.update(hashlib.sha256(sink.getvalue()).digest())


def watch_fingerprint(engine: Engine, rules: RuleSet) -> str | None:
    """Hex digest of the watch side's inputs (watchlist and watch keys: file bytes or Arrow contents; the rule
    tables; the engine's dialect and the format of the tables), or None when the engine does not say what its lists
    are."""
    if engine._watch_sources is None:
        return None
    h = hashlib.sha256(_WATCH_FORMAT)  # with SHA-NI: 0.03 s for the 58 MB of a 10^6 list (blake2b 0.08 s)
    h.update(engine.dialect.encode())  # each engine's own tables (Arrow types differ), and each tested on its own
    for src in engine._watch_sources:
        if isinstance(src, pa.Table):
            h.update(b"arrow")
            _digest_table(h, src)
            continue
        files = _files(src)
        h.update(b"files %d" % len(files))
        for f in files:
            with open(f, "rb") as fh:
                h.update(hashlib.file_digest(fh, "sha256").digest())
    for name, table in sorted(rules.tables().items()):
        h.update(name.encode())
        _digest_table(h, table)
    return h.hexdigest()


def _load_watch(dialect: str, key: str | None, cache: Path | None) -> dict[str, pa.Table] | None:
    if key is None:
        return None
    if dialect in _watch_memo and _watch_memo[dialect][0] == key:
        return _watch_memo[dialect][1]
    d = cache / key if cache is not None else None
    if d is None or not all((d / f"{n}.arrow").is_file() for n in _WATCH_NAMES):
        return None
    try:
        got = {n: pa.ipc.open_file(pa.memory_map(str(d / f"{n}.arrow"))).read_all() for n in _WATCH_NAMES}
    except (OSError, pa.ArrowInvalid):  # a damaged entry is recomputed (and rewritten)
        return None
    _watch_memo[dialect] = (key, got)
    return got


def _store_watch(dialect: str, key: str | None, watch: dict[str, pa.Table], cache: Path | None) -> None:
    if key is None:
        return
    _watch_memo[dialect] = (key, watch)  # one list version per engine kind: a 10^6 list's tables are some 300 MB
    if cache is None or (cache / key).is_dir():
        return
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache))
    for n in _WATCH_NAMES:
        with pa.OSFile(str(tmp / f"{n}.arrow"), "wb") as f, pa.ipc.new_file(f, watch[n].schema) as w:
            w.write_table(watch[n])
    try:
        os.replace(tmp, cache / key)  # whole or not at all: a reader never sees a half-written entry
    except OSError:  # another run stored it first
        shutil.rmtree(tmp, ignore_errors=True)
        return
    for old in cache.iterdir():  # older versions of the list are not read again
        if old.name != key and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)


def clear_watch_cache() -> None:
    """Forget the watch side kept in this process (the files under an engine's ``watch_cache`` stay)."""
    _watch_memo.clear()


def _watch(engine: Engine, key: str | None) -> tuple[dict[str, pa.Table], bool]:
    """(the watch side, whether it was kept from before)."""
    got = _load_watch(engine.dialect, key, engine.watch_cache)
    if got is not None:
        return got, True
    got = _watch_side(engine.query(WATCHLIST_SQL), engine.query(WATCH_KEYS_SQL), _catmask(engine.query(COVER_SQL)))
    _store_watch(engine.dialect, key, got, engine.watch_cache)
    return got, False


def prepare_watch(engine: Engine, rules: RuleSet | None = None) -> str | None:
    """Compute the watch side of :func:`collide` for the engine's lists and ``rules`` now and keep it (in this
    process and under ``engine.watch_cache``), so that runs until the list changes skip that step. Returns the
    inputs' fingerprint (None: the engine's lists are unknown, nothing kept)."""
    rules = rules if rules is not None else load_rules()
    for name, table in rules.tables().items():
        engine.register(name, table)
    key = watch_fingerprint(engine, rules)
    _watch(engine, key)
    return key


def collide(
    engine: Engine,
    rules: RuleSet | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    rescore: Rescorer | None = None,
    stats: dict[str, Any] | None = None,
) -> pa.Table:
    """Batch collision (批量比对碰撞) of ``activity`` in [since, until) against the watchlists under ``rules``.

    Returns :data:`HITS`, one row per (rule, record, person), ordered by priority, time, rule, source, record,
    person. ``hit_key`` = md5 of rule code | source | record_id | person_key (record ids are unique per source):
    the same in every run and on every engine, for dedupe against earlier runs. ``rescore`` gets the fuzzy
    candidate pairs (:data:`PAIRS`: every pair a block finds between a record and an ID that a fuzzy rule reads for
    the record's source, not only those above the threshold) and returns them with its own ``score``/``reasons``;
    without it, pairs whose score cannot reach their threshold whatever the name says are dropped before the
    strings are read. ``stats`` (if given) receives row counts of the steps and their times (``step_seconds``), and
    ``watch_cached``: whether the watch side was kept from an earlier run (:func:`prepare_watch`)."""
    rules = rules if rules is not None else load_rules()
    clock = _Clock(stats)
    engine.ensure_keyed()
    for name, table in rules.tables().items():
        engine.register(name, table)
    window = _window(since, until)
    watch, cached = _watch(engine, watch_fingerprint(engine, rules))
    if stats is not None:
        stats["watch_cached"] = cached
    for name, table in watch.items():
        engine.register(name, table)
    clock("watch side")
    if since is None and until is None:
        try:
            used = _index_hot(engine, watch["zh_probe"])
        except (OSError, ValueError) as e:  # a damaged index: this run scans (refresh or --rebuild mends it)
            logging.getLogger("zhihui.intel").warning("key index not used: %s", e)
            used = None
        if stats is not None:
            stats["key_index"] = used
        if used is None:
            engine.materialise("zh_hot", engine.short_locations(HOT_ALL_SQL))
    else:
        engine.materialise("zh_hot", engine.short_locations(HOT_SQL), window)
    clock("pass over activity")
    engine.materialise("zh_kpairs", KPAIRS_SQL)
    engine.materialise("zh_keep", KEEP_SQL, {"keep_all": rescore is not None})
    clock("fuzzy pairs on keys")
    if rescore is not None:
        engine.fetch_rows("zh_touched", "zh_keep")
        clock("read candidate rows")
        engine.materialise("zh_pairs", PAIRS_SQL)
    else:
        # A row is read column by column, and each read of a column costs about as much for ten rows as for ten
        # thousand in a file: so fuzzy candidates are read for their name key only (ID and birth date are in their
        # keys) and scored, then the exact finds (hits but for the rules) and the fuzzy candidates that scored as
        # hits are read in full, together.
        engine.materialise("zh_keep_x", "SELECT * FROM zh_keep WHERE whole")
        engine.materialise("zh_keep_f", "SELECT * FROM zh_keep WHERE NOT whole")
        engine.fetch_rows("zh_rows_f", "zh_keep_f", SCORE_COLUMNS)
        clock("read candidates' name keys")
        engine.materialise("zh_touched", SCORE_ROWS_SQL)
        engine.materialise("zh_pairs_f", PAIRS_SQL)
        clock("score fuzzy pairs")
        engine.materialise("zh_keep_h", FUZZY_HIT_ROWS_SQL)
        engine.materialise("zh_keep_xh", KEEP_XH_SQL)
        engine.fetch_rows("zh_rows_xh", "zh_keep_xh")
        clock("read candidate rows")
        # the exact finds' own fuzzy pairs (a row is scored on its own: the steps split by rows)
        engine.materialise(
            "zh_touched",
            "SELECT t.* FROM zh_rows_xh t SEMI JOIN zh_keep_x k "
            "ON k.filename = t.filename AND k.file_row_number = t.file_row_number",
        )
        engine.materialise("zh_pairs_x", PAIRS_SQL)
        engine.materialise("zh_pairs", PAIRS_RECORD_SQL)
        engine.materialise("zh_touched", "SELECT * FROM zh_rows_xh")
        clock("score exact finds' fuzzy pairs")
    if stats is not None:  # counting is one more job on Spark: only on request
        stats["persons"] = watch["zh_person"].num_rows
        stats["fuzzy_ids"] = watch["zh_fz"].num_rows
        # touched_rows: the rows the pass over activity found (an exact key or a block met), as before
        stats["candidate_rows"] = engine.count("(SELECT DISTINCT src, filename, file_row_number FROM zh_hot) c")
        stats["touched_rows"] = stats["candidate_rows"]
        stats["key_pairs"] = engine.count("zh_kpairs")
        stats["read_rows"] = engine.count("zh_keep")  # read (in part) for their strings
        stats["full_rows"] = engine.count("zh_touched")  # read in full
        stats["fuzzy_pairs"] = engine.count("zh_pairs")
    clock(None)  # the counts are not timed
    if rescore is not None:
        pairs = _conform(rescore(_conform(engine.fetch("zh_pairs"), PAIRS)), PAIRS)
        engine.register("zh_pairs", pairs)
        if stats is not None:
            stats["rescored_pairs"] = pairs.num_rows
        clock("re-score")
    engine.materialise("zh_exact", EXACT_SQL)
    engine.materialise("zh_hit_person", HIT_PERSON_SQL)
    engine.materialise("zh_hit_list", HIT_LIST_SQL)
    hits = engine.query(HITS_SQL)
    if stats is not None:
        stats["hits"] = hits.num_rows
    out = _finish_hits(hits, rules)
    clock("hits")
    return out


def _index_hot(engine: Engine, probe: pa.Table) -> dict[str, int] | None:
    """zh_hot of a full run from the key index: for the files it covers, the rows HOT_ALL_SQL would give, found by
    binary searches of the probe sets (sorted, distinct: _watch_tables); HOT_ALL_SQL over the other files. None (and
    nothing done) when the engine has no index covering any of its files."""
    idx = engine.key_index()
    if idx is None:
        return None
    files = engine.files
    usable = idx.usable(files)
    if not usable:
        return None
    paths = [f for v in usable.values() for _, f in v]
    covered = set(paths)
    rest = [f for f in files if f not in covered]
    names = [engine.file_name(f) for f in paths]  # as the SQL pass names a file (DuckDB: its number)
    src_a, p_a, v_a = (probe.column(c).to_numpy() for c in ("src", "probe", "v"))
    group = src_a.astype(np.int64) * 64 + p_a
    starts = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1] if len(group) else np.zeros(0, np.int64)
    if len(set(group[starts].tolist())) != len(starts):  # _watch_tables writes each set in one piece; else gather
        order = np.argsort(group, kind="stable")
        group, src_a, p_a, v_a = group[order], src_a[order], p_a[order], v_a[order]
        starts = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1]
    sets = {}
    ends = np.r_[starts[1:], len(v_a)] if len(starts) else starts
    for a, b in zip(starts, ends, strict=True):
        v = v_a[a:b]  # a binary search needs the set sorted and distinct (it is, as _watch_tables writes it)
        sets[(int(src_a[a]), int(p_a[a]))] = v if np.all(v[1:] > v[:-1]) else distinct(v)
    # manifest file number → the file's number in the result's dictionary (``paths``' order; -1: not read)
    fmaps: dict[str, np.ndarray] = {}
    at = 0
    for src, v in usable.items():
        fmaps[src] = np.full(len(idx.sources[src]), -1, np.int32)
        for i, _ in v:
            fmaps[src][i] = at
            at += 1
    tasks = [(src, code, p, col, sets[(code, pset)]) for src in usable if (code := _SRC.get(src)) is not None
             for p, col, pset in _PROBES if (code, pset) in sets]  # fmt: skip

    def one(task: tuple[str, int, int, str, np.ndarray]) -> dict[str, np.ndarray | None]:
        src, code, p, col, needles = task
        if p == 1:  # k_b1 is k_id's digits 1-14 with a tag: a range of the sorted k_id
            tagged = needles[(needles & _TAG) != 0]
            ords, which = idx.find(src, "k_id", tagged ^ _TAG, shift=15)
            v = tagged[which]
        else:
            ords, which = idx.find(src, "k_id" if p == 8 else col, needles)
            v = needles[which]
        fno, row = idx.locate(src, ords)
        fid = fmaps[src][fno]
        keep = fid >= 0  # rows of files that changed since the index was built are the SQL pass's
        ords, v, fid, row = ords[keep], v[keep], fid[keep], row[keep]
        return {"src": np.full(len(ords), code, np.int32), "filename": fid, "file_row_number": row,
                "probe": np.full(len(ords), p, np.int32), "v": v,
                "k_id": v if p == 8 else idx.row_values(src, "k_id", ords) if p <= 5 else None,
                "k_b5": idx.row_values(src, "k_b5", ords) if p <= 5 else None}  # fmt: skip

    from concurrent.futures import ThreadPoolExecutor

    # the biggest searches first, so that the threads finish together
    tasks.sort(key=lambda t: -len(t[4]) * math.log2(max(2, idx.size(t[0]))))
    with ThreadPoolExecutor(max_workers=max(1, min(len(tasks), os.cpu_count() or 1))) as pool:
        parts = list(pool.map(one, tasks))

    def col(name: str, type_: pa.DataType) -> pa.Array:
        arrays = []
        for q in parts:
            n = len(q["src"])
            arrays.append(pa.nulls(n, type_) if q[name] is None else pa.array(q[name], type_))
        return pa.concat_arrays(arrays) if arrays else pa.array([], type_)

    fid = col("filename", pa.int32())
    table = pa.table({
        "src": col("src", pa.int32()),
        "filename": pa.array(names, pa.string()).take(fid),  # short names: plain strings cost DuckDB least
        "file_row_number": col("file_row_number", pa.int64()), "k_id": col("k_id", pa.int64()),
        "k_b5": col("k_b5", pa.int64()), "probe": col("probe", pa.int32()), "v": col("v", pa.int64()),
    })  # fmt: skip
    engine.register("zh_hot_index", table)
    if rest:
        engine.keyed_view("activity_keyed_rest", rest)
        rest_sql = engine.short_locations(_hot_sql(False, "activity_keyed_rest"))
        engine.materialise("zh_hot", f"SELECT * FROM zh_hot_index UNION ALL SELECT * FROM ({rest_sql})")
    else:
        engine.register("zh_hot", table)
    return {"files": len(names), "rows": table.num_rows, "files_scanned": len(rest)}


class _Clock:
    """Step timings into ``stats["step_seconds"]`` (when stats are asked for); ``None`` skips the time since the
    last call."""

    def __init__(self, stats: dict[str, Any] | None) -> None:
        self.stats, self.t = stats, time.perf_counter()
        if stats is not None:
            stats["step_seconds"] = {}

    def __call__(self, step: str | None) -> None:
        now = time.perf_counter()
        if self.stats is not None and step is not None:
            self.stats["step_seconds"][step] = round(now - self.t, 3)
        self.t = now


def _finish_hits(hits: pa.Table, rules: RuleSet) -> pa.Table:
    """Rule name, priority label and the rendered instruction: Python, so that both engines share it."""
    codes = hits.column("rule_code").to_pylist()
    by_code = {r.code: r for r in rules.rules}
    names = [by_code[c].name for c in codes]
    prio = [by_code[c].priority for c in codes]
    rows = hits.to_pylist()
    texts = []
    for row, code in zip(rows, codes, strict=True):
        rule = by_code[code]
        extra = {
            "rule_name": rule.name,
            "source_name": SOURCES.get(row["source"], row["source"]),
            "reasons": "、".join(json.loads(row["reasons"])) if row["reasons"] else None,
            "score": f"{row['score']:.2f}",
        }
        texts.append(rule.render({**row, **extra}))
    out = hits.append_column("rule_name", pa.array(names, pa.string()))
    out = out.append_column("priority", pa.array(prio, pa.string()))
    out = out.append_column("instruction", pa.array(texts, pa.string()))
    return _conform(out, HITS)


def frame_rescorer(score_frame: Callable[[Any, Any], Any], *, weight: float = 1.0) -> Rescorer:
    """Adapt a pandas scorer ``score_frame(left_df, right_df)`` (row-aligned frames with columns id_number, name,
    name_key, birth_date, sex; returns one score in [0, 1] per row, as a sequence or a frame with ``score``) into a
    ``rescore=`` for :func:`collide`. ``weight`` blends it with the SQL score (1.0 = the Python score only)."""

    def rescore(pairs: pa.Table) -> pa.Table:
        df = pairs.to_pandas()
        left = df[["id_number", "name", "name_key", "birth_date", "sex"]].reset_index(drop=True)
        right = df[["w_id_number", "w_name", "w_name_key", "w_birth_date", "w_sex"]].reset_index(drop=True)
        right.columns = left.columns
        got = score_frame(left, right)
        scores = got["score"] if hasattr(got, "columns") else got
        new = [weight * float(s) + (1.0 - weight) * float(o) for s, o in zip(scores, df["score"], strict=True)]
        reasons = [
            json.dumps([*json.loads(r), f"复核评分{s:.2f}"], ensure_ascii=False)
            for r, s in zip(df["reasons"], new, strict=True)
        ]
        out = pairs.set_column(pairs.schema.get_field_index("score"), "score", pa.array(new, pa.float64()))
        return out.set_column(out.schema.get_field_index("reasons"), "reasons", pa.array(reasons, pa.string()))

    return rescore


# --- trajectory ------------------------------------------------------------------------------------------

TRAJECTORY_SQL = f"""
SELECT "at", {_LOCAL} AS at_local, source, record_id,
       concat_ws(',', CASE WHEN id_number = $id_number THEN 'id_number' END,
                      CASE WHEN phone = $phone THEN 'phone' END,
                      CASE WHEN plate = $plate THEN 'plate' END) AS matched_by,
       id_number, name, phone, plate, venue_code, venue_name, room, trip, lat, lon, org_code
FROM activity
WHERE "at" >= $since AND "at" < $until
  AND (id_number = $id_number OR phone = $phone OR plate = $plate)
ORDER BY "at", source, record_id
"""


def trajectory(
    engine: Engine,
    *,
    id_number: str | None = None,
    plate: str | None = None,
    phone: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pa.Table:
    """人员轨迹: every activity record carrying any of the given normalised keys, in time order (:data:`TRAJECTORY`)."""
    if not (id_number or plate or phone):
        raise ValueError("give at least one of id_number, plate, phone")
    # '' never equals a normalised key (they are None when unreadable), so an absent key matches nothing.
    params = {**_window(since, until), "id_number": id_number or "", "plate": plate or "", "phone": phone or ""}
    return _conform(engine.query(TRAJECTORY_SQL, params), TRAJECTORY)


# --- co-presence (串并) ------------------------------------------------------------------------------------


def _haversine(lat1: str, lon1: str, lat2: str, lon2: str) -> str:
    h = (
        f"power(sin(radians({lat2} - {lat1}) / 2), 2)"
        f" + cos(radians({lat1})) * cos(radians({lat2})) * power(sin(radians({lon2} - {lon1}) / 2), 2)"
    )
    return f"CAST({_EARTH_DIAMETER_M} AS DOUBLE) * asin(least(CAST(1 AS DOUBLE), sqrt({h})))"


CO_PRESENCE_SQL = f"""
WITH
ev AS (
    SELECT c.case_id, a.source, a.record_id, a."at", a.id_number, a.plate, a.venue_code, a.venue_name, a.lat, a.lon,
           {_haversine("c.lat", "c.lon", "a.lat", "a.lon")} AS distance_m,
           date_diff('second', c."at", a."at") / 60 AS dt_minutes
    FROM activity a
    JOIN zh_cases c ON a."at" >= c.t_lo AND a."at" <= c.t_hi
                   AND a.lat >= c.lat_lo AND a.lat <= c.lat_hi AND a.lon >= c.lon_lo AND a.lon <= c.lon_hi
    WHERE a."at" >= $t_min AND a."at" <= $t_max AND a.lat IS NOT NULL AND a.lon IS NOT NULL
),
near AS (SELECT * FROM ev WHERE distance_m <= $dd_m),
ent AS (
    SELECT 'id_number' AS entity_type, id_number AS entity, near.* FROM near WHERE id_number IS NOT NULL
    UNION ALL
    SELECT 'plate' AS entity_type, plate AS entity, near.* FROM near WHERE plate IS NOT NULL
)
SELECT entity_type, entity, count(DISTINCT case_id) AS n_cases,
       list_sort(list_distinct(list(case_id))) AS case_ids,
       count(*) AS n_records, min("at") AS first_at, max("at") AS last_at,
       list_sort(list(struct_pack(
           "at" := "at", case_id := case_id, source := source, record_id := record_id, venue_code := venue_code,
           venue_name := venue_name, lat := lat, lon := lon, distance_m := distance_m, dt_minutes := dt_minutes
       ))) AS evidence
FROM ent
GROUP BY entity_type, entity
HAVING count(DISTINCT case_id) >= $k
ORDER BY n_cases DESC, entity_type, entity
"""


def _cases_table(cases: Any, dt_minutes: float, dd_m: float) -> pa.Table:
    if isinstance(cases, pa.Table):
        rows = cases.select(["case_id", "at", "lat", "lon"]).to_pylist()
    elif hasattr(cases, "to_dict") and hasattr(cases, "columns"):  # a pandas frame
        rows = cases[["case_id", "at", "lat", "lon"]].to_dict("records")
    else:
        rows = [
            dict(r) if isinstance(r, Mapping) else dict(zip(("case_id", "at", "lat", "lon"), r, strict=True))
            for r in cases
        ]
    out: dict[str, list[Any]] = {f.name: [] for f in _CASES}
    dt = timedelta(minutes=dt_minutes)
    dlat = dd_m / _M_PER_DEG_LAT * 1.01  # 1 % slack: the box must contain the haversine disc
    for r in rows:
        at = r["at"]
        if hasattr(at, "to_pydatetime"):
            at = at.to_pydatetime()
        if at.tzinfo is None:
            raise ValueError(f"case {r['case_id']!r}: at must be timezone-aware")
        at = at.astimezone(UTC)
        lat, lon = float(r["lat"]), float(r["lon"])
        dlon = dlat / max(0.01, math.cos(math.radians(abs(lat) + dlat)))
        for k, v in (
            ("case_id", str(r["case_id"])), ("at", at), ("lat", lat), ("lon", lon), ("t_lo", at - dt),
            ("t_hi", at + dt), ("lat_lo", lat - dlat), ("lat_hi", lat + dlat), ("lon_lo", lon - dlon),
            ("lon_hi", lon + dlon),
        ):  # fmt: skip
            out[k].append(v)
    return pa.table(out, schema=_CASES)


def co_presence(engine: Engine, cases: Any, *, dt_minutes: float, dd_m: float, k: int = 2) -> pa.Table:
    """串并: persons (by ID number) and vehicles (by plate) recorded within ``dt_minutes`` and ``dd_m`` metres
    (haversine) of at least ``k`` distinct cases. ``cases``: an Arrow/pandas table or rows of
    (case_id, at, lat, lon) with aware ``at``. Returns :data:`CO_PRESENCE`, the cases and evidence sorted."""
    if dt_minutes <= 0 or dd_m <= 0 or k < 1:
        raise ValueError("dt_minutes and dd_m must be positive and k at least 1")
    table = _cases_table(cases, dt_minutes, dd_m)
    if table.num_rows == 0:
        return CO_PRESENCE.empty_table()
    engine.register("zh_cases", table)
    params = {
        "t_min": pc.min(table.column("t_lo")).as_py(),
        "t_max": pc.max(table.column("t_hi")).as_py(),
        "dd_m": float(dd_m),
        "k": int(k),
    }
    return _conform(engine.query(CO_PRESENCE_SQL, params), CO_PRESENCE)


# --- high-risk origin (高危地区检索) ----------------------------------------------------------------------

HIGH_RISK_SQL = f"""
WITH
a AS (
    SELECT source, record_id, id_number, venue_code, venue_name,
           CAST("at" + INTERVAL {_CST_HOURS} HOUR AS DATE) AS local_day
    FROM activity
    WHERE "at" >= $since AND "at" < $until AND id_number IS NOT NULL
      AND ($all_sources OR source IN (SELECT source FROM zh_sources))
),
m AS (  -- one equi-join per prefix length (2/4/6) instead of a LIKE scan
    SELECT p.prefix, a.* FROM a
    CROSS JOIN (SELECT 2 AS n UNION ALL SELECT 4 UNION ALL SELECT 6) l
    JOIN zh_prefixes p ON p.plen = l.n AND p.prefix = substr(a.id_number, 1, l.n)
),
tot AS (SELECT prefix, count(DISTINCT id_number) AS prefix_persons FROM m GROUP BY prefix)
SELECT m.prefix AS region_prefix, m.local_day, m.venue_code, min(m.venue_name) AS venue_name,
       min(m.source) AS source, count(*) AS records, count(DISTINCT m.id_number) AS persons,
       min(tot.prefix_persons) AS prefix_persons
FROM m JOIN tot ON tot.prefix = m.prefix
GROUP BY m.prefix, m.local_day, m.venue_code
ORDER BY region_prefix, local_day, persons DESC, venue_code
"""

_PREFIX = re.compile(r"^(\d{2}|\d{4}|\d{6})$")


def high_risk_origin(
    engine: Engine,
    region_prefixes: Iterable[str],
    *,
    since: datetime,
    until: datetime,
    sources: Iterable[str] | None = None,
) -> pa.Table:
    """高危地区检索: activity in [since, until) by persons whose ID region code (GB/T 2260, first 2/4/6 digits)
    starts with one of ``region_prefixes``, per prefix × local day (Asia/Shanghai) × venue (:data:`HIGH_RISK`)."""
    prefixes = sorted(set(region_prefixes))
    bad = [p for p in prefixes if not _PREFIX.match(p)]
    if bad or not prefixes:
        raise ValueError(f"region prefixes are 2, 4 or 6 digits; got {bad or 'none'}")
    srcs = sorted(set(sources)) if sources is not None else []
    unknown = [s for s in srcs if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}")
    lengths = pa.array([len(p) for p in prefixes], pa.int32())
    engine.register("zh_prefixes", pa.table({"prefix": pa.array(prefixes, pa.string()), "plen": lengths}))
    engine.register("zh_sources", pa.table({"source": pa.array(srcs or [""], pa.string())}))
    params = {**_window(since, until), "all_sources": sources is None}
    return _conform(engine.query(HIGH_RISK_SQL, params), HIGH_RISK)
