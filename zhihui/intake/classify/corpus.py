"""Generated, labelled training corpus for the incident-type suggester (警情类型建议).

Where the labels come from
--------------------------
There is no real call data in this project (and none may be used), so the corpus is *built* here
from the hand-written phrase banks in ``phrases.yaml``. The phrases — cue words, event clauses,
typical scenes and consequences, one bank per 类型 (and per 细类 where the 类型 mixes police and
non-police matters) — were written for zhihui; none is copied from a dataset, case file, judgment
database or police system. The generator combines a bank's phrases with shared vocabulary (places,
times, greetings, requests) through a set of sentence frames and labels every sentence with the
category code of the bank that produced its content. The names of the category nodes in
``zhihui/incidents/categories.yaml`` (Chinese and English) are also used as cue words for their
bank, so the formulaic descriptions of ``zhihui.sim.demo`` are covered.

Frames: caller first-person speech ("喂，我家门被撬了，快来"), call-taker summaries ("报警人称…"),
SMS / WeChat reports, 12345 hand-off phrasing (mostly for non-police matters) and short fragments.
Deterministic noise is then added to a share of the sentences: dropped punctuation, IME homophone
typos, extra particles and fillers, doubled words and traditional characters (OpenCC s2t).

The hand-written evaluation set (``heldout.yaml``) is deliberately *not* produced by these frames.

Everything is deterministic for a given seed (``random.Random(seed)``, no hash-order dependence).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from zhihui.incidents.categories import CategoryTree, categories

PHRASES_PATH = Path(__file__).with_name("phrases.yaml")
DEFAULT_SEED = 110
DEFAULT_PER_LABEL = 170

# Common IME / homophone slips (拼音输入法同音误选). Only generic words: no slip may create a cue
# word of another category (e.g. 抢 -> 枪 is deliberately absent).
HOMOPHONES: dict[str, tuple[str, ...]] = {
    "在": ("再",), "再": ("在",), "的": ("得", "地"), "已经": ("以经", "已近"), "那": ("哪",),
    "吗": ("嘛", "么"), "他": ("她", "它"), "快": ("块",), "进": ("近",), "跟": ("根",),
    "做": ("作",), "账": ("帐",), "像": ("象",), "现在": ("限在",), "里": ("理",), "刚才": ("刚材",),
    "看": ("砍",), "一直": ("一只",), "出来": ("初来",), "怎么": ("咋么", "怎摸"), "知道": ("值到",),
    "还": ("孩",), "有人": ("有仁",), "帮忙": ("帮芒",), "警察": ("警查",), "派": ("拍",),
    "事": ("是",), "到": ("倒", "道"), "被": ("背",), "门口": ("门扣",), "小区": ("小曲",),
}
FILLERS = ("那个", "就是", "嗯", "呃", "怎么说呢", "我跟你说")


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # category code (4-digit 类型 or 6-digit 细类)
    frame: str


@cache
def load_phrases(path: Path = PHRASES_PATH) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    tree = categories()
    for code in data["labels"]:
        if code not in tree:
            raise ValueError(f"phrases.yaml: unknown category code {code}")
    return data  # type: ignore[no-any-return]


def labels(tree: CategoryTree | None = None) -> list[str]:
    """All label codes, sorted."""
    return sorted(load_phrases()["labels"])


def _name_cues(code: str, labels_set: set[str], tree: CategoryTree) -> list[str]:
    """Names of the node and of its descendants not claimed by a more specific label."""
    out = []
    for node in tree.nodes.values():
        if not node.code.startswith(code):
            continue
        owner = max((lab for lab in labels_set if node.code.startswith(lab)), key=len, default=None)
        if owner != code:
            continue
        out.append(node.name)
    return out


def _name_en(code: str, labels_set: set[str], tree: CategoryTree) -> list[str]:
    out = []
    for node in tree.nodes.values():
        owner = max((lab for lab in labels_set if node.code.startswith(lab)), key=len, default=None)
        if owner == code and node.en:
            out.append(node.en)
    return out


class _Gen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        data = load_phrases()
        self.shared: dict[str, list[str]] = data["shared"]
        self.banks: dict[str, dict[str, list[str]]] = data["labels"]
        tree = categories()
        labs = set(self.banks)
        self.names = {code: _name_cues(code, labs, tree) for code in self.banks}
        self.en = {code: _name_en(code, labs, tree) for code in self.banks}
        self.police = {code: tree.nodes[code].police for code in self.banks}
        self._t2s_to: Any = None

    # -- pieces ---------------------------------------------------------------------------
    def pick(self, items: list[str]) -> str:
        return items[self.rng.randrange(len(items))]

    def opt(self, items: list[str] | None, p: float = 0.5, sep: str = "，") -> str:
        if not items or self.rng.random() >= p:
            return ""
        return sep + self.pick(items)

    def place(self, bank: dict[str, list[str]]) -> str:
        if bank.get("scene") and self.rng.random() < 0.5:
            return self.pick(bank["scene"])
        return self.pick(self.shared["places"])

    def cue(self, code: str) -> str:
        bank = self.banks[code]
        names = self.names[code]
        if names and self.rng.random() < 0.25:
            return self.pick(names)
        return self.pick(bank["cue"])

    # -- frames ---------------------------------------------------------------------------
    def caller(self, code: str) -> str:
        b, s = self.banks[code], self.shared
        greet = self.pick(s["greet"]) + "，" if self.rng.random() < 0.6 else ""
        where = self.place(b) if self.rng.random() < 0.6 else ""
        time = self.pick(s["time"]) if self.rng.random() < 0.3 else ""
        return f"{greet}{time}{where}{self.pick(b['act'])}{self.opt(b.get('cons'), 0.5)}{self.opt(s['request'], 0.6)}"

    def caller_cue(self, code: str) -> str:
        b, s = self.banks[code], self.shared
        greet = self.pick(s["greet"]) + "，" if self.rng.random() < 0.5 else ""
        pattern = self.rng.choice(("我要报警，{c}", "{p}{c}了", "这里{c}", "我这边{c}", "{p}有{c}", "{c}，在{p}",
                                   "我遇到{c}了", "{p}这儿{c}"))
        text = pattern.format(c=self.cue(code), p=self.place(b))
        return f"{greet}{text}{self.opt(b.get('cons'), 0.4)}{self.opt(s['request'], 0.5)}"

    def summary(self, code: str) -> str:
        b, s = self.banks[code], self.shared
        lead = self.pick(s["summary"])
        time = self.pick(s["time"]) if self.rng.random() < 0.4 else ""
        where = ("在" if self.rng.random() < 0.5 else "") + self.place(b)
        if self.rng.random() < 0.25:
            body = self.rng.choice(("发生{c}", "有人{c}", "疑似{c}", "{c}")).format(c=self.cue(code))
        else:
            body = self.pick(b["act"])
        tail = self.rng.choice(("", "", "，请求处置", "，请民警到场", "，要求出警", "，现场情况不明", "，请派员处置"))
        return f"{lead}{time}{where}{body}{self.opt(b.get('cons'), 0.5)}{tail}。"

    def sms(self, code: str) -> str:
        b, s = self.banks[code], self.shared
        head = self.pick(s["sms"])
        body = self.pick(b["act"]) if self.rng.random() < 0.75 else self.cue(code)
        tail = self.rng.choice(("", "，地址是" + self.place(b), "，速来", "，不方便接电话", "，请回电"))
        return f"{head}{self.place(b)}{body}{tail}"

    def hand_off(self, code: str) -> str:
        b, s = self.banks[code], self.shared
        lead = self.rng.choice(("来电人反映", "市民来电反映", "来电称", "群众来电", "报警人反映", "来电人咨询"))
        body = self.pick(b["act"]) if self.rng.random() < 0.7 else self.cue(code)
        return f"{lead}{self.place(b)}{body}{self.opt(b.get('cons'), 0.4)}，{self.pick(s['hand_off'])}。"

    def fragment(self, code: str) -> str:
        b = self.banks[code]
        r = self.rng.random()
        if r < 0.35:
            return self.cue(code)
        if r < 0.55:
            return self.cue(code) + self.rng.choice(("", "！", "，快来", "了", "啊"))
        if r < 0.75:
            return self.place(b) + self.cue(code)
        if r < 0.9:
            return f"{self.cue(code)}，{self.cue(code)}"
        en = self.en[code]
        if en:
            where = " at " + self.rng.choice(("the mall", "my home", "the station"))
            return self.pick(en) + self.rng.choice(("", where, "，" + self.cue(code)))
        return self.cue(code)

    FRAMES: tuple[tuple[str, float], ...] = (
        ("caller", 0.30), ("caller_cue", 0.12), ("summary", 0.26), ("sms", 0.10), ("hand_off", 0.06),
        ("fragment", 0.16),
    )

    def sentence(self, code: str) -> tuple[str, str]:
        frames = dict(self.FRAMES)
        # 12345 hand-off phrasing belongs to non-police matters only: it must not be learnt as noise.
        frames["hand_off"] = 0.22 if not self.police[code] else 0.0
        name = self.rng.choices(list(frames), weights=list(frames.values()))[0]
        fn: Callable[[str], str] = getattr(self, name)
        return fn(code), name

    # -- noise ----------------------------------------------------------------------------
    def noise(self, text: str) -> str:
        rng = self.rng
        if rng.random() < 0.18:  # homophone slips
            keys = [k for k in HOMOPHONES if k in text]
            for k in rng.sample(keys, min(len(keys), rng.randint(1, 2))):
                text = text.replace(k, rng.choice(HOMOPHONES[k]), 1)
        if rng.random() < 0.15:  # fillers and particles
            if rng.random() < 0.5:
                text = rng.choice(FILLERS) + "，" + text
            parts = re.split(r"(，)", text)
            i = rng.randrange(len(parts))
            parts[i] = parts[i] + rng.choice(self.shared["particles"])
            text = "".join(parts)
        if rng.random() < 0.05:  # doubled urgent words
            text = text.replace("快", "快快", 1) if "快" in text else text + "，快点快点"
        if rng.random() < 0.25:  # dropped / replaced punctuation
            text = re.sub(r"[，。！；：、]", rng.choice(("", " ", "")), text)
        if rng.random() < 0.12:  # traditional characters
            text = self._s2t(text)
        return text

    def _s2t(self, text: str) -> str:
        if self._t2s_to is None:
            import opencc

            self._t2s_to = opencc.OpenCC("s2t")
        return str(self._t2s_to.convert(text))


def generate(seed: int = DEFAULT_SEED, per_label: int = DEFAULT_PER_LABEL) -> list[Example]:
    """The labelled corpus: about ``per_label`` distinct sentences for every label, deterministic."""
    gen = _Gen(random.Random(seed))
    out: list[Example] = []
    for code in sorted(gen.banks):
        seen: set[str] = set()
        tries = 0
        while len(seen) < per_label and tries < per_label * 4:
            tries += 1
            text, frame = gen.sentence(code)
            text = gen.noise(text)
            if text in seen:
                continue
            seen.add(text)
            out.append(Example(text, code, frame))
    return out


if __name__ == "__main__":  # pragma: no cover - a quick look at the corpus
    import sys

    rows = generate()
    rng = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    for ex in rng.sample(rows, 40):
        print(ex.label, ex.frame, ex.text)
    print(len(rows), "sentences,", len({e.label for e in rows}), "labels")
