"""Ingestion of activity data (旅馆/网吧/卡口/购票) into the canonical ``ACTIVITY`` Parquet layout.

A source file is read through a declared *mapping* (YAML in :mod:`zhihui.intel.mappings`): which column
feeds which canonical field, the encoding, the time zone of naive timestamps, the record id, the required
fields and the coordinate system. Every row ends up in exactly one place::

    rows_in == rows_ok + rows_quarantined + rows_skipped_duplicate

* good rows → ``out_dir/activity/source=<source>/<batch_id>.parquet`` (exactly ``schema.ACTIVITY_STORED``: the
  canonical columns, then the integer keys a collision scans, made by ``normalise.activity_keys``; a page index lets
  it read single rows);
* bad rows → ``out_dir/quarantine/<batch_id>.parquet`` (+ ``.csv``) with the original values, the line,
  the field and a reason in Chinese and English — nothing is dropped silently;
* record ids already stored by an earlier batch of the same source are skipped and counted;
* ``out_dir/batches/<batch_id>.json`` is the manifest, written last: a batch without one never happened,
  and a file whose sha256 is in a manifest is recognised and not ingested again.

Files are streamed in chunks; memory grows only with the set of record ids (this batch's and the earlier
ones of the same source), not with the file.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import json
import math
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from importlib import resources
from pathlib import Path
from time import perf_counter as time_now
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from zhihui.geo.coords import bd09_to_wgs84, gcj02_to_wgs84, out_of_china
from zhihui.intake.text.ids import parse_resident_id
from zhihui.intel.normalise import (
    KEYS_META,
    KEYS_VERSION,
    doc_key,
    id_key,
    name_key,
    parquet_options,
    phone_key,
    plate_key,
    with_keys,
)
from zhihui.intel.schema import ACTIVITY, ACTIVITY_STORED, SOURCES

__all__ = [
    "QUARANTINE",
    "REASONS",
    "IngestResult",
    "Mapping",
    "MappingError",
    "OrgResolver",
    "add_keys",
    "export_quarantine_csv",
    "ingest",
    "list_mappings",
    "load_mapping",
    "parse_mapping",
]

OrgResolver = Callable[[float, float], str | None]

# code → (中文, English). The code is what programs and the reasons histogram use.
REASONS: dict[str, tuple[str, str]] = {
    "missing_required": ("必填字段缺失", "required field is empty"),
    "bad_timestamp": ("时间无法解析或不合理", "timestamp unreadable or implausible"),
    "future_timestamp": ("时间晚于当前时间", "timestamp is in the future"),
    "bad_coordinate": ("经纬度无效或超出范围", "coordinate unreadable or out of range"),
    "outside_china": ("坐标不在中国境内", "coordinate outside China"),
    "bad_id_number": ("证件号码无法识别", "ID number unreadable"),
    "bad_plate": ("号牌号码无法识别", "plate number unreadable"),
    "bad_phone": ("电话号码无法识别", "phone number unreadable"),
    "bad_value": ("字段值无法识别", "value unreadable"),
    "unknown_source": ("数据类别无法识别", "record kind not in the mapping"),
    "encoding_error": ("字符编码错误", "text does not decode in the declared encoding"),
    "bad_row_shape": ("列数与表头不符", "number of cells differs from the header"),
    "duplicate_record": ("本批次内记录编号重复", "record id repeated within the batch"),
}

QUARANTINE = pa.schema(
    [
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("line", pa.int64(), nullable=False),  # CSV: physical line (header = 1); Parquet: 1-based row
        pa.field("source", pa.string()),
        pa.field("record_id", pa.string()),
        pa.field("field", pa.string(), nullable=False),  # canonical field, column name, or "(row)"
        pa.field("reason", pa.string(), nullable=False),  # a key of REASONS
        pa.field("reason_zh", pa.string(), nullable=False),
        pa.field("reason_en", pa.string(), nullable=False),
        pa.field("problems", pa.string(), nullable=False),  # JSON list of every fatal problem of the row
        pa.field("raw", pa.string(), nullable=False),  # JSON object of the original cells (dropped columns removed)
    ]
)

# Canonical fields a mapping may set through `fields:`; the rest are set by the ingester itself.
_MAPPABLE = (
    "id_number", "name", "birth_date", "sex", "phone", "plate", "venue_code", "venue_name", "room", "trip",
    "lat", "lon", "org_code",
)  # fmt: skip
_SET_ELSEWHERE = {
    "record_id": "record_id",
    "source": "source",
    "batch_id": "the batch",
    "at": "timestamp",
    "name_key": "name (derived)",
    "detail": "detail",
}
_REQUIRABLE = (*_MAPPABLE, "record_id", "at")
_TOP_KEYS = {
    "name", "description", "format", "encoding", "delimiter", "skip_lines", "null_values", "source", "timestamp",
    "record_id", "coords", "china_only", "fields", "required", "detail", "drop",
}  # fmt: skip
_ENCODINGS = {"utf-8": "utf-8-sig", "utf8": "utf-8-sig", "utf-8-sig": "utf-8-sig", "gbk": "gbk", "gb2312": "gbk",
              "gb18030": "gb18030"}  # fmt: skip
_CRS = {"wgs84": None, "gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}
_TRANSFORMS = ("upper", "lower", "date", "digits")
_DEFAULT_NULLS = ("", "NULL", "null", "None", "\\N", "N/A")
_BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # ingest_batches.id is String(64)
_SEX = {"男": "M", "m": "M", "male": "M", "1": "M", "女": "F", "f": "F", "female": "F", "2": "F"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")
_MAPPINGS_PACKAGE = "zhihui.intel.mappings"


class MappingError(ValueError):
    """A mapping that cannot be used; ``field`` is the dotted path of the offending entry (``fields.lat``)."""

    def __init__(self, field: str, message: str, mapping: str | None = None) -> None:
        self.field = field
        self.mapping = mapping
        where = f"mapping {mapping!r}: " if mapping else ""
        super().__init__(f"{where}{field}: {message}")


# --- mapping ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expr:
    """A value taken from a row: a column, a constant, a JSON path, a concatenation or the first non-empty."""

    kind: str  # column | const | json | concat | coalesce
    column: str | None = None
    value: Any = None
    path: tuple[str, ...] = ()
    parts: tuple[Expr, ...] = ()
    sep: str = ""
    transform: str | None = None
    optional: bool = False  # a column that may be absent from the header (→ always empty)

    def columns(self) -> set[str]:
        own = {self.column} if self.column else set()
        return own.union(*(p.columns() for p in self.parts))


@dataclass(frozen=True, slots=True)
class Mapping:
    """A parsed, validated mapping (see the module docstring of :mod:`zhihui.intel.mappings`)."""

    name: str
    format: str  # csv | parquet
    encoding: str  # the Python codec actually used
    delimiter: str
    skip_lines: int
    null_values: frozenset[str]
    source: str | None  # a constant source, or None when taken from `source_column`
    source_column: str | None
    source_values: dict[str, str]  # raw cell → source key (empty: the cell must be a key of SOURCES)
    timestamp: Expr
    timestamp_formats: tuple[str, ...]
    timezone: tzinfo
    future_tolerance: timedelta
    earliest: datetime
    record_id: Expr | None  # None → hash of `record_hash`
    record_hash: tuple[str, ...]
    coords: str
    china_only: bool
    fields: dict[str, Expr]
    required: dict[str, frozenset[str]]  # source (or "*") → required canonical fields
    detail_rest: bool
    detail_columns: tuple[str, ...]
    detail_json: tuple[str, ...]
    detail_rename: dict[str, str]
    drop: frozenset[str]
    description: str = ""
    fingerprint: str = ""  # sha256 of the mapping's canonical JSON, recorded in the manifest
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,) if self.source else tuple(sorted(set(self.source_values.values())))

    def required_for(self, source: str) -> frozenset[str]:
        return self.required.get(source, self.required.get("*", frozenset()))


def _err(path: str, msg: str, name: str | None) -> MappingError:
    return MappingError(path, msg, name)


def _parse_expr(spec: Any, path: str, name: str | None) -> Expr:
    if isinstance(spec, str):
        if not spec.strip():
            raise _err(path, "empty column name", name)
        return Expr("column", column=spec.strip())
    if not isinstance(spec, dict):
        raise _err(path, f"expected a column name or a mapping, got {type(spec).__name__}", name)
    kinds = [k for k in ("column", "const", "json", "concat", "coalesce") if k in spec]
    if len(kinds) != 1:
        raise _err(path, "needs exactly one of column / const / json / concat / coalesce", name)
    kind = kinds[0]
    allowed = {kind, "transform"} | {"json": {"path"}, "concat": {"sep"}, "column": {"optional"}}.get(kind, set())
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise _err(f"{path}.{unknown[0]}", f"unknown key (allowed here: {', '.join(sorted(allowed))})", name)
    transform = spec.get("transform")
    if transform is not None and transform not in _TRANSFORMS:
        raise _err(f"{path}.transform", f"{transform!r} is not one of {', '.join(_TRANSFORMS)}", name)
    if kind == "column":
        col = spec["column"]
        if not isinstance(col, str) or not col.strip():
            raise _err(f"{path}.column", "must be a non-empty column name", name)
        return Expr("column", column=col.strip(), transform=transform, optional=bool(spec.get("optional", False)))
    if kind == "const":
        if spec["const"] is None or isinstance(spec["const"], dict | list):
            raise _err(f"{path}.const", "must be a scalar", name)
        return Expr("const", value=spec["const"], transform=transform)
    if kind == "json":
        col, jpath = spec["json"], spec.get("path")
        if not isinstance(col, str) or not col.strip():
            raise _err(f"{path}.json", "must name the column holding the JSON", name)
        if not isinstance(jpath, str) or not jpath.strip():
            raise _err(f"{path}.path", "a dotted path into the JSON object is required", name)
        return Expr("json", column=col.strip(), path=tuple(jpath.strip().split(".")), transform=transform)
    parts = spec[kind]
    if not isinstance(parts, list) or not parts:
        raise _err(f"{path}.{kind}", "must be a non-empty list of expressions", name)
    sub = tuple(_parse_expr(p, f"{path}.{kind}[{i}]", name) for i, p in enumerate(parts))
    sep = spec.get("sep", "")
    if not isinstance(sep, str):
        raise _err(f"{path}.sep", "must be a string", name)
    return Expr(kind, parts=sub, sep=sep, transform=transform)


def _parse_tz(spec: Any, path: str, name: str | None) -> tzinfo:
    if not isinstance(spec, str):
        raise _err(path, "must be an IANA zone (Asia/Shanghai), UTC or an offset like +08:00", name)
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", spec.strip())
    if m:
        sign = 1 if m.group(1) == "+" else -1
        return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
    if spec.strip().upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(spec.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise _err(path, f"unknown time zone {spec!r}", name) from None


def _str_list(spec: Any, path: str, name: str | None) -> tuple[str, ...]:
    if isinstance(spec, str):
        spec = [spec]
    if not isinstance(spec, list) or not all(isinstance(s, str) and s.strip() for s in spec):
        raise _err(path, "must be a list of names", name)
    return tuple(s.strip() for s in spec)


def parse_mapping(raw: dict[str, Any]) -> Mapping:
    """Validate a mapping given as a dict (the parsed YAML); MappingError names the offending field."""
    if not isinstance(raw, dict):
        raise MappingError("(mapping)", "must be a YAML mapping at the top level")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MappingError("name", "a non-empty name is required")
    name = name.strip()
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise _err(unknown[0], f"unknown key (expected some of: {', '.join(sorted(_TOP_KEYS))})", name)

    fmt = raw.get("format", "csv")
    if fmt not in ("csv", "parquet"):
        raise _err("format", f"{fmt!r} is not csv or parquet", name)
    enc_raw = str(raw.get("encoding", "utf-8")).strip().lower()
    if enc_raw not in _ENCODINGS:
        raise _err("encoding", f"{raw.get('encoding')!r} is not one of utf-8, gbk, gb18030", name)
    delimiter = raw.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise _err("delimiter", "must be a single character", name)
    skip_lines = raw.get("skip_lines", 0)
    if not isinstance(skip_lines, int) or isinstance(skip_lines, bool) or skip_lines < 0:
        raise _err("skip_lines", "must be a non-negative integer", name)
    nulls = raw.get("null_values", list(_DEFAULT_NULLS))
    if not isinstance(nulls, list) or not all(isinstance(v, str) for v in nulls):
        raise _err("null_values", "must be a list of strings", name)

    # source: a constant, or a column with a value map (the simulator mixes kinds in one file).
    src = raw.get("source")
    source, source_column, source_values = None, None, {}
    if isinstance(src, str):
        if src not in SOURCES:
            raise _err("source", f"{src!r} is not one of {', '.join(SOURCES)}", name)
        source = src
    elif isinstance(src, dict):
        extra = sorted(set(src) - {"column", "values"})
        if extra:
            raise _err(f"source.{extra[0]}", "unknown key (allowed: column, values)", name)
        if not isinstance(src.get("column"), str) or not src["column"].strip():
            raise _err("source.column", "must name the column holding the record kind", name)
        source_column = src["column"].strip()
        values = src.get("values") or {}
        if not isinstance(values, dict):
            raise _err("source.values", "must map cell values to source keys", name)
        for k, v in values.items():
            if v not in SOURCES:
                raise _err(f"source.values.{k}", f"{v!r} is not one of {', '.join(SOURCES)}", name)
        source_values = {str(k): str(v) for k, v in values.items()}
    else:
        raise _err("source", f"required: one of {', '.join(SOURCES)}, or {{column, values}}", name)

    ts = raw.get("timestamp")
    if isinstance(ts, str):
        ts = {"column": ts}
    if not isinstance(ts, dict):
        raise _err("timestamp", "required: {column: …, timezone: …}", name)
    ts_allowed = {"column", "value", "formats", "timezone", "future_tolerance_minutes", "earliest"}
    extra = sorted(set(ts) - ts_allowed)
    if extra:
        raise _err(f"timestamp.{extra[0]}", f"unknown key (allowed: {', '.join(sorted(ts_allowed))})", name)
    if ("column" in ts) == ("value" in ts):
        raise _err("timestamp", "needs exactly one of column / value", name)
    ts_expr = (
        _parse_expr(ts["column"], "timestamp.column", name)
        if "column" in ts
        else _parse_expr(ts["value"], "timestamp.value", name)
    )
    formats = _str_list(ts.get("formats", []), "timestamp.formats", name) if ts.get("formats") else ()
    tz = _parse_tz(ts.get("timezone", "Asia/Shanghai"), "timestamp.timezone", name)
    tol = ts.get("future_tolerance_minutes", 30)
    if not isinstance(tol, int | float) or isinstance(tol, bool) or tol < 0:
        raise _err("timestamp.future_tolerance_minutes", "must be a non-negative number", name)
    try:
        earliest_d = date.fromisoformat(str(ts.get("earliest", "1990-01-01")))
    except ValueError:
        raise _err("timestamp.earliest", "must be an ISO date (1990-01-01)", name) from None
    earliest = datetime.combine(earliest_d, time(), tzinfo=UTC)

    rid = raw.get("record_id")
    if isinstance(rid, str):
        rid = {"column": rid}
    if not isinstance(rid, dict):
        raise _err("record_id", "required: {column: …} or {hash: [columns]}", name)
    extra = sorted(set(rid) - {"column", "value", "hash"})
    if extra:
        raise _err(f"record_id.{extra[0]}", "unknown key (allowed: column, value, hash)", name)
    if sum(k in rid for k in ("column", "value", "hash")) != 1:
        raise _err("record_id", "needs exactly one of column / value / hash", name)
    record_id: Expr | None = None
    record_hash: tuple[str, ...] = ()
    if "hash" in rid:
        record_hash = _str_list(rid["hash"], "record_id.hash", name)
        if not record_hash:
            raise _err("record_id.hash", "must list at least one column", name)
    else:
        key = "column" if "column" in rid else "value"
        record_id = _parse_expr(rid[key], f"record_id.{key}", name)

    crs = str(raw.get("coords", "wgs84")).strip().lower().replace("-", "").replace("_", "")
    if crs not in _CRS:
        raise _err("coords", f"{raw.get('coords')!r} is not one of WGS-84, GCJ-02, BD-09", name)
    china_only = raw.get("china_only", True)
    if not isinstance(china_only, bool):
        raise _err("china_only", "must be true or false", name)

    fields_raw = raw.get("fields") or {}
    if not isinstance(fields_raw, dict):
        raise _err("fields", "must map canonical fields to expressions", name)
    fields: dict[str, Expr] = {}
    for key, spec in fields_raw.items():
        if key in _SET_ELSEWHERE:
            raise _err(f"fields.{key}", f"is set by {_SET_ELSEWHERE[key]}, not under fields", name)
        if key not in _MAPPABLE:
            raise _err(f"fields.{key}", f"not a canonical field (expected one of: {', '.join(_MAPPABLE)})", name)
        fields[key] = _parse_expr(spec, f"fields.{key}", name)
    if ("lat" in fields) != ("lon" in fields):
        raise _err("fields.lat" if "lon" in fields else "fields.lon", "lat and lon are mapped together", name)

    req_raw = raw.get("required", [])
    req_by: dict[str, Any] = {"*": req_raw} if isinstance(req_raw, list) else req_raw
    if not isinstance(req_by, dict):
        raise _err("required", "must be a list of fields, or a mapping source → list", name)
    required: dict[str, frozenset[str]] = {}
    for src_key, lst in req_by.items():
        path = "required" if src_key == "*" and isinstance(req_raw, list) else f"required.{src_key}"
        if src_key != "*" and src_key not in SOURCES:
            raise _err(path, f"{src_key!r} is not one of {', '.join(SOURCES)}", name)
        names = _str_list(lst, path, name) if lst else ()
        for f in names:
            if f not in _REQUIRABLE:
                raise _err(path, f"{f!r} is not a canonical field", name)
            if f in _MAPPABLE and f not in fields:
                raise _err(path, f"{f!r} is required but not mapped under fields", name)
        required[str(src_key)] = frozenset(names)

    det = raw.get("detail") or {}
    if not isinstance(det, dict):
        raise _err("detail", "must be a mapping", name)
    extra = sorted(set(det) - {"rest", "columns", "expand_json", "rename"})
    if extra:
        raise _err(f"detail.{extra[0]}", "unknown key (allowed: rest, columns, expand_json, rename)", name)
    detail_columns = _str_list(det["columns"], "detail.columns", name) if det.get("columns") else ()
    detail_rest = det.get("rest", not detail_columns)
    if not isinstance(detail_rest, bool):
        raise _err("detail.rest", "must be true or false", name)
    detail_json = _str_list(det["expand_json"], "detail.expand_json", name) if det.get("expand_json") else ()
    rename = det.get("rename") or {}
    if not isinstance(rename, dict) or not all(isinstance(v, str) for v in rename.values()):
        raise _err("detail.rename", "must map column names to detail keys", name)
    drop = frozenset(_str_list(raw["drop"], "drop", name)) if raw.get("drop") else frozenset()

    used = set().union(*(e.columns() for e in fields.values()), ts_expr.columns(), record_hash)
    if record_id is not None:
        used |= record_id.columns()
    if source_column:
        used.add(source_column)
    clash = sorted(used & drop)
    if clash:
        raise _err("drop", f"column {clash[0]!r} is dropped but also used by the mapping", name)

    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str)
    return Mapping(
        name=name,
        description=str(raw.get("description") or ""),
        format=fmt,
        encoding=_ENCODINGS[enc_raw],
        delimiter=delimiter,
        skip_lines=skip_lines,
        null_values=frozenset(nulls),
        source=source,
        source_column=source_column,
        source_values=source_values,
        timestamp=ts_expr,
        timestamp_formats=formats,
        timezone=tz,
        future_tolerance=timedelta(minutes=float(tol)),
        earliest=earliest,
        record_id=record_id,
        record_hash=record_hash,
        coords=crs,
        china_only=china_only,
        fields=fields,
        required=required,
        detail_rest=detail_rest,
        detail_columns=detail_columns,
        detail_json=detail_json,
        detail_rename={str(k): v for k, v in rename.items()},
        drop=drop,
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
        raw=raw,
    )


def list_mappings() -> list[str]:
    """Names of the mappings shipped in :mod:`zhihui.intel.mappings`."""
    return sorted(p.name[:-5] for p in resources.files(_MAPPINGS_PACKAGE).iterdir() if p.name.endswith(".yaml"))


def load_mapping(name_or_path: str | Path | dict[str, Any] | Mapping) -> Mapping:
    """A shipped mapping by name (``"hotel_gb"``), a YAML file path, or an already-parsed dict."""
    if isinstance(name_or_path, Mapping):
        return name_or_path
    if isinstance(name_or_path, dict):
        return parse_mapping(name_or_path)
    text_path = Path(name_or_path)
    if text_path.suffix in (".yaml", ".yml") or text_path.is_file():
        text = text_path.read_text(encoding="utf-8")
    else:
        res = resources.files(_MAPPINGS_PACKAGE).joinpath(f"{name_or_path}.yaml")
        if not res.is_file():
            raise MappingError("(mapping)", f"no mapping named {str(name_or_path)!r}; shipped: {list_mappings()}")
        text = res.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError("(yaml)", f"not valid YAML: {exc}") from None
    return parse_mapping(raw)


# --- values -------------------------------------------------------------------------------------------------


class _Invalid:
    """An expression value that could not be transformed (e.g. a date that is not one)."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw


