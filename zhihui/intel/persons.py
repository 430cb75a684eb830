"""重点人员库 and 情报线索库: keeping the lists, audited look-ups, and the watchlist the tactics read.

Every read of a person record — one record, a search, a collision hit naming a person — is written to
the hash-chained audit log with the user, the time and the stated purpose (查询事由); a look-up
without a purpose is refused. The watchlist export (:func:`export_watchlist`) is what batch collision
joins against: active key persons with their normalised IDs, phones and plates.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field, field_validator
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhihui.core import audit
from zhihui.core.auth import Actor
from zhihui.core.errors import InvalidInput, NotFound
from zhihui.core.orgs import Org
from zhihui.core.schemas import StrictModel
from zhihui.intel import schema
from zhihui.intel.models import KeyPerson, Lead
from zhihui.intel.normalise import doc_key, id_key, name_key, phone_key, plate_key

COMPONENT = "intel"
CATEGORIES = ("在逃", "吸毒人员", "涉毒前科", "涉稳", "前科", "盗窃前科", "诈骗前科", "抢劫前科", "精神障碍肇事肇祸",
              "涉恐", "其他")
CONTROL_LEVELS = ("一级", "二级", "三级")
LEAD_SOURCES = ("群众举报", "特情", "网络巡查", "研判发现", "上级通报", "兄弟单位", "其他")
LEAD_STATUSES = ("new", "verifying", "confirmed", "dismissed")
Purpose = Field(min_length=4, max_length=200, description="查询事由: why this look-up is made (audited)")


class PersonIn(StrictModel):
    name: str = Field(min_length=1, max_length=64)
    id_number: str | None = Field(default=None, max_length=32)
    aliases: list[str] = Field(default_factory=list, max_length=20)
    other_ids: list[str] = Field(default_factory=list, max_length=20)
    birth_date: date | None = None
    sex: Literal["M", "F"] | None = None
    category: str
    control_level: Literal["一级", "二级", "三级"] = "三级"
    phones: list[str] = Field(default_factory=list, max_length=20)
    plates: list[str] = Field(default_factory=list, max_length=20)
    addresses: list[str] = Field(default_factory=list, max_length=20)
    org_id: int | None = None
    officer: str | None = Field(default=None, max_length=64)
    note: str = Field(default="", max_length=4000)

    @field_validator("category")
    @classmethod
    def _category(cls, v: str) -> str:
        if v not in CATEGORIES:
            raise ValueError(f"category must be one of {'、'.join(CATEGORIES)}")
        return v


class PersonPatch(StrictModel):
    control_level: Literal["一级", "二级", "三级"] | None = None
    status: Literal["active", "archived"] | None = None
    phones: list[str] | None = Field(default=None, max_length=20)
    plates: list[str] | None = Field(default=None, max_length=20)
    addresses: list[str] | None = Field(default=None, max_length=20)
    aliases: list[str] | None = Field(default=None, max_length=20)
    org_id: int | None = None
    officer: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=4000)


class LeadIn(StrictModel):
    source: str
    credibility: Literal["A", "B", "C", "D"] = "C"
    title: str = Field(min_length=2, max_length=200)
    content: str = Field(min_length=2, max_length=8000)
    tags: list[str] = Field(default_factory=list, max_length=30)
    person_ids: list[int] = Field(default_factory=list, max_length=100)
    incident_ids: list[int] = Field(default_factory=list, max_length=100)
    places: list[dict[str, Any]] = Field(default_factory=list, max_length=50)

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        if v not in LEAD_SOURCES:
            raise ValueError(f"source must be one of {'、'.join(LEAD_SOURCES)}")
        return v


def _keys(values: Sequence[str], fn: Any, field: str) -> list[str]:
    out = []
    for i, v in enumerate(values):
        k = fn(v)
        if k is None:
            raise InvalidInput(f"{field}.{i}", f"{field}[{i}] '{v}' is not readable")
        if k not in out:
            out.append(k)
    return out


async def _check_org(session: AsyncSession, org_id: int | None) -> None:
    if org_id is not None and await session.get(Org, org_id) is None:
        raise InvalidInput("org_id", f"no organ with id {org_id}")


def build_person(body: PersonIn, created_by: int | None) -> KeyPerson:
    """The KeyPerson a valid entry makes, not yet added: the ID is checked (GB 11643) and gives birth date,
    sex and 户籍 code; phones and plates are normalised. InvalidInput names the field at fault."""
    idn, birth, sex = id_key(body.id_number) if body.id_number else (None, None, None)
    if body.id_number and (idn is None or birth is None):
        raise InvalidInput("id_number", f"'{body.id_number}' is not a valid resident ID (GB 11643 check digit)")
    other = []
    for i, raw in enumerate(body.other_ids):
        # Another 身份证号, or another document: passport, 港澳/台湾通行证, a foreigner's card (exact matches only).
        k = id_key(raw)[0] or doc_key(raw, declared="其他证件")
        if k is None:
            raise InvalidInput(f"other_ids.{i}",
                               f"other_ids[{i}] '{raw}' is neither an ID number nor a document number")
        other.append(k)
    p = KeyPerson(
        name=body.name, name_key=name_key(body.name), aliases=body.aliases, id_number=idn, other_ids=other,
        birth_date=body.birth_date or birth, sex=body.sex or sex, category=body.category,
        control_level=body.control_level, phones=_keys(body.phones, phone_key, "phones"),
        plates=_keys(body.plates, plate_key, "plates"), addresses=body.addresses,
        hukou_code=idn[:6] if idn else None, org_id=body.org_id, officer=body.officer, status="active",
        note=body.note, created_by=created_by,
    )
    p.refresh_search_keys()
    return p


def audit_created(session: AsyncSession, actor: Actor, p: KeyPerson, **detail: Any) -> None:
    audit.append(session, actor, "person.create", component=COMPONENT, target_type="key_person", target_id=p.id,
                 detail={"category": p.category, "control_level": p.control_level, **detail})


async def create_person(session: AsyncSession, actor: Actor, body: PersonIn) -> KeyPerson:
    """A new key person (see `build_person`); one person is on a list (category) once while active."""
    p = build_person(body, actor.user_id)
    if p.id_number and (await session.execute(select(KeyPerson.id).where(
            KeyPerson.id_number == p.id_number, KeyPerson.category == body.category,
            KeyPerson.status == "active"))).first():
        raise InvalidInput("id_number", f"{p.id_number} is already on the {body.category} list")
    await _check_org(session, body.org_id)
    session.add(p)
    await session.flush()
    audit_created(session, actor, p)
    return p


async def update_person(session: AsyncSession, actor: Actor, person_id: int, body: PersonPatch) -> KeyPerson:
    p = await session.get(KeyPerson, person_id, with_for_update=True)
    if p is None:
        raise NotFound("key_person", person_id)
    changes = body.model_dump(exclude_unset=True)
    if "org_id" in changes:
        await _check_org(session, changes["org_id"])
    for field, fn in (("phones", phone_key), ("plates", plate_key)):
        if changes.get(field) is not None:
            changes[field] = _keys(changes[field], fn, field)
    for k, v in changes.items():
        if v is not None or k in ("org_id", "officer"):
            setattr(p, k, v)
    p.refresh_search_keys()
    audit.append(session, actor, "person.update", component=COMPONENT, target_type="key_person", target_id=p.id,
                 detail={"fields": sorted(changes)})
    return p


async def view_person(session: AsyncSession, actor: Actor, person_id: int, purpose: str) -> KeyPerson:
    """One record, logged with the purpose (查询事由)."""
    p = await session.get(KeyPerson, person_id)
    audit.append(session, actor, "person.view", component=COMPONENT, target_type="key_person", target_id=person_id,
                 outcome="success" if p else "not_found", detail={"purpose": purpose})
    if p is None:
        raise NotFound("key_person", person_id)
    return p


async def search_persons(session: AsyncSession, actor: Actor, *, purpose: str, q: str | None = None,
                         category: str | None = None, org_id: int | None = None, status: str = "active",
                         limit: int = 100) -> list[KeyPerson]:
    """Search by name (pinyin-aware), ID, phone or plate; the search and what it returned are logged."""
    stmt = select(KeyPerson).where(KeyPerson.status == status)
    if category:
        stmt = stmt.where(KeyPerson.category == category)
    if org_id is not None:
        stmt = stmt.where(KeyPerson.org_id == org_id)
    if q:
        idn, _, _ = id_key(q)
        conds = [KeyPerson.name.contains(q)]
        if (nk := name_key(q)) is not None:
            conds.append(KeyPerson.name_key == nk)
        if idn:
            conds.append(KeyPerson.id_number == idn)
        for key in (phone_key(q), plate_key(q), idn, name_key(q)):
            if key:
                conds.append(KeyPerson.search_keys.contains(f"|{key}|"))
        stmt = stmt.where(or_(*conds))
    rows = list((await session.execute(stmt.order_by(KeyPerson.id).limit(limit))).scalars())
    audit.append(session, actor, "person.search", component=COMPONENT, target_type="key_person",
                 detail={"purpose": purpose, "q": q, "category": category, "returned": [p.id for p in rows][:100]})
    return rows


def person_out(p: KeyPerson, org_names: dict[int, str] | None = None) -> dict[str, Any]:
    return {
        "id": p.id, "name": p.name, "aliases": p.aliases, "id_number": p.id_number, "other_ids": p.other_ids,
        "birth_date": p.birth_date, "sex": p.sex, "category": p.category, "control_level": p.control_level,
        "phones": p.phones, "plates": p.plates, "addresses": p.addresses, "hukou_code": p.hukou_code,
        "org_id": p.org_id, "org_name": (org_names or {}).get(p.org_id) if p.org_id else None,
        "officer": p.officer, "status": p.status, "note": p.note, "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


# --- the watchlist the tactics join against ---------------------------------------------------------


_EXPORT_STAMP = "exported.json"  # what the files were exported from (see _list_stamp)


async def _list_stamp(session: AsyncSession, orgs: list[tuple[int, str]]) -> dict[str, Any]:
    """What an export depends on, cheaply: the key persons' count, highest id and latest change (every change of a
    person, archiving included, sets updated_at: an ORM and a Core update alike), and the station codes ``orgs``."""
    n, top, changed = (await session.execute(
        select(func.count(), func.max(KeyPerson.id), func.max(KeyPerson.updated_at)))).one()  # fmt: skip
    return {"format": 1, "persons": n, "max_id": top, "changed": changed.isoformat() if changed else None,
            "orgs": hashlib.sha256(json.dumps([list(o) for o in orgs]).encode()).hexdigest()}  # fmt: skip


async def export_watchlist(session: AsyncSession, out_dir: Path) -> tuple[Path, Path, int]:
    """watchlist.parquet and watch_keys.parquet (schema.WATCHLIST / WATCH_KEYS) of the active key persons.

    Every collision run calls this: the files are written again only when the list may have changed since they were
    (a 10^5-person list took 3-4 s to export, every batch's run paid it), and each file is replaced whole."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wl_path, keys_path = out_dir / "watchlist.parquet", out_dir / "watch_keys.parquet"
    orgs = [tuple(r) for r in (await session.execute(select(Org.id, Org.code).order_by(Org.id))).all()]
    stamp = await _list_stamp(session, orgs)
    try:
        done = json.loads((out_dir / _EXPORT_STAMP).read_text())
    except (OSError, ValueError):
        done = None
    if done and done.get("stamp") == stamp and wl_path.exists() and keys_path.exists():
        return wl_path, keys_path, int(done["active"])
    codes = dict(orgs)
    cols = (KeyPerson.id, KeyPerson.category, KeyPerson.control_level, KeyPerson.id_number, KeyPerson.name,
            KeyPerson.name_key, KeyPerson.birth_date, KeyPerson.sex, KeyPerson.org_id, KeyPerson.other_ids,
            KeyPerson.phones, KeyPerson.plates)  # fmt: skip
    # plain rows, not ORM objects: about twice as fast for a large list
    rows = (await session.execute(select(*cols).where(KeyPerson.status == "active").order_by(KeyPerson.id))).all()
    wl: dict[str, list[Any]] = {f.name: [] for f in schema.WATCHLIST}
    keys: dict[str, list[Any]] = {f.name: [] for f in schema.WATCH_KEYS}
    for pid, category, level, id_number, name, nkey, birth, sex, org_id, other_ids, phones, plates in rows:
        key = str(pid)
        for k, v in (("person_key", key), ("category", category), ("control_level", level),
                     ("id_number", id_number), ("name", name), ("name_key", nkey),
                     ("birth_date", birth), ("sex", sex), ("org_code", codes.get(org_id))):  # fmt: skip
            wl[k].append(v)
        for kt, values in (("id_number", [id_number, *(other_ids or [])]), ("phone", phones or []),
                           ("plate", plates or [])):  # fmt: skip
            for v in dict.fromkeys(x for x in values if x):
                keys["person_key"].append(key)
                keys["key_type"].append(kt)
                keys["key_value"].append(v)
    for path, table in ((wl_path, pa.table(wl, schema=schema.WATCHLIST)),
                        (keys_path, pa.table(keys, schema=schema.WATCH_KEYS))):  # fmt: skip
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)  # a run reading the list meanwhile sees the old file or the new, never half of one
    (out_dir / f".{_EXPORT_STAMP}.tmp").write_text(json.dumps({"stamp": stamp, "active": len(rows)}))
    os.replace(out_dir / f".{_EXPORT_STAMP}.tmp", out_dir / _EXPORT_STAMP)
    return wl_path, keys_path, len(rows)


