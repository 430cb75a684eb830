"""The command line against a real database (the suite's backend)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import BACKEND
from zhihui.core.store import Database
from zhihui.dispatch.recommend import default_graph_path


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zhihui.cli", *args], env=env, capture_output=True, text=True)


def test_upgrade_user_add_and_audit_verify(db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "ZHIHUI_DATABASE_URL": db_url, "ZHIHUI_SECRET_FILE": str(tmp_path / "k")}
    assert run(env, "db", "upgrade").returncode == 0  # idempotent on a migrated database
    r = run(env, "user", "add", "wang", "--role", "dispatcher", "--password", "Wang#Dispatch1")
    assert r.returncode == 0, r.stderr
    r = run(env, "user", "add", "wang", "--role", "dispatcher", "--password", "Wang#Dispatch1")
    assert r.returncode == 2 and "already exists" in r.stderr
    r = run(env, "user", "add", "li", "--role", "wizard", "--password", "Wang#Dispatch1")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    r = run(env, "audit", "verify")
    assert r.returncode == 0 and "audit chain OK" in r.stdout and "sealed: 1" in r.stdout

    async def tamper() -> None:
        db = Database(db_url)
        async with db.tx() as session:
            if db.dialect == "postgresql":
                await session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard"))
            else:
                await session.execute(text("DROP TRIGGER audit_log_no_update"))
            await session.execute(text("UPDATE audit_log SET detail = NULL"))
        await db.dispose()

    asyncio.run(tamper())
    r = run(env, "audit", "verify")
    assert r.returncode == 1 and "BROKEN" in r.stdout and "content changed" in r.stdout


def test_sim_study_writes_its_report_and_refuses_bad_options(tmp_path: Path) -> None:


    if BACKEND != "sqlite":
        pytest.skip("studies run their own SQLite sandboxes; covered by the SQLite pass")
    graph = default_graph_path()
    if graph is None or not graph.exists():
        pytest.skip("../shared/data/shenzhen_futian_drive.graphml is missing")
    env = {**os.environ, "ZHIHUI_SECRET_FILE": str(tmp_path / "k")}
    out = tmp_path / "study" / "report.html"
    r = run(env, "sim", "study", "--hours", "1", "--calls-per-day", "400", "--staffing", "3", "--quiet",
            "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "3/所: p90 road" in r.stdout and "improvement" in r.stdout
    page = out.read_text(encoding="utf-8")
    assert "警力配置与派警策略推演" in page and page.count("<svg") >= 3
    assert out.with_suffix(".json").exists()
    r = run(env, "sim", "study", "--staffing", "0,3")
    assert r.returncode == 2 and "staffing" in r.stderr
    r = run(env, "sim", "study", "--policies", "road,random")
    assert r.returncode == 2 and "policies" in r.stderr


def test_analytics_commands(db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "ZHIHUI_DATABASE_URL": db_url, "ZHIHUI_SECRET_FILE": str(tmp_path / "k")}
    r = run(env, "analytics", "stats", "--since", "2026-03-01", "--until", "2026-03-02", "--by", "hour")
    assert r.returncode == 0, r.stderr
    assert "2026-03-01 00:00 – 2026-03-02 00:00 (Beijing time), by hour" in r.stdout and "total 0" in r.stdout
    r = run(env, "analytics", "kpis", "--since", "2026-03-01", "--until", "2026-03-02", "--csv")
    assert r.returncode == 0 and r.stdout == ""  # no groups, no rows
    r = run(env, "analytics", "stats", "--since", "2026-03-02", "--until", "2026-03-01")
    assert r.returncode == 2 and "until must be after since" in r.stderr
    r = run(env, "analytics", "stats", "--since", "yesterday")
    assert r.returncode == 2 and "not an ISO date/time" in r.stderr


def test_intel_commands(db_url: str, tmp_path: Path) -> None:
    """zhihui intel: load GENERATED key persons, ingest their activity (the batch is collided), collide again
    (nothing new), a trajectory; bad input is one line naming the field."""
    from tests.intel.test_ingest import PLACES
    from zhihui.sim.population import generate_population, write_population

    pop = generate_population(PLACES, seed=7, n_persons=200, days=2)
    write_population(pop, tmp_path)
    env = {**os.environ, "ZHIHUI_DATABASE_URL": db_url, "ZHIHUI_SECRET_FILE": str(tmp_path / "k"),
           "ZHIHUI_INTEL_DIR": str(tmp_path / "intel")}
    r = run(env, "intel", "import-sim", str(tmp_path / "persons.csv"))
    assert r.returncode == 0 and "imported" in r.stdout, r.stderr
    r = run(env, "intel", "ingest", str(tmp_path / "activities.csv"), "--mapping", "sim_activities")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["rows_quarantined"] == 0 and out["collision"]["hits"] > 0
    r = run({**env, "ZHIHUI_INTEL_DIR": str(tmp_path / "no-such-dir")}, "intel", "index", "--rebuild")
    assert r.returncode == 2 and "error: activity: no ingested activity" in r.stderr, r.stderr
    assert not (tmp_path / "no-such-dir").exists()
    r = run(env, "intel", "index", "--status")
    assert r.returncode == 0 and json.loads(r.stdout)["built"] is False, r.stderr
    r = run(env, "intel", "index")
    assert r.returncode == 0, r.stderr
    built = json.loads(r.stdout)
    assert built["rebuilt"] and built["rows"] == out["rows_ok"] and built["rows_outside"] == 0
    r = run(env, "intel", "collide")  # over the index now: the same hits as the batch's own run
    assert r.returncode == 0, r.stderr
    again = json.loads(r.stdout)
    assert again["hits"] == out["collision"]["hits"] and again["new_hits"] == 0
    someone = next(p for p in pop.persons if p.tags and any(a.id_number == p.id_number for a in pop.activities))
    r = run(env, "intel", "trajectory", "--id-number", someone.id_number, "--purpose", "命令行轨迹研判")
    assert r.returncode == 0 and r.stdout.count("\n") >= 1, r.stderr
    r = run(env, "intel", "trajectory", "--plate", "??", "--purpose", "命令行轨迹研判")
    assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr
    r = run(env, "intel", "ingest", str(tmp_path / "activities.csv"), "--mapping", "no_such_mapping")
    assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr, r.stderr
    # 重点人员批量导入 from a GBK list: the good row is added, the bad one reported by line and field.
    lst = tmp_path / "名单.csv"
    lst.write_bytes("姓名,身份证号,人员类别\r\n韩梅,11010519491231002X,涉稳\r\n李雷,110105194912310021,涉稳\r\n"
                    .encode("gbk"))
    r = run(env, "intel", "import-persons", str(lst), "--dry-run")
    assert r.returncode == 1 and "would create 1" in r.stdout and "line 3: id_number" in r.stderr, r.stderr
    r = run(env, "intel", "import-persons", str(lst), "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["created"] == 1, r.stderr
    r = run(env, "intel", "import-persons", str(lst))
    assert "created 0, already on the list 1" in r.stdout, r.stdout
    r = run(env, "intel", "import-persons", str(tmp_path / "nothing.csv"))
    assert r.returncode == 2 and r.stderr.startswith("error: file: ") and "Traceback" not in r.stderr, r.stderr
    r = run(env, "intel", "export-persons", str(tmp_path / "涉稳.csv"), "--category", "涉稳",
            "--purpose", "名单移交核对")
    assert r.returncode == 0, r.stderr
    assert "韩梅,11010519491231002X" in (tmp_path / "涉稳.csv").read_text(encoding="utf-8-sig")
    r = run(env, "intel", "export-persons", str(tmp_path / "x.pdf"), "--purpose", "名单移交核对")
    assert r.returncode == 2 and r.stderr.startswith("error: out: "), r.stderr


def test_intel_tactics_commands(db_url: str, tmp_path: Path) -> None:
    """Every tactic the API offers runs from the shell too, with a stated purpose that lands in the audit log:
    relations, path, associates, co-presence, origin, series; bad input is one line naming the field."""
    import csv

    from tests.intel.test_ingest import PLACES
    from zhihui.sim.population import generate_population, write_population

    pop = generate_population(PLACES, seed=7, n_persons=300, days=3)
    write_population(pop, tmp_path)
    env = {**os.environ, "ZHIHUI_DATABASE_URL": db_url, "ZHIHUI_SECRET_FILE": str(tmp_path / "k"),
           "ZHIHUI_INTEL_DIR": str(tmp_path / "intel")}
    r = run(env, "intel", "ingest", str(tmp_path / "activities.csv"), "--mapping", "sim_activities", "--no-collide")
    assert r.returncode == 0, r.stderr
    with (tmp_path / "activities.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    a, b = next((x["id_number"], json.loads(x["detail"])["with"]) for x in rows
                if x["kind"] == "hotel_checkin" and json.loads(x["detail"]).get("with"))
    p = ("--purpose", "命令行关系倒查")
    r = run(env, "intel", "relations", a, "-k", "1", "--json", *p)
    assert r.returncode == 0, r.stderr
    g = json.loads(r.stdout)
    assert g["center"] == a and b in {n["id"] for n in g["nodes"]}
    r = run(env, "intel", "path", a, b, *p)
    assert r.returncode == 0 and r.stdout.splitlines()[0] == f"{a} → {b}", r.stdout + r.stderr
    r = run(env, "intel", "associates", a, "--days", "365", "--json", *p)
    assert r.returncode == 0 and b in {s["key"] for s in json.loads(r.stdout)["sightings"]}, r.stderr
    # Co-presence around two of one person's own records (as two cases) finds that person.
    own = sorted((x for x in rows if x["id_number"] == a), key=lambda x: x["at"])[:2]
    cases = [f"c{i},{x['at']},{x['lat']},{x['lon']}" for i, x in enumerate(own)]
    if len(cases) == 2:
        r = run(env, "intel", "co-presence", *(a for c in cases for a in ("--case", c)), "--dt-minutes", "30",
                "--dd-m", "200", "--json", *p)
        assert r.returncode == 0, r.stderr
        assert a in {x["entity"] for x in json.loads(r.stdout)["results"]}
    r = run(env, "intel", "origin", "--prefixes", a[:4], "--since", "2026-01-01", "--until", "2026-02-01",
            "--json", *p)
    assert r.returncode == 0 and json.loads(r.stdout)["rows"], r.stderr
    # A bureau's own 高危地区名单 file (ZHIHUI_ORIGIN_LISTS): the search by the list's code.
    (tmp_path / "origins.yaml").write_text(
        f"version: 1\nlists:\n  - code: OWN_LIST\n    name: 本局名单\n    crime: 盗窃\n    prefixes: ['{a[:4]}']\n",
        encoding="utf-8")
    own = {**env, "ZHIHUI_ORIGIN_LISTS": str(tmp_path / "origins.yaml")}
    r = run(own, "intel", "origin", "--list", "OWN_LIST", "--since", "2026-01-01", "--until", "2026-02-01",
            "--json", *p)
    assert r.returncode == 0 and json.loads(r.stdout)["rows"] and json.loads(r.stdout)["list"]["name"] == "本局名单"
    r = run(own, "intel", "origin", "--list", "DEMO_FRAUD", "--since", "2026-01-01", "--until", "2026-02-01", *p)
    assert r.returncode == 2 and r.stderr.startswith("error: list: ") and "OWN_LIST" in r.stderr, r.stderr
    # Bad input: the field is named, no traceback.
    r = run(env, "intel", "origin", "--prefixes", "4x", "--since", "2026-01-01", "--until", "2026-02-01", *p)
    assert r.returncode == 2 and "prefixes" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = run(env, "intel", "relations", a, "--purpose", "看")
    assert r.returncode == 2 and "purpose" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = run(env, "intel", "relations", "nobody", *p)
    assert r.returncode == 2 and "person" in r.stderr, r.stderr
    r = run(env, "intel", "series", "999999")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    # 登记关系: a recorded 亲属 relation joins the graph; recording it twice is refused.
    r = run(env, "intel", "relate", a, "11010519491231002X", "--kind", "family", "--detail", "父子")
    assert r.returncode == 0, r.stderr
    rel = json.loads(r.stdout)
    r = run(env, "intel", "relate", "11010519491231002X", a, "--kind", "family")
    assert r.returncode == 2 and "already recorded" in r.stderr, r.stderr
    r = run(env, "intel", "relate", a, "nobody", "--kind", "family")
    assert r.returncode == 2 and r.stderr.startswith("error: b: ") and "Traceback" not in r.stderr, r.stderr
    r = run(env, "intel", "relations", a, "-k", "1", "--kinds", "family", "--json", *p)
    assert r.returncode == 0 and "11010519491231002X" in {n["id"] for n in json.loads(r.stdout)["nodes"]}, r.stderr
    r = run(env, "intel", "withdraw-relation", str(rel["id"]), "--reason", "核实有误")
    assert r.returncode == 0 and json.loads(r.stdout)["withdrawn_reason"] == "核实有误", r.stderr

    async def audited() -> list[tuple[str, str]]:
        db = Database(db_url)
        try:
            async with db.read() as session:
                return [tuple(x) for x in (await session.execute(text(
                    "SELECT action, username FROM audit_log WHERE action LIKE 'person.%'"))).all()]
        finally:
            await db.dispose()

    actions = asyncio.run(audited())
    assert {"person.relations", "person.associates", "person.origin_search"} <= {x[0] for x in actions}
    assert all(x[1].startswith("cli:") for x in actions)