def _parse_date(v: Any) -> date | None:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    s = str(v).strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    return None


def _apply_transform(v: Any, transform: str | None) -> Any:
    if v is None or transform is None or isinstance(v, _Invalid):
        return v
    if transform == "date":
        d = _parse_date(v)
        return d.isoformat() if d else _Invalid(v)
    s = str(v)
    if transform == "upper":
        return s.upper()
    if transform == "lower":
        return s.lower()
    digits = re.sub(r"\D", "", s)  # "digits"
    return digits or _Invalid(v)


def _json_get(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if isinstance(obj, dict):
            obj = obj.get(key)
        elif isinstance(obj, list) and key.isdigit() and int(key) < len(obj):
            obj = obj[int(key)]
        else:
            return None
        if obj is None:
            return None
    if isinstance(obj, dict | list):
        return json.dumps(obj, ensure_ascii=False, sort_keys=True)
    return obj


Getter = Callable[[Sequence[Any], dict[int, Any]], Any]


def _compile(expr: Expr, index: dict[str, int]) -> Getter:
    """A function (row, parsed JSON by column index) → value; columns resolved against the header once."""
    t = expr.transform
    if expr.kind == "column":
        if expr.column not in index:  # only optional columns reach here (checked against the header)
            return lambda row, js: None
        i = index[expr.column]  # type: ignore[index]
        if t is None:
            return lambda row, js: row[i]
        return lambda row, js: _apply_transform(row[i], t)
    if expr.kind == "const":
        value = _apply_transform(expr.value, t)
        return lambda row, js: value
    if expr.kind == "json":
        i, path = index[expr.column], expr.path  # type: ignore[index]
        return lambda row, js: _apply_transform(_json_get(js.get(i), path), t)
    parts = [_compile(p, index) for p in expr.parts]
    if expr.kind == "coalesce":

        def coalesce(row: Sequence[Any], js: dict[int, Any]) -> Any:
            for p in parts:
                v = p(row, js)
                if v is not None:
                    return _apply_transform(v, t)
            return None

        return coalesce
    sep = expr.sep

    def concat(row: Sequence[Any], js: dict[int, Any]) -> Any:
        vals = [p(row, js) for p in parts]
        if any(v is None for v in vals):  # half a trip key (train without date) would join wrong rows
            return None
        bad = next((v for v in vals if isinstance(v, _Invalid)), None)
        if bad is not None:
            return bad
        return _apply_transform(sep.join(str(v) for v in vals), t)

    return concat


def _parse_timestamp(v: Any, formats: tuple[str, ...], tz: tzinfo) -> datetime | None:
    """UTC instant of a cell; naive values are in `tz` (Chinese systems write Beijing time), offsets honoured."""
    if isinstance(v, datetime):
        dt = v
    elif isinstance(v, date):
        dt = datetime.combine(v, time())
    elif isinstance(v, int | float) and not isinstance(v, bool):
        return None  # a bare number is ambiguous (seconds? ms?): declare "epoch_s" / "epoch_ms"
    else:
        s = str(v).strip()
        dt = None
        for fmt in formats:
            if fmt in ("epoch_s", "epoch_ms"):
                try:
                    x = float(s) / (1000.0 if fmt == "epoch_ms" else 1.0)
                    return datetime.fromtimestamp(x, UTC) if math.isfinite(x) else None
                except (ValueError, OverflowError, OSError):
                    continue
            try:
                dt = datetime.strptime(s, fmt)
                break
            except ValueError:
                continue
        if dt is None:
            try:
                dt = datetime.fromisoformat(s)
            except ValueError:
                return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    try:
        return dt.astimezone(UTC)
    except (OverflowError, ValueError):  # 0001-01-01 in +08:00 has no UTC instant
        return None


def _to_float(v: Any) -> float | None:
    if isinstance(v, int | float) and not isinstance(v, bool):
        x = float(v)
    else:
        try:
            x = float(str(v).strip())
        except ValueError:
            return None
    return x if math.isfinite(x) else None


@functools.lru_cache(maxsize=200_000)
def _id_cached(raw: str, today: date | None) -> tuple[str | None, date | None, str | None, str | None]:
    """id_key plus, when the check fails, the parser's problem codes (for detail.id_problem)."""
    number, birth, sex = id_key(raw, today=today)
    problem = None
    if number is not None and birth is None:
        problem = ",".join(p.code for p in parse_resident_id(raw, today=today).problems) or "invalid"
    return number, birth, sex, problem


_plate_cached = functools.lru_cache(maxsize=200_000)(plate_key)
_phone_cached = functools.lru_cache(maxsize=200_000)(phone_key)


# --- the per-file plan --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Problem:
    field: str
    reason: str
    message_zh: str = ""
    message_en: str = ""

    def as_dict(self) -> dict[str, str]:
        zh, en = REASONS[self.reason]
        return {
            "field": self.field,
            "reason": self.reason,
            "reason_zh": f"{zh}：{self.message_zh}" if self.message_zh else zh,
            "reason_en": f"{en}: {self.message_en}" if self.message_en else en,
        }


_STR_FIELDS = ("name", "venue_code", "venue_name", "room", "trip", "org_code")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SPACES = re.compile(r"\s+")
_US = timedelta(microseconds=1)


class _Plan:
    """A mapping bound to one file's header: column indices resolved, getters compiled."""

    def __init__(self, m: Mapping, header: list[str], *, today: date | None, org_resolver: OrgResolver | None) -> None:
        self.m, self.header, self.today, self.org_resolver = m, header, today, org_resolver
        index: dict[str, int] = {}
        dupes: set[str] = set()
        for i, h in enumerate(header):
            if h in index:
                dupes.add(h)
            index.setdefault(h, i)

        def need(col: str, path: str, optional: bool = False) -> None:
            if col in dupes:
                raise MappingError(path, f"column {col!r} appears more than once in the header", m.name)
            if col not in index and not optional and any("\ufffd" in h for h in header):
                raise MappingError("encoding", f"the header does not decode as {m.encoding}", m.name)
            if col not in index and not optional:
                raise MappingError(path, f"column {col!r} is not in the file's header", m.name)

        def need_expr(e: Expr, path: str) -> None:
            if e.kind in ("column", "json"):
                need(e.column, path, e.optional)  # type: ignore[arg-type]
            for p in e.parts:
                need_expr(p, path)

        for k, e in m.fields.items():
            need_expr(e, f"fields.{k}")
        need_expr(m.timestamp, "timestamp")
        if m.record_id is not None:
            need_expr(m.record_id, "record_id")
        for c in m.record_hash:
            need(c, "record_id.hash")
        if m.source_column:
            need(m.source_column, "source.column")
        for c in m.detail_json:
            need(c, "detail.expand_json")
        for c in m.detail_columns:
            need(c, "detail.columns")

        self.getters = {k: _compile(e, index) for k, e in m.fields.items()}
        self.ts = _compile(m.timestamp, index)
        self.rid = _compile(m.record_id, index) if m.record_id is not None else None
        self.hash_idx = [index[c] for c in m.record_hash]
        self.src_idx = index.get(m.source_column) if m.source_column else None
        json_cols = {e.column for e in _walk(m.fields.values()) if e.kind == "json"} | set(m.detail_json)
        self.json_idx = sorted(index[c] for c in json_cols if c in index)
        self.expand_idx = [index[c] for c in m.detail_json]
        consumed = set().union(*(e.columns() for e in m.fields.values()), m.timestamp.columns(), m.detail_json)
        if m.record_id is not None:
            consumed |= m.record_id.columns()
        if m.source_column:
            consumed.add(m.source_column)
        keep = m.detail_columns if not m.detail_rest else [h for h in header if h and h not in consumed]
        self.detail_idx = [(m.detail_rename.get(h, h), index[h]) for h in keep if h not in m.drop and h in index]
        # The record's document type (证件类型), where the export has one: says a number is a passport, not a bad ID.
        self.doc_type_idx = next((i for k, i in self.detail_idx if k == "id_type"), None)
        self.raw_idx = [(h, i) for i, h in enumerate(header) if h not in m.drop]
        self.convert = _CRS[m.coords]
        self.org_cache: dict[tuple[float, float], str | None] = {}
        # Per source, in a fixed order so that a row's first problem is deterministic.
        self.required = {s: tuple(sorted(m.required_for(s), key=_REQUIRABLE.index)) for s in SOURCES}

    def raw_json(self, row: Sequence[Any]) -> str:
        """The original cells by column name; for a short or long row, by position (so `drop` still holds)."""
        raw: dict[str, Any] = {h: row[i] for h, i in self.raw_idx if i < len(row)}
        if len(row) > len(self.header):
            raw["_extra_cells"] = list(row[len(self.header) :])
        return json.dumps(raw, ensure_ascii=False, default=str)

    def record(
        self, row: Sequence[Any], now: datetime
    ) -> tuple[str | None, str | None, dict[str, Any] | None, list[_Problem]]:
        """(source, record id, canonical values, fatal problems) of one row; values is None when fatal."""
        m = self.m
        fatal: list[_Problem] = []
        notes: list[dict[str, Any]] = []
        detail: dict[str, Any] = {}

        js: dict[int, Any] = {}
        for i in self.json_idx:
            cell = row[i]
            if cell is None or isinstance(cell, dict | list):
                js[i] = cell
                continue
            try:
                js[i] = json.loads(cell)
            except (TypeError, ValueError):
                js[i] = None
                notes.append({"field": self.header[i], "reason": "bad_value", "raw": cell})

        if m.source:
            source: str | None = m.source
        else:
            cell = row[self.src_idx]  # type: ignore[index]
            key = None if cell is None else str(cell)
            # An explicit value map is exhaustive: a kind it does not list is not guessed at.
            source = m.source_values.get(key) if m.source_values else key  # type: ignore[arg-type]
            if source not in SOURCES:
                fatal.append(_Problem("source", "unknown_source", f"{cell!r}", f"{cell!r}"))
                source = None
        required = self.required.get(source, ()) if source else ()

        vals: dict[str, Any] = {k: g(row, js) for k, g in self.getters.items()}
        for k, v in vals.items():
            if isinstance(v, _Invalid):
                if k in required:
                    fatal.append(_Problem(k, "bad_value", f"{v.raw!r}", f"{v.raw!r}"))
                else:
                    notes.append({"field": k, "reason": "bad_value", "raw": v.raw})
                vals[k] = None
        for k in required:
            if k in vals and (vals[k] is None or str(vals[k]).strip() == ""):
                fatal.append(_Problem(k, "missing_required"))

        # Timestamp: always required.
        ts_raw = self.ts(row, js)
        at = None
        if ts_raw is None:
            fatal.append(_Problem("at", "missing_required"))
        elif isinstance(ts_raw, _Invalid):
            fatal.append(_Problem("at", "bad_timestamp", f"{ts_raw.raw!r}", f"{ts_raw.raw!r}"))
        else:
            at = _parse_timestamp(ts_raw, m.timestamp_formats, m.timezone)
            if at is None:
                fatal.append(_Problem("at", "bad_timestamp", f"无法解析 {ts_raw!r}", f"cannot parse {ts_raw!r}"))
            elif at > now + m.future_tolerance:
                fatal.append(_Problem("at", "future_timestamp", at.isoformat(), at.isoformat()))
            elif at < m.earliest:
                fatal.append(
                    _Problem("at", "bad_timestamp", f"早于 {m.earliest.date()}", f"before {m.earliest.date()}")
                )

        # Record id: the source's key, or a stable hash of the declared columns.
        if self.rid is not None:
            rv = self.rid(row, js)
            record_id = None if rv is None or isinstance(rv, _Invalid) else str(rv).strip() or None
        else:
            joined = "\x1f".join("" if row[i] is None else str(row[i]) for i in self.hash_idx)
            record_id = hashlib.sha256(joined.encode()).hexdigest()[:32]
        if record_id is None:
            fatal.append(_Problem("record_id", "missing_required"))

        out: dict[str, Any] = {}
        for k in _STR_FIELDS:
            v = vals.get(k)
            out[k] = None if v is None else (str(v).strip() or None)

        if (raw_id := vals.get("id_number")) is not None:
            number, birth, sex, problem = _id_cached(str(raw_id), self.today)
            if number is None:  # a passport or permit is a document too: kept for exact matching, no birth or sex
                declared = row[self.doc_type_idx] if self.doc_type_idx is not None else None
                number = doc_key(str(raw_id), None if declared is None else str(declared))
                if number is not None:
                    detail["id_kind"] = "document"
            if number is None:
                if "id_number" in required:
                    fatal.append(_Problem("id_number", "bad_id_number", f"{raw_id!r}", f"{raw_id!r}"))
                else:
                    notes.append({"field": "id_number", "reason": "bad_id_number", "raw": raw_id})
            else:
                if problem:  # kept: the fuzzy pass looks for mistyped digits
                    detail["id_problem"] = problem
                if len(_SPACES.sub("", str(raw_id))) == 15:
                    detail["id_raw"] = str(raw_id)
            out["id_number"], id_birth, id_sex = number, birth, sex
        else:
            out["id_number"], id_birth, id_sex = None, None, None

        for k, fn, reason in (("plate", _plate_cached, "bad_plate"), ("phone", _phone_cached, "bad_phone")):
            raw_v = vals.get(k)
            norm = None if raw_v is None else fn(str(raw_v))
            if raw_v is not None and norm is None:
                if k in required:
                    fatal.append(_Problem(k, reason, f"{raw_v!r}", f"{raw_v!r}"))
                else:
                    notes.append({"field": k, "reason": reason, "raw": raw_v})
            out[k] = norm

        sex = None
        if (raw_sex := vals.get("sex")) is not None:
            sex = _SEX.get(str(raw_sex).strip().lower())
            if sex is None:
                notes.append({"field": "sex", "reason": "bad_value", "raw": raw_sex})
        if sex and id_sex and sex != id_sex:
            notes.append({"field": "sex", "reason": "disagrees_with_id", "raw": raw_sex})
        out["sex"] = sex or id_sex
        birth = None
        if (raw_birth := vals.get("birth_date")) is not None:
            birth = _parse_date(raw_birth)
            if birth is None:
                notes.append({"field": "birth_date", "reason": "bad_value", "raw": raw_birth})
        out["birth_date"] = birth or id_birth  # the record's own value first, the ID's otherwise

        lat = lon = None
        if "lat" in vals:
            rlat, rlon = vals["lat"], vals["lon"]
            if rlat is not None or rlon is not None:
                lat = None if rlat is None else _to_float(rlat)
                lon = None if rlon is None else _to_float(rlon)
                if lat is None or lon is None:
                    bad_f = "lat" if lat is None else "lon"
                    raw_b = rlat if bad_f == "lat" else rlon
                    fatal.append(_Problem(bad_f, "bad_coordinate", f"{raw_b!r}", f"{raw_b!r}"))
                    lat = lon = None
                elif lat == 0.0 and lon == 0.0:  # the usual "unknown" placeholder, not a place
                    notes.append({"field": "lat", "reason": "placeholder_0_0", "raw": f"{rlat},{rlon}"})
                    lat = lon = None
                elif not -90.0 <= lat <= 90.0:
                    fatal.append(_Problem("lat", "bad_coordinate", f"纬度 {rlat} 超出 ±90", f"lat {rlat} beyond ±90"))
                    lat = lon = None
                elif not -180.0 <= lon <= 180.0:
                    fatal.append(_Problem("lon", "bad_coordinate", f"经度 {rlon} 超出 ±180", f"lon {rlon} beyond ±180"))
                    lat = lon = None
                elif m.china_only and out_of_china(lat, lon):
                    fatal.append(_Problem("lat", "outside_china", f"{lat},{lon}", f"{lat},{lon}"))
                    lat = lon = None
                elif self.convert is not None:
                    lat, lon = self.convert(lat, lon)
            for k in ("lat", "lon"):
                if k in required and (lat if k == "lat" else lon) is None and not any(p.field == k for p in fatal):
                    fatal.append(_Problem(k, "missing_required"))
        out["lat"], out["lon"] = lat, lon

        if fatal:
            return source, record_id, None, fatal

        if self.org_resolver is not None and lat is not None and lon is not None:
            key = (lat, lon)
            if key not in self.org_cache:  # venues repeat: one point-in-polygon lookup per place
                self.org_cache[key] = self.org_resolver(lat, lon)
            out["org_code"] = self.org_cache[key] or out["org_code"]

        for i in self.expand_idx:
            obj = js.get(i)
            if isinstance(obj, dict):
                for k, v in obj.items():
                    detail.setdefault(str(k), v)
            elif obj is not None:
                detail.setdefault(self.header[i], obj)
        for key_name, i in self.detail_idx:
            v = row[i]
            if v is not None:
                detail.setdefault(key_name, v if isinstance(v, str | int | float | bool) else str(v))
        if notes:
            detail["notes"] = notes
        out["name_key"] = name_key(out["name"])
        # Epoch microseconds: pyarrow takes ints for timestamp[us, UTC] without per-value tz handling.
        out["at"] = (at - _EPOCH) // _US
        out["detail"] = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str) if detail else None
        return source, record_id, out, fatal


