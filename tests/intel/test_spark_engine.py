# Copyright 2026 The zhihui authors. Licensed under the Apache License, Version 2.0.
"""One SQL definition, two engines: every tactic on DuckDB and on Spark (local mode) over the same Parquet files
gives the same rows. Skipped only when Java or pyspark is missing."""

from __future__ import annotations

import importlib.util
import math
import shutil
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.intel.test_tactics import CASES, P1_ID, P2_ID, build_tables, local, write_layouts
from zhihui.intel.rules import load_rules
from zhihui.intel.tactics import (
    DuckDBEngine,
    SparkEngine,
    clear_watch_cache,
    co_presence,
    collide,
    high_risk_origin,
    prepare_watch,
    spark_session,
    to_spark,
    trajectory,
)

if importlib.util.find_spec("pyspark") is None:
    pytest.skip("pyspark is not installed (pip install '.[spark]')", allow_module_level=True)
if shutil.which("java") is None:
    pytest.skip("no java on PATH: Spark needs a JRE (17)", allow_module_level=True)


@pytest.fixture(scope="module")
def parquet(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("intel")
    out = {}
    for name, table in build_tables().items():
        path = root / f"{name}.parquet"
        pq.write_table(table, path)
        out[name] = str(path)
    return out


@pytest.fixture(scope="module")
def engines(parquet):
    # Tiny tables on a shared 2-core box: compiling whole-stage code, re-planning adaptively and the JIT's C2 tier
    # cost more than they save here (C1 + serial GC halves the wall time); the SQL semantics depend on none.
    tiny = {
        "spark.sql.codegen.wholeStage": "false",
        "spark.sql.adaptive.enabled": "false",
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    }
    spark = spark_session("local[2]", shuffle_partitions=1, app_name="zhihui-test", conf=tiny)
    spark.sparkContext.setLogLevel("ERROR")
    duck = DuckDBEngine(parquet["activity"], parquet["watchlist"], parquet["watch_keys"], threads=1)
    sp = SparkEngine(parquet["activity"], parquet["watchlist"], parquet["watch_keys"], spark=spark)
    yield duck, sp
    duck.close()
    sp.close()
    spark.stop()


def _norm(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6)  # haversine goes through each engine's libm: equal to ~1e-12 m, not bit for bit
    if isinstance(v, list):
        return [_norm(x) for x in v]
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    return v


def same(a: pa.Table, b: pa.Table, keys: list[str], *, ordered: bool = True) -> None:
    assert a.schema == b.schema
    assert a.num_rows == b.num_rows
    ra, rb = a.to_pylist(), b.to_pylist()
    if not ordered:
        ra = sorted(ra, key=lambda r: [str(r[k]) for k in keys])
        rb = sorted(rb, key=lambda r: [str(r[k]) for k in keys])
    for x, y in zip(ra, rb, strict=True):
        assert _norm(x) == _norm(y), (x, y)


def test_collide_equal(engines):
    duck, sp = engines
    rules = load_rules()
    a, b = collide(duck, rules), collide(sp, rules)
    assert a.num_rows >= 10 and "fuzzy_identity" in a.column("match_type").to_pylist()
    assert any(a.column("group_key").to_pylist())
    # scores are integer points over 10000 in both engines: equal as doubles, not just close
    assert a.column("score").to_pylist() == b.column("score").to_pylist()
    same(a, b, ["hit_key"])  # the engines' ORDER BY agrees too


def test_collide_window_and_rescorer_equal(engines):
    duck, sp = engines

    def rescore(pairs: pa.Table) -> pa.Table:  # keep the pairs whose ID differs by one edit, at full score
        kept = pairs.filter(pa.array([e <= 1 for e in pairs.column("id_edits").to_pylist()]))
        return kept.set_column(kept.schema.get_field_index("score"), "score", pa.array([1.0] * kept.num_rows))

    kw = {"since": local(2026, 1, 6, 0), "until": local(2026, 1, 9, 0), "rescore": rescore}
    sa: dict = {}
    sb: dict = {}
    a, b = collide(duck, load_rules(), stats=sa, **kw), collide(sp, load_rules(), stats=sb, **kw)
    same(a, b, ["hit_key"])
    sa.pop("step_seconds"), sb.pop("step_seconds")  # times differ, counts do not
    assert sa == sb and sa["fuzzy_pairs"] > sa["rescored_pairs"] > 0
    fuzzy = [r for r in a.to_pylist() if r["match_type"] == "fuzzy_identity"]
    assert fuzzy and {r["score"] for r in fuzzy} == {1.0}


def test_collide_equal_on_stored_keys(engines, tmp_path_factory):
    """Files as ingest writes them (keys stored) beside older ones (keys computed): both engines, the same hits."""
    duck, sp = engines
    paths = write_layouts(tmp_path_factory.mktemp("layouts"))
    spark = sp.spark
    a = collide(DuckDBEngine(paths["mixed"], paths["watchlist"], paths["watch_keys"], threads=1), load_rules())
    with SparkEngine(paths["mixed"], paths["watchlist"], paths["watch_keys"], spark=spark) as eng:
        b = collide(eng, load_rules())
    same(a, b, ["hit_key"])
    same(a, collide(duck, load_rules()), ["hit_key"])


def test_collide_equal_with_the_watch_side_kept(engines, parquet, tmp_path):
    """Spark's watch side prepared and kept on disk, read back by a later run (as a new process would): the same
    hits as DuckDB's."""
    duck, sp = engines
    want = collide(duck, load_rules())
    cache = tmp_path / "watch"
    clear_watch_cache()
    with SparkEngine(*parquet.values(), spark=sp.spark, watch_cache=cache) as eng:
        assert prepare_watch(eng, load_rules()) is not None
    clear_watch_cache()
    stats: dict = {}
    with SparkEngine(*parquet.values(), spark=sp.spark, watch_cache=cache) as eng:
        got = collide(eng, load_rules(), stats=stats)
    assert stats["watch_cached"]
    same(want, got, ["hit_key"])


def test_trajectory_equal(engines):
    duck, sp = engines
    for kw in ({"id_number": P2_ID}, {"id_number": P1_ID, "plate": "粤B12345", "phone": "13800138000"},
               {"plate": "粤B66666", "since": local(2026, 1, 13, 0)}):  # fmt: skip
        a, b = trajectory(duck, **kw), trajectory(sp, **kw)
        assert a.num_rows > 0
        same(a, b, ["at", "source", "record_id"])


def test_co_presence_equal(engines):
    duck, sp = engines
    a = co_presence(duck, CASES, dt_minutes=30, dd_m=300, k=1)
    b = co_presence(sp, CASES, dt_minutes=30, dd_m=300, k=1)
    assert a.num_rows >= 4 and max(a.column("n_cases").to_pylist()) == 2
    same(a, b, ["entity_type", "entity"])
    for x, y in zip(a.column("evidence").to_pylist(), b.column("evidence").to_pylist(), strict=True):
        for ex, ey in zip(x, y, strict=True):
            assert math.isclose(ex["distance_m"], ey["distance_m"], rel_tol=1e-12)


def test_high_risk_origin_equal(engines):
    duck, sp = engines
    w = {"since": local(2026, 1, 1, 0), "until": local(2026, 2, 1, 0)}
    for prefixes, sources in ((["43", "4405", "440304"], None), (["43"], ["internet_cafe", "hotel_checkin"])):
        a = high_risk_origin(duck, prefixes, sources=sources, **w)
        b = high_risk_origin(sp, prefixes, sources=sources, **w)
        assert a.num_rows > 0
        same(a, b, ["region_prefix", "local_day", "venue_code"])


def test_spark_sql_is_a_translation():
    from zhihui.intel.tactics import HITS_SQL, PAIRS_SQL, TOUCHED_SQL

    spark_sql = to_spark(PAIRS_SQL)
    assert "LEVENSHTEIN" in spark_sql and "COLLECT_LIST" in spark_sql
    assert ":since" in to_spark(TOUCHED_SQL) and "$" not in to_spark(TOUCHED_SQL)
    assert "MATERIALIZED" not in to_spark(HITS_SQL)
