"""Fuzzy identity resolution: how likely is it that two person records are the same person?

Used (a) by the batch-collision fuzzy pass on candidate pairs that missed the exact join (an activity record vs
a key person on a watchlist) and (b) to de-duplicate key-person entries (:func:`resolve`).

Method: Fellegi–Sunter. Each field is compared into a few agreement levels (the comparison vector); a level
has m = P(level | same person) and u = P(level | two different persons), the match weight is the sum over the
present fields of log2(m/u) (fields assumed conditionally independent; a missing field adds 0), and the score
is the posterior P(same | levels) = 1 / (1 + 2^-(weight + log2(prior odds))).

* Chinese person records (:data:`PERSON_MODEL`, fields name / id_number / birth_date / sex / phone / address):
  m and u are *set*, not fitted, each with its reason next to it. u is for two random different residents and
  the prior is 1 / 10^7 (one person out of a city), so a score means the same thing however the candidate
  pairs were found. :meth:`FellegiSunter.fit` re-estimates them by EM on a deployment's own pairs.
* Any other tabular records, e.g. FEBRL's Australian ones (:func:`compare` with :data:`WESTERN_COMPARISONS`):
  string / edit-distance / date levels, parameters estimated without labels by EM (:meth:`FellegiSunter.fit`).

Chinese comparators: names by toneless pinyin (homophones 张/章 meet; traditional characters go through
OpenCC t2s; a romanised "Zhang San" or "San Zhang" meets 张三, also under a polyphonic surname's other reading,
曾 ceng/zeng), then per-character pinyin similarity with the pinyin IMEs' 模糊音 (z/zh, n/l, in/ing…), romanised
names split into syllables first; resident IDs by the GB 11643 body — a 15-digit legacy number is upgraded
first — with one adjacent transposition, one wrong digit or two such slips recognised, and the MOD 11-2 check
digit used as evidence: a single slip always breaks the check, so two numbers that both pass it and still differ
are two people, not a typo; birth dates with day/month swaps and one-digit slips. Where the IDs agree (up to
slips) the birth-date and sex agreement is not counted again: those digits are part of the ID.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import OSA, Indel, JaroWinkler
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from zhihui.intake.text.ids import parse_resident_id
from zhihui.intake.text.normalise import t2s
from zhihui.intel.normalise import name_key, phone_key

__all__ = [
    "DEFAULT_THRESHOLD",
    "PERSON_FIELDS",
    "PERSON_MODEL",
    "WESTERN_COMPARISONS",
    "Comparison",
    "FellegiSunter",
    "IdentityMatch",
    "candidate_pairs",
    "compare",
    "person_levels",
    "resolve",
    "score_frame",
    "score_pair",
]

DEFAULT_THRESHOLD = 0.5  # the score is a posterior: "more likely the same person than not"
PERSON_FIELDS = ("name", "id_number", "birth_date", "sex", "phone", "address")


# --- Fellegi–Sunter model -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FellegiSunter:
    """m/u probabilities per field and level, and the prior P(match) of a pair.

    Levels are small ints, 0 = best agreement; -1 = missing (adds no evidence)."""

    fields: tuple[str, ...]
    m: tuple[tuple[float, ...], ...]
    u: tuple[tuple[float, ...], ...]
    prior: float

    @functools.cached_property
    def _table(self) -> np.ndarray:
        # One row per field; the last column stays 0 so that level -1 (missing) indexes a zero weight.
        width = max(len(x) for x in self.m) + 1
        tab = np.zeros((len(self.fields), width))
        for k, (m, u) in enumerate(zip(self.m, self.u, strict=True)):
            tab[k, : len(m)] = np.log2(np.asarray(m)) - np.log2(np.asarray(u))
        return tab

    def field_weights(self, levels: np.ndarray) -> np.ndarray:
        """(n, fields) log2 Bayes factors of each field's level."""
        levels = np.asarray(levels, dtype=np.int64)
        return self._table[np.arange(len(self.fields)), levels]

    def weight(self, levels: np.ndarray) -> np.ndarray:
        """Total match weight (log2 Bayes factor) per pair."""
        return self.field_weights(levels).sum(axis=1)

    def probability(self, levels: np.ndarray) -> np.ndarray:
        """Posterior P(same) per pair."""
        logit2 = self.weight(levels) + math.log2(self.prior / (1 - self.prior))
        return 1.0 / (1.0 + np.exp2(-np.clip(logit2, -200, 200)))

    @classmethod
    def fit(
        cls,
        levels: np.ndarray,
        fields: Sequence[str],
        *,
        init: FellegiSunter | None = None,
        prior: float = 0.05,
        max_iter: int = 500,
        tol: float = 1e-7,
    ) -> FellegiSunter:
        """EM estimate of m, u and the prior from unlabelled comparison vectors (no ground truth is used).

        Runs on the distinct level patterns with their counts, so a million pairs cost no more than their few
        thousand patterns. Without ``init``, m starts concentrated on the top levels and u at the observed level
        frequencies (candidate pairs are mostly non-matches)."""
        levels = np.asarray(levels, dtype=np.int64)
        pats, counts = np.unique(levels, axis=0, return_counts=True)
        counts = counts.astype(float)
        k = len(fields)
        if init is not None:
            n_lev = [len(x) for x in init.m]
            m = [np.asarray(x, float) for x in init.m]
            u = [np.asarray(x, float) for x in init.u]
            lam = init.prior
        else:
            n_lev = [max(int(levels[:, j].max()) + 1, 2) for j in range(k)]
            m = [np.geomspace(1, 0.02, n) / np.geomspace(1, 0.02, n).sum() for n in n_lev]
            u = []
            for j in range(k):
                v = pats[:, j]
                freq = np.bincount(v[v >= 0], weights=counts[v >= 0], minlength=n_lev[j]) + 1.0
                u.append(freq / freq.sum())
            lam = prior
        present = [pats[:, j] >= 0 for j in range(k)]
        for _ in range(max_iter):
            lm = np.zeros(len(pats))
            lu = np.zeros(len(pats))
            for j in range(k):
                ok, v = present[j], pats[present[j], j]
                lm[ok] += np.log(m[j][v])
                lu[ok] += np.log(u[j][v])
            g = 1.0 / (1.0 + np.exp(np.clip(lu - lm, -700, 700)) * (1 - lam) / lam)
            gm, gu = g * counts, (1 - g) * counts
            for j in range(k):
                ok, v = present[j], pats[present[j], j]
                # A small pseudo-count keeps a level never seen among matches from getting weight -inf.
                wm = np.bincount(v, weights=gm[ok], minlength=n_lev[j]) + 1e-3
                wu = np.bincount(v, weights=gu[ok], minlength=n_lev[j]) + 1e-3
                m[j], u[j] = wm / wm.sum(), wu / wu.sum()
            new_lam = float(gm.sum() / counts.sum())
            new_lam = min(max(new_lam, 1e-12), 1 - 1e-12)
            done = abs(new_lam - lam) < tol
            lam = new_lam
            if done:
                break
        return cls(tuple(fields), tuple(tuple(map(float, x)) for x in m), tuple(tuple(map(float, x)) for x in u), lam)