def _walk(exprs: Any) -> Iterator[Expr]:
    for e in exprs:
        yield e
        yield from _walk(e.parts)


# --- reading ------------------------------------------------------------------------------------------------


_Item = tuple[int, list[Any] | None, list[Any], "_Problem | None"]


def _read_chunks(
    path: Path, m: Mapping, chunk_rows: int, stack: contextlib.ExitStack
) -> tuple[list[str], Iterator[list[_Item]], Callable[[], int]]:
    """(header, chunks of (line, normalised row, original cells, problem), blank-line counter).

    A malformed row (wrong number of cells, undecodable text, CSV syntax error) comes back with row None
    and its problem, and the original cells for the quarantine."""
    nulls = m.null_values
    blank = [0]

    def norm(c: Any) -> Any:
        if isinstance(c, str):
            s = c.strip()
            return None if s in nulls else s
        return c

    if m.format == "parquet":
        pf = pq.ParquetFile(path)
        header = [str(n).strip() for n in pf.schema_arrow.names]

        def gen_pq() -> Iterator[list[_Item]]:
            line = 0
            for batch in pf.iter_batches(batch_size=chunk_rows):
                chunk: list[_Item] = []
                for cells in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                    line += 1
                    chunk.append((line, [norm(c) for c in cells], list(cells), None))
                yield chunk

        return header, gen_pq(), lambda: 0

    # errors="replace": one bad byte must quarantine one row, not abort the whole file.
    fh = stack.enter_context(path.open(encoding=m.encoding, errors="replace", newline=""))
    for _ in range(m.skip_lines):
        fh.readline()
    reader = csv.reader(fh, delimiter=m.delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        return [], iter(()), lambda: 0
    n = len(header)
    offset = m.skip_lines

    def gen_csv() -> Iterator[list[_Item]]:
        chunk: list[_Item] = []
        while True:
            start = reader.line_num + 1 + offset
            problem = None
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # e.g. a field over the size limit: this record only
                cells = []
                problem = _Problem("(row)", "bad_row_shape", str(exc), str(exc))
            if problem is None:
                if not cells or (len(cells) == 1 and not cells[0].strip() and n > 1):
                    blank[0] += 1
                    continue
                if len(cells) != n:
                    zh, en = f"{len(cells)} 列，表头 {n} 列", f"{len(cells)} cells, header has {n}"
                    problem = _Problem("(row)", "bad_row_shape", zh, en)
                elif bad := next((header[i] for i, c in enumerate(cells) if "\ufffd" in c), None):
                    problem = _Problem(bad, "encoding_error", f"声明编码 {m.encoding}", f"declared {m.encoding}")
            chunk.append((start, None if problem else [norm(c) for c in cells], cells, problem))
            if len(chunk) >= chunk_rows:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    return header, gen_csv(), lambda: blank[0]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- result and manifest ------------------------------------------------------------------------------------


@dataclass
class IngestResult:
    """What one ingest did. ``already_ingested``: the file's sha256 matched an earlier batch, returned as is."""

    batch_id: str
    sources: dict[str, int]  # source → rows_ok
    rows_in: int
    rows_ok: int
    rows_quarantined: int
    rows_skipped_duplicate: int
    reasons: dict[str, int]  # reason code → quarantined rows (primary reason)
    paths: dict[str, Any]  # activity: [files], quarantine, quarantine_csv, manifest
    already_ingested: bool = False
    sha256: str = ""
    mapping: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "sources": dict(self.sources),
            "rows_in": self.rows_in,
            "rows_ok": self.rows_ok,
            "rows_quarantined": self.rows_quarantined,
            "rows_skipped_duplicate": self.rows_skipped_duplicate,
            "reasons": dict(self.reasons),
            "paths": {
                k: ([str(p) for p in v] if isinstance(v, list) else (str(v) if v else None))
                for k, v in self.paths.items()
            },
            "already_ingested": self.already_ingested,
            "sha256": self.sha256,
            "mapping": self.mapping,
        }


