"""Normalised join keys for the intelligence tables (see :mod:`zhihui.intel.schema`).

Built on the intake parsers, so an ID, phone or plate reads the same at the call-taker's desk and in a
collision run.
"""

from __future__ import annotations

import functools
import re
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pypinyin import Style, lazy_pinyin

from zhihui.intake.text.ids import parse_resident_id
from zhihui.intake.text.normalise import t2s
from zhihui.intake.text.phones import parse_phone
from zhihui.intake.text.plates import parse_plate

__all__ = [
    "KEYS_META",
    "KEYS_VERSION",
    "activity_keys",
    "block_keys",
    "distinct",
    "doc_key",
    "hash64",
    "hash_key",
    "id_key",
    "id_pack",
    "name_hash",
    "name_key",
    "phone_key",
    "plate_key",
    "with_keys",
    "ymd",
]

_NAME_JUNK = re.compile(r"[\s·•．.\-_]+")


@functools.lru_cache(maxsize=200_000)
def name_key(name: str | None) -> str | None:
    """Toneless pinyin, lower case, no separators: 张三 / 章三 / 張三 / "Zhang San" → ``zhangsan``.

    Polyphonic characters take pypinyin's usual reading; both sides of a comparison go through the
    same function, so the key is consistent even where the reading is not the one the family uses."""
    if not name:
        return None
    cleaned = _NAME_JUNK.sub("", t2s(name.strip()))
    if not cleaned:
        return None
    key = "".join(lazy_pinyin(cleaned, style=Style.NORMAL, errors="default")).lower()
    key = re.sub(r"[^a-z]", "", key.replace("ü", "v"))
    return key or None


def id_key(raw: str | None, *, today: date | None = None) -> tuple[str | None, date | None, str | None]:
    """(18-character ID, birth date, sex "M"/"F") of a 身份证号 as written; 15 digits are upgraded.

    An ID that fails its check digit is kept in its cleaned 18-character form (the fuzzy pass looks for
    swapped or mistyped digits) but yields no birth date or sex; anything unreadable gives (None, None, None)."""
    if raw is None or not str(raw).strip():
        return None, None, None
    rid = parse_resident_id(str(raw), today=today)
    if not rid.number or len(rid.number) != 18:
        return None, None, None
    if not rid.valid:
        return rid.number, None, None
    sex = {"男": "M", "女": "F"}.get(rid.sex or "")
    return rid.number, rid.birth_date, sex


# Document types that are the resident ID itself (the 证件类型 column of 旅馆业 and ticketing exports).
RESIDENT_DOC_TYPES = frozenset({"身份证", "居民身份证", "二代身份证", "临时身份证", "临时居民身份证", "11", "111"})
# Numbers that are a document without a stated type: 中国护照 (E, EA…, G), 港澳居民来往内地通行证 (H, M).
_DOC_PATTERNS = (re.compile(r"^E[A-Z]?\d{7,8}$"), re.compile(r"^G\d{8}$"), re.compile(r"^[HM]\d{8}(\d{2})?$"))
_DOC_CHARS = re.compile(r"^[A-Z0-9]{5,20}$")


def doc_key(raw: str | None, declared: str | None = None) -> str | None:
    """A non-resident document's number (passport, 港澳/台湾通行证, a foreigner's card), upper case without spaces or
    dashes, for exact matching; None if it is not one. With `declared` (the record's document type) any type but
    the resident ID accepts 5-20 letters and digits; without it only the unmistakable Chinese passport and 港澳
    permit forms do, so a mistyped 身份证号 is not taken for a passport."""
    if raw is None:
        return None
    s = re.sub(r"[\s\-]", "", str(raw)).upper()
    if not _DOC_CHARS.match(s) or not any(c.isdigit() for c in s):
        return None
    if declared is not None and str(declared).strip() and str(declared).strip() not in RESIDENT_DOC_TYPES:
        return s
    return s if any(p.match(s) for p in _DOC_PATTERNS) else None


def phone_key(raw: str | None) -> str | None:
    """11-digit mobile or normalised landline; None when unreadable. Service and emergency numbers (12345, 110,
    95588) are nobody's own phone: as a key they would join every record that mentions them."""
    if raw is None or not str(raw).strip():
        return None
    info = parse_phone(str(raw))
    return info.number if info.valid and info.number and info.kind in ("mobile", "landline") else None


