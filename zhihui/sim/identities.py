"""GENERATED person records with known duplicates, for the identity-resolution benchmark and tests.

**Everything here is invented**: names (Faker zh_CN), resident ID numbers, birth dates, phones and addresses.
Persons come from the population simulator's factory (:mod:`zhihui.sim.population`), so ID numbers are
well-formed GB 11643 numbers (real county code for the birth year, matching birth date and sex digit, right
MOD 11-2 check digit) and phones use real carriers' prefixes.

Each original person may get duplicate records, each with one to three of the corruptions a real register
shows (at most one per field):

* name: ``homophone`` (one character replaced by another with the same toneless pinyin — the pinyin-IME
  slip; the table is built with pypinyin over the 3,755 GB 2312 level-1 characters, see :func:`homophones`),
  ``romanised`` (pinyin, as on a passport or a foreign hotel's form), ``traditional`` (OpenCC s2t);
* ID: ``id_transposed`` (two adjacent digits swapped), ``id_legacy15`` (the 15-digit first-generation number,
  i.e. without "19" and the check digit, for persons born before 2000), ``id_typo`` (one character wrong);
* birth date: ``birth_typo`` (one digit wrong, still a real date), ``birth_swap`` (day and month swapped);
* ``phone_missing`` / ``phone_changed``; ``address_changed`` (people move).

Hard negatives are different persons that look alike: ``namesake`` (same name, sex and birth date, otherwise
unrelated — common in China) and ``twin`` (same surname, birth date, county and home, a neighbouring ID
sequence number, own given name and phone). Deterministic: same arguments → same frame.
"""

from __future__ import annotations

import functools
import random
from datetime import date
from typing import Any

import pandas as pd

from zhihui.sim.population import _hukou_name, _PersonFactory, id_check_digit

__all__ = ["CORRUPTIONS", "generate_identities", "homophones", "romanise"]

# Corruptions per field with relative weights; a duplicate draws fields first, then one corruption per field.
_FIELD_CORRUPTIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "name": (("homophone", 4), ("romanised", 2), ("traditional", 2)),
    "id_number": (("id_transposed", 3), ("id_legacy15", 2), ("id_typo", 3)),
    "birth_date": (("birth_typo", 3), ("birth_swap", 1)),
    "phone": (("phone_missing", 3), ("phone_changed", 1)),
    "address": (("address_changed", 1),),
}
_FIELD_WEIGHTS = {"name": 4, "id_number": 4, "birth_date": 2, "phone": 2, "address": 1}
CORRUPTIONS: tuple[str, ...] = tuple(k for v in _FIELD_CORRUPTIONS.values() for k, _ in v)
_COLUMNS = ("record_id", "entity_id", "kind", "corruptions", "name", "id_number", "birth_date", "sex", "phone",
            "address")  # fmt: skip


@functools.cache
def _common_chars() -> tuple[str, ...]:
    """The GB 2312 level-1 characters (rows 16-55): the standard list of the 3,755 most common hanzi."""
    out = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:  # the unassigned tail of row 55
                pass
    return tuple(out)


@functools.cache
def _by_pinyin() -> dict[str, tuple[str, ...]]:
    from pypinyin import Style, lazy_pinyin

    groups: dict[str, list[str]] = {}
    for ch in _common_chars():
        groups.setdefault(lazy_pinyin(ch, style=Style.NORMAL)[0], []).append(ch)
    return {k: tuple(v) for k, v in groups.items()}


@functools.cache
def homophones(char: str) -> tuple[str, ...]:
    """Common characters with the same toneless pinyin as ``char`` (itself excluded), in GB 2312 order.

    Toneless on purpose: a pinyin IME takes no tones, so its wrong candidates are exactly these."""
    from pypinyin import Style, lazy_pinyin

    return tuple(c for c in _by_pinyin().get(lazy_pinyin(char, style=Style.NORMAL)[0], ()) if c != char)


