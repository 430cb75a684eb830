# Copyright 2026 The zhihui authors. Licensed under the Apache License, Version 2.0.
"""名单文件: key persons from a spreadsheet (批量导入: CSV in UTF-8 or GBK, or Excel .xlsx) and to one (导出).

Lists reach a command center as spreadsheets (the 在逃 list from above, 吸毒人员 from 禁毒, a station's
前科 roll), with Chinese headers in varying words. Each row is checked exactly as a form entry is
(:class:`persons.PersonIn`, :func:`persons.build_person`: GB 11643 check digit, phones, plates, the
list's category) and either becomes a key person, or is reported with its line number, the field and
the reason. A person already active on the same list (by ID number) is reported as existing, not
duplicated, so importing the same file twice creates nothing the second time. The good rows are
added in the caller's transaction: all of them or (on a database error) none. ``dry_run`` checks a
file without adding anything.

An export (:func:`export_persons`) is a look-up of every person in it: it states its purpose and is audited
with the filters, the count and the ids. Its columns are headers the import reads, so an exported list
imports again as it was (a station's list handed to another system, or back).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhihui.core import audit
from zhihui.core.auth import Actor
from zhihui.core.errors import InvalidInput
from zhihui.core.orgs import Org
from zhihui.intel import persons
from zhihui.intel.models import KeyPerson

MAX_ROWS = 50_000
# Canonical field → the header words seen on real lists (compared without spaces, case-insensitive).
HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字", "name"),
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "证件号码", "身份证", "id_number", "id"),
    "aliases": ("别名", "曾用名", "绰号", "化名", "aliases"),
    "other_ids": ("其他证件号", "其他证件号码", "其他身份证号", "护照号码", "护照号", "other_ids"),
    "birth_date": ("出生日期", "出生年月日", "birth_date"),
    "sex": ("性别", "sex"),
    "category": ("人员类别", "类别", "重点人员类别", "列管类别", "category"),
    "control_level": ("管控级别", "管控等级", "级别", "control_level"),
    "phones": ("联系电话", "手机号", "手机号码", "电话", "phones", "phone"),
    "plates": ("车牌号", "车牌号码", "车牌", "plates", "plate"),
    "addresses": ("地址", "住址", "居住地址", "现住址", "addresses", "address"),
    "org": ("责任单位代码", "责任单位", "管辖单位", "列管单位", "org", "org_code"),
    "officer": ("责任民警", "管控民警", "officer"),
    "note": ("备注", "note"),
}
REQUIRED = ("name", "category")
_LISTS = ("aliases", "other_ids", "phones", "plates", "addresses")
_SPLIT = re.compile(r"[、,，;；|/\n]+")
_SEX = {"男": "M", "女": "F", "m": "M", "f": "F", "男性": "M", "女性": "F"}
_LEVEL = {"1": "一级", "2": "二级", "3": "三级", "一": "一级", "二": "二级", "三": "三级"}


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))  # Excel stores 13800138000 as a float
    return str(v).strip()


def read_rows(data: bytes, filename: str) -> list[list[str]]:
    """The sheet as rows of text cells (header first): .xlsx by openpyxl, else CSV in UTF-8 or GBK."""
    if filename.lower().endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # zipfile / XML errors of a damaged or mislabelled file
            raise InvalidInput("file", f"not a readable .xlsx workbook ({type(exc).__name__})") from None
        try:
            return [[_cell(v) for v in row] for row in wb.worksheets[0].iter_rows(values_only=True)]
        finally:
            wb.close()
    if not filename.lower().endswith((".csv", ".txt")):
        raise InvalidInput("file", "the file must be .csv or .xlsx")
    for enc in ("utf-8-sig", "gb18030"):  # gb18030 reads GBK and GB2312 too
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:  # gb18030 decodes nearly any bytes; kept for safety
        raise InvalidInput("file", "the file is neither UTF-8 nor GBK text")
    return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]


def header_map(header: list[str]) -> dict[str, int]:
    """Canonical field → column index; unknown columns are ignored, a missing required one is an error."""
    words = {w.lower(): f for f, ws in HEADERS.items() for w in ws}
    out: dict[str, int] = {}
    for i, h in enumerate(header):
        f = words.get(re.sub(r"\s+", "", h).lower().lstrip("*"))
        if f and f not in out:
            out[f] = i
    missing = [HEADERS[f][0] for f in REQUIRED if f not in out]
    if missing:
        raise InvalidInput("file", f"缺少必填列 (missing required columns): {'、'.join(missing)}; "
                                   f"表头 (header) was: {'、'.join(h for h in header if h) or '(empty)'}")
    return out


def _entry(row: list[str], cols: dict[str, int], orgs: dict[str, int], default_org: int | None) -> dict[str, Any]:
    v = {f: (row[i] if i < len(row) else "") for f, i in cols.items()}
    out: dict[str, Any] = {"name": v["name"], "category": v["category"]}
    if v.get("id_number"):
        out["id_number"] = v["id_number"].replace(" ", "")
    for f in _LISTS:
        if v.get(f):
            out[f] = [x.strip() for x in _SPLIT.split(v[f]) if x.strip()]
    if v.get("birth_date"):
        raw = v["birth_date"].replace("/", "-").replace(".", "-")
        out["birth_date"] = f"{raw[:4]}-{raw[4:6]}-{raw[6:8]}" if re.fullmatch(r"\d{8}", raw) else raw
    if v.get("sex"):
        out["sex"] = _SEX.get(v["sex"].lower(), v["sex"])
    if v.get("control_level"):
        out["control_level"] = _LEVEL.get(v["control_level"].rstrip("级"), v["control_level"])
    for f in ("officer", "note"):
        if v.get(f):
            out[f] = v[f]
    if v.get("org"):
        if v["org"] not in orgs:
            raise InvalidInput("org", f"no organ with code or name '{v['org']}'")
        out["org_id"] = orgs[v["org"]]
    elif default_org is not None:
        out["org_id"] = default_org
    return out


def _problem(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    field = ".".join(str(x) for x in err.get("loc", ())) or "row"
    return field, str(err.get("msg", "invalid")).removeprefix("Value error, ")


def _same(category: str, id_number: str | None, name: str, birth_date: date | None, phones: list[str] | None,
          plates: list[str] | None) -> tuple[Any, ...]:
    """Who counts as already on a list: the same ID number on it; without an ID (a 三无人员, an alias
    known only by name), the same name, birth date, phones and plates on it."""
    if id_number:
        return (category, id_number)
    return (category, None, name, birth_date, tuple(sorted(phones or ())), tuple(sorted(plates or ())))


def _same_of(p: KeyPerson) -> tuple[Any, ...]:
    return _same(p.category, p.id_number, p.name, p.birth_date, p.phones, p.plates)


async def import_persons(session: AsyncSession, actor: Actor, data: bytes, filename: str, *,
                         dry_run: bool = False, org_id: int | None = None) -> dict[str, Any]:
    """Check every row and add the good ones (see the module notes). `org_id`: the responsible organ for
    rows that name none. Returns counts, the created ids, and for each row not created its line number
    (the header is line 1), the field and the reason (``rejected``) or that it is on the list already
    (``existing``)."""
    rows = read_rows(data, filename)
    while rows and not any(rows[0]):
        rows.pop(0)  # blank lines above the header
    if not rows:
        raise InvalidInput("file", "the file is empty")
    cols = header_map(rows[0])
    body = [(n, r) for n, r in enumerate(rows[1:], start=2) if any(r)]
    if len(body) > MAX_ROWS:
        raise InvalidInput("file", f"at most {MAX_ROWS} rows per file; split the list")
    if org_id is not None and await session.get(Org, org_id) is None:
        raise InvalidInput("org_id", f"no organ with id {org_id}")
    orgs: dict[str, int] = {}
    for oid, code, name in (await session.execute(select(Org.id, Org.code, Org.name))).all():
        orgs[name] = oid
        orgs[code] = oid  # a code wins over a name that happens to spell it
    cols_same = (KeyPerson.category, KeyPerson.id_number, KeyPerson.name, KeyPerson.birth_date, KeyPerson.phones,
                 KeyPerson.plates)  # columns, not ORM objects: a list may hold 10^5 persons
    on_list = {_same(*r) for r in (await session.execute(select(*cols_same).where(KeyPerson.status == "active")))}
    made: list[KeyPerson] = []
    rejected: list[dict[str, Any]] = []
    existing: list[dict[str, Any]] = []
    for line, row in body:
        try:
            entry = persons.PersonIn(**_entry(row, cols, orgs, org_id))
            p = persons.build_person(entry, actor.user_id)
        except ValidationError as exc:
            field, msg = _problem(exc)
            rejected.append({"line": line, "field": field, "message": msg})
            continue
        except InvalidInput as exc:
            rejected.append({"line": line, "field": exc.field, "message": exc.message})
            continue
        if _same_of(p) in on_list:
            existing.append({"line": line, "id_number": p.id_number, "name": p.name, "category": p.category})
            continue
        on_list.add(_same_of(p))  # the same person twice in one file: once
        made.append(p)
    digest = hashlib.sha256(data).hexdigest()
    if not dry_run and made:
        session.add_all(made)
        await session.flush()
        for p in made:
            persons.audit_created(session, actor, p, imported=digest[:16])
    if not dry_run:
        audit.append(session, actor, "person.import", component=persons.COMPONENT, target_type="key_person",
                     detail={"file": filename, "sha256": digest, "rows": len(body), "created": len(made),
                             "existing": len(existing), "rejected": len(rejected)})
    return {"file": filename, "rows": len(body), "dry_run": dry_run,
            "created": 0 if dry_run else len(made), "valid": len(made), "existing": existing,
            "rejected": rejected, "ids": [] if dry_run else [p.id for p in made],
            "columns": {f: rows[0][i] for f, i in cols.items()}}


MAX_EXPORT = 100_000
EXPORT_FIELDS = ("姓名", "公民身份号码", "其他证件号", "别名", "出生日期", "性别", "人员类别", "管控级别",
                 "联系电话", "车牌号", "住址", "责任单位代码", "责任单位名称", "责任民警", "状态", "备注", "建档时间")
_SEX_ZH = {"M": "男", "F": "女"}
_STATUS_ZH = {"active": "在管", "archived": "撤管"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def export_persons(session: AsyncSession, actor: Actor, *, purpose: str, category: str | None = None,
                         org_id: int | None = None, status: str = "active",
                         fmt: str = "xlsx") -> tuple[bytes, str, str]:
    """(file bytes, file name, media type) of the list matching the filters, in id order; audited as a
    look-up of every person in it."""
    from zhihui.analytics import stats
    from zhihui.core.clock import SHANGHAI, utcnow

    if fmt not in ("xlsx", "csv"):
        raise InvalidInput("format", "format must be xlsx or csv")
    stmt = select(KeyPerson).where(KeyPerson.status == status)
    if category:
        stmt = stmt.where(KeyPerson.category == category)
    if org_id is not None:
        stmt = stmt.where(KeyPerson.org_id == org_id)
    found = list((await session.execute(stmt.order_by(KeyPerson.id).limit(MAX_EXPORT + 1))).scalars())
    if len(found) > MAX_EXPORT:
        raise InvalidInput("category", f"more than {MAX_EXPORT} persons: narrow the export by list or station")
    orgs = {oid: (code, name) for oid, code, name in (await session.execute(select(Org.id, Org.code, Org.name))).all()}
    rows = []
    for p in found:
        code, name = orgs.get(p.org_id, ("", "")) if p.org_id else ("", "")
        rows.append(dict(zip(EXPORT_FIELDS, (
            p.name, p.id_number or "", "、".join(p.other_ids or ()), "、".join(p.aliases or ()),
            p.birth_date.isoformat() if p.birth_date else "",
            _SEX_ZH.get(p.sex or "", ""), p.category, p.control_level, "、".join(p.phones or ()),
            "、".join(p.plates or ()), "；".join(p.addresses or ()), code, name, p.officer or "",
            _STATUS_ZH.get(p.status, p.status), p.note or "", p.created_at), strict=True)))
    audit.append(session, actor, "person.export", component=persons.COMPONENT, target_type="key_person",
                 detail={"purpose": purpose, "category": category, "org_id": org_id, "status": status,
                         "format": fmt, "count": len(found), "ids": [p.id for p in found]})
    stamp = utcnow().astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    name = f"重点人员-{category or '全部'}-{stamp}.{fmt}"
    if fmt == "xlsx":
        return stats.to_xlsx(rows, "重点人员", fields=EXPORT_FIELDS), name, XLSX
    return stats.to_csv(rows, fields=EXPORT_FIELDS).encode("utf-8"), name, "text/csv; charset=utf-8"
