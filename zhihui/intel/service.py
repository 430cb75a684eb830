"""情报综合应用: ingest a file, run batch collision, turn new hits into 核查指令 — durably, once.

The columnar work (DuckDB over Parquet) runs in a worker thread; what it finds is written to the
database in one transaction with the instructions it causes, so a crash either loses the whole run
(and the next run finds the same hits again: hit keys are stable) or keeps hits and their orders together.
A hit seen again in a later run only moves its ``last_seen``; it never sends a second order.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from zhihui.core import audit
from zhihui.core.auth import Actor
from zhihui.core.clock import SHANGHAI, as_utc, utcnow
from zhihui.core.config import Settings
from zhihui.core.orgs import Org, jurisdiction_index
from zhihui.core.store import Database
from zhihui.instructions import service as instructions
from zhihui.instructions.domain import InstructionKind
from zhihui.intel import persons, relations, tactics
from zhihui.intel.models import CollisionHit, CollisionRun, IngestBatch, KeyPerson
from zhihui.intel.rules import RuleSet, load_rules

log = logging.getLogger("zhihui.intel")
COMPONENT = "intel"
_locks: dict[int, asyncio.Lock] = {}


def activity_dir(settings: Settings) -> Path:
    return Path(settings.intel_dir) / "activity"


def _has_parquet(src: Path | list[Path]) -> bool:
    if isinstance(src, list):
        return any(Path(p).exists() for p in src)
    return src.exists() and any(src.rglob("*.parquet"))


def tactic_engine(settings: Settings) -> tactics.DuckDBEngine:
    """A DuckDB engine over all ingested activity and the latest watchlist export (empty lists if none yet)."""
    from zhihui.core.errors import InvalidInput
    from zhihui.intel import schema

    act = activity_dir(settings)
    if not _has_parquet(act):
        raise InvalidInput("activity", "no activity data has been ingested yet (POST /intel/ingest)")
    wl_dir = Path(settings.intel_dir) / "watchlist"
    wl, keys = wl_dir / "watchlist.parquet", wl_dir / "watch_keys.parquet"
    if not (wl.exists() and keys.exists()):
        return tactics.DuckDBEngine(str(act), schema.WATCHLIST.empty_table(), schema.WATCH_KEYS.empty_table())
    return tactics.DuckDBEngine(str(act), str(wl), str(keys))


def rescorer() -> tactics.Rescorer | None:
    """The Python identity scorer over the SQL's fuzzy candidates, when it is installed."""
    try:
        from zhihui.intel import identity
    except ImportError:  # pragma: no cover - the module ships with the package
        return None
    return tactics.frame_rescorer(identity.score_frame, weight=0.5)


