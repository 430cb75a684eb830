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

from tests.intel.test_tactics import CASES, P1_ID, P2_ID, build_tables, local
from zhihui.intel.rules import load_rules
from zhihui.intel.tactics import (
    DuckDBEngine,
    SparkEngine,
    co_presence,
    collide,
    high_risk_origin,
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
    spark = spark_session("local[2]", shuffle_partitions=2, app_name="zhihui-test")
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
    w = {"since": local(2026, 1, 6, 0), "until": local(2026, 1, 8, 0)}
    same(collide(duck, rules, **w), collide(sp, rules, **w), ["hit_key"])


def test_collide_with_rescorer_equal(engines):
    duck, sp = engines

    def rescore(pairs: pa.Table) -> pa.Table:  # keep the pairs whose ID differs by one edit, at full score
        keep = [e <= 1 for e in pairs.column("id_edits").to_pylist()]
        kept = pairs.filter(pa.array(keep))
        return kept.set_column(kept.schema.get_field_index("score"), "score", pa.array([1.0] * kept.num_rows))

    a, b = collide(duck, load_rules(), rescore=rescore), collide(sp, load_rules(), rescore=rescore)
    same(a, b, ["hit_key"])
    assert {r["score"] for r in a.to_pylist() if r["match_type"] == "fuzzy_identity"} == {1.0}


def test_trajectory_equal(engines):
    duck, sp = engines
    for kw in ({"id_number": P2_ID}, {"id_number": P1_ID, "plate": "粤B12345", "phone": "13800138000"},
               {"plate": "粤B66666", "since": local(2026, 1, 13, 0)}):  # fmt: skip
        a, b = trajectory(duck, **kw), trajectory(sp, **kw)
        assert a.num_rows > 0
        same(a, b, ["at", "source", "record_id"])


def test_co_presence_equal(engines):
    duck, sp = engines
    for k in (1, 2):
        a = co_presence(duck, CASES, dt_minutes=30, dd_m=300, k=k)
        b = co_presence(sp, CASES, dt_minutes=30, dd_m=300, k=k)
        assert a.num_rows > 0
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
    from zhihui.intel.tactics import HITS_SQL, PAIRS_SQL

    spark_sql = to_spark(PAIRS_SQL)
    assert "LEVENSHTEIN" in spark_sql and "COLLECT_LIST" in spark_sql and ":floor" in spark_sql
    assert "$" not in to_spark(HITS_SQL)
