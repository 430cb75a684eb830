# Copyright 2026 The zhihui authors. Licensed under the Apache License, Version 2.0.
"""技战法 (tactics) over the intelligence tables: batch collision against watchlists (批量比对碰撞), trajectories
(人员轨迹), co-presence around cases (串并) and high-risk-origin search (高危地区检索).

Every tactic is SQL written once, in DuckDB's dialect, over the three views of :mod:`zhihui.intel.schema`
(``activity``, ``watchlist``, ``watch_keys``) plus small parameter tables. :class:`DuckDBEngine` (embedded, the
default) runs the text as written; :class:`SparkEngine` (province scale) runs ``sqlglot``'s Spark translation of
the same text (:func:`to_spark`), so the two cannot drift apart; a test proves their results equal.

Collision is a chain of SQL steps (:data:`STEPS`), each materialised by the engine, then one query:

1. ``zh_person`` (one identity per listed person, and whether a fuzzy rule covers any of its lists), ``zh_fz_id``
   (those persons' IDs, parsed once) and ``zh_blocks`` (their distinct blocking keys, see ``_BLOCKS``): the
   watch side, small.
2. ``zh_touched`` – the only pass over ``activity``: rows whose ID, phone or plate is a watch key, or whose
   identity meets a blocking key. Exact keys are ``IN`` probes, blocks left joins on distinct keys, so the big
   table is read once and never multiplied; every blocking key is integer arithmetic on the ID parsed once.
3. ``zh_pairs`` – the fuzzy-identity candidates: touched rows not matched exactly on ID, paired with the
   watched IDs they block with, scored in SQL (levenshtein, with adjacent transpositions recognised), the best
   pair per (record, person) kept. A Python re-scorer can replace the scores here (``rescore=``).
4. hits (:data:`HITS_SQL`) – exact and fuzzy matches × the rule tables (source, match type and score, category
   pattern), one hit per (rule, record, person), the same-room-night groups, the dedupe key and a total order.

Times: ``at`` is UTC; engines run with session time zone UTC and add 8 hours for Asia/Shanghai (no DST since
1991). A hotel *night* runs from local noon to noon, so a 01:30 check-in belongs to the previous evening's night.
Distances: haversine on a sphere of mean Earth radius (6 371 008.8 m) in SQL, after a bounding-box pre-filter.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from zhihui.intel.rules import RuleSet, load_rules
from zhihui.intel.schema import SOURCES

__all__ = [
    "CO_PRESENCE",
    "HIGH_RISK",
    "HITS",
    "PAIRS",
    "TRAJECTORY",
    "DuckDBEngine",
    "Engine",
    "SparkEngine",
    "co_presence",
    "collide",
    "frame_rescorer",
    "high_risk_origin",
    "spark_session",
    "to_spark",
    "trajectory",
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


class Engine(ABC):
    """Runs DuckDB-dialect SQL over the views ``activity``, ``watchlist``, ``watch_keys`` (+ parameter tables).

    ``$name`` placeholders take ``params``; an engine is one caller's (the parameter views have fixed names)."""

    dialect: str

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

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _paths(src: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    items = [src] if isinstance(src, str | os.PathLike) else list(src)
    out = []
    for p in items:
        s = os.fspath(p)
        out.append(f"{s.rstrip('/')}/**/*.parquet" if os.path.isdir(s) else s)
    return out


class DuckDBEngine(Engine):
    """The embedded engine: an in-memory DuckDB connection; Parquet paths (files, directories, globs) or Arrow
    tables become the views ``activity``, ``watchlist``, ``watch_keys``."""

    dialect = "duckdb"

    def __init__(
        self,
        activity: Source,
        watchlist: Source,
        watch_keys: Source,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
    ) -> None:
        import duckdb

        self.con = duckdb.connect(":memory:")
        self._tables: set[str] = set()
        # Local days are computed as UTC + 8 h, so the session must not shift instants on its own.
        self.con.execute("SET TimeZone = 'UTC'").fetchall()
        if threads:
            self.con.execute(f"SET threads = {int(threads)}").fetchall()
        if memory_limit:
            self.con.execute(f"SET memory_limit = '{memory_limit.replace(chr(39), '')}'").fetchall()
        for name, src in (("activity", activity), ("watchlist", watchlist), ("watch_keys", watch_keys)):
            if isinstance(src, pa.Table):
                self.register(name, src)
            else:
                files = ", ".join("'" + p.replace("'", "''") + "'" for p in _paths(src))
                self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet([{files}])").fetchall()

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
    temporary directory; on a cluster, give a shared path)."""

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
    ) -> None:
        self._own = spark is None
        self.spark = spark if spark is not None else spark_session(master, shuffle_partitions=shuffle_partitions)
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        self._steps: dict[str, str] = {}
        self._registered: dict[str, pa.Table] = {}
        self._gen = 0
        self._tmp = scratch_dir
        if scratch_dir is not None:
            os.makedirs(scratch_dir, exist_ok=True)
        for name, src in (("activity", activity), ("watchlist", watchlist), ("watch_keys", watch_keys)):
            if isinstance(src, pa.Table):
                self.register(name, src)
            else:
                self.spark.read.parquet(*[os.fspath(p) for p in ([src] if isinstance(src, str | os.PathLike) else src)]
                                        ).createOrReplaceTempView(name)

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

# The first 17 digits of an ID as an integer, parsed once per row: every blocking key below is arithmetic on it.
# (Building a key string with substr/|| measured about a second per 10^7 rows per key in DuckDB; one parse plus
# integer arithmetic costs less than that for all keys together.) The check character, a function of the 17
# digits, is left out, so a wrong check character alone breaks no block.
def _body17(col: str) -> str:
    return f"coalesce(TRY_CAST({col} AS BIGINT), TRY_CAST(substr({col}, 1, 17) AS BIGINT) * 10) // 10"


# Blocking keys of the fuzzy pass: (name, with the name key?, integer key of the 17-digit body b). Sections:
# region R = digits 1-6, birth date B = 7-14, sequence S = 15-17. A single wrong digit or a swap of neighbours
# leaves R+B intact (error in S), B+S (error in R) or digits 1-5 and 16-17 (error in 6-15: all of B and both of
# its borders); the first two meet whatever the name says, the last with the name key. Two wrong digits in R and
# S with name and birth date agreeing meet name_birth. Each block is one hash probe per row, so there are few.
_BLOCKS = (
    ("id_head14", False, "{b} // 1000"),  # R+B
    ("id_tail11", False, "{b} % 100000000000"),  # B+S
    ("name_birth", True, "{b} // 1000 % 100000000"),  # name+B
    ("name_outer", True, "{b} // 1000000000000 * 100 + {b} % 100"),  # name+digits 1-5, 16-17
)
# ... and the name key with the birth date the record states itself (a hotel's card reader, a ticket form):
# column against column, whatever happened to the ID.
_DATE_BLOCK = "name_birth_date"


def _swapped(x: str, y: str) -> str:
    """SQL: the 18-character ``y`` is ``x`` with two adjacent characters exchanged."""
    terms = [
        f"{y} = substr({x}, 1, {i - 1}) || substr({x}, {i + 1}, 1) || substr({x}, {i}, 1) || substr({x}, {i + 2})"
        for i in range(1, 18)
    ]
    return "(" + " OR ".join(terms) + ")"


PERSON_SQL = """
SELECT w.person_key, min(w.id_number) AS w_id_number, min(w.name) AS w_name, min(w.name_key) AS w_name_key,
       min(w.birth_date) AS w_birth_date, min(w.sex) AS w_sex,
       bool_or(f.category_like IS NOT NULL) AS fuzzy  -- on a list that some fuzzy rule covers