@dataclass
class RunSummary:
    run_id: int
    trigger: str
    watchlist_size: int
    activity_rows: int
    hits: int
    new_hits: int
    instructions: int
    seconds: float
    hit_ids: list[int] = field(default_factory=list)
    historical: int = 0  # new hits on records too old for an order (status 'historical')

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _collide(activity: Path | list[Path], wl: Path, keys: Path, rules: RuleSet, since: datetime | None,
             until: datetime | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    stats: dict[str, Any] = {}
    src: Any = [str(p) for p in activity] if isinstance(activity, list) else str(activity)
    # The watch side prepared once per list version, kept next to the exported list: a scheduled run over an
    # unchanged list (and the first run after a restart) skips it.
    with tactics.DuckDBEngine(src, str(wl), str(keys), watch_cache=Path(wl).parent / "prepared") as engine:
        hits = tactics.collide(engine, rules, since=since, until=until, rescore=rescorer(), stats=stats)
    return hits.to_pylist(), stats


async def run_collision(db: Database, settings: Settings, actor: Actor, *, trigger: str = "manual",
                        batch_id: str | None = None, activity: list[Path] | None = None,
                        since: datetime | None = None, until: datetime | None = None,
                        rules: RuleSet | None = None) -> RunSummary:
    """One collision run over all ingested activity (or the given batch files) against the active lists."""
    lock = _locks.setdefault(id(db), asyncio.Lock())
    async with lock:  # runs are serialised: two at once would race on the same new hits
        t0 = time.perf_counter()
        rules = rules or load_rules()
        wl_dir = Path(settings.intel_dir) / "watchlist"
        async with db.read() as session:
            wl, keys, n_watch = await persons.export_watchlist(session, wl_dir)
        src: Path | list[Path] = activity if activity is not None else activity_dir(settings)
        rows: list[dict[str, Any]] = []
        stats: dict[str, Any] = {"touched_rows": 0}
        if n_watch and _has_parquet(src):
            rows, stats = await asyncio.to_thread(_collide, src, wl, keys, rules, since, until)
        async with db.tx() as session:
            run = CollisionRun(trigger=trigger, batch_id=batch_id, rules=[r.code for r in rules.active],
                               watchlist_size=n_watch, activity_rows=int(stats.get("touched_rows") or 0),
                               started_by=actor.user_id, started_at=utcnow())
            session.add(run)
            await session.flush()
            new, n_orders = await _record_hits(session, actor, settings, run, rows, rules)
            run.hits, run.new_hits, run.instructions = len(rows), len(new), n_orders
            run.seconds = round(time.perf_counter() - t0, 3)
            run.finished_at = utcnow()
            audit.append(session, actor, "collision.run", component=COMPONENT, target_type="collision_run",
                         target_id=run.id, detail={"trigger": trigger, "batch_id": batch_id, "hits": len(rows),
                                                   "new_hits": len(new), "instructions": n_orders})
            summary = RunSummary(run.id, trigger, n_watch, run.activity_rows, len(rows), len(new), n_orders,
                                 run.seconds, [h.id for h in new], sum(h.status == "historical" for h in new))
        log.info("collision run %s (%s): %d hits, %d new, %d 指令 (核查/预警)", summary.run_id, trigger, summary.hits,
                 summary.new_hits, summary.instructions)
        return summary


async def _record_hits(session: Any, actor: Actor, settings: Settings, run: CollisionRun,
                       rows: list[dict[str, Any]], rules: RuleSet) -> tuple[list[CollisionHit], int]:
    if not rows:
        return [], 0
    keys = [r["hit_key"] for r in rows]
    existing = {h.hit_key: h for h in (await session.execute(
        select(CollisionHit).where(CollisionHit.hit_key.in_(keys)))).scalars()}
    org_rows = (await session.execute(select(Org.id, Org.code, Org.name))).all()
    orgs = {code: (oid, name) for oid, code, name in org_rows}
    org_names = {oid: name for oid, _code, name in org_rows}
    person_ids = {int(r["person_key"]) for r in rows}
    person_org = dict((await session.execute(select(KeyPerson.id, KeyPerson.org_id)
                                             .where(KeyPerson.id.in_(person_ids)))).all())
    now = utcnow()
    by_code = {r.code: r for r in rules.rules}
    new: list[CollisionHit] = []
    for r in rows:
        if (h := existing.get(r["hit_key"])) is not None:
            h.last_seen_at, h.last_run_id = now, run.id
            continue
        org = orgs.get(r["org_code"] or "")
        org_id = org[0] if org else person_org.get(int(r["person_key"]))
        rule = by_code.get(r["rule_code"])
        stale = rule is not None and now - as_utc(r["at"]) > timedelta(hours=rule.instruction.within_hours)
        status = "historical" if stale else "new" if org_id else "no_station"
        h = CollisionHit(
            hit_key=r["hit_key"], run_id=run.id, last_run_id=run.id, rule_code=r["rule_code"],
            person_id=int(r["person_key"]), record_id=r["record_id"], source=r["source"], at=as_utc(r["at"]),
            match_type=r["match_type"], score=float(r["score"]), reasons=json.loads(r["reasons"] or "[]"),
            venue_code=r["venue_code"], venue_name=r["venue_name"], room=r["room"], lat=r["lat"], lon=r["lon"],
            group_key=r["group_key"], org_id=org_id, status=status,
            first_seen_at=now, last_seen_at=now)
        session.add(h)
        new.append(h)
        existing[r["hit_key"]] = h
    await session.flush()
    # One 核查指令 per station and hit group: a same-room-night group is one order, not one per person, and
    # a record that several rules hit (a fugitive's car at a checkpoint) is one order at the most urgent terms.
    texts = {r["hit_key"]: r["instruction"] for r in rows}
    groups: dict[tuple[int, str], list[CollisionHit]] = defaultdict(list)
    for h in new:
        if h.org_id is not None and h.status == "new":
            groups[(h.org_id, h.group_key or f"{h.source}:{h.record_id}:{h.person_id}")].append(h)
    n_orders = 0
    for (org_id, _g), hits in groups.items():
        hit_rules = [by_code[h.rule_code] for h in hits]
        minutes = min(r.instruction.feedback_minutes for r in hit_rules)
        names = "、".join(dict.fromkeys(r.name for r in hit_rules))
        body = "\n".join(dict.fromkeys(texts[h.hit_key] for h in hits))
        # The rule says what the station must do: 核查/管控 is a 核查指令 to be answered; a rule that only
        # informs (通报, e.g. a listed person's car at a checkpoint) is a 预警指令 — unless another rule on
        # the same record asks for a check, which then wins.
        verify = any(r.instruction.kind != "notify" for r in hit_rules)
        kind = InstructionKind.VERIFY if verify else InstructionKind.WARNING
        ask = "核查反馈" if verify else "签收知悉，视情核查反馈"
        content = f"【批量比对碰撞·{names}】{body}\n（比中{len(hits)}条，请于{minutes}分钟内{ask}）"
        instr = await instructions.issue_to_org(
            session, actor, settings, kind=kind, org_id=org_id, org_name=org_names.get(org_id, ""),
            content=content, urgent=any(r.priority == "urgent" for r in hit_rules), feedback_seconds=minutes * 60)
        for h in hits:
            h.instruction_id, h.status = instr.id, "instructed"
        n_orders += 1
    return new, n_orders


async def instruct_hit(session: Any, actor: Actor, settings: Settings, hit_id: int, org_id: int, *,
                       feedback_minutes: int | None = None, note: str = "") -> CollisionHit:
    """研判下发: an analyst sends a 核查指令 for a hit that got none — no station was found for its place
    (no_station), or its record was too old for an order (historical) but the analyst judges it worth a
    check. The hit then points at the order, like the run's own."""
    from zhihui.core.errors import DomainError, InvalidInput, NotFound
    from zhihui.intel.schema import SOURCES

    h = await session.get(CollisionHit, hit_id, with_for_update=True)
    if h is None:
        raise NotFound("collision_hit", hit_id)
    if h.instruction_id is not None:
        raise DomainError(f"hit #{hit_id} already has an order (#{h.instruction_id})", code="instructed")
    org = await session.get(Org, org_id)
    if org is None:
        raise InvalidInput("org_id", f"no organ with id {org_id}")
    rule = next((r for r in load_rules().rules if r.code == h.rule_code), None)
    minutes = feedback_minutes or (rule.instruction.feedback_minutes if rule else 60)
    person = await session.get(KeyPerson, h.person_id)
    who = f"{person.name}（{person.category}，在册证号{person.id_number or '—'}）" if person else f"人员#{h.person_id}"
    when = as_utc(h.at).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    place = f"{h.venue_name or '—'}{(' ' + h.room + '房') if h.room else ''}（{SOURCES.get(h.source, h.source)}）"
    content = (f"【研判下发·{rule.name if rule else h.rule_code}】{who}于{when}出现在{place}。"
               f"命中依据：{'、'.join(h.reasons or []) or '—'}。{note.strip()}\n（请于{minutes}分钟内核查反馈）")
    instr = await instructions.issue_to_org(
        session, actor, settings, kind=InstructionKind.VERIFY, org_id=org.id, org_name=org.name, content=content,
        urgent=bool(rule and rule.priority == "urgent"), feedback_seconds=minutes * 60)
    previous = h.status
    h.instruction_id, h.org_id, h.status = instr.id, h.org_id or org.id, "instructed"
    audit.append(session, actor, "collision.instruct", component=COMPONENT, target_type="collision_hit",
                 target_id=h.id, detail={"org_id": org.id, "instruction_id": instr.id, "was": previous})
    return h


def hit_out(h: CollisionHit) -> dict[str, Any]:
    return {k: getattr(h, k) for k in (
        "id", "hit_key", "run_id", "last_run_id", "rule_code", "person_id", "record_id", "source", "at", "match_type",
        "score", "reasons", "venue_code", "venue_name", "room", "lat", "lon", "group_key", "org_id", "instruction_id",
        "status", "first_seen_at", "last_seen_at")}


# --- ingestion -------------------------------------------------------------------------------------------


async def ingest_file(db: Database, settings: Settings, actor: Actor, path: Path, mapping: str, *,
                      file_name: str | None = None, collide: bool = True) -> dict[str, Any]:
    """Ingest one file (places resolved to the responsible station), record the batch, then collide it."""
    from zhihui.intel import ingest

    index = await jurisdiction_index(db)
    async with db.read() as session:
        codes = dict((await session.execute(select(Org.id, Org.code))).all())

    def resolve(lat: float, lon: float) -> str | None:
        oid = index.locate(lat, lon) if len(index) else None
        return codes.get(oid) if oid is not None else None

    today = (utcnow().astimezone(SHANGHAI)).date()
    result = await asyncio.to_thread(ingest.ingest, path, mapping, activity_dir(settings).parent, org_resolver=resolve,
                                     today=today)
    out = result.as_dict()
    async with db.tx() as session:
        if await session.get(IngestBatch, result.batch_id) is None:
            session.add(IngestBatch(
                id=result.batch_id, file_name=file_name or Path(path).name, sha256=result.sha256,
                mapping=result.mapping or mapping, sources=sorted(result.sources), rows_in=result.rows_in,
                rows_ok=result.rows_ok, rows_quarantined=result.rows_quarantined,
                rows_skipped_duplicate=result.rows_skipped_duplicate, reasons=result.reasons,
                created_by=actor.user_id))
        audit.append(session, actor, "intel.ingest", component=COMPONENT, target_type="ingest_batch",
                     target_id=result.batch_id, detail={k: out[k] for k in (
                         "rows_in", "rows_ok", "rows_quarantined", "rows_skipped_duplicate", "already_ingested")})
    files = [Path(p) for p in result.paths.get("activity") or []]
    if collide and files and not result.already_ingested:
        out["collision"] = (await run_collision(db, settings, actor, trigger="ingest", batch_id=result.batch_id,
                                                activity=files)).as_dict()
    return out


# --- the twice-daily schedule ------------------------------------------------------------------------------


def last_slot(now: datetime, times: tuple[str, ...]) -> datetime | None:
    """The latest scheduled Beijing time at or before `now` (within the last day), as UTC."""
    local = as_utc(now).astimezone(SHANGHAI)
    best = None
    for day in (local.date(), local.date() - timedelta(days=1)):
        for t in times:
            hh, mm = (int(x) for x in t.split(":"))
            slot = datetime(day.year, day.month, day.day, hh, mm, tzinfo=SHANGHAI)
            if slot <= local and (best is None or slot > best):
                best = slot
    return best.astimezone(as_utc(now).tzinfo) if best else None


SCHEDULE_LOCK = 7420002  # PostgreSQL advisory lock: one scheduled run per slot across worker processes
_schedule_locks: dict[int, asyncio.Lock] = {}


async def scheduled_collision(db: Database, settings: Settings) -> RunSummary | None:
    """Run the scheduled collision if the latest slot has not had its run yet."""
    slot = last_slot(utcnow(), settings.collision_times)
    if slot is None:
        return None
    lock = _schedule_locks.setdefault(id(db), asyncio.Lock())
    if lock.locked():  # this process is running the slot already
        return None
    async with lock:
        if db.dialect != "postgresql":  # SQLite: one server process (its write lock serialises the rest)
            return await _scheduled(db, settings, slot)
        from sqlalchemy import text

        # Held on a connection of its own (autocommit: no transaction stays open) for the whole run, which
        # spans transactions; other workers skip the slot and, a minute later, find its run recorded.
        async with db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            if not (await conn.execute(text(f"SELECT pg_try_advisory_lock({SCHEDULE_LOCK})"))).scalar():
                return None
            try:
                return await _scheduled(db, settings, slot)
            finally:
                await conn.execute(text(f"SELECT pg_advisory_unlock({SCHEDULE_LOCK})"))


async def _scheduled(db: Database, settings: Settings, slot: datetime) -> RunSummary | None:
    async with db.read() as session:
        done = (await session.execute(select(func.count()).select_from(CollisionRun).where(
            CollisionRun.trigger == "schedule", CollisionRun.started_at >= slot))).scalar_one()
        watched = (await session.execute(select(func.count()).select_from(KeyPerson).where(
            KeyPerson.status == "active"))).scalar_one()
    # Nothing to collide is not a run: a fresh installation's run list stays empty until lists and data exist.
    if done or not watched or not _has_parquet(activity_dir(settings)):
        return None
    # The scheduled run reads all activity: the key index is brought up to date first (rebuilt only when what
    # arrived since its build exceeds a tenth of it; the rest is scanned), in the background thread it runs in.
    from zhihui.intel import keyindex

    try:
        await asyncio.to_thread(keyindex.refresh, activity_dir(settings))
    except (OSError, ValueError) as e:  # a broken index is not a missed slot: the run scans instead
        log.warning("key index not refreshed: %s", e)
    return await run_collision(db, settings, Actor.system(), trigger="schedule")


async def collision_loop(db: Database, settings: Settings, bus: Any, interval: float = 60.0) -> None:
    """The schedule's timer (started by the app): checks each minute whether a slot is due; with several
    workers one runs it (advisory lock), and hit keys are unique besides, so no order is ever sent twice."""
    while True:
        try:
            if await scheduled_collision(db, settings):
                bus.committed()
        except Exception:
            log.exception("scheduled collision failed; retrying at the next check")
        await asyncio.sleep(interval)


# --- 串并案 suggestions over the platform's incidents -----------------------------------------------------

_linker_lock = asyncio.Lock()
_linker: Any = None
SERIES_WINDOW_DAYS = 180
SERIES_RADIUS_M = 5000.0


SERIES_MAGIC = b"ZHIHUI-SERIES-1\n"
_TRAIN = {"seed": 1, "n_offenders": 400, "ratio": 10.0, "pair_seed": 0, "model": "gbm"}
linker_source = ""  # "memory", "cache" or "trained": where series_linker() last got the model


def _linker_key() -> str:
    import importlib

    from zhihui.core import modelcache

    # By module name: zhihui.intake.text re-exports a function called normalise over its module.
    names = ("zhihui.intel.series", "zhihui.sim.series", "zhihui.intake.text.normalise")
    files = [Path(importlib.import_module(n).__file__ or "") for n in names]
    return modelcache.key_of(files, ";".join(f"{k}={v}" for k, v in sorted(_TRAIN.items())))


def _train_linker() -> Any:
    """The series linker, trained on GENERATED solved cases (zhihui.sim.series) until the bureau's own solved
    cases with known offenders are loaded; MO comes from the description text, as on real incidents.
    Training takes ~15 s, so the fitted linker is cached on disk (zhihui.core.modelcache) under a key of the
    code and settings that determine it."""
    global linker_source
    from zhihui.core import modelcache
    from zhihui.intel.series import SeriesLinker, sample_pairs
    from zhihui.sim.series import generate_cases

    key = _linker_key()
    path = modelcache.model_dir() / f"series-{key[:20]}.pkl"
    cached = modelcache.read(path, SERIES_MAGIC, key)
    if isinstance(cached, SeriesLinker):
        linker_source = "cache"
        return cached
    cases = generate_cases(seed=_TRAIN["seed"], n_offenders=_TRAIN["n_offenders"])
    pairs, y = sample_pairs(cases, ratio=_TRAIN["ratio"], seed=_TRAIN["pair_seed"])
    linker = SeriesLinker(model=_TRAIN["model"], mo="text").fit(cases, pairs, y)
    linker_source = "trained"
    try:
        modelcache.write(path, SERIES_MAGIC, key, linker, stale="series-*.pkl")
    except OSError as exc:  # a read-only disk must not stop the suggestions
        log.warning("cannot write series linker cache %s: %s", path, exc)
    return linker


async def series_linker() -> Any:
    """The fitted linker, loaded or trained once per process off the event loop (the app warms it at start)."""
    global _linker, linker_source
    async with _linker_lock:
        if _linker is None:
            _linker = await asyncio.to_thread(_train_linker)
        else:
            linker_source = "memory"
    return _linker


async def suggest_series(db: Database, incident_id: int, *, top: int = 10, days: int = SERIES_WINDOW_DAYS,
                         radius_m: float = SERIES_RADIUS_M) -> dict[str, Any]:
    """Incidents of the same crime group within `days` and `radius_m` ranked by P(same offender), with evidence."""
    import math

    import pandas as pd

    from zhihui.core.errors import InvalidInput, NotFound
    from zhihui.incidents.models import Incident
    from zhihui.intel.series import suggest_series as rank

    async with db.read() as session:
        inc = await session.get(Incident, incident_id)
        if inc is None:
            raise NotFound("incident", incident_id)
        if inc.lat is None or inc.lon is None:
            raise InvalidInput("incident_id", f"incident {incident_id} has no location to compare")
        dlat = radius_m / 111_320.0
        dlon = dlat / max(0.1, math.cos(math.radians(inc.lat)))
        window = timedelta(days=days)
        rows = (await session.execute(select(
            Incident.id, Incident.number, Incident.category_code, Incident.received_at, Incident.lat, Incident.lon,
            Incident.description).where(
            Incident.id != inc.id, Incident.category_code.startswith(inc.category_code[:4]),
            Incident.received_at >= inc.received_at - window, Incident.received_at <= inc.received_at + window,
            Incident.lat.between(inc.lat - dlat, inc.lat + dlat), Incident.lon.between(inc.lon - dlon, inc.lon + dlon),
            Incident.status.notin_(("merged", "cancelled"))).limit(5000))).all()
    if not rows:
        return {"incident_id": inc.id, "number": inc.number, "candidates": 0, "suggestions": []}
    cases = pd.DataFrame(
        [(str(inc.id), inc.number, inc.category_code, as_utc(inc.received_at), inc.lat, inc.lon, inc.description)]
        + [(str(r.id), r.number, r.category_code, as_utc(r.received_at), r.lat, r.lon, r.description) for r in rows],
        columns=["case_id", "number", "category", "at", "lat", "lon", "text"])
    linker = await series_linker()
    found = await asyncio.to_thread(rank, linker, cases, str(inc.id), top)
    numbers = dict(zip(cases["case_id"], cases["number"], strict=True))
    return {"incident_id": inc.id, "number": inc.number, "candidates": len(rows),
            "suggestions": [{**s, "incident_id": int(s["case_id"]), "number": numbers[s["case_id"]]} for s in found]}


# --- 关系人员倒查: the relation graph over the ingested activity ---------------------------------------------

_graph_cache: dict[str, Any] = {}
_graph_lock = asyncio.Lock()


def activity_connection(files: list[str]) -> Any:
    """A DuckDB connection in UTC with the view `activity` over the given Parquet files (the caller closes it).

    DDL cannot take parameters, so the file names are quoted literals."""
    import duckdb

    quoted = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW activity AS SELECT * FROM read_parquet([{quoted}], union_by_name = true)")
    return con


def activity_files(settings: Settings) -> list[Path]:
    act = activity_dir(settings)
    return sorted(act.rglob("*.parquet")) if act.exists() else []


async def relation_graph(db: Database, settings: Settings) -> Any:
    """The relation graph (co-stay, co-travel from the activity; shared phone/address among key persons),
    rebuilt when a batch has been ingested since (the file list is the cache key)."""
    from zhihui.core.errors import InvalidInput
    from zhihui.intel.graph import RelationGraph

    files = activity_files(settings)
    async with db.read() as session:
        recorded_state = await relations.state(session)
    if not files and not recorded_state[0]:
        raise InvalidInput("activity", "no activity data has been ingested yet (POST /intel/ingest)")
    # Rebuilt after a batch is ingested or a recorded relation (亲属/同案) changes.
    key = f"{settings.intel_dir}|{len(files)}|{max((f.stat().st_mtime_ns for f in files), default=0)}|{recorded_state}"
    async with _graph_lock:
        cached = _graph_cache.get(str(settings.intel_dir))
        if cached is not None and cached[0] == key:
            return cached[1]
        import pyarrow as pa

        async with db.read() as session:
            people = (await session.execute(select(KeyPerson.id_number, KeyPerson.phones, KeyPerson.addresses)
                                            .where(KeyPerson.id_number.is_not(None)))).all()
            recorded = await relations.edges(session)
        # One row per phone and per address (the other column empty): 同机号 and 同址 group on each separately.
        rows = [(idn, ph, None) for idn, phones, _ in people for ph in phones or []]
        rows += [(idn, None, ad) for idn, _, addrs in people for ad in addrs or []]
        persons = pa.table({"id_number": [r[0] for r in rows], "phone": [r[1] for r in rows],
                            "address": [r[2] for r in rows]}) if rows else None
        src = [str(f) for f in files]

        def build() -> Any:
            if src:
                con = activity_connection(src)
                try:
                    graph = RelationGraph.from_activity(con, persons)
                finally:
                    con.close()
            else:  # recorded relations only (and the key persons' shared phones/addresses)
                from zhihui.intel import schema

                graph = RelationGraph.from_activity(schema.ACTIVITY.empty_table(), persons)
            if recorded.num_rows:
                graph.add_edges(recorded)
            return graph

        graph = await asyncio.to_thread(build)
        # A 10^7-edge graph holds millions of long-lived objects; a full garbage collection walking them costs
        # ~200 ms (bench/graph.py), which would land on some request's latency. So they are frozen out of the
        # collector; unfreezing first lets this one collection reclaim what the previous rebuild froze.
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        _graph_cache[str(settings.intel_dir)] = (key, graph)
        return graph


async def person_key(db: Database, raw: str, field: str = "person") -> str:
    """A graph node from what the analyst typed: an ID number, or a key person's id; an error names `field`."""
    from zhihui.core.errors import InvalidInput
    from zhihui.intel.normalise import id_key

    idn, _, _ = id_key(raw)
    if idn:
        return idn
    if raw.isdigit():
        async with db.read() as session:
            p = await session.get(KeyPerson, int(raw))
        if p is not None and p.id_number:
            return p.id_number
    raise InvalidInput(field, f"'{raw}' is neither an ID number nor a key person with one")
