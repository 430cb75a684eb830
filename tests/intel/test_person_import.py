"""重点人员批量导入: a GBK CSV or an .xlsx list with Chinese headers; every row is either a key person or
reported with its line, field and reason; importing the same file again duplicates nobody."""

from __future__ import annotations

import io
from typing import Any

import httpx
from openpyxl import Workbook
from sqlalchemy import func, select

from tests.conftest import World
from zhihui.core.audit import AuditRecord
from zhihui.core.orgs import Org
from zhihui.intake.text.ids import check_digit
from zhihui.intel import person_files
from zhihui.intel.models import KeyPerson


def _id(body17: str) -> str:
    return body17 + check_digit(body17)


A, B, C = _id("44030419900101123"), _id("44030519850615002"), _id("36010219920303451")
BAD_CHECK = A[:-1] + ("0" if A[-1] != "0" else "1")
HEADER = ["序号", "姓名", "公民身份号码", "人员类别", "管控级别", "联系电话", "车牌号", "现住址", "责任单位", "备注"]
ROWS = [
    ["1", "王五", A, "在逃", "一级", "13800138001、139 0013 9002", "粤B12345", "福田区福华路1号", "福田派出所", ""],
    ["2", "李四", B, "吸毒人员", "2", "13800138003", "", "南山区", "440304510000", "社区戒毒"],
    ["3", "赵六", BAD_CHECK, "在逃", "一级", "", "", "", "", ""],
    ["4", "钱七", C, "黑社会", "三级", "", "", "", "", ""],
    ["5", "孙八", C, "前科", "三级", "12345", "", "", "", ""],
    ["6", "周九", C, "前科", "三级", "", "", "", "不存在的所", ""],
    ["7", "王五", A, "在逃", "一级", "", "", "", "", "同一文件重复"],
    ["", "", "", "", "", "", "", "", "", ""],
    ["8", "吴十", "", "涉稳", "3级", "", "京A·88888", "", "", "无身份证号"],
]


def _csv(rows: list[list[str]], encoding: str = "gbk") -> bytes:
    return "\r\n".join(",".join(r) for r in [HEADER, *rows]).encode(encoding)


async def _org(app: Any) -> int:
    async with app.state.db.tx() as session:
        org = Org(code="440304510000", name="福田派出所", kind="station")
        session.add(org)
        await session.flush()
        return int(org.id)


async def _post(client: httpx.AsyncClient, h: dict[str, str], data: bytes, name: str, **form: Any) -> httpx.Response:
    return await client.post("/api/v1/intel/persons/import", files={"file": (name, data)},
                             data={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in form.items()},
                             headers=h)


async def test_import_reports_each_bad_row_and_never_duplicates(app: Any, client: httpx.AsyncClient,
                                                               world: World) -> None:
    h = world.headers
    org_id = await _org(app)
    data = _csv(ROWS)
    # A dry run checks everything and adds nothing.
    r = await _post(client, h["analyst"], data, "在逃名单.csv", dry_run=True)
    assert r.status_code == 200, r.text
    dry = r.json()
    assert dry["dry_run"] and dry["created"] == 0 and dry["valid"] == 3 and dry["ids"] == []
    async with app.state.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(KeyPerson)) == 0

    r = await _post(client, h["analyst"], data, "在逃名单.csv")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["rows"] == 8 and out["created"] == 3 and len(out["ids"]) == 3  # the blank line is not a row
    assert out["columns"]["id_number"] == "公民身份号码" and "序号" not in out["columns"].values()
    rejected = {x["line"]: x for x in out["rejected"]}
    assert set(rejected) == {4, 5, 6, 7}
    assert rejected[4]["field"] == "id_number" and "check digit" in rejected[4]["message"]
    assert rejected[5]["field"] == "category"
    assert rejected[6]["field"] == "phones.0"
    assert rejected[7]["field"] == "org" and "不存在的所" in rejected[7]["message"]
    assert [x["line"] for x in out["existing"]] == [8]  # 王五 twice in the file: one person

    async with app.state.db.read() as session:
        made = {p.name: p for p in (await session.execute(select(KeyPerson))).scalars()}
        assert set(made) == {"王五", "李四", "吴十"}
        w = made["王五"]
        assert w.id_number == A and w.phones == ["13800138001", "13900139002"] and w.plates == ["粤B12345"]
        assert w.org_id == org_id and w.control_level == "一级" and w.birth_date.isoformat() == "1990-01-01"
        assert made["李四"].org_id == org_id and made["李四"].control_level == "二级"  # by code; "2" → 二级
        assert made["吴十"].id_number is None and made["吴十"].plates == ["京A88888"]
        assert made["吴十"].control_level == "三级"
        actions = [a for (a,) in (await session.execute(select(AuditRecord.action))).all()]
        assert actions.count("person.create") == 3 and actions.count("person.import") == 1

    # The same list again (now as UTF-8): nobody twice.
    r = await _post(client, h["analyst"], _csv(ROWS, "utf-8-sig"), "在逃名单.csv")
    assert r.status_code == 200, r.text
    again = r.json()
    assert again["created"] == 0 and sorted(x["line"] for x in again["existing"]) == [2, 3, 8, 10]
    async with app.state.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(KeyPerson)) == 3


