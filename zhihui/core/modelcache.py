# Copyright 2026 The zhihui authors. Licensed under the Apache License, Version 2.0.
"""Fitted models cached on disk, trusted only when they are what this code would fit now.

A model file (in ``$ZHIHUI_MODEL_DIR``, default ``var/models``) starts with a magic line, the full cache
key (a SHA-256 of everything that determines the model: its source files, training settings and library
versions) and a SHA-256 of the pickled payload. A file is unpickled only when the key and the digest
both match, so a stale, foreign or corrupted file is never trusted: the caller retrains and replaces it.
Writes go to a temporary file that is renamed, so readers never see a partial file.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import sklearn


def model_dir() -> Path:
    return Path(os.environ.get("ZHIHUI_MODEL_DIR") or "var/models")


def key_of(files: Iterable[Path], settings: str) -> str:
    """The cache key: the files' names and bytes, the training `settings`, and the versions that shape a
    pickle (scikit-learn, numpy, Python)."""
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    h.update(f"sklearn={sklearn.__version__};numpy={np.__version__};py={sys.version_info[:2]};{settings}".encode())
    return h.hexdigest()


def read(path: Path, magic: bytes, key: str) -> Any | None:
    """The object pickled in `path`, or None when the file is absent, foreign, stale or corrupted."""
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    buf = io.BytesIO(blob)
    if buf.readline() != magic:
        return None
    file_key = buf.readline().strip().decode("ascii", "replace")
    digest = buf.readline().strip().decode("ascii", "replace")
    payload = buf.read()
    if file_key != key or hashlib.sha256(payload).hexdigest() != digest:
        return None  # never unpickle what we cannot vouch for
    try:
        return pickle.loads(payload)
    except Exception:  # a damaged pickle means: retrain
        return None


def write(path: Path, magic: bytes, key: str, obj: Any, stale: str | None = None) -> None:
    """Pickle `obj` to `path` atomically under `key`; then remove other files matching the glob `stale`
    (models of older code or settings)."""
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    header = magic + key.encode() + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(header)
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if stale:
        for old in path.parent.glob(stale):
            if old != path:
                old.unlink(missing_ok=True)
