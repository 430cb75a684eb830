"""`zhihui intel …`: the analyst's tactics from the command line (same services as the API, same audit)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from zhihui.core.auth import Actor
from zhihui.core.config import load_settings


def _actor(args: argparse.Namespace) -> Actor:
    # A shell session is a person at a terminal: the audit log names them (their login), as "cli".
    import getpass

    return Actor(user_id=None, username=f"cli:{getpass.getuser()}", role="analyst", seat="cli")


def _when(raw: str) -> datetime:
    at = datetime.fromisoformat(raw)
    if at.tzinfo is None:
        from zhihui.core.clock import SHANGHAI

        at = at.replace(tzinfo=SHANGHAI)  # a bare time on a Chinese console is Beijing time
    return at


def _print(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


async def _with_db(fn: Any) -> Any:
    from zhihui.core.store import Database

    settings = load_settings()
    db = Database(settings.database_url)
    try:
        return await fn(db, settings)
    finally:
        await db.dispose()


def _ingest(args: argparse.Namespace) -> int:
    from zhihui.intel import service

    async def run(db: Any, settings: Any) -> Any:
        return await service.ingest_file(db, settings, _actor(args), Path(args.file), args.mapping,
                                         collide=not args.no_collide)

    _print(asyncio.run(_with_db(run)))
    return 0


def _collide(args: argparse.Namespace) -> int:
    from zhihui.intel import service

    async def run(db: Any, settings: Any) -> Any:
        return (await service.run_collision(db, settings, _actor(args), trigger="manual", since=args.since,
                                            until=args.until)).as_dict()

    _print(asyncio.run(_with_db(run)))
    return 0


def _import_sim(args: argparse.Namespace) -> int:
    from zhihui.intel import persons

    async def run(db: Any, settings: Any) -> int:
        async with db.tx() as session:
            return await persons.import_sim_persons(session, _actor(args), Path(args.persons_csv), args.org_id)

    print(f"imported {asyncio.run(_with_db(run))} key-person entries (GENERATED demo data)")
    return 0


def _trajectory(args: argparse.Namespace) -> int:
    from zhihui.core import audit
    from zhihui.intel import service, tactics
    from zhihui.intel.normalise import id_key, phone_key, plate_key

    keys = {"id_number": id_key(args.id_number)[0] if args.id_number else None,
            "plate": plate_key(args.plate) if args.plate else None,
            "phone": phone_key(args.phone) if args.phone else None}
    if not any(keys.values()):
        print("error: give a readable --id-number, --plate or --phone", file=sys.stderr)
        return 2

    async def run(db: Any, settings: Any) -> list[dict]:
        def q() -> list[dict]:
            with service.tactic_engine(settings) as eng:
                return tactics.trajectory(eng, **keys, since=args.since, until=args.until).to_pylist()

        rows = await asyncio.to_thread(q)
        async with db.tx() as session:
            audit.append(session, _actor(args), "person.trajectory", component="intel", target_type="activity",
                         detail={"purpose": args.purpose, **{k: v for k, v in keys.items() if v}, "records": len(rows)})
        return rows

    for r in asyncio.run(_with_db(run)):
        print(f"{r['at_local']}  {r['source']:<16} {r['venue_name'] or '':<24} {r['room'] or '':<8} "
              f"{r['lat']:.5f},{r['lon']:.5f}  {r['matched_by']}")
    return 0


def _safe(fn: Any) -> Any:
    """Bad input on the command line gets the same one-line, field-naming error as the API, not a traceback."""
    from zhihui.core.errors import DomainError

    def run(args: argparse.Namespace) -> int:
        try:
            return int(fn(args))
        except (DomainError, ValueError) as exc:
            field = getattr(exc, "field", None)
            print(f"error: {field + ': ' if field else ''}{exc}", file=sys.stderr)
            return 2

    return run


def register(sub: Any) -> None:
    """Add the `intel` command group to the top-level parser's subparsers."""
    p = sub.add_parser("intel", help="情报: ingest activity data, batch collision, trajectories, key persons")
    isub = p.add_subparsers(dest="intel_command", required=True)
    g = isub.add_parser("ingest", help="ingest a CSV/Parquet file through a mapping, then collide the batch")
    g.add_argument("file")
    g.add_argument("--mapping", required=True, help="sim_activities, hotel_gb, netbar, checkpoint, ticket or a YAML")
    g.add_argument("--no-collide", action="store_true", help="ingest only")
    g.set_defaults(func=_safe(_ingest))
    c = isub.add_parser("collide", help="批量比对碰撞 now over all ingested activity; new hits become 核查指令")
    c.add_argument("--since", type=_when)
    c.add_argument("--until", type=_when)
    c.set_defaults(func=_safe(_collide))
    i = isub.add_parser("import-sim", help="load a GENERATED persons.csv's tagged persons as key persons")
    i.add_argument("persons_csv")
    i.add_argument("--org-id", type=int, help="responsible station (orgs.id)")
    i.set_defaults(func=_safe(_import_sim))
    t = isub.add_parser("trajectory", help="人员轨迹: a person's or vehicle's records in time order")
    t.add_argument("--id-number")
    t.add_argument("--plate")
    t.add_argument("--phone")
    t.add_argument("--since", type=_when)
    t.add_argument("--until", type=_when)
    t.add_argument("--purpose", required=True, help="查询事由 (audited)")
    t.set_defaults(func=_safe(_trajectory))