async def test_import_reads_xlsx_and_refuses_what_is_not_a_list(app: Any, client: httpx.AsyncClient,
                                                                world: World) -> None:
    h = world.headers
    org_id = await _org(app)
    wb = Workbook()
    ws = wb.active
    ws.append([])  # a blank line above the header, as exported sheets often have
    ws.append(["姓名", "身份证号", "类别", "手机号", "出生日期", "性别"])
    ws.append(["郑一", C, "盗窃前科", 13800138009, None, "男"])  # Excel keeps the phone as a number
    ws.append(["冯二", "", "其他", None, "19800202", "女"])
    buf = io.BytesIO()
    wb.save(buf)
    r = await _post(client, h["analyst"], buf.getvalue(), "list.xlsx", org_id=org_id)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["created"] == 2 and out["rejected"] == [], out
    async with app.state.db.read() as session:
        made = {p.name: p for p in (await session.execute(select(KeyPerson))).scalars()}
    assert made["郑一"].phones == ["13800138009"] and made["郑一"].org_id == org_id and made["郑一"].sex == "M"
    assert made["冯二"].birth_date.isoformat() == "1980-02-02" and made["冯二"].sex == "F"

    for data, name, field in ((b"\x00\x01 not a workbook", "x.xlsx", "file"), (b"a,b\n1,2\n", "x.csv", "file"),
                              (b"name,category\n", "x.pdf", "file"), (b"", "x.csv", "file")):
        r = await _post(client, h["analyst"], data, name)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field
    r = await _post(client, h["analyst"], b"\xe5\xa7\x93\xe5\x90\x8d,\xe7\xb1\xbb\xe5\x88\xab\n", "x.csv", org_id=99999)
    assert r.status_code == 422 and r.json()["field"] == "org_id", r.text
    r = await _post(client, h["call_taker"], _csv(ROWS), "x.csv")
    assert r.status_code == 403


