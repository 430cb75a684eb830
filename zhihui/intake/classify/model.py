"""The statistical part of the incident-type suggester: a scikit-learn text classifier.

Features: TF-IDF over character 1–3-grams of the normalised text (no word segmentation needed,
robust to typos and to unseen words), sub-linear tf; English words are first replaced by Chinese
glosses (``gloss``). Classifier: ``SGDClassifier(loss="log_loss")`` (one-vs-rest logistic
regression fitted by SGD). Chosen by measurement (``python -m zhihui.intake.classify.evaluate
--compare``): on the hand-written held-out set it beat multinomial LogisticRegression, modified-Huber
SGD, complement naive Bayes and the variants with jieba word features added, while training in
about 6 s on one core. Predictions use a row-major copy of the weights (sklearn's sparse-by-dense
product is ~7 ms for one row; this path is ~0.3 ms).

Labels are the phrase-bank codes of ``corpus.py`` (类型, or 细类 where the 类型 mixes police and
non-police matters); 类型 and 类别 probabilities are obtained by summing.

The fitted model is cached on disk (directory ``$ZHIHUI_MODEL_DIR``, default ``var/models``) in a
file whose name carries a hash of everything that determines it (corpus generator, phrase banks,
rules, category tree, this module, the sklearn / numpy / Python versions). The file starts with a
header holding the full key and a SHA-256 of the pickled payload; a file is unpickled only when
both match, so a stale, foreign or corrupted file is never trusted: it is retrained and replaced
(written to a temporary file and renamed, so readers never see a partial file).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from zhihui.core import modelcache
from zhihui.intake.classify import corpus
from zhihui.intake.classify.rules import RULES_PATH

log = logging.getLogger(__name__)

MAGIC = b"ZHIHUI-CLASSIFY-1\n"
MAX_CHARS = 2000  # longer input is cut (a description, not a document)
MODEL_CHARS = 600  # the model sees at most this much; rules see all of MAX_CHARS
_PACKAGE = Path(__file__).parent
_KEY_FILES = (
    _PACKAGE / "corpus.py", corpus.PHRASES_PATH, RULES_PATH, Path(__file__),
    _PACKAGE.parent.parent / "incidents" / "categories.yaml",
)


# --------------------------------------------------------------------------- normalisation
@cache
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


_ZHE = re.compile(r"著(?=火|了|急|凉|呢|的|走|跑|看|说|手|地|陆|想|不)|(?<=[睡找拿跟看接靠沿顺等开穿站坐躺不])著")


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), traditional → simplified, lower case, whitespace collapsed."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = unicodedata.normalize("NFKC", text[: MAX_CHARS * 2])
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t")
    text = " ".join(text.split())[:MAX_CHARS]
    if not text:
        return ""
    text = str(_t2s().convert(text)).lower()
    if "著" in text:  # OpenCC keeps 著 (also a simplified character); in call speech it is nearly always 着
        text = _ZHE.sub("着", text)
    return text


_WORD = re.compile(r"[a-z]+")


@cache
def _gloss_table() -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (corpus.load_phrases()["shared"].get("en_gloss") or {}).items()}


def gloss(text: str) -> str:
    """Model view of normalised text: English words replaced by their Chinese glosses, unknown ones dropped.

    The training corpus is Chinese; English words the glossary does not know would only add noise."""
    if not _WORD.search(text):
        return text
    table = _gloss_table()
    return " ".join(_WORD.sub(lambda m: table.get(m.group(0), " "), text).split())


def meaningful(text: str) -> bool:
    """True when normalised text holds at least one letter or digit (emoji / punctuation alone is not)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


# --------------------------------------------------------------------------- the model
def build_pipeline(kind: str = "sgd", words: bool = False) -> Pipeline:
    """The classifier pipeline; ``kind``/``words`` exist for the model comparison in evaluate.py."""
    from sklearn.pipeline import FeatureUnion

    char = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2, max_df=0.5,
                           dtype=np.float32)
    features: Any = char
    if words:
        word = TfidfVectorizer(tokenizer=_jieba_words, token_pattern=None, lowercase=False, sublinear_tf=True,
                               min_df=2, dtype=np.float32)
        features = FeatureUnion([("char", char), ("word", word)])
    if kind == "lr":
        clf: Any = LogisticRegression(C=20.0, max_iter=300, tol=1e-3)
    elif kind == "sgd":
        from sklearn.linear_model import SGDClassifier

        clf = SGDClassifier(loss="log_loss", alpha=2e-6, max_iter=30, tol=1e-4, random_state=0)
    elif kind == "huber":
        from sklearn.linear_model import SGDClassifier

        clf = SGDClassifier(loss="modified_huber", alpha=2e-5, max_iter=30, tol=1e-4, random_state=0)
    elif kind == "cnb":
        from sklearn.naive_bayes import ComplementNB

        clf = ComplementNB(alpha=0.1)
    else:
        raise ValueError(f"unknown model kind {kind}")
    return Pipeline([("features", features), ("clf", clf)])