def plate_key(raw: str | None) -> str | None:
    """粤B12345 form (upper case, simplified, no separators); None when unreadable."""
    if raw is None or not str(raw).strip():
        return None
    info = parse_plate(str(raw))
    return info.number if info.valid and info.number else None


# --- integer keys ---------------------------------------------------------------------------------------------
# Written at ingest next to the strings (schema.ACTIVITY_KEYS), so that a collision scans a few 8-byte columns instead
# of decoding the strings of every row. Never null: 0 means "no value" (a column without nulls decodes ~3x faster, and
# a column of zeros costs nothing).
#
# k_id packs an ID whose first 17 characters are digits field by field, so that each blocking key of the fuzzy pass
# is a shift and a mask:
#   bits 46-62 digits 1-5 | 42-45 digit 6 | 15-41 digits 7-14 (the birth date as written) | 11-14 digit 15
#   | 4-10 digits 16-17 | 0-3 the check character (1-10 for 0-9, 11 for X, 15 for anything else).
# It is positive and, but for that last case, one-to-one. Any other ID gets a negative hash (exact matches only).
# k_phone, k_plate: 64-bit hashes (positive). k_b1..k_b5: the blocking keys of tactics._BLOCKS, precomputed
# (name = a 31-bit hash of name_key): b1 digits 1-14, b2 digits 7-17, b3 name + digits 7-14, b4 name + digits 1-5
# and 16-17, b5 name + the record's birth date where it differs from digits 7-14; where it does not, b5 is 0 (b3
# covers it), -1 when the record has no birth date, and the bare date when it has no name: with k_id, k_b5 gives
# the birth date of any row with a 17-digit ID, so a collision need not read it.
# Equal strings give equal keys; a hash collision only adds a candidate, which the final steps (on the strings) drop.
KEYS_VERSION = "2"  # Parquet key-value metadata "zhihui.keys": files with another version are read the old way
KEYS_META = b"zhihui.keys"

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
ID_CHECK_CODE = {**{str(d): d + 1 for d in range(10)}, "X": 11}
ID_CHECK_OTHER = 15
_TAG = 1 << 50  # makes b1/b2 non-zero whatever the digits
_M27, _M38 = (1 << 27) - 1, (1 << 38) - 1


def _arrow(values: Any, type_: pa.DataType) -> pa.Array:
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, type_)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr


