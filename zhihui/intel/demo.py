"""The demo command centre's 情报 data: a GENERATED population's tagged persons on the key-person lists and
the last two days of their hotel, café and checkpoint records ingested and collided — so the analyst
(yanpan) finds hits and the stations find 核查指令 waiting, as on a real morning shift.

Everything here is invented (see :mod:`zhihui.sim.population`). Idempotent: a database that already has
key persons is left alone.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from zhihui.core.auth import Actor
from zhihui.core.clock import SHANGHAI, utcnow
from zhihui.core.config import Settings
from zhihui.core.store import Database
from zhihui.intel import persons, service
from zhihui.intel.models import KeyPerson

log = logging.getLogger("zhihui.intel")
DEMO_PERSONS = 1500
DEMO_DAYS = 2


async def seed_intel(settings: Settings, *, n_persons: int = DEMO_PERSONS, days: int = DEMO_DAYS,
                     seed: int = 1) -> dict[str, Any] | None:
    """Key persons + ingested activity + one collision run, unless key persons exist already."""
    from zhihui.dispatch.recommend import default_graph_path
    from zhihui.geo.gazetteer import generated_places
    from zhihui.sim.population import generate_population, write_population
    from zhihui.sim.seed import plan_city

    db = Database(settings.database_url)
    try:
        async with db.read() as session:
            if (await session.execute(select(func.count()).select_from(KeyPerson))).scalar_one():
                return None
        graph = default_graph_path()
        if graph is None or not graph.exists():
            log.warning("no road graph: the demo starts without 情报 data")
            return None
        # The window ends at today's Beijing midnight, so the records are yesterday's and the day before's.
        today = utcnow().astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
        pop = generate_population(generated_places(graph), seed=seed, n_persons=n_persons, days=days,
                                  start=today - timedelta(days=days), cameras=plan_city(seed=seed).cameras)
        out = Path(settings.intel_dir) / "demo-population"
        paths = write_population(pop, out)
        system = Actor(None, "demo", "analyst", seat="demo")
        async with db.tx() as session:
            n = await persons.import_sim_persons(session, system, paths["persons"])
        result = await service.ingest_file(db, settings, system, paths["activities"], "sim_activities")
        log.info("情报 demo data: %d key-person entries, %d activity records, %s collision hits → %s 指令 (核查/预警)",
                 n, result["rows_ok"], result.get("collision", {}).get("hits"),
                 result.get("collision", {}).get("instructions"))
        return {"key_persons": n, **result}
    finally:
        await db.dispose()