# Simulator tags → list categories (the demo loads the generated population's tagged persons).
SIM_TAGS = {"在逃": "在逃", "吸毒人员": "吸毒人员", "涉毒前科": "涉毒前科", "盗窃前科": "盗窃前科",
            "诈骗前科": "诈骗前科", "抢劫前科": "抢劫前科"}


async def import_sim_persons(session: AsyncSession, actor: Actor, persons_csv: Path,
                             org_id: int | None = None) -> int:
    """Key persons from a GENERATED persons.csv (``zhihui sim city``): one entry per tag."""
    n = 0
    text = Path(persons_csv).read_text(encoding="utf-8")  # noqa: ASYNC240 - a small demo file, read once
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        for tag in filter(None, (row.get("tags") or "").split("|")):
            if tag not in SIM_TAGS:
                continue
            level = "一级" if tag == "在逃" else "二级" if tag == "吸毒人员" else "三级"
            await create_person(session, actor, PersonIn(
                name=row["name"], id_number=row["id_number"], category=SIM_TAGS[tag], control_level=level,
                phones=[row["phone"]] if row.get("phone") else [],
                plates=[row["plate"]] if row.get("plate") else [],
                addresses=[row["address"]] if row.get("address") else [], org_id=org_id,
                note="GENERATED demo person (zhihui sim city)"))
            n += 1
    return n