async def test_export_is_audited_and_imports_again(app: Any, client: httpx.AsyncClient, world: World) -> None:
    """导出名单: the file carries the import's headers, so an exported list imports again as it was (all of it
    found on the list, nothing rejected); the export is a look-up with a purpose, audited with its ids."""
    from openpyxl import load_workbook

    h = world.headers
    await _org(app)
    r = await _post(client, h["analyst"], _csv(ROWS), "名单.csv")
    assert r.status_code == 200 and r.json()["created"] == 3, r.text
    r = await client.get("/api/v1/intel/persons/export", headers=h["analyst"])
    assert r.status_code == 422  # no 查询事由, no export
    r = await client.get("/api/v1/intel/persons/export", params={"purpose": "名单移交核对", "category": "在逃"},
                         headers=h["analyst"])
    assert r.status_code == 200, r.text
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    ws = load_workbook(io.BytesIO(r.content), read_only=True).worksheets[0]
    rows = [list(x) for x in ws.iter_rows(values_only=True)]
    head = rows[0]
    assert head[:2] == ["姓名", "公民身份号码"] and len(rows) == 2  # only the 在逃 list: 王五
    w = dict(zip(head, rows[1], strict=True))
    assert w["公民身份号码"] == A and w["联系电话"] == "13800138001、13900139002" and w["责任单位名称"] == "福田派出所"
    assert w["状态"] == "在管" and w["性别"] == "男"
    # The whole list as CSV, then imported again: every person found on the list already.
    r = await client.get("/api/v1/intel/persons/export", params={"purpose": "名单移交核对", "format": "csv"},
                         headers=h["analyst"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    again = (await _post(client, h["analyst"], r.content, "export.csv")).json()
    assert again["rows"] == 3 and again["existing"] and len(again["existing"]) == 3 and again["rejected"] == []
    r = await client.get("/api/v1/intel/persons/export", params={"purpose": "名单移交核对", "category": "涉恐"},
                         headers=h["analyst"])
    ws = load_workbook(io.BytesIO(r.content), read_only=True).worksheets[0]
    assert [list(x) for x in ws.iter_rows(values_only=True)] == [list(person_files.EXPORT_FIELDS)]  # header only
    async with app.state.db.read() as session:
        details = [d for (d,) in (await session.execute(
            select(AuditRecord.detail).where(AuditRecord.action == "person.export"))).all()]
    assert [d["count"] for d in details] == [1, 3, 0] and all(d["purpose"] == "名单移交核对" for d in details)
    assert len(details[1]["ids"]) == 3
    r = await client.get("/api/v1/intel/persons/export", params={"purpose": "名单移交核对"},
                         headers=h["call_taker"])
    assert r.status_code == 403


def test_a_foreigner_is_listed_by_passport() -> None:
    """A key person known only by a passport or 通行证 (other_ids), upper-cased for exact matching."""
    from zhihui.core.errors import InvalidInput
    from zhihui.intel.persons import PersonIn, build_person

    p = build_person(PersonIn(name="JOHN SMITH", category="在逃", other_ids=["p 1234 567", A]), None)
    assert p.id_number is None and p.other_ids == ["P1234567", A]
    try:
        build_person(PersonIn(name="某人", category="在逃", other_ids=["护照"]), None)
    except InvalidInput as exc:
        assert exc.field == "other_ids.0"
    else:
        raise AssertionError("a word is no document number")


async def test_the_list_is_exported_again_only_when_it_may_have_changed(app: Any, tmp_path: Any) -> None:
    """Every collision run exports the list: unchanged, the files stay as they are; a new person, a changed phone, an
    archived person or a renamed station's code each write them again, with the change in them."""
    import pyarrow.parquet as pq

    from zhihui.core.auth import Actor
    from zhihui.intel import persons

    db, out, actor = app.state.db, tmp_path / "wl", Actor(None, "test", "analyst")

    async def export() -> tuple[int, dict[str, list]]:
        async with db.read() as session:
            wl, keys, n = await persons.export_watchlist(session, out)
        return n, {"mtime": [wl.stat().st_mtime_ns, keys.stat().st_mtime_ns],
                   "keys": sorted(pq.read_table(keys).column("key_value").to_pylist()),
                   "org": pq.read_table(wl).column("org_code").to_pylist()}  # fmt: skip

    async with db.tx() as session:
        org = Org(code="440304500000", name="导出测试所", kind="station", lat=22.5, lon=114.0)
        session.add(org)
        await session.flush()
        p = await persons.create_person(session, actor, persons.PersonIn(
            name="导出甲", id_number=_id("44030419900101123"), category="在逃", phones=["13800138001"],
            org_id=org.id))  # fmt: skip
        pid, oid = p.id, org.id
    n, first = await export()
    again = (await export())[1]
    assert n == 1 and again["mtime"] == first["mtime"]  # nothing changed: not written again
    async with db.tx() as session:
        await persons.create_person(session, actor, persons.PersonIn(name="导出乙", category="吸毒人员",
                                                                    phones=["13900139002"]))  # fmt: skip
    n, got = await export()
    assert n == 2 and "13900139002" in got["keys"]
    async with db.tx() as session:
        await persons.update_person(session, actor, pid, persons.PersonPatch(phones=["13700137003"]))
    n, got = await export()
    assert "13700137003" in got["keys"] and "13800138001" not in got["keys"]
    async with db.tx() as session:
        await persons.update_person(session, actor, pid, persons.PersonPatch(status="archived"))
    n, got = await export()
    assert n == 1 and "13700137003" not in got["keys"]
    async with db.tx() as session:
        await persons.update_person(session, actor, pid, persons.PersonPatch(status="active"))
    n, got = await export()
    assert n == 2 and "440304500000" in got["org"]
    async with db.tx() as session:  # only the station's code changes: no person's row does
        (await session.get(Org, oid)).code = "440304510000"
    n, got = await export()
    assert n == 2 and "440304510000" in got["org"] and "440304500000" not in got["org"]
