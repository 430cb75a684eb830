"""The FastAPI application: routers under /api/v1, background timers, lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from zhihui import __version__, web
from zhihui.api import (
    admin,
    analytics,
    auth,
    errors,
    geo,
    incidents,
    instructions,
    intake,
    intel,
    sandbox,
    stream,
    units,
)
from zhihui.core import audit
from zhihui.core.bus import Bus
from zhihui.core.clock import use_sim_clock, use_wall_clock, utcnow
from zhihui.core.config import Settings, load_settings
from zhihui.core.store import Database
from zhihui.instructions.service import scan_overdue
from zhihui.intake.duplicates import DupParams

log = logging.getLogger("zhihui")


async def overdue_loop(db: Database, bus: Bus, interval: float) -> None:
    """Marks instructions past their deadlines and raises escalation events."""
    while True:
        try:
            async with db.tx() as session:
                n = await scan_overdue(session, utcnow())
            if n:
                log.info("escalated %d overdue instruction deadline(s)", n)
                bus.committed()
        except Exception:
            log.exception("overdue scan failed; retrying")
        await asyncio.sleep(interval)


async def seal_loop(db: Database, interval: float) -> None:
    while True:
        try:
            async with db.tx() as session:
                await audit.seal(session)
        except Exception:
            log.exception("audit sealing failed; retrying")
        await asyncio.sleep(interval)


async def warm_models(app: FastAPI) -> None:
    """Load the gazetteer and train or load the type model before the first call needs them; then the
    series linker (串并案), which the analysts' first suggestion would otherwise wait ~15 s for."""
    try:
        await intake.ensure_warm(app)
    except Exception:
        log.exception("intake analysis warm-up failed; it will be retried on first use")
    try:
        from zhihui.intel.service import series_linker

        await series_linker()
    except Exception:
        log.exception("series linker warm-up failed; it will be retried on first use")


def create_app(settings: Settings | None = None, *, background: bool = True) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.sandbox:
            use_sim_clock(settings.sandbox_start)
            log.warning("SANDBOX server: simulated clock from %s (PUT /api/v1/sandbox/clock moves it)", utcnow())
        db = Database(settings.database_url)
        app.state.db = db
        app.state.bus = Bus()
        app.state.road_network = None
        app.state.road_network_lock = asyncio.Lock()
        app.state.intake_warm_lock = asyncio.Lock()
        app.state.dup_params = DupParams.from_env()
        tasks: list[asyncio.Task[None]] = []
        if background:
            tasks.append(asyncio.create_task(overdue_loop(db, app.state.bus, settings.scheduler_interval_s)))
            tasks.append(asyncio.create_task(seal_loop(db, settings.audit_seal_interval_s)))
            tasks.append(asyncio.create_task(warm_models(app)))
            if settings.collision_times:  # 批量比对碰撞 "每天两次": new hits become 核查指令 at each slot
                from zhihui.intel.service import collision_loop

                tasks.append(asyncio.create_task(collision_loop(db, settings, app.state.bus)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(Exception):
                async with db.tx() as session:
                    await audit.seal(session)
            await db.dispose()
            if settings.sandbox:
                use_wall_clock()

    app = FastAPI(
        title="zhihui 情指行一体化平台",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
    )
    app.state.settings = settings
    errors.install(app)
    for module in (auth, incidents, intake, units, instructions, geo, stream, admin, analytics, intel):
        app.include_router(module.router, prefix="/api/v1")
    if settings.sandbox:
        app.include_router(sandbox.router, prefix="/api/v1")

    @app.get("/api/v1/health", tags=["meta"])
    async def health() -> dict[str, object]:
        # `now` lets a screen follow a sandbox's simulated clock (its timers and the header clock).
        return {"status": "ok", "version": __version__, "db": app.state.db.dialect, "sandbox": settings.sandbox,
                "now": utcnow()}

    web.install(app)  # the console at /, the officers' phone page at /m

    return app