def _levels(*pairs: tuple[float, float]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(m, u) tuples from (m, u) per level; the last level's u takes the rest so u sums to 1."""
    m = tuple(p[0] for p in pairs)
    u = [p[1] for p in pairs]
    u[-1] = 1.0 - sum(u[:-1])
    if abs(sum(m) - 1) > 1e-9:
        raise ValueError("m must sum to 1")
    return m, tuple(u)


# Levels of the Chinese person comparators (see person_levels). m: how often the same person's two records show
# the level (register slips are a few %); u: how often two random different residents do.
_NAME_MU = _levels(
    (0.88, 1e-4),  # same characters: ~1e-4 of random pairs share a full name (重名 is common: 张伟, 王芳 …)
    (0.06, 4e-4),  # same toneless pinyin (homophone slip, romanised, polyphonic surname): a few times more often
    (0.03, 3e-3),  # 模糊音 / per-character pinyin close
    (0.02, 0.03),  # partly the same (e.g. surname and one character)
    (0.01, 0.0),  # different
)
_ID_MU = _levels(
    (0.948, 1e-9),  # same number (after 15→18 upgrade): only a copying error gives two people one number
    (0.015, 1e-9),  # one adjacent transposition
    (0.025, 5e-9),  # one wrong digit (incl. the check digit)
    (0.008, 1e-7),  # two slips apart (e.g. a transposition in one record, a wrong digit in the other)
    (0.0006, 0.06),  # further apart, one side unverifiable: still two different numbers behind the slips
    (0.0034, 0.0),  # different and both pass the check digit: two numbers, so almost surely two people
)
_BIRTH_MU = _levels(
    (0.95, 4e-5),  # same date: 1 in ~65 years × 365 days
    (0.005, 4e-5),  # day and month swapped
    (0.03, 1e-3),  # one digit off (about 25 such dates per date)
    (0.015, 0.0),  # different
)
_SEX_MU = _levels((0.99, 0.5), (0.01, 0.0))
_PHONE_MU = _levels(
    (0.77, 1e-6),  # same number: family members and hotel front desks share numbers now and then
    (0.03, 2e-5),  # one digit off / two swapped
    (0.20, 0.0),  # different: people change numbers
)
_ADDRESS_MU = _levels(
    (0.45, 1e-3),  # same address: households and collective addresses (集体户) are shared
    (0.20, 2e-3),  # close (same building, a slip)
    (0.35, 0.0),  # different: people move, registers hold old addresses
)
PERSON_MODEL = FellegiSunter(
    fields=PERSON_FIELDS,
    m=(_NAME_MU[0], _ID_MU[0], _BIRTH_MU[0], _SEX_MU[0], _PHONE_MU[0], _ADDRESS_MU[0]),
    u=(_NAME_MU[1], _ID_MU[1], _BIRTH_MU[1], _SEX_MU[1], _PHONE_MU[1], _ADDRESS_MU[1]),
    prior=1e-7,  # one person among a city's ~10^7: the chance that two random records are the same person
)


# --- Chinese person records: normalisation (once per distinct value) ------------------------------------------

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NAME_JUNK = re.compile(r"[\s·•．.\-_'’]+")
_LATIN_UE = re.compile(r"(?<=[ln])yu")  # passport spelling of ü after l/n (吕 LYU) → the pypinyin "v"
_FUZZY = ((re.compile(r"([zcs])h"), r"\1"), (re.compile(r"ng"), "n"), (re.compile(r"l"), "n"))
_ID18 = re.compile(r"^[0-9]{17}[0-9X]$")  # ASCII only: \d also takes full-width digits (parsed below)
_ID15 = re.compile(r"^[0-9]{15}$")
_MOBILE = re.compile(r"^1[0-9]{10}$")
_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)])
_CHECK = np.array([1, 0, 10, 9, 8, 7, 6, 5, 4, 3, 2])  # '10X98765432' with X = 10
_SEX_WORDS = {"m": 1, "male": 1, "男": 1, "1": 1, "f": 2, "female": 2, "女": 2, "2": 2}
_SYLLABLES: dict[str, int] = {}  # interned pinyin syllables, for per-character comparison
_MAX_CHARS = 6


def _fuzzy(key: str) -> str:
    for pat, rep in _FUZZY:
        key = pat.sub(rep, key)
    return key


def _syllable_id(s: str) -> int:
    return _SYLLABLES.setdefault(s, len(_SYLLABLES) + 1)


@functools.cache
def _pinyin_syllables() -> frozenset[str]:
    """Toneless syllables of the 6,763 GB 2312 characters (both levels): enough to split romanised names."""
    from pypinyin import Style, lazy_pinyin

    chars = []
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return frozenset(lazy_pinyin("".join(chars), style=Style.NORMAL, v_to_u=False))