def _jieba_words(text: str) -> list[str]:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return [w for w in jieba.lcut(text) if w.strip()]


@dataclass
class Model:
    """A fitted classifier over label codes, plus what it was trained on."""

    pipeline: Pipeline
    labels: tuple[str, ...]
    key: str
    n_train: int
    train_seconds: float
    sklearn_version: str = sklearn.__version__

    def __post_init__(self) -> None:
        self._prepare()

    def _prepare(self) -> None:
        """Row-major weights for a fast linear scoring path (sklearn's csr @ coef_.T is slow for one row)."""
        clf = self.pipeline.named_steps["clf"]
        # Only for the two linear models whose probability formula is reproduced below.
        self._linear = isinstance(clf, LogisticRegression) or getattr(clf, "loss", None) == "log_loss"
        if self._linear:
            self._w = np.ascontiguousarray(clf.coef_.T, dtype=np.float64)
            self._b = np.asarray(clf.intercept_, dtype=np.float64)
            self._softmax = isinstance(clf, LogisticRegression)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._prepare()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_w", "_b", "_tables")}

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Label probabilities for already normalised texts, columns in ``self.labels`` order."""
        cut = [gloss(t[:MODEL_CHARS]) for t in texts]
        if not self._linear:
            return np.asarray(self.pipeline.predict_proba(cut), dtype=np.float64)
        x = self.pipeline.named_steps["features"].transform(cut).tocsr()
        if x.shape[0] == 1:
            scores = (x.data @ self._w[x.indices])[None, :] + self._b
        else:
            scores = np.asarray(x @ self._w) + self._b
        if self._softmax:  # multinomial logistic regression
            scores -= scores.max(axis=1, keepdims=True)
            prob = np.exp(scores)
        else:  # one-vs-rest (SGD log loss), normalised as sklearn does
            prob = 1.0 / (1.0 + np.exp(-scores))
        total = prob.sum(axis=1, keepdims=True)
        total[total == 0] = 1.0
        return np.asarray(prob / total)


def train(examples: list[corpus.Example] | None = None, kind: str = "sgd", words: bool = False,
          key: str = "") -> Model:
    examples = examples if examples is not None else corpus.generate()
    start = time.perf_counter()
    pipeline = build_pipeline(kind, words)
    texts = [gloss(normalise(e.text)[:MODEL_CHARS]) for e in examples]
    pipeline.fit(texts, [e.label for e in examples])
    labels = tuple(str(c) for c in pipeline.classes_)
    return Model(pipeline, labels, key, len(examples), time.perf_counter() - start)


# --------------------------------------------------------------------------- the cache
def cache_key() -> str:
    return modelcache.key_of(_KEY_FILES, f"seed={corpus.DEFAULT_SEED};n={corpus.DEFAULT_PER_LABEL}")


def model_dir() -> Path:
    return modelcache.model_dir()


def cache_path(key: str | None = None) -> Path:
    return model_dir() / f"classify-{(key or cache_key())[:20]}.pkl"


def _read_cached(path: Path, key: str) -> Model | None:
    """The cached model, or None when the file is absent, foreign, stale or corrupted."""
    model = modelcache.read(path, MAGIC, key)
    if not isinstance(model, Model) or model.key != key:
        return None
    return model


def _write_cached(path: Path, model: Model) -> None:
    modelcache.write(path, MAGIC, model.key, model, stale="classify-*.pkl")


_lock = threading.Lock()
_model: Model | None = None
last_source = ""  # "memory", "cache" or "trained": where the last warm() got the model from


def load_or_train() -> tuple[Model, str]:
    """The model from the disk cache when the key matches, else freshly trained and cached."""
    key = cache_key()
    path = cache_path(key)
    model = _read_cached(path, key)
    if model is not None:
        return model, "cache"
    if path.exists():
        log.warning("classifier cache %s is stale or damaged; retraining", path)
    model = train(key=key)
    try:
        _write_cached(path, model)
    except OSError as exc:  # a read-only disk must not stop the suggester
        log.warning("cannot write classifier cache %s: %s", path, exc)
    return model, "trained"


def warm(force_reload: bool = False) -> Model:
    """Load (or train) the model once; safe to call from several threads."""
    global _model, last_source
    with _lock:
        if _model is not None and not force_reload and _model.key == cache_key():
            last_source = "memory"
            return _model
        _model, last_source = load_or_train()
        return _model


def get_model() -> Model:
    model = _model
    return model if model is not None else warm()


def reset() -> None:
    """Forget the in-memory model (tests, or after the phrase banks changed)."""
    global _model
    with _lock:
        _model = None
