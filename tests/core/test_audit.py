"""The audit log is append-only and tamper-evident."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from zhihui.core import audit
from zhihui.core.auth import Actor
from zhihui.core.store import Database

ALICE = Actor(user_id=1, username="alice", role="dispatcher", seat="调度席02", ip="10.1.1.5")


async def _write(db: Database, n: int) -> None:
    async with db.tx() as session:
        for i in range(n):
            audit.append(session, ALICE, "incident.create", component="incidents", target_type="incident",
                         target_id=i, detail={"number": f"J{i:05d}", "注": "中文"})
    async with db.tx() as session:
        await audit.seal(session)


async def _drop_guards(db: Database) -> None:
    """What a DBA with full rights could do first; the hash chain must still tell."""
    async with db.tx() as session:
        if db.dialect == "postgresql":
            await session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard"))
        else:
            await session.execute(text("DROP TRIGGER audit_log_no_delete"))
            await session.execute(text("DROP TRIGGER audit_log_no_update"))


async def _verify(db: Database) -> audit.VerifyReport:
    async with db.read() as session:
        return await audit.verify(session)


async def test_chain_verifies(db: Database) -> None:
    await _write(db, 5)
    await _write(db, 3)
    report = await _verify(db)
    assert report.ok, report.problems
    assert report.rows == report.sealed == 8


async def test_database_refuses_update_and_delete_of_sealed_rows(db: Database) -> None:
    await _write(db, 2)
    with pytest.raises((DBAPIError, IntegrityError)):
        async with db.tx() as session:
            await session.execute(text("DELETE FROM audit_log WHERE chain_seq = 1"))
    with pytest.raises((DBAPIError, IntegrityError)):
        async with db.tx() as session:
            await session.execute(text("UPDATE audit_log SET username = 'mallory' WHERE chain_seq = 1"))
    assert (await _verify(db)).ok


async def test_edited_row_is_detected(db: Database) -> None:
    await _write(db, 5)
    await _drop_guards(db)
    async with db.tx() as session:
        await session.execute(text("UPDATE audit_log SET username = 'mallory' WHERE chain_seq = 3"))
    report = await _verify(db)
    assert not report.ok
    assert any("chain_seq=3" in p and "content changed" in p for p in report.problems), report.problems


async def test_deleted_row_is_detected(db: Database) -> None:
    await _write(db, 5)
    await _drop_guards(db)
    async with db.tx() as session:
        await session.execute(text("DELETE FROM audit_log WHERE chain_seq = 2"))
    report = await _verify(db)
    assert not report.ok
    assert any("missing" in p for p in report.problems), report.problems


async def test_deleted_tail_is_detected(db: Database) -> None:
    await _write(db, 5)
    await _drop_guards(db)
    async with db.tx() as session:
        await session.execute(text("DELETE FROM audit_log WHERE chain_seq = 5"))
    report = await _verify(db)
    assert not report.ok
    assert any("tail" in p for p in report.problems), report.problems


async def test_rows_written_after_a_seal_join_the_chain(db: Database) -> None:
    await _write(db, 2)
    async with db.tx() as session:
        audit.append(session, ALICE, "person.read", component="intel", detail={"purpose": "案件侦办"})
    report = await _verify(db)
    assert report.ok and report.unsealed == 1  # within the grace period, not a problem yet
    async with db.tx() as session:
        assert await audit.seal(session) == 1
    assert (await _verify(db)).sealed == 3
