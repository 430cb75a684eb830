"""两库 tables: key persons (重点人员库) and leads (情报线索库); the ingest and collision bookkeeping.

Activity records themselves live in Parquet (see :mod:`zhihui.intel.schema`): 10^8 hotel, café and
checkpoint rows are columnar data, not OLTP rows. The database keeps what people edit and what must
survive a crash with the instruction it caused: the lists, the batches, each collision hit and its 核查指令.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhihui.core.clock import utcnow
from zhihui.core.store import Base, UTCDateTime


class KeyPerson(Base):
    __tablename__ = "key_persons"
    __table_args__ = (
        Index("ix_key_persons_id_number", "id_number"),
        Index("ix_key_persons_name_key", "name_key", "birth_date"),
        Index("ix_key_persons_category", "category", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str | None] = mapped_column(String(128))  # toneless pinyin, for fuzzy look-ups
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)  # 曾用名/绰号
    id_number: Mapped[str | None] = mapped_column(String(18))
    other_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # further 证件号 (old or forged IDs)
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(1))
    category: Mapped[str] = mapped_column(String(32))  # 在逃 / 吸毒人员 / 涉稳 / 前科 / 精神障碍肇事肇祸 …
    control_level: Mapped[str] = mapped_column(String(16))  # 一级 / 二级 / 三级 (管控级别)
    phones: Mapped[list[str]] = mapped_column(JSON, default=list)
    plates: Mapped[list[str]] = mapped_column(JSON, default=list)
    addresses: Mapped[list[str]] = mapped_column(JSON, default=list)
    hukou_code: Mapped[str | None] = mapped_column(String(6))  # GB/T 2260, from the ID
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))  # 责任派出所
    officer: Mapped[str | None] = mapped_column(String(64))  # 责任民警
    status: Mapped[str] = mapped_column(String(16), default="active")  # active / archived (撤管)
    note: Mapped[str] = mapped_column(Text, default="")
    # "|13800138001|粤B12345|…|": phones, plates, further IDs and alias keys, for a plain LIKE on any backend
    # (JSON text is escaped differently by SQLite and PostgreSQL).
    search_keys: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def refresh_search_keys(self) -> None:
        from zhihui.intel.normalise import name_key

        alias_keys = [k for a in self.aliases or [] if (k := name_key(a))]
        parts = [*(self.phones or []), *(self.plates or []), *(self.other_ids or []), *alias_keys]
        self.search_keys = "|" + "|".join(parts) + "|" if parts else ""


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (Index("ix_leads_status", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # 群众举报 / 特情 / 网络巡查 / 研判发现 / 上级通报 …
    credibility: Mapped[str] = mapped_column(String(1))  # A 可靠 … D 待核
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    person_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # key_persons.id
    incident_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    places: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # {name, lat, lon}
    status: Mapped[str] = mapped_column(String(16), default="new")  # new / verifying / confirmed / dismissed
    instruction_id: Mapped[int | None] = mapped_column(ForeignKey("instructions.id"))  # its 核查指令, if any
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class IngestBatch(Base):
    __tablename__ = "ingest_batches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the ingest batch id
    file_name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    mapping: Mapped[str] = mapped_column(String(64))
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    rows_in: Mapped[int] = mapped_column(Integer)
    rows_ok: Mapped[int] = mapped_column(Integer)
    rows_quarantined: Mapped[int] = mapped_column(Integer)
    rows_skipped_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    reasons: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CollisionRun(Base):
    __tablename__ = "collision_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    trigger: Mapped[str] = mapped_column(String(16))  # manual / schedule / ingest
    batch_id: Mapped[str | None] = mapped_column(String(64))
    rules: Mapped[list[str]] = mapped_column(JSON, default=list)
    watchlist_size: Mapped[int] = mapped_column(Integer, default=0)
    activity_rows: Mapped[int] = mapped_column(Integer, default=0)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    new_hits: Mapped[int] = mapped_column(Integer, default=0)
    instructions: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CollisionHit(Base):
    """One (rule, activity record, key person) hit, kept once however many runs see it again."""

    __tablename__ = "collision_hits"
    __table_args__ = (Index("ix_collision_hits_status", "status", "first_seen_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hit_key: Mapped[str] = mapped_column(String(64), unique=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("collision_runs.id"))  # the run that first found it
    last_run_id: Mapped[int] = mapped_column(Integer)
    rule_code: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int] = mapped_column(ForeignKey("key_persons.id"), index=True)
    record_id: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    match_type: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    venue_code: Mapped[str | None] = mapped_column(String(64))
    venue_name: Mapped[str | None] = mapped_column(String(200))
    room: Mapped[str | None] = mapped_column(String(64))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    group_key: Mapped[str | None] = mapped_column(String(128))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))  # station the 核查指令 went to
    instruction_id: Mapped[int | None] = mapped_column(ForeignKey("instructions.id"))
    status: Mapped[str] = mapped_column(String(16), default="new")  # new / instructed / no_station / historical
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PersonRelation(Base):
    """A relation an analyst records from a file, not from activity: 亲属 (family, e.g. from 户籍) or 同案
    (co-offending, from a case file). Withdrawn, not deleted: the graph forgets it, the record stays."""

    __tablename__ = "person_relations"
    __table_args__ = (UniqueConstraint("a", "b", "kind", name="uq_person_relations_pair"),
                      Index("ix_person_relations_b", "b"))

    id: Mapped[int] = mapped_column(primary_key=True)
    a: Mapped[str] = mapped_column(String(18))  # ID numbers, a < b
    b: Mapped[str] = mapped_column(String(18))
    kind: Mapped[str] = mapped_column(String(16))  # family / co_offending
    detail: Mapped[str] = mapped_column(String(200), default="")  # 父子, 夫妻 … or the 案件编号
    source: Mapped[str] = mapped_column(String(64), default="")  # 户籍信息 / 案卷 / 研判 …
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_reason: Mapped[str | None] = mapped_column(String(200))