def romanise(name: str, surname_len: int = 1, *, style: int = 0) -> str:
    """Hanyu pinyin of a name: style 0 "Zhang Xiaoming", 1 "ZHANG XIAOMING" (passport: ü written YU, 吕 LYU),
    2 "Xiaoming Zhang" (given name first, as on many foreign forms)."""
    from pypinyin import Style, lazy_pinyin

    syl = [s.replace("v", "ü") for s in lazy_pinyin(name, style=Style.NORMAL, v_to_u=False)]
    if style == 1:
        syl = [s.replace("ü", "yu") for s in syl]
    sur, given = "".join(syl[:surname_len]).capitalize(), "".join(syl[surname_len:]).capitalize()
    if style == 1:
        return f"{sur} {given}".upper().strip()
    if style == 2:
        return f"{given} {sur}".strip()
    return f"{sur} {given}".strip()


@functools.cache
def _s2t() -> Any:
    import opencc

    return opencc.OpenCC("s2t")


@functools.cache
def _compound_surnames() -> frozenset[str]:
    from faker.providers.person.zh_CN import Provider

    return frozenset(s for s in Provider.last_names if len(s) > 1)


def _surname_len(name: str) -> int:
    return 2 if name[:2] in _compound_surnames() else 1


def _valid_date(s: str) -> date | None:
    try:
        return date(int(s[:4]), int(s[4:6]), int(s[6:8]))
    except ValueError:
        return None


