"""Database access: one async engine per process, one transaction per use case.

SQLite (embedded default) runs in WAL mode with synchronous=FULL so that a commit acknowledged to a
caller survives power loss; writes are serialised through a single pooled connection, which is also
how SQLite works underneath. PostgreSQL keeps synchronous_commit=on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, MetaData, event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.types import TypeDecorator

from zhihui.core.clock import as_utc
from zhihui.core.errors import NotFound

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


T = TypeVar("T")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


READ_ONLY = "zhihui_read_only"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            echo=echo,
            poolclass=AsyncAdaptedQueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            connect_args={"timeout": 30, "isolation_level": None},
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers take the lock up front: no lock upgrades, no SQLITE_BUSY mid-transaction when
            # another process (the CLI, a second server) writes too. Readers use WAL snapshots.
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # No pre-ping: it would cost a round trip per checkout; stale connections are recycled instead.
    return create_async_engine(url, echo=echo, pool_size=20, max_overflow=10, pool_recycle=1800)


async def fetch(session: AsyncSession, model: type[T], ident: int, entity: str, *, lock: bool = False) -> T:
    """One row by primary key, optionally locked (SELECT ... FOR UPDATE; a no-op on SQLite, whose
    writers already hold the database lock); NotFound naming the entity when it does not exist."""
    stmt = select(model).where(model.id == ident)  # type: ignore[attr-defined]
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound(entity, ident)
    return row


class Database:
    """Engine plus session factory; `tx()` is one unit of work that commits or rolls back."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        import zhihui.core.schema  # noqa: F401  (every mapper must be known before the first flush)

        self.url = url
        self.engine = make_engine(url, echo=echo)
        # Facts learnt about this database (e.g. sequences known to exist), never shared across databases.
        self.cache: dict[str, Any] = {}
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries only (on SQLite it does not take the write lock)."""
        async with self.sessions() as session:
            await session.connection(execution_options={READ_ONLY: True})
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