FROM watchlist w
LEFT JOIN (
    SELECT DISTINCT c.category_like FROM zh_rule_category c
    JOIN zh_rule_match m ON m.rule_code = c.rule_code AND m.match_type = 'fuzzy_identity'
) f ON w.category LIKE f.category_like
GROUP BY w.person_key
"""

FZ_ID_SQL = f"""
SELECT DISTINCT k.person_key, k.key_value AS w_id, p.w_name_key, p.w_birth_date,
       coalesce(strftime(p.w_birth_date, '%Y%m%d'), substr(k.key_value, 7, 8)) AS w_birth8,
       {_body17("k.key_value")} AS w_b17
FROM watch_keys k
JOIN zh_person p ON p.person_key = k.person_key
WHERE k.key_type = 'id_number' AND length(k.key_value) = 18 AND p.fuzzy
"""

# One distinct table of every blocking key, so that the pass over activity joins without duplicating rows.
BLOCKS_SQL = "\nUNION ALL\n".join(
    [
        f"SELECT DISTINCT {i} AS block, {'w_name_key' if named else 'CAST(NULL AS VARCHAR)'} AS n, "
        f"{expr.format(b='w_b17')} AS v, CAST(NULL AS DATE) AS d FROM zh_fz_id "
        f"WHERE w_b17 IS NOT NULL{' AND w_name_key IS NOT NULL' if named else ''}"
        for i, (_name, named, expr) in enumerate(_BLOCKS, start=1)
    ]
    + [
        f"SELECT DISTINCT {len(_BLOCKS) + 1} AS block, w_name_key AS n, CAST(0 AS BIGINT) AS v, w_birth_date AS d "
        "FROM zh_fz_id WHERE w_name_key IS NOT NULL AND w_birth_date IS NOT NULL"
    ]
)


def _touched_sql() -> str:
    joins, flags = [], []
    for i, (_name, named, expr) in enumerate(_BLOCKS, start=1):
        on = f"k{i}.block = {i} AND k{i}.v = {expr.format(b='a.b17')}"
        on += f" AND k{i}.n = a.name_key" if named else ""
        joins.append(f"LEFT JOIN zh_blocks k{i} ON {on}")
        flags.append(f"k{i}.v IS NOT NULL")
    i = len(_BLOCKS) + 1
    joins.append(f"LEFT JOIN zh_blocks k{i} ON k{i}.block = {i} AND k{i}.n = a.name_key AND k{i}.d = a.fz_birth_date")
    flags.append(f"k{i}.v IS NOT NULL")
    block_flag = " OR ".join(flags)
    # Exact keys as IN (a mark join in DuckDB, an existence join in Spark); blocks as left joins on distinct keys.
    # Either way the activity row is read once and never multiplied.
    return f"""
