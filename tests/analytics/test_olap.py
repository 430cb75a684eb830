"""The warehouse path (Parquet + DuckDB) gives the live path's numbers on the same incidents."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.analytics.test_stats_api import BJ_DAY, _world_of_calls, sb  # noqa: F401  (fixture)
from zhihui.analytics import olap, stats


async def test_counts_and_kpis_match_the_live_path(sb: Any, tmp_path: Path) -> None:  # noqa: F811
    c, w = sb
    await _world_of_calls(c, w)
    db = c._transport.app.state.db  # type: ignore[attr-defined]
    async with db.read() as session:
        paths = await olap.export(session, tmp_path)
        a, b = BJ_DAY, BJ_DAY + timedelta(days=1)
        live = {by: await stats.statistics(session, a, b, by) for by in stats.GROUPS}
        live_police = await stats.statistics(session, a, b, "category", police_only=True)
        live_kpi = {by: await stats.kpis(session, a, b, by) for by in ("overall", "shift")}
    con = olap.connect(paths["incidents"], paths["orders"])
    for by in stats.GROUPS:
        got = olap.counts(con, a, b, by)
        want = live[by]
        for k in ("total", "previous_total", "year_before_total", "mom_change", "yoy_change"):
            assert got[k] == want[k], (by, k)
        strip = [{k: v for k, v in g.items() if k != "label"} for g in want["groups"]]
        assert got["groups"] == strip, by
    assert olap.counts(con, a, b, "category", police_only=True)["total"] == live_police["total"] == 2
    for by, want in live_kpi.items():
        got = {g["group"]: g for g in olap.kpi_percentiles(con, a, b, by)}
        for g in want["groups"]:
            mine = got[g["group"]]
            for m in ("answer_to_dispatch", "dispatch_to_sign", "received_to_arrival"):
                assert mine[m] == g[m], (by, g["group"], m)
            assert mine["incidents"] == g["incidents"] and mine["orders"] == g["orders"]
    with pytest.raises(ValueError, match="by must be"):
        olap.counts(con, a, b, "colour")
