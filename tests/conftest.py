"""Test fixtures. The suite runs against SQLite by default and against PostgreSQL when
ZHIHUI_TEST_DB=postgresql (server URL in ZHIHUI_TEST_PG_URL, default the local server)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from zhihui.api.app import create_app
from zhihui.core import auth as auth_module
from zhihui.core.auth import Role, create_user
from zhihui.core.config import load_settings, normalise_url, sqlite_url
from zhihui.core.migrate import upgrade
from zhihui.core.schema import metadata
from zhihui.core.store import Database
from zhihui.dispatch.models import Unit

PASSWORD = "Test#Pass2026"
# Real argon2id, with cheap parameters so that creating users per test stays fast.
auth_module._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
BACKEND = os.environ.get("ZHIHUI_TEST_DB", "sqlite")
PG_SERVER = os.environ.get("ZHIHUI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_TEST_DB = f"zhihui_test_{os.getpid()}"


def pg_url(dbname: str) -> str:
    base = normalise_url(PG_SERVER)
    return base.rsplit("/", 1)[0] + "/" + dbname


async def _pg_admin(sql: str) -> None:
    engine = create_async_engine(normalise_url(PG_SERVER), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def backend() -> str:
    return BACKEND


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Migrate once per session: a template SQLite file, or a fresh PostgreSQL database."""
    if BACKEND == "postgresql":
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_TEST_DB}"'))
        asyncio.run(_pg_admin(f'CREATE DATABASE "{PG_TEST_DB}"'))
        url = pg_url(PG_TEST_DB)
        asyncio.run(upgrade(url))
        yield url
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_TEST_DB}" WITH (FORCE)'))
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        asyncio.run(upgrade(sqlite_url(path)))
        yield path


@pytest.fixture
async def db_url(migrated_template: Any, tmp_path: Path) -> str:
    """A clean, migrated database for each test."""
    if BACKEND == "postgresql":
        url = str(migrated_template)
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            # A test may have switched the audit guard off to play the malicious DBA.
            await conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_guard"))
        await engine.dispose()
        return url
    path = tmp_path / "test.db"
    shutil.copy(migrated_template, path)
    return sqlite_url(path)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Any:
    os.environ.setdefault("ZHIHUI_SECRET_FILE", str(tmp_path / "secret.key"))
    return load_settings(database_url=db_url, secret_key="test-secret-key-not-for-production-use-32b",
                         intel_dir=tmp_path / "intel")


@pytest.fixture
async def app(settings: Any) -> AsyncIterator[Any]:
    application = create_app(settings, background=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


class World:
    """Users of every role plus a few units, and bearer headers for each."""

    def __init__(self) -> None:
        self.headers: dict[str, dict[str, str]] = {}
        self.units: dict[str, int] = {}
        self.officer_unit: int = 0


@pytest.fixture
async def world(app: Any, client: httpx.AsyncClient) -> World:
    return await make_world(app, client)


async def make_world(app: Any, client: httpx.AsyncClient) -> World:
    """Users of every role (password PASSWORD, username = role) and three patrol units."""
    w = World()
    db: Database = app.state.db
    async with db.tx() as session:
        for call_sign, (lat, lon) in {"福田巡01": (22.540, 114.050), "福田巡02": (22.545, 114.060),
                                      "福田巡03": (22.530, 114.040)}.items():
            unit = Unit(call_sign=call_sign, name=call_sign, type="patrol", status="available", lat=lat, lon=lon)
            session.add(unit)
            await session.flush()
            w.units[call_sign] = unit.id
        w.officer_unit = w.units["福田巡01"]
        for role in Role:
            await create_user(session, username=role.value, password=PASSWORD, role=role,
                              unit_id=w.officer_unit if role == Role.OFFICER else None)
    for role in Role:
        r = await client.post("/api/v1/auth/token", data={"username": role.value, "password": PASSWORD})
        assert r.status_code == 200, r.text
        w.headers[role.value] = {"Authorization": f"Bearer {r.json()['access_token']}",
                                 "X-Seat": f"{role.value}-seat-01"}
    return w


def incident_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "channel": "110",
        "caller_phone": "13800138000",
        "caller_name": "张先生",
        "address": "深圳市福田区深南大道6008号",
        "lat": 22.5405,
        "lon": 114.0553,
        "category_code": "02",
        "description": "有人在商场门口打架，双方约五六人",
    }
    body.update(overrides)
    return body


@pytest.fixture
async def live_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The same app behind a real uvicorn socket (httpx's ASGI transport buffers whole bodies, so
    streaming needs a real server)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  (uvicorn exposes only a flag)
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
        yield c
    server.should_exit = True
    await task


# Modules that touch no database (besides those marked `dbfree`): parsers, geometry, generators, models.
DBFREE = ("tests/intake/", "tests/geo/", "tests/incidents/", "tests/analytics/test_hotspots.py",
          "tests/analytics/test_warnings.py", "tests/sim/test_callgen.py", "tests/sim/test_city.py",
          "tests/sim/test_population.py", "tests/sim/test_report.py", "tests/test_roadgen.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `make test` runs the suite twice, once per database; tests that touch none need to run only once.
    if BACKEND != "postgresql":
        return
    skip = pytest.mark.skip(reason="touches no database: covered by the SQLite pass")
    root = Path(__file__).resolve().parent.parent
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(root).as_posix()
        if item.get_closest_marker("dbfree") or rel.startswith(DBFREE):
            item.add_marker(skip)