WITH a AS (  -- b17 and fz_birth_date only where a fuzzy rule reads the source: elsewhere no block can meet
    SELECT t.source, t.record_id, t."at", t.id_number, t.name, t.name_key, t.birth_date, t.sex, t.phone, t.plate,
           t.venue_code, t.venue_name, t.room, t.org_code, t.lat, t.lon,
           CASE WHEN f.source IS NOT NULL AND length(t.id_number) = 18 THEN {_body17("t.id_number")} END AS b17,
           CASE WHEN f.source IS NOT NULL AND length(t.id_number) = 18 THEN t.birth_date END AS fz_birth_date
    FROM activity t
    LEFT JOIN zh_rule_fuzzy_source f ON f.source = t.source
    WHERE t."at" >= $since AND t."at" < $until
)
SELECT a.source, a.record_id, a."at", a.id_number, a.name, a.name_key, a.birth_date, a.sex, a.phone, a.plate,
       a.venue_code, a.venue_name, a.room, a.org_code, a.lat, a.lon, a.b17
FROM a
{chr(10).join(joins)}
WHERE a.id_number IN (SELECT key_value FROM watch_keys WHERE key_type = 'id_number')
   OR a.phone IN (SELECT key_value FROM watch_keys WHERE key_type = 'phone')
   OR a.plate IN (SELECT key_value FROM watch_keys WHERE key_type = 'plate')
   OR {block_flag}
"""


def _pairs_sql() -> str:
    unions = []
    for name, named, expr in _BLOCKS:
        on = f"{expr.format(b='w.w_b17')} = {expr.format(b='a.b17')}"
        on += " AND w.w_name_key = a.name_key" if named else ""
        unions.append(
            f"SELECT a.source, a.record_id, w.person_key, w.w_id, w.w_birth8, '{name}' AS block "
            f"FROM zh_touched a JOIN zh_fz_id w ON {on} WHERE a.b17 IS NOT NULL"
        )
    unions.append(
        f"SELECT a.source, a.record_id, w.person_key, w.w_id, w.w_birth8, '{_DATE_BLOCK}' AS block "
        "FROM zh_touched a JOIN zh_fz_id w ON w.w_name_key = a.name_key AND w.w_birth_date = a.birth_date "
        "WHERE a.b17 IS NOT NULL"
    )
    cand = "\n    UNION ALL\n    ".join(unions)
    return f"""