def _utf8(values: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bytes, offsets[n + 1], valid[n]) of a string array or sequence, without a Python loop."""
    arr = _arrow(values, pa.string())
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], np.int64, n + 1, arr.offset * 8) if n else np.zeros(1, np.int64)
    data = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    valid = arr.is_valid().to_numpy(zero_copy_only=False) if arr.null_count else np.ones(n, bool)
    return data, offsets, valid


def _rows(data: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """(len(starts), width) byte matrix of the strings starting at ``starts`` (each at least ``width`` bytes)."""
    if not len(starts) or not width:
        return np.zeros((len(starts), width), np.uint8)
    if np.all(np.diff(starts) == width):  # back to back (an Arrow array of equal-length strings): a view
        return data[starts[0] : starts[0] + width * len(starts)].reshape(-1, width)
    return data[starts[:, None] + np.arange(width)]


def hash64(values: Any, *, dedupe: bool = True) -> np.ndarray:
    """FNV-1a over the UTF-8 bytes, then splitmix64's finaliser: uint64 per string (0 for null), strings of one
    length together, a column of bytes at a time. ``dedupe``: hash distinct values once (names repeat; phones and
    plates of a watchlist hardly do, and finding the distinct ones costs more than hashing them)."""
    arr = _arrow(values, pa.string())
    if not dedupe:
        arr = pa.DictionaryArray.from_arrays(pa.array(np.arange(len(arr), dtype=np.int32), mask=~_utf8(arr)[2]),
                                             arr.fill_null(""))  # fmt: skip
    enc = arr if isinstance(arr, pa.DictionaryArray) else arr.dictionary_encode() if arr.null_count < len(arr) else arr
    uniq = enc.dictionary if isinstance(enc, pa.DictionaryArray) else pa.array([], pa.string())
    data, offsets, _ = _utf8(uniq)
    starts, lengths = offsets[:-1], np.diff(offsets)
    h = np.full(len(lengths), _FNV_OFFSET, np.uint64)
    prime = np.uint64(_FNV_PRIME)
    with np.errstate(over="ignore"):
        for width in np.unique(lengths):
            sel = np.flatnonzero(lengths == width)
            mat = _rows(data, starts[sel], int(width))
            g = h[sel]
            for j in range(int(width)):
                g = (g ^ mat[:, j]) * prime
            h[sel] = g
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    if not isinstance(enc, pa.DictionaryArray):
        return np.zeros(len(arr), np.uint64)
    idx = enc.indices
    out = h[idx.fill_null(0).to_numpy(zero_copy_only=False)] if len(h) else np.zeros(len(arr), np.uint64)
    if idx.null_count:
        out[~idx.is_valid().to_numpy(zero_copy_only=False)] = 0
    return out


def hash_key(values: Any, *, dedupe: bool = True) -> np.ndarray:
    """The k_phone / k_plate key: a positive int64 hash, 0 for null."""
    h = hash64(values, dedupe=dedupe)
    out = ((h >> np.uint64(1)) | np.uint64(1)).astype(np.int64)
    out[h == 0] = 0
    return out


def name_hash(values: Any) -> np.ndarray:
    """The name part of k_b3..k_b5: a positive 31-bit hash of name_key strings (int64), 0 for null."""
    h = hash64(values)
    out = ((h >> np.uint64(33)) | np.uint64(1)).astype(np.int64)
    out[h == 0] = 0
    return out


def id_pack(values: Any) -> np.ndarray:
    """The k_id key of normalised ID strings (see above): int64, 0 for null."""
    arr = _arrow(values, pa.string())
    data, offsets, valid = _utf8(arr)
    starts, lengths = offsets[:-1], np.diff(offsets)
    out = np.zeros(len(lengths), np.int64)
    cand = np.flatnonzero(valid & (lengths == 18))
    mat = _rows(data, starts[cand], 18) - np.uint8(48)  # digits 0-9; anything else wraps past 9
    digits = (mat[:, :17] <= 9).all(axis=1)
    ok, m = cand[digits], mat[digits]

    cols = np.ascontiguousarray(m[:, :17].T)  # a row of bytes per digit position: Horner's rule runs on rows

    def num(a: int, b: int) -> np.ndarray:  # digits a..b (1-based, inclusive) as one number
        acc = cols[a - 1].astype(np.int64)
        for j in range(a, b):  # (about 3x faster than an integer matmul, which has no BLAS)
            acc *= 10
            acc += cols[j]
        return acc

    last = m[:, 17].astype(np.int64)
    check = np.where(last <= 9, last + 1, np.where(last == ord("X") - 48, 11, ID_CHECK_OTHER))
    packed = (num(1, 5) << 46) | (num(6, 6) << 42) | (num(7, 14) << 15) | (num(15, 15) << 11) | (num(16, 17) << 4)
    out[ok] = packed | check
    odd = np.setdiff1d(np.flatnonzero(valid), ok, assume_unique=True)
    if odd.size:  # not 17 digits: a negative hash, so that exact matching still works
        h = hash64(pc.take(arr, pa.array(odd)))
        out[odd] = -((h >> np.uint64(2)) | np.uint64(1)).astype(np.int64)
    return out


def distinct(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer array (numpy 2's np.unique hashes first: some 50x slower on 10^5-10^6
    keys than this sort)."""
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a


def ymd(dates: Any) -> tuple[np.ndarray, np.ndarray]:
    """(yyyymmdd as int64, valid) of a date32 column."""
    arr = _arrow(dates, pa.date32())
    valid = arr.is_valid().to_numpy(zero_copy_only=False) if arr.null_count else np.ones(len(arr), bool)
    days = arr.cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False).astype("datetime64[D]")
    y = days.astype("datetime64[Y]").astype(np.int64) + 1970
    mo = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    return y * 10000 + mo * 100 + d, valid


