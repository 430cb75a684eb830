"""/intel: 重点人员库, 情报线索库, activity ingestion and the tactics (技战法). Every person look-up states
its purpose (查询事由) and is audited."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select

from zhihui.api.deps import attachment, bus_of, db_of, require, settings_of, unit_of_work
from zhihui.core import audit
from zhihui.core.auth import Actor, Role
from zhihui.core.errors import InvalidInput, NotFound
from zhihui.core.orgs import Org
from zhihui.core.schemas import StrictModel
from zhihui.instructions import service as instructions
from zhihui.instructions.domain import InstructionKind
from zhihui.intel import lookups, persons, relations, service
from zhihui.intel.models import CollisionHit, CollisionRun, IngestBatch, KeyPerson, Lead
from zhihui.intel.rules import load_rules

router = APIRouter(prefix="/intel", tags=["intel"])
ANALYSTS = (Role.ANALYST, Role.COMMANDER, Role.LEADER, Role.ADMIN)
EDITORS = (Role.ANALYST, Role.ADMIN)
PurposeQ = Annotated[str, Query(min_length=4, max_length=200, description="查询事由 (audited)")]


async def _org_names(session: Any) -> dict[int, str]:
    return dict((await session.execute(select(Org.id, Org.name))).all())


@router.post("/persons", status_code=201)
async def create_person(request: Request, body: persons.PersonIn,
                        actor: Annotated[Actor, Depends(require(*EDITORS))]) -> dict:
    async with unit_of_work(request) as session:
        p = await persons.create_person(session, actor, body)
        return persons.person_out(p, await _org_names(session))


@router.post("/persons/import")
async def import_persons(request: Request, actor: Annotated[Actor, Depends(require(*EDITORS))],
                         file: UploadFile, dry_run: Annotated[bool, Form()] = False,
                         org_id: Annotated[int | None, Form()] = None) -> dict:
    """重点人员批量导入: a .csv (UTF-8 or GBK) or .xlsx list; each bad row is reported with its line, field and
    reason, persons already on the list are not duplicated; dry_run checks without adding."""
    from zhihui.intel import person_files

    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise InvalidInput("file", f"the file is larger than {MAX_UPLOAD >> 20} MiB")
    async with unit_of_work(request) as session:
        return await person_files.import_persons(session, actor, data, Path(file.filename or "upload.csv").name,
                                                  dry_run=dry_run, org_id=org_id)


@router.get("/persons")
async def search_persons(request: Request, actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                         purpose: PurposeQ, q: Annotated[str | None, Query(max_length=64)] = None,
                         category: str | None = None, org_id: int | None = None,
                         status: Literal["active", "archived"] = "active",
                         limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict]:
    async with unit_of_work(request) as session:  # writes the audit row of the search
        rows = await persons.search_persons(session, actor, purpose=purpose, q=q, category=category,
                                            org_id=org_id, status=status, limit=limit)
        names = await _org_names(session)
        return [persons.person_out(p, names) for p in rows]


@router.get("/persons/export")
async def export_persons(request: Request, actor: Annotated[Actor, Depends(require(*ANALYSTS))], purpose: PurposeQ,
                         category: str | None = None, org_id: int | None = None,
                         status: Literal["active", "archived"] = "active",
                         format: Literal["xlsx", "csv"] = "xlsx") -> Response:
    """导出名单: the list (filters as the search's) as Excel or CSV with the import's headers; a look-up of every
    person in it (audited with the purpose)."""
    from zhihui.intel import person_files

    async with unit_of_work(request) as session:
        data, name, media = await person_files.export_persons(session, actor, purpose=purpose, category=category,
                                                              org_id=org_id, status=status, fmt=format)
    return Response(data, media_type=media, headers=attachment(f"key-persons.{format}", name))


@router.get("/persons/{person_id}")
async def view_person(request: Request, person_id: int, purpose: PurposeQ,
                      actor: Annotated[Actor, Depends(require(*ANALYSTS))]) -> dict:
    # The look-up is logged even when the record does not exist, so the audit row is committed first.
    async with unit_of_work(request) as session:
        try:
            p = await persons.view_person(session, actor, person_id, purpose)
        except NotFound:
            p = None
        out = persons.person_out(p, await _org_names(session)) if p else None
    if out is None:
        raise NotFound("key_person", person_id)
    return out


@router.patch("/persons/{person_id}")
async def update_person(request: Request, person_id: int, body: persons.PersonPatch,
                        actor: Annotated[Actor, Depends(require(*EDITORS))]) -> dict:
    async with unit_of_work(request) as session:
        p = await persons.update_person(session, actor, person_id, body)
        return persons.person_out(p, await _org_names(session))


@router.post("/leads", status_code=201)
async def create_lead(request: Request, body: persons.LeadIn,
                      actor: Annotated[Actor, Depends(require(*EDITORS))]) -> dict:
    async with unit_of_work(request) as session:
        return persons.lead_out(await persons.create_lead(session, actor, body))


@router.get("/leads")
async def list_leads(request: Request, _actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                     status: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict]:
    stmt = select(Lead).order_by(Lead.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Lead.status == status)
    async with db_of(request).read() as session:
        return [persons.lead_out(x) for x in (await session.execute(stmt)).scalars()]


class LeadStatusBody(StrictModel):
    status: Literal["new", "verifying", "confirmed", "dismissed"]
    note: str = Field(default="", max_length=2000)


@router.post("/leads/{lead_id}/status")
async def lead_status(request: Request, lead_id: int, body: LeadStatusBody,
                      actor: Annotated[Actor, Depends(require(*EDITORS))]) -> dict:
    async with unit_of_work(request) as session:
        return persons.lead_out(await persons.set_lead_status(session, actor, lead_id, body.status, body.note))


class VerifyBody(StrictModel):
    org_id: int
    content: str | None = Field(default=None, max_length=4000)
    feedback_minutes: int = Field(default=60, ge=10, le=7 * 24 * 60)


@router.post("/leads/{lead_id}/verify", status_code=201)
async def verify_lead(request: Request, lead_id: int, body: VerifyBody,
                      actor: Annotated[Actor, Depends(require(*EDITORS))]) -> dict:
    """核查指令 from a lead to a station, answered through the instruction loop (default within the hour)."""
    async with unit_of_work(request) as session:
        lead = await session.get(Lead, lead_id, with_for_update=True)
        if lead is None:
            raise NotFound("lead", lead_id)
        org = await session.get(Org, body.org_id)
        if org is None:
            raise InvalidInput("org_id", f"no organ with id {body.org_id}")
        content = body.content or (f"【研判核查指令】线索#{lead.id}（{lead.source}，可信度{lead.credibility}）："
                                   f"{lead.title}。{lead.content[:500]} 请于{body.feedback_minutes}分钟内核查反馈。")
        instr = await instructions.issue_to_org(
            session, actor, settings_of(request), kind=InstructionKind.VERIFY, org_id=org.id, org_name=org.name,
            content=content, feedback_seconds=body.feedback_minutes * 60)
        lead.instruction_id = instr.id
        await persons.set_lead_status(session, actor, lead.id, "verifying", f"核查指令 #{instr.id}")
        return {"lead": persons.lead_out(lead), "instruction": instructions.instruction_out(instr)}


# --- ingestion and batch collision -------------------------------------------------------------------------

MAX_UPLOAD = 512 * 1024 * 1024


@router.get("/mappings")
async def mappings(_actor: Annotated[Actor, Depends(require(*ANALYSTS))]) -> list[str]:
    from zhihui.intel import ingest

    return ingest.list_mappings()


@router.post("/ingest", status_code=201)
async def ingest_file(request: Request, actor: Annotated[Actor, Depends(require(*EDITORS))],
                      file: UploadFile, mapping: Annotated[str, Form(min_length=1, max_length=64)],
                      collide: Annotated[bool, Form()] = True) -> dict:
    """Upload a CSV/Parquet export with a declared mapping; bad rows are quarantined with the reason, the
    batch is collided against the lists at once, and new hits become 核查指令."""
    from zhihui.intel import ingest

    if mapping not in ingest.list_mappings():
        raise InvalidInput("mapping", f"unknown mapping '{mapping}'; known: {', '.join(ingest.list_mappings())}")
    settings = settings_of(request)
    name = Path(file.filename or "upload.csv").name
    if Path(name).suffix.lower() not in (".csv", ".txt", ".parquet", ".pq"):
        raise InvalidInput("file", "the file must be .csv or .parquet")
    incoming = Path(settings.intel_dir) / "incoming"
    await asyncio.to_thread(incoming.mkdir, parents=True, exist_ok=True)
    digest = hashlib.sha256()
    tmp = incoming / f".{uuid.uuid4().hex}{Path(name).suffix}"
    size = 0
    with tmp.open("wb") as fh:
        while chunk := await file.read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD:
                fh.close()
                tmp.unlink(missing_ok=True)
                raise InvalidInput("file", f"the file is larger than {MAX_UPLOAD >> 20} MiB; use `zhihui intel ingest`")
            digest.update(chunk)
            fh.write(chunk)
    final = incoming / f"{digest.hexdigest()[:16]}-{name}"
    tmp.replace(final)
    try:
        out = await service.ingest_file(db_of(request), settings, actor, final, mapping, file_name=name,
                                        collide=collide)
    except ingest.MappingError as exc:
        raise InvalidInput(getattr(exc, "field", None) or "mapping", str(exc)) from exc
    out.pop("paths", None)  # server file paths are nobody's business on the client
    return out


@router.get("/batches/{batch_id}/quarantine.csv")
async def quarantine_csv(request: Request, batch_id: str,
                         _actor: Annotated[Actor, Depends(require(*ANALYSTS))]) -> Response:
    """A batch's quarantined rows (line, field, reason in Chinese and English, the original cells) for Excel."""
    from zhihui.intel import ingest

    async with db_of(request).read() as session:
        if await session.get(IngestBatch, batch_id) is None:
            raise NotFound("ingest_batch", batch_id)
    out_dir = service.activity_dir(settings_of(request)).parent
    if not (out_dir / "quarantine" / f"{batch_id}.parquet").exists():
        return Response("\ufeff", media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="quarantine-{batch_id}.csv"'})
    path = await asyncio.to_thread(ingest.export_quarantine_csv, out_dir, batch_id)
    data = await asyncio.to_thread(path.read_bytes)
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="quarantine-{batch_id}.csv"'})


@router.get("/batches")
async def batches(request: Request, _actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict]:
    async with db_of(request).read() as session:
        rows = (await session.execute(select(IngestBatch).order_by(IngestBatch.created_at.desc()).limit(limit)))
        return [{k: getattr(b, k) for k in ("id", "file_name", "sha256", "mapping", "sources", "rows_in", "rows_ok",
                                            "rows_quarantined", "rows_skipped_duplicate", "reasons", "created_at")}
                for b in rows.scalars()]


class RunBody(StrictModel):
    since: datetime | None = None
    until: datetime | None = None


@router.post("/collisions/run", status_code=201)
async def run_collision(request: Request, body: RunBody,
                        actor: Annotated[Actor, Depends(require(*EDITORS))]) -> dict:
    """批量比对碰撞 on demand over all ingested activity (optionally a time window)."""
    lookups.check_window(body.since, body.until)
    out = await service.run_collision(db_of(request), settings_of(request), actor, trigger="manual",
                                      since=body.since, until=body.until)
    bus_of(request).committed()
    return out.as_dict()


@router.get("/collisions/runs")
async def collision_runs(request: Request, _actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                         limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict]:
    async with db_of(request).read() as session:
        rows = await session.execute(select(CollisionRun).order_by(CollisionRun.id.desc()).limit(limit))
        return [{k: getattr(r, k) for k in ("id", "trigger", "batch_id", "rules", "watchlist_size", "activity_rows",
                                            "hits", "new_hits", "instructions", "seconds", "started_at",
                                            "finished_at")} for r in rows.scalars()]


@router.get("/hits")
async def hits(request: Request, actor: Annotated[Actor, Depends(require(*ANALYSTS))], purpose: PurposeQ,
               status: str | None = None, rule_code: str | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict]:
    """比中记录 with the person and the order they caused; reading them is a person look-up (audited)."""
    stmt = select(CollisionHit, KeyPerson.name, KeyPerson.category).join(
        KeyPerson, KeyPerson.id == CollisionHit.person_id).order_by(CollisionHit.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(CollisionHit.status == status)
    if rule_code:
        stmt = stmt.where(CollisionHit.rule_code == rule_code)
    async with unit_of_work(request) as session:
        rows = (await session.execute(stmt)).all()
        audit.append(session, actor, "person.search", component="intel", target_type="collision_hit",
                     detail={"purpose": purpose, "returned": sorted({h.person_id for h, _, _ in rows})[:200]})
        names = {r.code: r.name for r in load_rules().rules}
        return [{**service.hit_out(h), "rule_name": names.get(h.rule_code), "person_name": n, "category": c}
                for h, n, c in rows]


class HitOrderIn(StrictModel):
    org_id: int
    feedback_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    note: str = Field(default="", max_length=500)


@router.post("/hits/{hit_id}/instruct", status_code=201)
async def instruct_hit(request: Request, hit_id: int, body: HitOrderIn,
                       actor: Annotated[Actor, Depends(require(*EDITORS))]) -> dict:
    """研判下发: a 核查指令 for a hit that got none (no station for its place, or a record too old for an
    automatic order), to the station the analyst chooses."""
    async with unit_of_work(request) as session:
        h = await service.instruct_hit(session, actor, settings_of(request), hit_id, body.org_id,
                                       feedback_minutes=body.feedback_minutes, note=body.note)
        return service.hit_out(h)


# --- tactics over the activity data --------------------------------------------------------------------------




@router.get("/trajectory")
async def trajectory(request: Request, actor: Annotated[Actor, Depends(require(*ANALYSTS))], purpose: PurposeQ,
                     id_number: str | None = None, plate: str | None = None, phone: str | None = None,
                     since: datetime | None = None, until: datetime | None = None) -> dict:
    """人员轨迹: a person's or vehicle's records in time order, for the map."""
    return await lookups.trajectory(db_of(request), settings_of(request), actor, purpose=purpose,
                                    id_number=id_number, plate=plate, phone=phone, since=since, until=until)


class CaseIn(StrictModel):
    case_id: str = Field(min_length=1, max_length=64)
    at: datetime
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class CoPresenceBody(StrictModel):
    purpose: str = Field(min_length=4, max_length=200)
    cases: list[CaseIn] = Field(default_factory=list, max_length=500)
    incident_ids: list[int] = Field(default_factory=list, max_length=500)
    dt_minutes: float = Field(default=60, gt=0, le=7 * 24 * 60)
    dd_m: float = Field(default=500, gt=0, le=20_000)
    k: int = Field(default=2, ge=1, le=50)


@router.post("/co-presence")
async def co_presence(request: Request, body: CoPresenceBody,
                      actor: Annotated[Actor, Depends(require(*ANALYSTS))]) -> dict:
    """串并: persons and vehicles recorded within Δt and Δd of at least k of the given cases (incidents)."""
    return await lookups.co_presence(db_of(request), settings_of(request), actor, purpose=body.purpose,
                                     cases=[c.model_dump() for c in body.cases], incident_ids=body.incident_ids,
                                     dt_minutes=body.dt_minutes, dd_m=body.dd_m, k=body.k)


@router.get("/origin/lists")
async def origin_lists(_actor: Annotated[Actor, Depends(require(*ANALYSTS))]) -> list[dict]:
    """高危地区名单: the named lists of 户籍 regions per crime type (data: zhihui/intel/origins.yaml)."""
    from zhihui.intel import origins

    return [origins.list_out(x) for x in origins.load_lists().values()]


@router.get("/origin")
async def high_risk_origin(request: Request, actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                           purpose: PurposeQ, since: datetime, until: datetime,
                           prefixes: Annotated[str | None, Query(pattern=r"^\d{2,6}(,\d{2,6})*$")] = None,
                           sources: str | None = None,
                           list_code: Annotated[str | None, Query(alias="list", max_length=48)] = None) -> dict:
    """高危地区检索: local activity of persons whose ID region code (GB/T 2260) starts with the prefixes, or with
    those of a 高危地区名单 (`list`)."""
    return await lookups.high_risk_origin(db_of(request), settings_of(request), actor, purpose=purpose,
                                          prefixes=prefixes, since=since, until=until, sources=sources,
                                          list_code=list_code)


@router.get("/series/suggest")
async def series_suggest(request: Request, _actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                         incident_id: int, top: Annotated[int, Query(ge=1, le=50)] = 10) -> dict:
    """串并案: incidents likely by the same offender (same crime group, ≤ 180 days, ≤ 5 km), with evidence."""
    return await service.suggest_series(db_of(request), incident_id, top=top)


# --- 关系人员倒查 ----------------------------------------------------------------------------------------------

GraphKinds = Annotated[str | None, Query(pattern=r"^[a-z_]+(,[a-z_]+)*$", description="co_stay,co_travel,…")]
PersonQ = Annotated[str, Query(min_length=1, max_length=32, description="ID number or key-person id")]


@router.get("/graph/neighbourhood")
async def graph_neighbourhood(request: Request, actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                              purpose: PurposeQ, person: PersonQ, k: Annotated[int, Query(ge=1, le=3)] = 2,
                              kinds: GraphKinds = None, limit: Annotated[int, Query(ge=1, le=500)] = 200) -> dict:
    """关系人员倒查: the k-hop subgraph around a person (ID number or key-person id) with each relation's evidence."""
    return await lookups.neighbourhood(db_of(request), settings_of(request), actor, purpose=purpose, person=person,
                                       k=k, kinds=kinds, limit=limit)


@router.get("/graph/path")
async def graph_path(request: Request, actor: Annotated[Actor, Depends(require(*ANALYSTS))], purpose: PurposeQ,
                     a: PersonQ, b: PersonQ, kinds: GraphKinds = None, weighted: bool = False) -> dict:
    """The shortest chain of relations between two persons (fewest hops, or strongest with weighted=true)."""
    return await lookups.path(db_of(request), settings_of(request), actor, purpose=purpose, a=a, b=b, kinds=kinds,
                              weighted=weighted)


@router.get("/graph/associates-seen")
async def associates_seen(request: Request, actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                          purpose: PurposeQ, person: PersonQ, days: Annotated[float, Query(gt=0, le=365)] = 7,
                          k: Annotated[int, Query(ge=1, le=3)] = 1, kinds: GraphKinds = None) -> dict:
    """"Where were this fugitive's associates seen in the last N days": associates within k hops and their
    latest records, newest first."""
    return await lookups.associates_seen(db_of(request), settings_of(request), actor, purpose=purpose,
                                         person=person, days=days, k=k, kinds=kinds)


# --- 登记关系: 亲属 and 同案 from files, drawn in the graph ------------------------------------------------------


@router.post("/relations", status_code=201)
async def record_relation(request: Request, body: relations.RelationIn,
                          actor: Annotated[Actor, Depends(require(*EDITORS))]) -> dict:
    """Record 亲属 (family) or 同案 (co-offending) between two persons (ID numbers or key-person ids)."""
    db = db_of(request)
    a, b = await service.person_key(db, body.a, "a"), await service.person_key(db, body.b, "b")
    async with unit_of_work(request) as session:
        rel = await relations.record(session, actor, a, b, body.kind, detail=body.detail, source=body.source)
        return relations.relation_out(rel)


@router.get("/relations")
async def list_relations(request: Request, actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                         purpose: PurposeQ, person: PersonQ, withdrawn: bool = False) -> list[dict]:
    """A person's recorded relations (withdrawn ones too with withdrawn=true); a person look-up (audited)."""
    db = db_of(request)
    node = await service.person_key(db, person)
    async with unit_of_work(request) as session:
        rows = await relations.of_person(session, node, withdrawn=withdrawn)
        audit.append(session, actor, "person.relations", component="intel", target_type="person",
                     detail={"purpose": purpose, "person": node, "recorded": len(rows)})
        return [relations.relation_out(r) for r in rows]


class WithdrawBody(StrictModel):
    reason: str = Field(min_length=2, max_length=200)


@router.post("/relations/{relation_id}/withdraw")
async def withdraw_relation(request: Request, relation_id: int, body: WithdrawBody,
                            actor: Annotated[Actor, Depends(require(*EDITORS))]) -> dict:
    """撤销 a recorded relation (kept, with the reason; the graph forgets it)."""
    async with unit_of_work(request) as session:
        return relations.relation_out(await relations.withdraw(session, actor, relation_id, body.reason))


RecordIdsQ = Annotated[str, Query(min_length=1, max_length=8000, description="record ids, comma-separated")]


@router.get("/records")
async def activity_records(request: Request, actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                           purpose: PurposeQ, ids: RecordIdsQ) -> dict:
    """The activity records behind a relation's evidence (venue, room, time), in time order; audited."""
    return await lookups.records(db_of(request), settings_of(request), actor, purpose=purpose, ids=ids.split(","))
