"""Normalised join keys for the intelligence tables (see :mod:`zhihui.intel.schema`).

Built on the intake parsers, so an ID, phone or plate reads the same at the call-taker's desk and in a
collision run.
"""

from __future__ import annotations

import functools
import re
from datetime import date

from pypinyin import Style, lazy_pinyin

from zhihui.intake.text.ids import parse_resident_id
from zhihui.intake.text.normalise import t2s
from zhihui.intake.text.phones import parse_phone
from zhihui.intake.text.plates import parse_plate

__all__ = ["id_key", "name_key", "phone_key", "plate_key"]

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


def phone_key(raw: str | None) -> str | None:
    """11-digit mobile or normalised landline; None when unreadable."""
    if raw is None or not str(raw).strip():
        return None
    info = parse_phone(str(raw))
    return info.number if info.valid and info.number else None


def plate_key(raw: str | None) -> str | None:
    """粤B12345 form (upper case, simplified, no separators); None when unreadable."""
    if raw is None or not str(raw).strip():
        return None
    info = parse_plate(str(raw))
    return info.number if info.valid and info.number else None
