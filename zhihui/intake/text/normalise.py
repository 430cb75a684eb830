"""Clean up what a call-taker types or pastes (SMS 12110, web reports) before anything parses it.

Order matters and makes ``normalise`` idempotent: emoji are removed first (their joiners and
variation selectors are format/mark characters), then control and format characters, then NFKC
(full-width ``１３８`` and ``ＡＢＣ`` become ASCII), then OpenCC traditional → simplified, then
whitespace runs collapse to one space.

NFKC also turns full-width punctuation into ASCII (``，`` → ``,``, ``！`` → ``!``, ``（）`` → ``()``,
the ideographic space → a space) but leaves ``。、“”《》「」`` alone: downstream parsers and search
treat both forms the same, and one canonical form makes duplicates comparable.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = ["Normalised", "Problem", "normalise", "t2s"]


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a value is invalid (or, in ``notes``, something worth telling the call-taker).

    ``code`` is stable English snake_case for programs; the messages are for people."""

    code: str
    message: str
    message_en: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "message_en": self.message_en}


def jsonable(value: Any) -> Any:
    """Dataclass results → plain JSON types (dates as ISO strings, tuples as lists)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class Normalised:
    text: str
    original: str
    was_traditional: bool
    emoji_removed: int
    mixed_script: bool  # Han together with Latin or other letters (e.g. a plate, a name in pinyin)
    empty: bool  # no letter or digit left: nothing for a parser or a person to work with

    def as_dict(self) -> dict[str, Any]:
        return jsonable(self)


# --- OpenCC: one converter per process, created on first use (loading the dictionaries costs ms) ---

_converter: Any = None
_converter_lock = threading.Lock()


def t2s(text: str) -> str:
    """Traditional → simplified with OpenCC's ``t2s`` (phrase-aware, e.g. 乾隆 stays 乾隆)."""
    global _converter
    if _converter is None:
        with _converter_lock:
            if _converter is None:
                import opencc

                _converter = opencc.OpenCC("t2s")
    # OpenCC works on UTF-8: a lone surrogate (possible in a Python str) becomes U+FFFD, same length.
    return str(_converter.convert(_SURROGATE_RE.sub("\ufffd", text)))


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


# --- emoji: Unicode Extended_Pictographic, minus symbols that are ordinary text in Chinese writing
# (©®™, arrows, ★☆, ㊗㊙ which NFKC turns into 祝/秘) unless they carry the emoji selector U+FE0F.
_PICT = (
    "\u231a-\u231b\u2328\u2388\u23cf\u23e9-\u23f3\u23f8-\u23fa\u24c2\u25b6\u25c0\u25fb-\u25fe"
    "\u2600-\u2604\u2607-\u2612\u2614-\u2685\u2690-\u2705\u2708-\u2712\u2714\u2716\u271d\u2721"
    "\u2728\u2733-\u2734\u2744\u2747\u274c\u274e\u2753-\u2755\u2757\u2763-\u2767\u2795-\u2797"
    "\u27a1\u27b0\u27bf\u2934-\u2935\u2b05-\u2b07\u2b1b-\u2b1c\u2b50\u2b55"
    "\U0001f000-\U0001f0ff\U0001f10d-\U0001f10f\U0001f12f\U0001f16c-\U0001f171\U0001f17e-\U0001f17f"
    "\U0001f18e\U0001f191-\U0001f19a\U0001f1ad-\U0001f1e5\U0001f201-\U0001f20f\U0001f21a\U0001f22f"
    "\U0001f232-\U0001f23a\U0001f23c-\U0001f23f\U0001f249-\U0001f3fa\U0001f400-\U0001f53d"
    "\U0001f546-\U0001f64f\U0001f680-\U0001f6ff\U0001f774-\U0001f77f\U0001f7d5-\U0001f7ff"
    "\U0001f80c-\U0001f80f\U0001f848-\U0001f84f\U0001f85a-\U0001f85f\U0001f888-\U0001f88f"
    "\U0001f8ae-\U0001f8ff\U0001f90c-\U0001f93a\U0001f93c-\U0001f945\U0001f947-\U0001faff"
    "\U0001fc00-\U0001fffd"
)
_TEXT_UNLESS_FE0F = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9-\u21aa\u25aa-\u25ab\u2605\u2606\u3030\u303d\u3297\u3299"
)
_MOD = "[\U0001f3fb-\U0001f3ff\ufe0e\ufe0f\u20e3\U000e0020-\U000e007f]"
_ONE = f"(?:[{_PICT}]{_MOD}*|[{_TEXT_UNLESS_FE0F}]\ufe0f{_MOD}*)"
_EMOJI_RE = re.compile(f"[\U0001f1e6-\U0001f1ff]{{1,2}}|{_ONE}(?:\u200d{_ONE})*")
# Where a sequence can start: a cheap scan, so the full pattern only runs where an emoji is.
_EMOJI_START_RE = re.compile(f"[\U0001f1e6-\U0001f1ff{_PICT}{_TEXT_UNLESS_FE0F}]")
# Leftovers of sequences: skin tones, variation selectors, keycap mark, tags (a keycap 1️⃣ keeps its 1).
_STRAY_RE = re.compile("[\U0001f3fb-\U0001f3ff\ufe0e\ufe0f\u20e3\U000e0020-\U000e007f]")