WITH
cand AS (
    {cand}
),
cand1 AS (  -- one row per (record, watched ID), with the blocks that met it
    SELECT source, record_id, person_key, w_id, min(w_birth8) AS w_birth8,
           array_to_string(list_sort(list_distinct(list(block))), ',') AS block
    FROM cand
    GROUP BY source, record_id, person_key, w_id
),
d AS (
    SELECT c.*, t.id_number, t.name, t.name_key, t.birth_date, t.sex,
           p.w_name, p.w_name_key, p.w_birth_date, p.w_sex,
           coalesce(strftime(t.birth_date, '%Y%m%d'), substr(t.id_number, 7, 8)) AS a_birth8,
           levenshtein(t.id_number, c.w_id) AS lev,
           CASE WHEN t.name_key IS NULL OR p.w_name_key IS NULL THEN NULL
                ELSE levenshtein(t.name_key, p.w_name_key) END AS name_lev,
           greatest(length(t.name_key), length(p.w_name_key)) AS name_len
    FROM cand1 c
    JOIN zh_touched t ON t.source = c.source AND t.record_id = c.record_id
    JOIN zh_person p ON p.person_key = c.person_key
    -- only rows of a fuzzy rule's source, and not those matched exactly on ID
    WHERE t.b17 IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM watch_keys k WHERE k.key_type = 'id_number' AND k.key_value = t.id_number)
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
    SELECT r.*, row_number() OVER (PARTITION BY source, record_id, person_key ORDER BY score DESC, w_id) AS rn
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
       ) || ']' AS reasons
FROM best
WHERE rn = 1
"""


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
    JOIN watch_keys k ON k.key_type = 'id_number' AND k.key_value = t.id_number
    JOIN zh_person p ON p.person_key = k.person_key
    UNION ALL
    SELECT t.*, k.person_key, 'exact_phone', 1, CAST(1 AS DOUBLE), '["手机号一致"]'
    FROM zh_touched t JOIN watch_keys k ON k.key_type = 'phone' AND k.key_value = t.phone
    UNION ALL
    SELECT t.*, k.person_key, 'exact_plate', 2, CAST(1 AS DOUBLE), '["车牌号一致"]'
    FROM zh_touched t JOIN watch_keys k ON k.key_type = 'plate' AND k.key_value = t.plate
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
    JOIN watchlist w ON w.person_key = rm.person_key
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
JOIN zh_person p ON p.person_key = h.person_key
WHERE h.group_kind IS NULL OR h.group_size >= h.min_persons
ORDER BY h.priority_rank, h."at", h.rule_code, h.source, h.record_id, h.person_key
"""

TOUCHED_SQL = _touched_sql()
PAIRS_SQL = _pairs_sql()
HITS_SQL = _HITS_SQL
STEPS = (
    ("zh_person", PERSON_SQL),
    ("zh_fz_id", FZ_ID_SQL),
    ("zh_blocks", BLOCKS_SQL),
    ("zh_touched", TOUCHED_SQL),
    ("zh_pairs", PAIRS_SQL),
)


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
    candidate pairs (:data:`PAIRS`, every candidate, not only those above the SQL threshold) and returns them
    with its own ``score``/``reasons``; ``stats`` (if given) receives row counts of the steps."""
    rules = rules if rules is not None else load_rules()
    for name, table in rules.tables().items():
        engine.register(name, table)
    window = _window(since, until)
    for name, sql in STEPS:
        engine.materialise(name, sql, window if name == "zh_touched" else None)
    if stats is not None:  # counting is one more job on Spark: only on request
        labels = {"zh_person": "persons", "zh_fz_id": "fuzzy_ids", "zh_touched": "touched_rows"}
        stats.update({label: engine.count(name) for name, label in {**labels, "zh_pairs": "fuzzy_pairs"}.items()})
    if rescore is not None:
        pairs = _conform(rescore(_conform(engine.fetch("zh_pairs"), PAIRS)), PAIRS)
        engine.register("zh_pairs", pairs)
        if stats is not None:
            stats["rescored_pairs"] = pairs.num_rows
    hits = engine.query(HITS_SQL)
    if stats is not None:
        stats["hits"] = hits.num_rows
    return _finish_hits(hits, rules)


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