@functools.lru_cache(maxsize=50_000)
def _split_pinyin(token: str) -> tuple[str, ...]:
    """Fewest-syllable split of a romanised token ("xiaoming" → xiao ming); () when it is not pinyin."""
    known = _pinyin_syllables()
    n = len(token)
    best: list[tuple[str, ...] | None] = [()] + [None] * n
    for end in range(1, n + 1):
        for start in range(max(0, end - 6), end):
            prev = best[start]
            if prev is not None and token[start:end] in known:
                cand = (*prev, token[start:end])
                if best[end] is None or len(cand) < len(best[end]):  # type: ignore[arg-type]
                    best[end] = cand
    return best[n] or ()


@dataclass(frozen=True)
class _NameForm:
    text: str  # simplified characters, or the lower-case romanised key
    key: str  # toneless pinyin
    alt: str  # the other reading: reversed romanised order, or a polyphonic surname's second reading
    fuzzy: str  # key under 模糊音
    latin: bool
    syl: tuple[str, ...]  # syllables per character (romanised: as split), in the key's order
    alt_syl: tuple[str, ...]


_NO_NAME = _NameForm("", "", "", "", False, (), ())


@functools.lru_cache(maxsize=200_000)
def _name_forms(raw: str) -> _NameForm:
    from pypinyin import Style, lazy_pinyin, pinyin

    if not raw or not raw.strip():
        return _NO_NAME
    if not _CJK.search(raw):
        tokens = [t for t in re.split(r"[\s,]+", raw.strip().lower()) if t]
        parts = [_LATIN_UE.sub("v", name_key(t) or "") for t in tokens]
        parts = [t for t in parts if t]
        if not parts:
            return _NO_NAME
        key = "".join(parts)
        alt = "".join(reversed(parts)) if len(parts) > 1 else ""
        splits = [_split_pinyin(t) for t in parts]
        ok = all(splits)
        syl = tuple(x for sp in splits for x in sp) if ok else ()
        alt_syl = tuple(x for sp in reversed(splits) for x in sp) if ok and alt else ()
        return _NameForm(key, key, alt if alt != key else "", _fuzzy(key), True, syl, alt_syl)
    text = _NAME_JUNK.sub("", t2s(raw.strip()))
    syl = tuple(s.replace("ü", "v") for s in lazy_pinyin(text, style=Style.NORMAL, errors="default"))
    key = name_key(text) or ""
    alt, alt_syl = "", ()
    # A polyphonic surname is often romanised in its surname reading (曾 zeng, 单 shan): keep the second one.
    readings = pinyin(text[0], style=Style.NORMAL, heteronym=True)[0]
    other = next((r.replace("ü", "v") for r in readings if r.replace("ü", "v") != syl[0]), "") if syl else ""
    if other:
        alt_syl = (other, *syl[1:])
        alt = re.sub(r"[^a-z]", "", "".join(alt_syl))
    return _NameForm(text, key, alt, _fuzzy(key), False, syl, alt_syl)


@functools.lru_cache(maxsize=200_000)
def _id_forms(raw: str) -> tuple[str, bool]:
    """(18-character number or "", upgraded from 15 digits?)."""
    s = raw.strip().upper()
    if _ID18.match(s):
        return s, False
    if _ID15.match(s):
        return s[:6] + "19" + s[6:] + "0", True  # check digit filled in vectorised below
    rid = parse_resident_id(raw)  # full-width digits, spaces, hyphens …
    return (rid.number, rid.upgraded_from_15) if len(rid.number) == 18 and rid.number[:17].isdigit() else ("", False)


@functools.lru_cache(maxsize=200_000)
def _phone_form(raw: str) -> str:
    s = raw.strip()
    return s if _MOBILE.match(s) else (phone_key(s) or "")


@functools.lru_cache(maxsize=200_000)
def _address_form(raw: str) -> str:
    return re.sub(r"\s+", "", t2s(raw)) if raw and raw.strip() else ""


_DATE = re.compile(r"^\s*([0-9]{4})[^0-9]?([0-9]{1,2})[^0-9]?([0-9]{1,2})(?![0-9])")