def block_keys(
    k_id: np.ndarray, name: np.ndarray, birth: np.ndarray, birth_ok: np.ndarray, *, b5_needs_body: bool = True
) -> dict[str, np.ndarray]:
    """k_b1..k_b5 (see above) from k_id, name_hash() and the birth date (yyyymmdd, valid): the same function for
    activity rows at ingest and for watched IDs at collision time (where b5 needs no 17-digit ID: a watched ID that
    is not one still meets a record by name and stated birth date)."""
    body = k_id > 0
    named = body & (name != 0)
    b5 = (named if b5_needs_body else name != 0) & birth_ok
    d7_14 = (k_id >> 15) & _M27
    zero = np.zeros(len(k_id), np.int64)
    return {
        "k_b1": np.where(body, (k_id >> 15) | _TAG, zero),
        "k_b2": np.where(body, ((k_id >> 4) & _M38) | _TAG, zero),
        "k_b3": np.where(named, (name << 27) | d7_14, zero),
        "k_b4": np.where(named, (name << 24) | ((k_id >> 46) << 7) | ((k_id >> 4) & 127), zero),
        "k_b5": np.where(b5, (name << 27) | birth, zero),
    }


def activity_keys(table: pa.Table) -> pa.Table:
    """The ``schema.ACTIVITY_KEYS`` columns of activity rows (from id_number, name_key, birth_date, phone, plate)."""
    from zhihui.intel.schema import ACTIVITY_KEYS

    k_id = id_pack(table.column("id_number"))
    birth, ok = ymd(table.column("birth_date"))
    cols = {"k_id": k_id, "k_phone": hash_key(table.column("phone")), "k_plate": hash_key(table.column("plate"))}
    name = name_hash(table.column("name_key"))
    cols |= block_keys(k_id, name, birth, ok)
    # k_b5 also says what the record's birth date is, so that a collision need not read it: -1 none, 0 digits 7-14
    # of the ID (b3 probes that already), else the date (after the name, if any)
    same = ok & (birth == ((k_id >> 15) & _M27))
    stated = np.where(name != 0, cols["k_b5"], birth)
    cols["k_b5"] = np.where(k_id > 0, np.where(~ok, -1, np.where(same, 0, stated)), 0)
    return pa.table({f.name: pa.array(cols[f.name], f.type) for f in ACTIVITY_KEYS}, schema=ACTIVITY_KEYS)


def with_keys(table: pa.Table) -> pa.Table:
    """``table`` (ACTIVITY columns first) with the key columns appended (or recomputed) and the key version in its
    schema metadata."""
    keys = activity_keys(table)
    table = table.drop_columns([n for n in keys.column_names if n in table.column_names])
    for name in keys.column_names:
        table = table.append_column(keys.schema.field(name), keys.column(name))
    return table.replace_schema_metadata({**(table.schema.metadata or {}), KEYS_META: KEYS_VERSION.encode()})


_UNIQUE_ISH = frozenset({"record_id", "id_number", "phone", "plate", "detail"})
_DELTA_INT = frozenset({"at"})  # deltas of a time-ordered column are small


def parquet_options(table: pa.Table, codec: str) -> dict[str, Any]:
    """ParquetWriter options for activity with keys: a dense key column is written PLAIN and uncompressed (a scan
    decodes it ~2.5x faster than snappy-compressed), a mostly-zero one (a phone column of checkpoint passes) with a
    dictionary, which makes it nearly free; the other columns as ``codec`` says, with dictionaries as usual. The
    page index lets a collision read single rows."""
    from zhihui.intel.schema import ACTIVITY_KEYS

    dense = []
    for name in ACTIVITY_KEYS.names:
        col = table.column(name)
        if len(col) and (pc.sum(pc.not_equal(col, 0)).as_py() or 0) * 2 > len(col):
            dense.append(name)
    # Reading a few rows of a column costs about as much as scanning it (pages are decoded in turn), so the
    # encodings are the ones that decode fastest: the time-ordered "at" as deltas (a scan 2x faster, 2.4x smaller
    # than a dictionary falling back to plain), the strings that hardly repeat with their lengths apart (~25 %
    # faster than plain).
    encoding = {n: "DELTA_BINARY_PACKED" for n in _DELTA_INT if n in table.column_names}
    encoding |= {n: "DELTA_LENGTH_BYTE_ARRAY" for n in _UNIQUE_ISH if n in table.column_names}
    compression = {name: ("none" if name in dense or name in _DELTA_INT else codec) for name in table.column_names}
    return {
        "compression": compression,
        # a dictionary of values that hardly repeat only adds a page to decode to every row read alone
        "use_dictionary": [n for n in table.column_names if n not in dense and n not in encoding],
        "column_encoding": encoding,
        "write_page_index": True,
        "data_page_size": 64 << 10,  # a row read alone decodes its page: small pages, cheap reads
    }