# --- leads ------------------------------------------------------------------------------------------------


async def create_lead(session: AsyncSession, actor: Actor, body: LeadIn) -> Lead:
    for i, pid in enumerate(body.person_ids):
        if await session.get(KeyPerson, pid) is None:
            raise InvalidInput(f"person_ids.{i}", f"no key person with id {pid}")
    for i, place in enumerate(body.places):
        lat, lon = place.get("lat"), place.get("lon")
        if lat is not None and not (isinstance(lat, int | float) and -90 <= lat <= 90
                                    and isinstance(lon, int | float) and -180 <= lon <= 180):
            raise InvalidInput(f"places.{i}", "a place needs lat in [-90, 90] and lon in [-180, 180]")
    lead = Lead(source=body.source, credibility=body.credibility, title=body.title, content=body.content,
                tags=body.tags, person_ids=body.person_ids, incident_ids=body.incident_ids, places=body.places,
                status="new", created_by=actor.user_id)
    session.add(lead)
    await session.flush()
    audit.append(session, actor, "lead.create", component=COMPONENT, target_type="lead", target_id=lead.id,
                 detail={"source": body.source, "credibility": body.credibility, "persons": body.person_ids})
    return lead


async def set_lead_status(session: AsyncSession, actor: Actor, lead_id: int, status: str, note: str = "") -> Lead:
    if status not in LEAD_STATUSES:
        raise InvalidInput("status", f"status must be one of {', '.join(LEAD_STATUSES)}")
    lead = await session.get(Lead, lead_id, with_for_update=True)
    if lead is None:
        raise NotFound("lead", lead_id)
    previous, lead.status = lead.status, status
    audit.append(session, actor, "lead.status", component=COMPONENT, target_type="lead", target_id=lead.id,
                 detail={"from": previous, "to": status, "note": note})
    return lead


def lead_out(lead: Lead) -> dict[str, Any]:
    return {k: getattr(lead, k) for k in ("id", "source", "credibility", "title", "content", "tags", "person_ids",
                                          "incident_ids", "places", "status", "instruction_id", "created_at",
                                          "updated_at")}