def _result_from_manifest(out_dir: Path, man: dict[str, Any], *, already: bool) -> IngestResult:
    p = man["paths"]
    paths = {
        "activity": [out_dir / x for x in p.get("activity", [])],
        "quarantine": out_dir / p["quarantine"],
        "quarantine_csv": out_dir / p["quarantine_csv"] if p.get("quarantine_csv") else None,
        "manifest": out_dir / p["manifest"],
    }
    return IngestResult(
        batch_id=man["batch_id"],
        sources=dict(man["sources"]),
        rows_in=man["rows_in"],
        rows_ok=man["rows_ok"],
        rows_quarantined=man["rows_quarantined"],
        rows_skipped_duplicate=man["rows_skipped_duplicate"],
        reasons=dict(man["reasons"]),
        paths=paths,
        already_ingested=already,
        sha256=man["sha256"],
        mapping=man["mapping"],
    )


def _manifests(out_dir: Path) -> Iterator[dict[str, Any]]:
    d = out_dir / "batches"
    if not d.is_dir():
        return
    for p in sorted(d.glob("*.json")):
        try:
            yield json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a damaged manifest must not block ingestion; its files still dedupe by record id


def _existing_ids(out_dir: Path, source: str) -> set[str]:
    ids: set[str] = set()
    d = out_dir / "activity" / f"source={source}"
    if d.is_dir():
        for f in sorted(d.glob("*.parquet")):
            ids.update(pq.read_table(f, columns=["record_id"]).column("record_id").to_pylist())
    return ids


