"""The canonical columnar layout the intelligence tactics read (Parquet files, DuckDB or Spark tables).

Ingestion (:mod:`zhihui.intel.ingest`) turns any source file into ``ACTIVITY`` rows through a declared
mapping; the key-persons DB exports ``WATCHLIST`` and ``WATCH_KEYS``; the tactics
(:mod:`zhihui.intel.tactics`) are SQL over these three tables and nothing else, so a province-scale
Spark deployment and the embedded DuckDB read the same files.

Normalised forms, made once at ingestion so that SQL can compare with ``=``:

* ``id_number``: 18 characters, upper-case ``X``; a 15-digit legacy number is upgraded (19 + check digit).
* ``name_key``: toneless pinyin of the name, lower case, no spaces (``张三`` → ``zhangsan``); homophones
  (张/章) share a key, so name variants meet in a join.
* ``phone``: 11 digits, no ``+86``; ``plate``: upper case, no spaces or dots (``粤B12345``).
* ``at``: UTC instant; ``birth_date``: from the ID when the record has none.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["ACTIVITY", "ACTIVITY_KEYS", "ACTIVITY_STORED", "KEY_TYPES", "SOURCES", "WATCHLIST", "WATCH_KEYS"]

# 旅馆业登记, 网吧上网, 卡口过车, 交通购票 (train/bus/plane tickets).
SOURCES: dict[str, str] = {
    "hotel_checkin": "旅馆住宿",
    "internet_cafe": "网吧上网",
    "checkpoint_pass": "卡口过车",
    "transport_ticket": "交通购票",
}

ACTIVITY = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),  # unique within (source); the source system's key
        pa.field("source", pa.string(), nullable=False),  # a key of SOURCES
        pa.field("batch_id", pa.string(), nullable=False),  # the ingest batch that brought the row
        pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("id_number", pa.string()),
        pa.field("name", pa.string()),
        pa.field("name_key", pa.string()),
        pa.field("birth_date", pa.date32()),
        pa.field("sex", pa.string()),  # "M" / "F"
        pa.field("phone", pa.string()),
        pa.field("plate", pa.string()),
        pa.field("venue_code", pa.string()),  # hotel / café / checkpoint / station code
        pa.field("venue_name", pa.string()),
        pa.field("room", pa.string()),  # hotel room, café seat, or carriage+seat
        pa.field("trip", pa.string()),  # train/bus number and departure date, for 同行 (co-travel)
        pa.field("lat", pa.float64()),  # WGS-84
        pa.field("lon", pa.float64()),
        pa.field("org_code", pa.string()),  # 12-digit code of the station responsible for the place
        pa.field("detail", pa.string()),  # JSON of the source's remaining fields
    ]
)

# Integer keys of the identity columns and the fuzzy pass's blocking keys, computed at ingest
# (zhihui.intel.normalise.activity_keys, which describes the encoding) and stored after the ACTIVITY columns: a
# collision scans these narrow columns of every row and reads the strings only of the few rows that can be hits.
# Files without them (written before) are read the old way. Never null; 0 = no value.
ACTIVITY_KEYS = pa.schema(
    [pa.field(name, pa.int64(), nullable=False)
     for name in ("k_id", "k_phone", "k_plate", "k_b1", "k_b2", "k_b3", "k_b4", "k_b5")]
)  # fmt: skip
# What ingest writes: the canonical columns, then the keys.
ACTIVITY_STORED = pa.schema(list(ACTIVITY) + list(ACTIVITY_KEYS))

# One row per key person (重点人员) on a list; the identity columns feed the fuzzy pass.
WATCHLIST = pa.schema(
    [
        pa.field("person_key", pa.string(), nullable=False),  # key_persons.id as text
        pa.field("category", pa.string(), nullable=False),  # 在逃 / 吸毒人员 / 涉稳 / 前科 / 精神障碍肇事肇祸 …
        pa.field("control_level", pa.string()),
        pa.field("id_number", pa.string()),
        pa.field("name", pa.string()),
        pa.field("name_key", pa.string()),
        pa.field("birth_date", pa.date32()),
        pa.field("sex", pa.string()),
        pa.field("org_code", pa.string()),  # responsible station
    ]
)

KEY_TYPES = ("id_number", "phone", "plate")
# Exact keys of key persons: every ID (aliases' too), phone and plate, one row each.
WATCH_KEYS = pa.schema(
    [
        pa.field("person_key", pa.string(), nullable=False),
        pa.field("key_type", pa.string(), nullable=False),  # one of KEY_TYPES
        pa.field("key_value", pa.string(), nullable=False),
    ]
)