class _Maker:
    def __init__(self, seed: int, today: date) -> None:
        self.f = _PersonFactory(seed, today)  # reuse the simulator's IDs, hukou mix, ages and phones
        self.rng = random.Random(f"zhihui.identities:{seed}")
        self.today = today

    def address(self, code: str, year: int) -> str:
        rng = self.rng
        room = f"{rng.randint(1, 30)}0{rng.randint(1, 8)}"
        return f"{_hukou_name(code, year)}{self.f.fake.street_name()}{rng.randint(1, 300)}号{room}"

    def person(self, *, sex: str | None = None, birth: date | None = None, name: str | None = None,
               code: str | None = None) -> dict[str, Any]:  # fmt: skip
        f = self.f
        sex = sex or ("M" if self.rng.random() < 0.55 else "F")
        if birth is None:
            birth, _ = f.birth()
        code = code or f.hukou(birth.year, self.rng.random() < 0.9)
        return {
            "name": name or f.name(sex),
            "id_number": f.id_number(code, birth, sex),
            "birth_date": birth,
            "sex": sex,
            "phone": f.phone(code, birth.year, 0.3),
            "address": self.address(code, birth.year),
        }

    # --- corruptions: each returns the new value, or None when it does not apply to this record ---

    def corrupt(self, kind: str, rec: dict[str, Any]) -> Any:
        rng = self.rng
        name, idn, birth = rec["name"], rec["id_number"], rec["birth_date"]
        if kind == "homophone":
            spots = [(i, homophones(ch)) for i, ch in enumerate(name)]
            spots = [(i, h) for i, h in spots if h]
            if not spots:
                return None
            i, h = rng.choice(spots)
            return name[:i] + rng.choice(h) + name[i + 1 :]
        if kind == "romanised":
            return romanise(name, _surname_len(name), style=rng.choices((0, 1, 2), weights=(5, 3, 2))[0])
        if kind == "traditional":
            t = str(_s2t().convert(name))
            return t if t != name else None
        if kind == "id_transposed":
            spots = [i for i in range(17) if idn[i] != idn[i + 1]]
            i = rng.choice(spots)
            return idn[:i] + idn[i + 1] + idn[i] + idn[i + 2 :]
        if kind == "id_legacy15":
            return idn[:6] + idn[8:17] if birth.year < 2000 else None
        if kind == "id_typo":
            i = rng.randrange(18)
            return idn[:i] + rng.choice([d for d in "0123456789" if d != idn[i]]) + idn[i + 1 :]
        if kind == "birth_typo":
            s = f"{birth:%Y%m%d}"
            for _ in range(50):
                i = rng.randrange(8)
                d = _valid_date(s[:i] + rng.choice([c for c in "0123456789" if c != s[i]]) + s[i + 1 :])
                if d is not None and date(1900, 1, 1) <= d <= self.today:
                    return d
            return None
        if kind == "birth_swap":
            if birth.day > 12 or birth.day == birth.month:
                return None
            return birth.replace(month=birth.day, day=birth.month)
        if kind == "phone_missing":
            return ""
        if kind == "phone_changed":
            return self.f.phone(rec["id_number"][:6], birth.year, 0.3)
        if kind == "address_changed":
            return self.address(self.f.hukou(birth.year, True), birth.year)
        raise ValueError(kind)

    def duplicate(self, orig: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        rng = self.rng
        rec = dict(orig)
        fields = list(_FIELD_WEIGHTS)
        n = rng.choices((1, 2, 3), weights=(4, 4, 2))[0]
        chosen: list[str] = []
        while len(chosen) < n and fields:
            fld = rng.choices(fields, weights=[_FIELD_WEIGHTS[x] for x in fields])[0]
            fields.remove(fld)
            opts = _FIELD_CORRUPTIONS[fld]
            kind = rng.choices([k for k, _ in opts], weights=[w for _, w in opts])[0]
            value = self.corrupt(kind, rec)
            if value is None:
                continue
            rec[fld] = value
            chosen.append(kind)
        return rec, chosen

    def twin(self, orig: dict[str, Any]) -> dict[str, Any] | None:
        sur = orig["name"][: _surname_len(orig["name"])]
        sex = "M" if self.rng.random() < 0.5 else "F"
        for _ in range(20):
            given = self.f.name(sex)
            given = given[_surname_len(given) :]
            if sur + given != orig["name"]:
                break
        else:
            return None
        idn, birth = orig["id_number"], orig["birth_date"]
        new_id = self.f.id_number(idn[:6], birth, sex)
        # Twins are registered one after the other: move the new number next to the sibling's sequence.
        seq = int(idn[14:17])
        step = 2 if sex == orig["sex"] else 1
        for cand in (seq + step, seq - step, seq + 2 * step, seq - 2 * step):
            if 0 < cand < 1000:
                body = f"{idn[:14]}{cand:03d}"
                number = body + id_check_digit(body)
                if number not in self.f.ids:
                    self.f.ids.discard(new_id)
                    self.f.ids.add(number)
                    new_id = number
                    break
        return {
            "name": sur + given,
            "id_number": new_id,
            "birth_date": birth,
            "sex": sex,
            "phone": self.f.phone(idn[:6], birth.year, 0.3),
            "address": orig["address"],
        }


def generate_identities(
    n_persons: int = 3000,
    *,
    seed: int = 0,
    dup_share: float = 0.5,
    max_dups: int = 3,
    namesake_share: float = 0.08,
    twin_share: float = 0.02,
    today: date = date(2026, 1, 5),
) -> pd.DataFrame:
    """GENERATED person records: ``n_persons`` originals, their corrupted duplicates and hard negatives.

    dup_share: share of originals with duplicates (1..max_dups each); namesake_share / twin_share: share of
    originals that get a look-alike different person. Columns: record_id, entity_id (ground truth: same
    entity = same person), kind ("original" / "duplicate" / "namesake" / "twin"), corruptions (comma-joined
    kinds of :data:`CORRUPTIONS`, "" for clean records), name, id_number, birth_date (``date``), sex ("M"/"F"),
    phone ("" when missing) and address. Rows are shuffled so that duplicates are not adjacent.
    """
    if n_persons < 0:
        raise ValueError("n_persons must be >= 0")
    mk = _Maker(seed, today)
    rng = mk.rng
    rows: list[dict[str, Any]] = []
    n_entities = 0

    def add(rec: dict[str, Any], kind: str, corruptions: list[str], entity: int) -> None:
        rows.append({**rec, "entity_id": f"E{entity:06d}", "kind": kind, "corruptions": ",".join(corruptions)})

    for _ in range(n_persons):
        orig = mk.person()
        n_entities += 1
        me = n_entities
        add(orig, "original", [], me)
        if rng.random() < dup_share:
            for _ in range(rng.randint(1, max_dups)):
                dup, kinds = mk.duplicate(orig)
                add(dup, "duplicate", kinds, me)
        r = rng.random()
        if r < namesake_share:
            other = mk.person(sex=orig["sex"], birth=orig["birth_date"], name=orig["name"])
            n_entities += 1
            add(other, "namesake", [], n_entities)
        elif r < namesake_share + twin_share:
            twin = mk.twin(orig)
            if twin is not None:
                n_entities += 1
                add(twin, "twin", [], n_entities)
    rng.shuffle(rows)
    for i, row in enumerate(rows):
        row["record_id"] = f"R{i + 1:06d}"
    return pd.DataFrame(rows, columns=list(_COLUMNS))