# --- control/format characters (Cc, Cf) and lone surrogates; built once, lazily, from unicodedata ---
_junk_re: re.Pattern[str] | None = None


def _junk() -> re.Pattern[str]:
    global _junk_re
    if _junk_re is None:
        spans: list[list[int]] = []
        for c in (*range(0x20000), *range(0xE0000, 0xE1000)):
            if unicodedata.category(chr(c)) in ("Cc", "Cf") and not chr(c).isspace():
                if spans and spans[-1][1] == c - 1:
                    spans[-1][1] = c
                else:
                    spans.append([c, c])
        # A class of ranges, not of single characters: ten times faster to match.
        cls = "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in spans)
        _junk_re = re.compile(f"[{cls}\ud800-\udfff]")
    return _junk_re


_WS_RE = re.compile(r"\s+")
_HAN = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
_HAN_RE = re.compile(f"[{_HAN}]")
_OTHER_LETTER_RE = re.compile(rf"[^\W\d_{_HAN}]")
_MEANINGFUL_RE = re.compile(r"[^\W_]")


def _strip_emoji(s: str) -> tuple[str, int]:
    """Remove emoji sequences (a ZWJ family, a flag, a thumbs-up with skin tone each count once)."""
    pieces: list[str] = []
    count = pos = 0
    while (start := _EMOJI_START_RE.search(s, pos)) is not None:
        m = _EMOJI_RE.match(s, start.start())
        end = m.end() if m else start.end()
        count += 1 if m else 0
        pieces.append(s[pos : start.start()] if m else s[pos:end])
        pos = end
    pieces.append(s[pos:])
    return _STRAY_RE.sub("", "".join(pieces)), count


def normalise(text: str) -> Normalised:
    """Canonical form of free text; never raises (a non-``str`` is treated as its ``str()``)."""
    original = text if isinstance(text, str) else str(text)
    s = original
    emoji = 0
    if not s.isascii():
        s, emoji = _strip_emoji(s)
    s = _junk().sub("", s)
    if not unicodedata.is_normalized("NFKC", s):
        s = unicodedata.normalize("NFKC", s)
    was_traditional = False
    if not s.isascii():
        simplified = t2s(s)
        if simplified != s:
            was_traditional = True
            # OpenCC output is NFKC already for real text; normalising again keeps this idempotent.
            s = unicodedata.normalize("NFKC", simplified)
    s = _WS_RE.sub(" ", s).strip()
    return Normalised(
        text=s,
        original=original,
        was_traditional=was_traditional,
        emoji_removed=emoji,
        mixed_script=bool(_HAN_RE.search(s)) and bool(_OTHER_LETTER_RE.search(s)),
        empty=_MEANINGFUL_RE.search(s) is None,
    )


# --- shared with the parsers: ASCII digits and letters at the same string positions (for spans) ---

_WIDTH_MAP: dict[int, str] = {
    **{0xFF10 + i: str(i) for i in range(10)},
    **{0xFF21 + i: chr(0x41 + i) for i in range(26)},
    **{0xFF41 + i: chr(0x61 + i) for i in range(26)},
    0xFF0B: "+",
    0xFF0D: "-",
    0x3000: " ",
}


def ascii_same_length(text: str) -> str:
    """Full-width (and any other Unicode decimal) digits and full-width letters → ASCII, one char for
    one char, so that match positions still point into the caller's original text."""
    if text.isascii():
        return text
    out = []
    for ch in text:
        mapped = _WIDTH_MAP.get(ord(ch))
        if mapped is None and ch.isdecimal():
            mapped = str(unicodedata.decimal(ch, 0))
        out.append(mapped or ch)
    return "".join(out)
