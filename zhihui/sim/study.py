"""`zhihui sim study`: the same simulated day under several dispatch policies and staffing levels.

Each run gets its own fresh sandbox database and server (the real application, in this process,
on a loopback port), the same synthetic city and the same call stream; the discrete-event
simulator (zhihui.sim.des) drives it through the API, and the figures are read back from the
server's timeline. The report (zhihui.sim.report) answers "how many patrol cars does the area
need to reach 90 % of calls within 5 minutes, and what does road-time dispatch buy us?".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn

from zhihui.api.app import create_app
from zhihui.core.clock import SHANGHAI
from zhihui.core.config import load_settings, sqlite_url
from zhihui.core.migrate import upgrade
from zhihui.core.store import Database
from zhihui.dispatch.recommend import default_graph_path
from zhihui.geo.roads import RoadGraph, load_graphml
from zhihui.incidents.categories import categories
from zhihui.sim.callgen import SimCall, generate_calls
from zhihui.sim.des import POLICIES, CommandCentreSim, Policy, read_timeline
from zhihui.sim.seed import seed_demo

log = logging.getLogger("zhihui.sim.study")

# A Monday 00:00 in Beijing: a study day starts at midnight so the profile's quiet hours come first.
DEFAULT_START = datetime(2026, 3, 2, 0, 0, tzinfo=SHANGHAI).astimezone(UTC)


@contextlib.asynccontextmanager
async def served(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve `app` with uvicorn in this event loop on a loopback port; yields the base URL."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, log_config=None,
                            lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(), name="uvicorn")
    while not server.started and not task.done():  # noqa: ASYNC110  (uvicorn exposes only a flag)
        await asyncio.sleep(0.02)
    if task.done():
        raise RuntimeError("the API server did not start")
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        await task


async def prepare(url: str, units_per_station: int, seed: int) -> None:
    await upgrade(url)
    db = Database(url)
    try:
        async with db.tx() as session:
            await seed_demo(session, units_per_station=units_per_station, seed=seed)
    finally:
        await db.dispose()


def _summary_line(run: dict[str, Any]) -> str:
    from zhihui.sim.report import fmt_min, fmt_pct, summarise

    m = summarise(run)
    return (f"{run['name']}: {m['n_incidents']} incidents, {m['n_arrived']} reached; arrival p50 "
            f"{fmt_min(m['p50_arrival_s'])} min, p90 {fmt_min(m['p90_arrival_s'])} min, within 5 min "
            f"{fmt_pct(m['share_within_5min'])}; {run['api_calls']} API calls in {run['wall_s']:.0f} s")


async def run_live(*, seed: int = 1, hours: float = 24.0, calls_per_day: float = 300.0, policy: Policy = "road",
                   speed: float | None = 60.0, host: str = "127.0.0.1", port: int = 8000, units_per_station: int = 4,
                   database: Path = Path("var") / "sim.db", start: datetime = DEFAULT_START) -> int:
    """`zhihui sim run`: a sandbox command centre on `database` (recreated) with the console at
    http://host:port/, and a simulated day played on it at `speed` (None: as fast as possible)."""
    from zhihui.sim.seed import DEMO_PASSWORD

    try:
        graph = await _road_graph()
    except FileNotFoundError as exc:
        log.error("%s", exc)
        return 1
    await asyncio.to_thread(database.parent.mkdir, parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        await asyncio.to_thread(Path(f"{database}{suffix}").unlink, missing_ok=True)
    calls = generate_calls(seed=seed, start=start, hours=hours, calls_per_day=calls_per_day)
    pace = "as fast as possible" if not speed else f"×{speed:g} ({speed / 60:g} simulated min per wall second)"

    def banner(base: str) -> None:
        print(f"沙箱指挥中心 sandbox command centre: {base}/  (accounts as in `zhihui demo`, "
              f"password {DEMO_PASSWORD})\n"
              f"playing {hours:g} simulated hours, {len(calls)} calls, policy {policy}, {pace}", flush=True)

    last = [-1]

    def progress(h: float) -> None:
        if int(h) > last[0]:
            last[0] = int(h)
            log.info("simulated %s", (start + timedelta(hours=h)).astimezone(SHANGHAI).strftime("%m-%d %H:00"))

    # run_one logs the run's summary line when it is done.
    await run_one(calls, graph, policy=policy, units_per_station=units_per_station, start=start, hours=hours,
                  seed=seed, url=sqlite_url(database), speed=speed, progress=progress, host=host, port=port,
                  on_serving=banner)
    return 0


async def _road_graph(path: Path | None = None) -> RoadGraph:
    path = path or default_graph_path()
    if path is None or not await asyncio.to_thread(Path(path).exists):
        raise FileNotFoundError("no road graph: set ZHIHUI_ROAD_GRAPH or keep ../shared/data beside the checkout")
    return load_graphml(path)


async def run_one(calls: Sequence[SimCall], graph: RoadGraph, *, policy: Policy, units_per_station: int,
                  start: datetime, hours: float, seed: int, url: str, speed: float | None = None,
                  progress: Callable[[float], None] | None = None, host: str = "127.0.0.1", port: int = 0,
                  on_serving: Callable[[str], None] | None = None) -> dict[str, Any]:
    """One run on the empty database at `url` (migrated and seeded here): the study's run record
    (see zhihui.sim.report). `on_serving(base_url)` is told where the sandbox listens before it plays."""
    await prepare(url, units_per_station, seed)
    settings = load_settings(database_url=url, sandbox=True, sandbox_start=start)
    app = create_app(settings)
    async with served(app, host, port) as base:  # uvicorn runs the app's lifespan (sandbox clock, timers)
        if on_serving is not None:
            on_serving(base)
        sim = CommandCentreSim(base, graph, calls, start=start, hours=hours, policy=policy, seed=seed,
                               speed=speed, progress=progress)
        try:
            result = await sim.run()
            incidents = await read_timeline(base, sim.org_names)
        finally:
            await sim.close()
    run = {
        "name": f"{'道路时间' if policy == 'road' else '直线距离'} {policy}, {units_per_station}/所",
        "policy": policy, "units_per_station": units_per_station, "wall_s": round(result.wall_s, 2),
        "setup_s": round(result.setup_s, 2), "simulated_s": round(result.simulated_s, 1),
        "sim_hours": hours, "api_calls": result.api_calls, "stats": result.stats,
        "incidents": incidents,
        "units": [{k: u[k] for k in ("call_sign", "type", "station", "busy_s", "on_duty_s")} for u in result.units],
    }
    log.info("%s", _summary_line(run))
    return run


async def run_study_async(*, seed: int = 1, hours: float = 24.0, calls_per_day: float = 300.0,
                          staffing: Sequence[int] = (3, 4), policies: Sequence[Policy] = POLICIES,
                          start: datetime = DEFAULT_START, speed: float | None = None,
                          workdir: Path | None = None, graph_path: Path | None = None,
                          show_progress: bool = False) -> dict[str, Any]:
    graph = await _road_graph(graph_path)
    tree = categories()
    calls = generate_calls(seed=seed, start=start, hours=hours, calls_per_day=calls_per_day, tree=tree)
    runs: list[dict[str, Any]] = []
    bar = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(total=round(hours * len(staffing) * len(policies), 2), unit="sim h", dynamic_ncols=True)
    with tempfile.TemporaryDirectory(prefix="zhihui-study-") as tmp:
        work = workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for k in staffing:
            for policy in policies:
                done_before = bar.n if bar is not None else 0.0

                def tick(h: float, base: float = done_before) -> None:
                    if bar is not None:
                        bar.n = round(base + h, 2)
                        bar.refresh()

                db = work / f"{policy}-{k}.db"
                await asyncio.to_thread(db.unlink, missing_ok=True)
                runs.append(await run_one(calls, graph, policy=policy, units_per_station=k, start=start,
                                          hours=hours, seed=seed, url=sqlite_url(db), speed=speed, progress=tick))
    if bar is not None:
        bar.close()
    return {
        "title": "警力配置与派警策略推演 Staffing and dispatch-policy study",
        "seed": seed, "city": "深圳市福田区（中西部） central Futian, Shenzhen",
        "network": "real", "sim_hours": hours, "started_at": start.isoformat(),
        "calls_per_day": calls_per_day, "calls_generated": len(calls),
        "notes": [
            "道路网为 OpenStreetMap 真实路网（福田中西部）；警情、警力与人员行为均为模拟生成。"
            " Roads are the real OpenStreetMap graph of central Futian; calls, units and people are simulated.",
            "每次运行使用全新的沙箱数据库与服务器，经 HTTP API 驱动；指标取自服务器时间线。"
            " Each run has a fresh sandbox server driven over its HTTP API; figures come from the server's timeline.",
            f"到场时间 = 接警至首车到场 (received → on scene); 每所警力含 1 个步巡组 (one foot patrol per station,"
            f" day shift); 种子 seed {seed}.",
        ],
        "runs": runs,
    }