def _birth_int(value: Any, *, strict: bool = False) -> int:
    """yyyymmdd of a date, datetime or text (1985-03-07, 19850307, 1985/3/7, 1985年3月7日 …); 0 when unknown.

    Not strict: an impossible date as typed (1985-02-30, month 13) is kept, because it is usually one slip away
    from the right one and the date comparator can say so; strict (dates read from an ID): real dates only."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return 0
    if isinstance(value, date):  # datetime and pandas Timestamp included
        return value.year * 10000 + value.month * 100 + value.day
    got = _DATE.match(str(value))
    if not got:
        return 0
    y, m, d = (int(x) for x in got.groups())
    if strict:
        try:
            date(y, m, d)
        except ValueError:
            return 0
    return y * 10000 + m * 100 + d if y >= 1000 else 0


def _factorize(df: pd.DataFrame, col: str, *, text: bool = True) -> tuple[np.ndarray, list[Any]]:
    """Codes per row (-1 missing) and the distinct values (as text unless ``text=False``): the normalisers run
    once per distinct value (registers repeat names, IDs, phones and addresses a lot), results taken by code."""
    if col not in df.columns:
        return np.full(len(df), -1, np.int64), []
    codes, uniques = pd.factorize(df[col], use_na_sentinel=True)
    return codes, [str(v) for v in uniques] if text else list(uniques)


def _take(values: Sequence[Any], codes: np.ndarray, missing: Any, dtype: Any = object) -> np.ndarray:
    """values[code] per row, ``missing`` where the code is -1 (appended last, so -1 indexes it)."""
    arr = np.empty(len(values) + 1, dtype=dtype)
    arr[:-1] = values
    arr[-1] = missing
    return arr[codes]


@dataclass
class _People:
    """Normalised Chinese person records, one array per comparator input."""

    name_raw: np.ndarray
    name_text: np.ndarray
    name_key: np.ndarray
    name_alt: np.ndarray
    name_fuzzy: np.ndarray
    name_latin: np.ndarray
    syl: np.ndarray  # (n, _MAX_CHARS) syllable ids, 0 = none
    fsyl: np.ndarray  # the same under 模糊音
    asyl: np.ndarray  # alternative reading / order
    afsyl: np.ndarray
    n_chars: np.ndarray
    id_raw: np.ndarray
    id18: np.ndarray
    id_digits: np.ndarray  # (n, 18) int8, X = 10
    has_id: np.ndarray
    id_upgraded: np.ndarray
    id_verified: np.ndarray  # typed check digit present and right
    birth: np.ndarray  # yyyymmdd, 0 = unknown
    sex: np.ndarray  # 1 M, 2 F, 0 unknown
    phone: np.ndarray
    address: np.ndarray
    # Integer codes of the strings above (one vocabulary per preparation, -1 = missing): comparing ints is ~10x
    # faster than comparing Python strings, and key vs alt share the vocabulary so "San Zhang" can meet 张三.
    text_c: np.ndarray
    key_c: np.ndarray
    alt_c: np.ndarray
    fuzzy_c: np.ndarray
    phone_c: np.ndarray
    address_c: np.ndarray
    birth_digits: np.ndarray  # (n, 8) int8 of yyyymmdd


def _intern(values: Sequence[str], codes: np.ndarray, vocab: dict[str, int]) -> np.ndarray:
    """Per row: the vocabulary id of values[code] ("" and code -1 → -1)."""
    ids = [vocab.setdefault(v, len(vocab)) if v else -1 for v in values]
    return _take(ids, codes, -1, np.int32)


def _ids(raw: list[str]) -> tuple[np.ndarray, ...]:
    """Per distinct raw ID: (id18, digits, upgraded, verified, birth from the ID, sex from the ID)."""
    forms = [_id_forms(r) for r in raw]
    id18 = np.array([f[0] for f in forms] + [""], dtype=object)
    upgraded = np.array([f[1] for f in forms] + [False], dtype=bool)
    has = id18 != ""
    filled = np.where(has, id18, "0" * 18).astype("U18")
    digits = np.frombuffer(filled.tobytes(), dtype=np.uint32).reshape(len(id18), 18).astype(np.int64) - ord("0")
    digits[digits == ord("X") - ord("0")] = 10
    digits[(digits < 0) | (digits > 10)] = 11  # stray character: matches no check value
    expected = _CHECK[(digits[:, :17] * _WEIGHTS).sum(axis=1) % 11]
    if upgraded.any():  # a legacy number has no check digit of its own: the upgrade computes it
        digits[upgraded, 17] = expected[upgraded]
        id18[upgraded] = [s[:17] + "0123456789X"[c] for s, c in zip(id18[upgraded], expected[upgraded], strict=True)]
    verified = has & ~upgraded & (digits[:, 17] == expected)
    trusted = verified | (has & upgraded)  # digits as typed and not contradicted by a check digit
    birth = np.zeros(len(id18), np.int64)
    seg = (digits[:, 6:14] * 10 ** np.arange(7, -1, -1)).sum(axis=1)
    birth[trusted] = [_birth_int(str(v), strict=True) for v in seg[trusted]]
    sex = np.where(trusted, np.where(digits[:, 16] % 2 == 1, 1, 2), 0).astype(np.int8)
    return id18, digits.astype(np.int8), upgraded, verified, birth, sex


def _prepare(df: pd.DataFrame) -> _People:
    nc, names = _factorize(df, "name")
    forms = [_name_forms(v) for v in names]
    syl = np.zeros((4, len(forms) + 1, _MAX_CHARS), np.int32)  # syl, fuzzy syl, alt syl, fuzzy alt syl
    n_chars = np.zeros(len(forms) + 1, np.int8)
    for r, f in enumerate(forms):
        for k, (seq, fz) in enumerate(((f.syl, False), (f.syl, True), (f.alt_syl, False), (f.alt_syl, True))):
            ids = [_syllable_id("~" + _fuzzy(x) if fz else x) for x in seq[:_MAX_CHARS]]
            syl[k, r, : len(ids)] = ids
        n_chars[r] = min(len(f.syl), _MAX_CHARS)
    ic, id_raw = _factorize(df, "id_number")
    id18, digits, upgraded, verified, id_birth, id_sex = _ids(id_raw)
    # Birth date and sex: as given, else read from an ID whose digits can be trusted.
    bc, births = _factorize(df, "birth_date", text=False)
    birth = _take([_birth_int(v) for v in births], bc, 0, np.int64)
    birth = np.where(birth == 0, id_birth[ic], birth)
    sc, sexes = _factorize(df, "sex")
    sex = _take([_SEX_WORDS.get(v.strip().lower(), 0) for v in sexes], sc, 0, np.int8)
    sex = np.where(sex == 0, id_sex[ic], sex).astype(np.int8)
    pc, phones = _factorize(df, "phone")
    ac, addresses = _factorize(df, "address")
    phone_u = [_phone_form(v) for v in phones]
    address_u = [_address_form(v) for v in addresses]
    vocab: dict[str, int] = {}  # text, key and alt share it: key vs alt comparisons need common ids
    bu, binv = np.unique(birth, return_inverse=True)
    return _People(
        name_raw=_take(names, nc, ""),
        name_text=_take([f.text for f in forms], nc, ""),
        name_key=_take([f.key for f in forms], nc, ""),
        name_alt=_take([f.alt for f in forms], nc, ""),
        name_fuzzy=_take([f.fuzzy for f in forms], nc, ""),
        name_latin=_take([f.latin for f in forms], nc, False, bool),
        syl=syl[0][nc],
        fsyl=syl[1][nc],
        asyl=syl[2][nc],
        afsyl=syl[3][nc],
        n_chars=n_chars[nc],
        id_raw=_take(id_raw, ic, ""),
        id18=id18[ic],
        id_digits=digits[ic],
        has_id=id18[ic] != "",
        id_upgraded=upgraded[ic],
        id_verified=verified[ic],
        birth=birth,
        sex=sex,
        phone=_take(phone_u, pc, ""),
        address=_take(address_u, ac, ""),
        text_c=_intern([f.text for f in forms], nc, vocab),
        key_c=_intern([f.key for f in forms], nc, vocab),
        alt_c=_intern([f.alt for f in forms], nc, vocab),
        fuzzy_c=_intern([f.fuzzy for f in forms], nc, {}),
        phone_c=_intern(phone_u, pc, {}),
        address_c=_intern(address_u, ac, {}),
        birth_digits=_digits8(bu)[binv.ravel()],
    )


# --- Chinese person records: comparators (vectorised over pairs) ----------------------------------------------


def _cp(a: np.ndarray, b: np.ndarray, scorer: Any) -> np.ndarray:
    if len(a) == 0:
        return np.zeros(0, np.float32)
    return process.cpdist(list(a), list(b), scorer=scorer, dtype=np.float32, workers=1)


def _adjacent_swap(a: np.ndarray, b: np.ndarray, neq: np.ndarray) -> np.ndarray:
    """(n, width-1): positions p where a[p], a[p+1] == b[p+1], b[p] and both differ."""
    return neq[:, :-1] & neq[:, 1:] & (a[:, :-1] == b[:, 1:]) & (a[:, 1:] == b[:, :-1])


def _date_levels(b1: np.ndarray, b2: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Levels 0 same, 1 day/month swapped, 2 one digit off or two adjacent digits swapped, 3 different.

    b: yyyymmdd ints (0 unknown); d: their (n, 8) digits."""
    missing = (b1 == 0) | (b2 == 0)
    neq = d1 != d2
    ndiff = neq.sum(axis=1)
    m1, dd1, m2, dd2 = b1 // 100 % 100, b1 % 100, b2 // 100 % 100, b2 % 100
    swap = (b1 // 10000 == b2 // 10000) & (m1 == dd2) & (dd1 == m2) & (m1 != dd1)
    one = (ndiff == 1) | ((ndiff == 2) & _adjacent_swap(d1, d2, neq).any(axis=1))
    lev = np.select([missing, ndiff == 0, swap, one], [-1, 0, 1, 2], 3).astype(np.int8)
    sim = np.select([lev == 0, lev == 1, lev == 2], [1.0, 0.9, 0.85], 0.0)
    return lev, sim


def _digits8(b: np.ndarray) -> np.ndarray:
    return ((b[:, None] // 10 ** np.arange(7, -1, -1)) % 10).astype(np.int8)


def _per_char(s1: np.ndarray, f1: np.ndarray, s2: np.ndarray, f2: np.ndarray) -> np.ndarray:
    return np.where((s1 == s2) & (s1 > 0), 1.0, np.where((f1 == f2) & (f1 > 0), 0.8, 0.0)).sum(axis=1)


def _person_compare(p: _People, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(levels, similarities), both (n, 6) in PERSON_FIELDS order, for the row pairs (i, j) of ``p``."""
    n = len(i)
    levels = np.empty((n, 6), np.int8)
    sims = np.zeros((n, 6))

    # name
    k1, k2, a1, a2 = p.key_c[i], p.key_c[j], p.alt_c[i], p.alt_c[j]
    lat1, lat2 = p.name_latin[i], p.name_latin[j]
    missing = (k1 < 0) | (k2 < 0)
    exact = (p.text_c[i] == p.text_c[j]) & (lat1 == lat2)
    same_key = (k1 == k2) | ((a2 >= 0) & (k1 == a2)) | ((a1 >= 0) & (a1 == k2))
    fuzzy_eq = p.fuzzy_c[i] == p.fuzzy_c[j]
    # Per-character pinyin (romanised names split into syllables): same syllable 1, same under 模糊音 0.8, over the
    # longer name; the best of the two readings / orders.
    per_char = np.maximum.reduce(
        [
            _per_char(p.syl[i], p.fsyl[i], p.syl[j], p.fsyl[j]),
            _per_char(p.asyl[i], p.afsyl[i], p.syl[j], p.fsyl[j]),
            _per_char(p.syl[i], p.fsyl[i], p.asyl[j], p.afsyl[j]),
        ]
    ) / np.maximum(np.maximum(p.n_chars[i], p.n_chars[j]), 1)
    # Names that are not pinyin (no syllables): Jaro-Winkler on the keys, either order.
    unsplit = ~missing & ~same_key & ((p.n_chars[i] == 0) | (p.n_chars[j] == 0))
    jw = np.zeros(n)
    r = np.flatnonzero(unsplit)
    if len(r):
        ri, rj = i[r], j[r]
        jw_r = _cp(p.name_key[ri], p.name_key[rj], JaroWinkler.normalized_similarity)
        for x, y in ((p.name_alt[ri], p.name_key[rj]), (p.name_key[ri], p.name_alt[rj])):
            has = np.flatnonzero((x != "") & (y != ""))
            if len(has):
                jw_r[has] = np.maximum(jw_r[has], _cp(x[has], y[has], JaroWinkler.normalized_similarity))
        jw[r] = jw_r
    similar = fuzzy_eq | np.where(unsplit, jw >= 0.95, per_char >= 0.85)
    partial = np.where(unsplit, jw >= 0.9, per_char >= 0.6)
    levels[:, 0] = np.select([missing, exact, same_key, similar, partial], [-1, 0, 1, 2, 3], 4)
    sims[:, 0] = np.select([exact, same_key], [1.0, 0.97], np.where(unsplit, jw, per_char))

    # id_number
    da, db = p.id_digits[i], p.id_digits[j]
    neq = da != db
    nb = neq[:, :17].sum(axis=1)
    cneq = neq[:, 17]
    up = p.id_upgraded[i] | p.id_upgraded[j]
    both_ok = p.id_verified[i] & p.id_verified[j]
    n_swaps = _adjacent_swap(da[:, :17], db[:, :17], neq[:, :17]).sum(axis=1)
    swaps = n_swaps > 0
    trans = ((nb == 2) & swaps) | (
        (nb == 1) & neq[:, 16] & cneq & (da[:, 16] == db[:, 17]) & (da[:, 17] == db[:, 16]) & ~up
    )
    one = ((nb == 1) & ~both_ok) | ((nb == 0) & cneq)
    # Two slips: two wrong digits, a swap and a wrong digit, or two swaps.
    two = (nb == 2) | ((nb == 3) & swaps) | ((nb == 4) & (n_swaps >= 2))
    id_missing = ~p.has_id[i] | ~p.has_id[j]
    lev = np.select([id_missing, (nb == 0) & ~cneq, trans, one, both_ok, two], [-1, 0, 1, 2, 5, 3], 4).astype(np.int8)
    levels[:, 1] = lev
    sims[:, 1] = np.select([lev == 0, (lev == 1) | (lev == 2)], [1.0, 0.9], 0.8 * (18 - neq.sum(axis=1)) / 18)

    # birth_date, sex
    levels[:, 2], sims[:, 2] = _date_levels(p.birth[i], p.birth[j], p.birth_digits[i], p.birth_digits[j])
    x1, x2 = p.sex[i], p.sex[j]
    levels[:, 3] = np.select([(x1 == 0) | (x2 == 0), x1 == x2], [-1, 0], 1)
    sims[:, 3] = (x1 == x2) & (x1 > 0)

    # phone: one substitution or one adjacent swap (optimal string alignment distance 1)
    c1, c2 = p.phone_c[i], p.phone_c[j]
    ph_missing = (c1 < 0) | (c2 < 0)
    osa = np.where(c1 == c2, 0.0, 99.0)
    todo = np.flatnonzero(~ph_missing & (c1 != c2))
    osa[todo] = _cp(p.phone[i[todo]], p.phone[j[todo]], OSA.distance)
    levels[:, 4] = np.select([ph_missing, osa == 0, osa <= 1], [-1, 0, 1], 2)
    sims[:, 4] = np.select([osa == 0, osa <= 1], [1.0, 0.9], 0.0)

    # address: Indel similarity (the normalised ratio of rapidfuzz's fuzz.ratio)
    c1, c2 = p.address_c[i], p.address_c[j]
    ad_missing = (c1 < 0) | (c2 < 0)
    asim = np.where(c1 == c2, 1.0, 0.0)
    todo = np.flatnonzero(~ad_missing & (c1 != c2))
    asim[todo] = _cp(p.address[i[todo]], p.address[j[todo]], Indel.normalized_similarity)
    levels[:, 5] = np.select([ad_missing, asim >= 0.95, asim >= 0.8], [-1, 0, 1], 2)
    sims[:, 5] = np.where(ad_missing, 0.0, asim)
    return levels, sims


def _implied(levels: np.ndarray) -> np.ndarray:
    """Model levels: birth-date and sex agreement dropped (-1) where the IDs agree up to slips.

    The ID's u already counts the birth-date and sex digits it contains; adding the birth_date field's own
    agreement would count that evidence twice (it made twins with one mistyped ID look like one person).
    Disagreement stays: an ID that matches while the birth date does not is worth knowing."""
    out = levels.copy()
    ids_agree = (levels[:, 1] >= 0) & (levels[:, 1] <= 3)
    out[ids_agree & (levels[:, 2] >= 0) & (levels[:, 2] <= 2), 2] = -1
    out[ids_agree & (levels[:, 3] == 0), 3] = -1
    return out


def person_levels(left: pd.DataFrame, right: pd.DataFrame) -> np.ndarray:
    """(n, 6) comparison levels of aligned Chinese person records, in :data:`PERSON_FIELDS` order, as
    :data:`PERSON_MODEL` reads them (-1 = missing or implied by the ID); the input of :meth:`FellegiSunter.fit`
    for re-estimating the model on a deployment's own pairs."""
    if len(left) != len(right):
        raise ValueError("left and right must be aligned (same length)")
    n = len(left)
    cols = [c for c in PERSON_FIELDS if c in left.columns or c in right.columns]
    # One frame for both sides: each distinct value is normalised once, whichever side it is on.
    both = pd.concat([left.reindex(columns=cols), right.reindex(columns=cols)], ignore_index=True)
    p = _prepare(both)
    return _implied(_person_compare(p, np.arange(n), np.arange(n, 2 * n))[0])


def score_frame(left: pd.DataFrame, right: pd.DataFrame, *, model: FellegiSunter = PERSON_MODEL) -> np.ndarray:
    """P(same person) for aligned candidate pairs: row i of ``left`` vs row i of ``right``."""
    return model.probability(person_levels(left, right))


# --- explanations ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentityMatch:
    score: float  # P(same person), from PERSON_MODEL's prior and weights
    same: bool  # score >= threshold
    reasons: list[str] = field(default_factory=list)  # for the analyst, most decisive first
    fields: dict[str, float] = field(default_factory=dict)  # per-field similarity 0..1 (present fields only)


def _bold_pair(a: str, b: str, pos: int, width: int) -> str:
    lo = max(pos - 2, 0)
    return f"…{a[lo:pos]}**{a[pos : pos + width]}** ↔ …{b[lo:pos]}**{b[pos : pos + width]}**"


def _fmt_date(v: int) -> str:
    return f"{v // 10000:04d}-{v // 100 % 100:02d}-{v % 100:02d}"


def _id_reason(p: _People, level: int) -> str:
    """Why the IDs of rows 0 and 1 of ``p`` got ``level`` (digits in **bold** where they differ)."""
    a, b = str(p.id18[0]), str(p.id18[1])
    ua, ub = bool(p.id_upgraded[0]), bool(p.id_upgraded[1])
    va, vb = bool(p.id_verified[0]), bool(p.id_verified[1])

    def bad_side() -> str:
        sides = [s for s, ok, up in (("前者", va, ua), ("后者", vb, ub)) if not ok and not up]
        legacy = [s for s, up in (("前者", ua), ("后者", ub)) if up]
        notes = [f"{'、'.join(sides)}校验码不符"] if sides else []
        notes += [f"{'、'.join(legacy)}为15位旧证号（无校验码）"] if legacy else []
        return "，".join(notes)

    if level == 0:
        if ua != ub:
            old = str(p.id_raw[0] if ua else p.id_raw[1]).strip()
            return f"15位旧证号升级后一致 ({old} → {a})"
        return "身份证号一致"
    if level == 1:
        pos = next(k for k in range(17) if a[k] != b[k] and a[k + 1] == b[k] and a[k] == b[k + 1])
        note = bad_side()
        text = f"身份证号第{pos + 1}、{pos + 2}位相邻两位互换 ({_bold_pair(a, b, pos, 2)})"
        return text + (f"，{note}" if note else "")
    if level == 2:
        pos = next(k for k in range(18) if a[k] != b[k])
        if pos == 17:
            return f"身份证号仅校验码不同 ({_bold_pair(a, b, 17, 1)})，按前17位应为 {a[17] if va or ua else b[17]}"
        note = bad_side()
        text = f"身份证号第{pos + 1}位一位之差 ({_bold_pair(a, b, pos, 1)})" + (f"，{note}" if note else "")
        if va != vb and not (ua or ub):  # one typed number fails its check, the other passes
            fix, other = (b[pos], "后者") if vb else (a[pos], "前者")
            text += f"；改为 {fix} 即与{other}一致且通过校验"
        return text
    detail = []
    if a[6:14] == b[6:14]:
        detail.append("出生日期段相同")
        if a[:6] == b[:6]:
            detail.append("同一地址码，仅顺序码不同（同地同日出生的另一人？）")
    if level == 5:
        return "身份证号不同且均通过校验：是两个号码" + (f"（{'，'.join(detail)}）" if detail else "")
    note = bad_side()
    if level == 3:
        return "身份证号相差两处（两次录入错误？）" + (f"，{note}" if note else "")
    return "身份证号不同" + (f"（{note}）" if note else "") + (f"，{'，'.join(detail)}" if detail else "")


def _reasons(p: _People, levels: np.ndarray, weights: np.ndarray) -> list[str]:
    """Analyst's reasons for the pair (row 0, row 1) of ``p``, the most decisive field first."""
    out: list[tuple[float, str]] = []
    n1, n2 = str(p.name_raw[0]).strip(), str(p.name_raw[1]).strip()
    lev = [int(x) for x in levels]
    if lev[0] >= 0:
        if lev[0] == 0:
            text = "姓名一致" if n1 == n2 else f"姓名繁简转换后一致 ({n1}/{n2})"
        elif lev[0] == 1:
            roman = bool(p.name_latin[0] or p.name_latin[1])
            text = f"姓名拼音一致 ({n1}/{n2})" if roman else f"姓名同音 ({n1}/{n2})"
        elif lev[0] == 2:
            text = f"姓名拼音相近 ({n1}/{n2})"
        elif lev[0] == 3:
            text = f"姓名部分相同 ({n1}/{n2})"
        else:
            text = f"姓名不同 ({n1}/{n2})"
        out.append((weights[0], text))
    if lev[1] >= 0:
        out.append((weights[1], _id_reason(p, lev[1])))
    if lev[2] >= 0:
        b1, b2 = _fmt_date(int(p.birth[0])), _fmt_date(int(p.birth[1]))
        text = ("出生日期一致", f"出生日期日月颠倒 ({b1} ↔ {b2})", f"出生日期一位之差 ({b1} ↔ {b2})",
                f"出生日期不同 ({b1} ↔ {b2})")[lev[2]]  # fmt: skip
        if 0 <= lev[1] <= 3 and lev[2] <= 2:
            text += "（已含于身份证号比对）"
        out.append((weights[2], text))
    if lev[3] == 1:
        out.append((weights[3], "性别不同"))
    if lev[4] >= 0:
        text = ("手机号一致", f"手机号一位之差 ({p.phone[0]} ↔ {p.phone[1]})", "手机号不同")[lev[4]]
        out.append((weights[4], text))
    if lev[5] >= 0:
        out.append((weights[5], ("住址一致", "住址相近", "住址不同")[lev[5]]))
    out.sort(key=lambda t: -abs(t[0]))
    return [t for _, t in out]


def _two_rows(a: Mapping[str, Any], b: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([{k: a.get(k) for k in PERSON_FIELDS}, {k: b.get(k) for k in PERSON_FIELDS}], dtype=object)


def score_pair(a: Mapping[str, Any], b: Mapping[str, Any], *, threshold: float | None = None) -> IdentityMatch:
    """Compare two person records (any of name, id_number, birth_date, sex, phone, address) and explain.

    Same computation as :func:`score_frame`, on one pair, with the analyst's reasons."""
    p = _prepare(_two_rows(a, b))
    levels, sims = _person_compare(p, np.zeros(1, np.int64), np.ones(1, np.int64))
    model_levels = _implied(levels)
    weights = PERSON_MODEL.field_weights(model_levels)[0]
    score = float(PERSON_MODEL.probability(model_levels)[0])
    thr = DEFAULT_THRESHOLD if threshold is None else threshold
    present = {f: round(float(sims[0, k]), 4) for k, f in enumerate(PERSON_FIELDS) if levels[0, k] >= 0}
    return IdentityMatch(score=score, same=score >= thr, reasons=_reasons(p, levels[0], weights), fields=present)


# --- resolution: blocking, scoring, connected components ------------------------------------------------------


def _block(codes: np.ndarray, max_block: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (i < j) of rows sharing a code (codes < 0 are missing); blocks over max_block are skipped."""
    idx = np.flatnonzero(codes >= 0)
    order = idx[np.argsort(codes[idx], kind="stable")]
    _, start, count = np.unique(codes[order], return_index=True, return_counts=True)
    out_i, out_j = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for s in np.unique(count):
        if s < 2 or s > max_block:
            continue
        st = start[count == s]
        a, b = np.triu_indices(s, k=1)
        out_i.append(order[(st[:, None] + a).ravel()])
        out_j.append(order[(st[:, None] + b).ravel()])
    i, j = np.concatenate(out_i), np.concatenate(out_j)
    return np.minimum(i, j), np.maximum(i, j)


def _codes(values: Sequence[Any] | np.ndarray, missing: Any = "") -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    codes, _ = pd.factorize(arr)
    codes[arr == missing] = -1
    return codes


def _candidate_pairs(p: _People, max_block: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(p.name_key)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # Two ID windows with a one-digit gap: one adjacent swap or one wrong digit leaves one of them intact.
    head = np.array([s[:9] if s else "" for s in p.id18], dtype=object)
    tail = np.array([s[10:17] if s else "" for s in p.id18], dtype=object)
    pairs = [_block(_codes(head), max_block), _block(_codes(tail), max_block), _block(p.phone_c, max_block)]
    pairs.append(_block(_codes(p.birth, missing=0), max_block))
    # Pinyin key and alternative key share codes, so that "San Zhang" (alt zhangsan) meets 张三.
    ki, kj = _block(np.concatenate([p.key_c, p.alt_c]), max_block)
    ki, kj = ki % n, kj % n
    keep = ki != kj
    pairs.append((np.minimum(ki, kj)[keep], np.maximum(ki, kj)[keep]))
    flat = np.unique(np.concatenate([i.astype(np.int64) * n + j for i, j in pairs]))
    return flat // n, flat % n


def candidate_pairs(records: pd.DataFrame, *, max_block: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Blocking for :func:`resolve`: row pairs (i < j) sharing a pinyin name key, an ID window, a phone or a birth
    date. Blocks larger than ``max_block`` (a very common name) are skipped: they would be quadratic and the
    other keys still reach true duplicates inside them."""
    return _candidate_pairs(_prepare(records.reset_index(drop=True)), max_block)


def resolve(
    records: pd.DataFrame,
    *,
    threshold: float | None = None,
    max_block: int = 1000,
    model: FellegiSunter = PERSON_MODEL,
) -> np.ndarray:
    """Cluster labels (0..k-1, one per row) of person records: blocking, pairwise scores, connected components.

    Transitive: if A~B and B~C, A, B and C share a label even when A vs C alone would not match."""
    frame = records.reset_index(drop=True)
    n = len(frame)
    if n == 0:
        return np.zeros(0, np.int64)
    p = _prepare(frame)
    i, j = _candidate_pairs(p, max_block)
    thr = DEFAULT_THRESHOLD if threshold is None else threshold
    keep = model.probability(_implied(_person_compare(p, i, j)[0])) >= thr
    graph = coo_matrix((np.ones(int(keep.sum())), (i[keep], j[keep])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


# --- general (e.g. FEBRL) records -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One entry of a general comparison vector.

    method: "exact"; "jaro_winkler" (levels: equal, then similarity >= each cut, then the rest); "edits"
    (optimal-string-alignment distance <= each cut, e.g. a digit typo or two swapped digits); "date"
    (YYYYMMDD: equal, day/month swapped, one digit off / two adjacent swapped, different)."""

    column: str
    method: Literal["exact", "jaro_winkler", "edits", "date"] = "jaro_winkler"
    cuts: tuple[float, ...] = ()

    @property
    def n_levels(self) -> int:
        return 4 if self.method == "date" else 2 + len(self.cuts)


WESTERN_COMPARISONS: tuple[Comparison, ...] = (
    Comparison("given_name", "jaro_winkler", (0.92, 0.8)),
    Comparison("surname", "jaro_winkler", (0.92, 0.8)),
    Comparison("street_number", "edits", (1,)),
    Comparison("address_1", "jaro_winkler", (0.92, 0.8)),
    Comparison("address_2", "jaro_winkler", (0.92, 0.8)),
    Comparison("suburb", "jaro_winkler", (0.92, 0.8)),
    Comparison("postcode", "edits", (1,)),
    Comparison("state", "exact"),
    Comparison("date_of_birth", "date"),
    Comparison("soc_sec_id", "edits", (1, 2)),
)


def _clean_text(df: pd.DataFrame, col: str) -> np.ndarray:
    codes, values = _factorize(df, col)
    return _take([v.strip().lower() for v in values], codes, "")


def _dates(df: pd.DataFrame, col: str) -> np.ndarray:
    codes, values = _factorize(df, col, text=False)
    return _take([_birth_int(v) for v in values], codes, 0, np.int64)


def compare(left: pd.DataFrame, right: pd.DataFrame, comparisons: Sequence[Comparison]) -> np.ndarray:
    """(n, len(comparisons)) int8 levels of aligned record pairs (row i vs row i); -1 where a value is missing."""
    if len(left) != len(right):
        raise ValueError("left and right must be aligned (same length)")
    n = len(left)
    out = np.empty((n, len(comparisons)), np.int8)
    for k, c in enumerate(comparisons):
        a, b = _clean_text(left, c.column), _clean_text(right, c.column)
        missing = (a == "") | (b == "")
        if c.method == "date":
            b1, b2 = _dates(left, c.column), _dates(right, c.column)
            out[:, k] = _date_levels(b1, b2, _digits8(b1), _digits8(b2))[0]
            continue
        lev = np.full(n, c.n_levels - 1, np.int8)
        have = np.flatnonzero(~missing)
        if c.method == "jaro_winkler":
            sim = np.zeros(n)
            sim[have] = _cp(a[have], b[have], JaroWinkler.normalized_similarity)
            for lvl, cut in reversed(list(enumerate(c.cuts, start=1))):
                lev[sim >= cut] = lvl
        elif c.method == "edits":
            dist = np.full(n, 1e9)
            dist[have] = _cp(a[have], b[have], OSA.distance)
            for lvl, cut in reversed(list(enumerate(c.cuts, start=1))):
                lev[dist <= cut] = lvl
        lev[a == b] = 0
        lev[missing] = -1
        out[:, k] = lev
    return out