@contextlib.contextmanager
def _lock(out_dir: Path) -> Iterator[None]:
    """Serialise ingests into one out_dir (two at once would both miss each other's record ids)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with (out_dir / ".ingest.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


# --- ingest -------------------------------------------------------------------------------------------------


_STORED = ACTIVITY_STORED.with_metadata({KEYS_META: KEYS_VERSION.encode()})


class _Sink:
    """Column buffers → one Parquet file per source, a row group per chunk. Activity (``keys=True``) gets its key
    columns on the way out, computed for the whole chunk at once."""

    def __init__(self, path: Path, schema: pa.Schema, *, keys: bool = False) -> None:
        self.path, self.schema, self.keys = path, schema, keys
        self.cols: dict[str, list[Any]] = {f.name: [] for f in schema}
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0
        self.key_seconds = 0.0

    def add(self, values: dict[str, Any]) -> None:
        for k, lst in self.cols.items():
            lst.append(values[k])
        self.rows += 1

    def flush(self) -> None:
        if not self.cols[self.schema.names[0]] and self.writer is not None:
            return
        table = pa.Table.from_pydict(self.cols, schema=self.schema)
        out_schema = self.schema
        if self.keys:
            t0 = time_now()
            table = with_keys(table).cast(_STORED)
            self.key_seconds += time_now() - t0
            out_schema = _STORED
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            opts = parquet_options(table, "zstd") if self.keys else {"compression": "zstd"}
            self.writer = pq.ParquetWriter(self.path, out_schema, **opts)
        self.writer.write_table(table)
        for lst in self.cols.values():
            lst.clear()

    def close(self) -> None:
        self.flush()
        if self.writer is not None:
            self.writer.close()


def ingest(
    path: str | Path,
    mapping: Mapping | str | Path | dict[str, Any],
    out_dir: str | Path,
    *,
    batch_id: str | None = None,
    org_resolver: OrgResolver | None = None,
    today: date | None = None,
    chunk_rows: int = 50_000,
    force: bool = False,
) -> IngestResult:
    """Ingest one CSV/Parquet file through `mapping` into `out_dir` (see the module docstring).

    today: the reference day (Beijing) for "not in the future" and ID age checks; default: now.
    org_resolver: (lat, lon) → the responsible station's code; its answer wins over the mapping's org_code.
    force: ingest even if this exact file (sha256) was ingested before; record ids still deduplicate.
    """
    path, out_dir = Path(path), Path(out_dir)
    m = load_mapping(mapping)
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be >= 1")
    if batch_id is not None and not _BATCH_ID.match(batch_id):
        raise ValueError(f"batch_id {batch_id!r}: use letters, digits, '.', '_' and '-' only")
    out_dir.mkdir(parents=True, exist_ok=True)
    with _lock(out_dir):
        return _ingest_locked(path, m, out_dir, batch_id, org_resolver, today, chunk_rows, force)


def _ingest_locked(
    path: Path,
    m: Mapping,
    out_dir: Path,
    batch_id: str | None,
    org_resolver: OrgResolver | None,
    today: date | None,
    chunk_rows: int,
    force: bool,
) -> IngestResult:
    started = datetime.now(UTC)
    sha = _sha256(path)
    previous = {man["batch_id"]: man for man in _manifests(out_dir)}
    if not force:
        for man in previous.values():
            if man.get("sha256") == sha:
                return _result_from_manifest(out_dir, man, already=True)
    batch_id = batch_id or f"{started.strftime('%Y%m%dT%H%M%S%fZ')}-{sha[:8]}"
    if batch_id in previous or (out_dir / "batches" / f"{batch_id}.json").exists():
        raise ValueError(f"batch_id {batch_id!r} already exists in {out_dir}")
    if today is None:
        now = started
    else:  # anything during `today` (Beijing) is not in the future
        now = datetime.combine(today + timedelta(days=1), time(), tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)

    stack = contextlib.ExitStack()  # the open file; closed however the read ends
    try:
        header, chunks, blank_lines = _read_chunks(path, m, chunk_rows, stack)
        if not header:
            raise ValueError(f"{path}: no header row")
        plan = _Plan(m, header, today=today, org_resolver=org_resolver)  # MappingError before any output
    except BaseException:
        stack.close()
        raise

    staging = out_dir / "_staging" / batch_id  # leading "_": ignored by pyarrow/Spark dataset discovery
    shutil.rmtree(staging, ignore_errors=True)
    sinks: dict[str, _Sink] = {}
    quarantine = _Sink(staging / "quarantine" / f"{batch_id}.parquet", QUARANTINE)
    existing: dict[str, set[str]] = {}
    seen: dict[str, set[str]] = {}
    reasons: Counter[str] = Counter()
    by_field: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    skipped_sample: list[dict[str, Any]] = []
    rows_in = 0

    def to_quarantine(line: int, source: str | None, rid: str | None, probs: list[_Problem], raw: str) -> None:
        first = probs[0].as_dict()
        reasons[first["reason"]] += 1
        by_field[f"{first['reason']}.{first['field']}"] += 1
        quarantine.add(
            {
                "batch_id": batch_id,
                "line": line,
                "source": source,
                "record_id": rid,
                **first,
                "problems": json.dumps([p.as_dict() for p in probs], ensure_ascii=False),
                "raw": raw,
            }
        )

    try:
        for chunk in chunks:
            for line, row, cells, problem in chunk:
                rows_in += 1
                if row is None:
                    assert problem is not None
                    to_quarantine(line, None, None, [problem], plan.raw_json(cells))
                    continue
                source, rid, values, probs = plan.record(row, now)
                if values is None:
                    to_quarantine(line, source, rid, probs, plan.raw_json(cells))
                    continue
                assert source is not None and rid is not None
                if source not in existing:
                    existing[source] = _existing_ids(out_dir, source)
                    seen[source] = set()
                if rid in existing[source]:  # stored by an earlier batch: skip, but count and sample it
                    skipped[source] += 1
                    if len(skipped_sample) < 20:
                        skipped_sample.append({"line": line, "source": source, "record_id": rid})
                    continue
                if rid in seen[source]:
                    dup = _Problem("record_id", "duplicate_record", rid, rid)
                    to_quarantine(line, source, rid, [dup], plan.raw_json(cells))
                    continue
                seen[source].add(rid)
                values.update(record_id=rid, source=source, batch_id=batch_id)
                if source not in sinks:
                    sinks[source] = _Sink(
                        staging / "activity" / f"source={source}" / f"{batch_id}.parquet", ACTIVITY, keys=True
                    )
                sinks[source].add(values)
            for s in sinks.values():
                s.flush()
            quarantine.flush()
        for s in sinks.values():
            s.close()
        quarantine.close()
    except BaseException:
        for s in sinks.values():
            with contextlib.suppress(Exception):
                s.close()
        with contextlib.suppress(Exception):
            quarantine.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        stack.close()

    rows_ok = sum(s.rows for s in sinks.values())
    rows_q = quarantine.rows
    rows_skip = sum(skipped.values())
    if rows_in != rows_ok + rows_q + rows_skip:  # the accounting invariant; a breach is a bug here
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"ingest accounting broken: {rows_in} != {rows_ok} + {rows_q} + {rows_skip}")

    # Move into place, manifest last: a batch is visible to the dedupe only once it is complete.
    rel_activity: list[str] = []
    for source, s in sorted(sinks.items()):
        final = out_dir / "activity" / f"source={source}" / f"{batch_id}.parquet"
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(s.path, final)
        rel_activity.append(final.relative_to(out_dir).as_posix())
    q_final = out_dir / "quarantine" / f"{batch_id}.parquet"
    q_final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(quarantine.path, q_final)
    shutil.rmtree(staging, ignore_errors=True)
    with contextlib.suppress(OSError):
        (out_dir / "_staging").rmdir()
    q_csv = export_quarantine_csv(out_dir, batch_id) if rows_q else None

    manifest_path = out_dir / "batches" / f"{batch_id}.json"
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest = {
        "batch_id": batch_id,
        "file": path.name,
        "file_path": str(path.resolve()),
        "file_size": path.stat().st_size,
        "sha256": sha,
        "mapping": m.name,
        "mapping_sha256": m.fingerprint,
        "encoding": m.encoding,
        "rows_in": rows_in,
        "rows_ok": rows_ok,
        "rows_quarantined": rows_q,
        "rows_skipped_duplicate": rows_skip,
        "blank_lines": blank_lines(),
        "sources": {s: k.rows for s, k in sorted(sinks.items())},
        "key_seconds": round(sum(k.key_seconds for k in sinks.values()), 3),  # the integer keys (normalise.py)
        "skipped_by_source": dict(sorted(skipped.items())),
        "skipped_sample": skipped_sample,
        "reasons": dict(sorted(reasons.items())),
        "reasons_by_field": dict(sorted(by_field.items())),
        "today": today.isoformat() if today else None,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "paths": {
            "activity": rel_activity,
            "quarantine": q_final.relative_to(out_dir).as_posix(),
            "quarantine_csv": q_csv.relative_to(out_dir).as_posix() if q_csv else None,
            "manifest": manifest_path.relative_to(out_dir).as_posix(),
        },
    }
    _write_json(manifest_path, manifest)
    return _result_from_manifest(out_dir, manifest, already=False)


def export_quarantine_csv(out_dir: str | Path, batch_id: str, dest: str | Path | None = None) -> Path:
    """The batch's quarantine as a CSV for people (UTF-8 with BOM so that Excel shows the Chinese).

    Columns: 行号, 字段, 原因代码, 原因, reason, then the original cells as they were in the file."""
    out_dir = Path(out_dir)
    table = pq.read_table(out_dir / "quarantine" / f"{batch_id}.parquet")
    dest = Path(dest) if dest else out_dir / "quarantine" / f"{batch_id}.csv"
    rows = table.to_pylist()
    raws = [json.loads(r["raw"]) for r in rows]
    raw_cols: list[str] = []
    for r in raws:
        for k in r:
            if k not in raw_cols:
                raw_cols.append(k)
    with dest.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["行号", "字段", "原因代码", "原因", "reason", *raw_cols])
        for r, raw in zip(rows, raws, strict=True):
            cells = ["" if raw.get(c) is None else raw.get(c) for c in raw_cols]
            w.writerow([r["line"], r["field"], r["reason"], r["reason_zh"], r["reason_en"], *cells])
    return dest


def add_keys(out_dir: str | Path) -> list[Path]:
    """Rewrite the activity files under ``out_dir`` that lack the current integer keys (written before them, or by
    another key version) as ``schema.ACTIVITY_STORED``, each atomically; returns the files rewritten. A collision
    reads such files correctly without it, computing their keys each time (slowly)."""
    out_dir = Path(out_dir)
    done: list[Path] = []
    with _lock(out_dir):
        for path in sorted((out_dir / "activity").rglob("*.parquet")):
            meta = pq.read_schema(path).metadata or {}
            if meta.get(KEYS_META) == KEYS_VERSION.encode():
                continue
            table = pq.read_table(path).select(ACTIVITY.names).cast(ACTIVITY)
            tmp = path.with_name(f".{path.name}.tmp")
            keyed = with_keys(table).cast(_STORED)
            pq.write_table(keyed, tmp, **parquet_options(keyed, "zstd"))
            os.replace(tmp, path)
            done.append(path)
    return done
