# Copyright 2026 The zhihui authors. Licensed under the Apache License, Version 2.0.
"""键值索引: the activity's integer keys, sorted, so that a full collision looks its probe sets up instead of
scanning every row.

Why: the pass over activity (``tactics.HOT_SQL``) reads each row's 8-byte keys, one column per probe, and probes a
hash set with every value: on 10^8 rows some 4 GB a run, about 2 s on 2 cores however few rows match. Sorted, a
probe set of P values costs P binary searches per column (the values sorted too, so neighbouring searches share
their path): about a quarter of the scan on the benchmark. The index is derived data, like the keys themselves:
rebuilt from the files at any time (:func:`build`), brought up to date after ingest (:func:`refresh`), and a
collision that finds it missing or behind scans what it does not cover.

Layout, under the activity directory (``_keyindex``: listings of activity skip names starting with ``_``, as
Spark and pyarrow do)::

    CURRENT                               the generation in use (its name; replaced atomically)
    <generation>/manifest.json            format, keys version, per source the files covered (path relative to
                                          the activity directory, size, mtime_ns, inode, rows), in ordinal order
    <generation>/<source>/<col>.keys.npy  the column's non-zero values, sorted (int64)
    <generation>/<source>/<col>.ord.npy   the ordinal of each value's row (uint32, or int64 past 2^32 rows)
    <generation>/<source>/<col>.rows.npy  k_id and k_b5 by ordinal (what the fuzzy steps carry; none if all zero)

A source's rows are numbered file after file in manifest order, so an ordinal is a (file, row number) by the
files' row counts. Covered: files with this version's keys holding a single source (the layout ingest writes,
``source=<name>/<batch>.parquet``). A file that is not, or that changed (size, mtime or inode) since the index
was built, is left to the SQL pass, which then reads only such files.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from zhihui.intel.normalise import KEYS_META, KEYS_VERSION

__all__ = ["COLUMNS", "INDEX_DIR", "KeyIndex", "build", "open_index", "refresh", "status"]

INDEX_DIR = "_keyindex"
FORMAT = 3  # bump when the layout or the meaning of a file changes: an index of another format is not read
# The key columns searched (k_b1 is k_id's top bits: a range of the sorted k_id) and those carried by ordinal.
COLUMNS = ("k_id", "k_b2", "k_b3", "k_b4", "k_b5", "k_phone", "k_plate")
ROW_COLUMNS = ("k_id", "k_b5")
# refresh() rebuilds when the rows outside the index exceed this share of those inside (below it, the SQL pass
# over the few new files costs less than rebuilding).
REFRESH_FRACTION = 0.1


@dataclass(frozen=True)
class _Entry:
    path: str  # relative to the activity directory
    size: int
    mtime_ns: int
    inode: int  # a file replaced by a copy that kept size and time (cp -p, rsync -t) is another inode
    rows: int


def _stat(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ino


def _single_source(path: Path) -> tuple[str | None, int]:
    """(the one source a keyed file holds, or None if the index cannot hold it; its row count), from the footer
    where the statistics say it. Not indexable: no keys of this version, NULL keys or sources (the scan skips
    such rows: ingest never writes them), several sources, or a ``source=`` directory that names another source
    than the rows do (the engines read the directory's name as the rows' source)."""
    meta = pq.read_metadata(path)
    schema = meta.schema.to_arrow_schema()
    if (schema.metadata or {}).get(KEYS_META) != KEYS_VERSION.encode() or not all(c in schema.names for c in COLUMNS):
        return None, meta.num_rows
    if "source" not in schema.names:
        return None, meta.num_rows
    col = schema.names.index("source")
    key_cols = [schema.names.index(c) for c in COLUMNS]
    seen: set[Any] = set()
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        for k in key_cols:
            kst = rg.column(k).statistics
            if kst is None or not kst.has_null_count or kst.null_count:
                return None, meta.num_rows
        st = rg.column(col).statistics
        if st is None or not st.has_min_max or not st.has_null_count or st.null_count:
            return None, meta.num_rows
        seen |= {st.min, st.max}
    if len(seen) != 1:
        return None, meta.num_rows
    (src,) = seen
    src = src.decode() if isinstance(src, bytes) else src
    named = [part.split("=", 1)[1] for part in path.parts[:-1] if part.startswith("source=")]
    if named and named[-1] != src:
        return None, meta.num_rows
    return src, meta.num_rows


def _listing(root: Path) -> list[Path]:
    from zhihui.intel.tactics import _files  # the same listing the engines read

    return [Path(f) for f in _files(root)] if root.is_dir() else []


class KeyIndex:
    """One generation of the index (read-only; arrays memory-mapped when first used)."""

    def __init__(self, root: Path, gen: Path, manifest: dict[str, Any]) -> None:
        self.root, self.gen = root, gen
        self.sources: dict[str, list[_Entry]] = {
            src: [_Entry(**e) for e in v["files"]] for src, v in manifest["sources"].items()
        }
        # the arrays each source has (a column of zeros has none): one that is listed and missing is an error
        self._saved = {src: set(v["arrays"]) for src, v in manifest["sources"].items()}
        self._arrays: dict[tuple[str, str], np.ndarray | None] = {}

    def size(self, source: str) -> int:
        """Rows of ``source`` in the index."""
        return sum(e.rows for e in self.sources.get(source, ()))

    def _array(self, source: str, name: str) -> np.ndarray | None:
        key = (source, name)
        if key not in self._arrays:
            saved = name in self._saved.get(source, ())
            self._arrays[key] = np.load(self.gen / source / f"{name}.npy", mmap_mode="r") if saved else None
        return self._arrays[key]

    def usable(self, files: Sequence[str]) -> dict[str, list[tuple[int, str]]]:
        """Per source, the (file number in the manifest, the caller's file name) of ``files`` the index holds as
        they are now (same size, mtime and inode); the rest of ``files`` is for the SQL pass."""
        where = {e.path: (src, i, e) for src, es in self.sources.items() for i, e in enumerate(es)}
        out: dict[str, list[tuple[int, str]]] = {}
        for f in files:
            try:
                rel = os.path.relpath(f, self.root)
            except ValueError:
                continue
            if rel not in where:
                continue
            src, i, e = where[rel]
            try:
                if _stat(Path(f)) != (e.size, e.mtime_ns, e.inode):
                    continue
            except OSError:
                continue
            out.setdefault(src, []).append((i, f))
        return out

    def find(self, source: str, column: str, needles: np.ndarray, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(ordinals, which needle) of the rows whose ``column`` equals a needle (``shift`` > 0: whose value >>
        shift does). ``needles``: sorted, distinct int64."""
        keys = self._array(source, f"{column}.keys")
        if keys is None or not len(needles):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        # where each needle's run would start; its end is searched for only where the run is not empty (few)
        lo = np.searchsorted(keys, needles << shift if shift else needles, "left")
        top = np.minimum(lo, len(keys) - 1)
        first = np.asarray(keys[top])
        inside = (lo < len(keys)) & ((first >> shift == needles) if shift else (first == needles))
        hit = np.flatnonzero(inside)
        if not hit.size:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        lo = lo[hit]
        hi = np.searchsorted(keys, (needles[hit] + 1) << shift if shift else needles[hit], "left" if shift else "right")
        count = hi - lo
        which = np.repeat(hit, count)
        starts = np.repeat(lo - (np.cumsum(count) - count), count)  # position = start of its run + rank in it
        pos = starts + np.arange(len(which))
        ords = self._array(source, f"{column}.ord")
        assert ords is not None
        return np.asarray(ords[pos], np.int64), which

    def row_values(self, source: str, column: str, ordinals: np.ndarray) -> np.ndarray:
        """``column`` (k_id or k_b5) of the rows ``ordinals`` (zeros where the source has none)."""
        arr = self._array(source, f"{column}.rows")
        if arr is None:
            return np.zeros(len(ordinals), np.int64)
        return np.asarray(arr[ordinals], np.int64)

    def locate(self, source: str, ordinals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(file number in the manifest, row number in the file) of ``ordinals``."""
        rows = np.array([e.rows for e in self.sources[source]], np.int64)
        starts = np.concatenate([[0], np.cumsum(rows)])
        f = np.searchsorted(starts, ordinals, "right") - 1
        return f, ordinals - starts[f]


def _dir(root: Path) -> Path:
    return root / INDEX_DIR


def open_index(root: str | os.PathLike[str]) -> KeyIndex | None:
    """The current generation of ``root``'s index, or None (none built, or of another format or keys version)."""
    root = Path(root)
    d = _dir(root)
    try:
        gen = d / (d / "CURRENT").read_text().strip()
        manifest = json.loads((gen / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("format") != FORMAT or manifest.get("keys_version") != KEYS_VERSION:
        return None
    return KeyIndex(root, gen, manifest)


def status(root: str | os.PathLike[str]) -> dict[str, Any]:
    """What the index covers of ``root`` now: rows and files inside, and outside (new, changed, not indexable)."""
    root = Path(root)
    files = _listing(root)
    idx = open_index(root)
    usable = idx.usable([str(f) for f in files]) if idx else {}
    inside = {f for v in usable.values() for _, f in v}
    rows_in = sum(idx.sources[s][i].rows for s, v in usable.items() for i, _ in v) if idx else 0
    outside = [_single_source(f) for f in files if str(f) not in inside]
    rows_out = sum(n for _, n in outside)
    return {"built": idx is not None, "generation": idx.gen.name if idx else None, "files": len(inside),
            "rows": rows_in, "files_outside": len(files) - len(inside), "rows_outside": rows_out,
            # of those, the rows a build would take in (the others are always scanned)
            "rows_indexable_outside": sum(n for src, n in outside if src is not None)}  # fmt: skip


def refresh(root: str | os.PathLike[str], *, fraction: float = REFRESH_FRACTION) -> dict[str, Any]:
    """Rebuild ``root``'s index when the rows it does not cover exceed ``fraction`` of those it does (or there is
    none yet and there are rows to cover). Returns :func:`status` after, with ``rebuilt`` and ``seconds``."""
    before = status(root)
    waiting = before["rows_indexable_outside"]
    todo = waiting > 0 and (not before["built"] or waiting > fraction * before["rows"])
    t = time.perf_counter()
    if todo:
        build(root)
    out = status(root) if todo else before
    return {**out, "rebuilt": todo, "seconds": round(time.perf_counter() - t, 3)}


def build(root: str | os.PathLike[str]) -> dict[str, Any]:
    """Build a new generation of ``root``'s index from the files now there and make it current. One build at a
    time per directory (a lock file); readers of the previous generation keep their mapped files."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no activity directory {root}")
    d = _dir(root)
    d.mkdir(exist_ok=True)
    with open(d / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        t = time.perf_counter()
        by_source: dict[str, list[_Entry]] = {}
        for f in _listing(root):
            size, mtime, inode = _stat(f)
            src, rows = _single_source(f)
            if src is None or not rows:
                continue
            by_source.setdefault(src, []).append(_Entry(os.path.relpath(f, root), size, mtime, inode, rows))
        name = f"g{time.time_ns():x}-{uuid.uuid4().hex[:6]}"
        tmp = d / f".{name}"
        tmp.mkdir()
        try:
            arrays = {src: _build_source(root, tmp / src, entries) for src, entries in by_source.items()}
            manifest = {"format": FORMAT, "keys_version": KEYS_VERSION,
                        "sources": {s: {"files": [e.__dict__ for e in es], "arrays": arrays[s]}
                                    for s, es in by_source.items()}}  # fmt: skip
            (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))
            _sync(tmp)  # on disk before CURRENT names it: after a crash, a generation is whole or not named
            os.replace(tmp, d / name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        try:
            previous = (d / "CURRENT").read_text().strip()
        except OSError:
            previous = None
        cur = d / ".CURRENT.tmp"
        cur.write_text(name)
        os.replace(cur, d / "CURRENT")
        # the generation before stays, for a collision that opened it and has arrays still to map; older ones go
        # (one that is gone is a read error there, and that run scans instead)
        for old in d.iterdir():
            if old.is_dir() and old.name not in (name, previous):
                shutil.rmtree(old, ignore_errors=True)
        return {"generation": name, "sources": {s: sum(e.rows for e in es) for s, es in by_source.items()},
                "seconds": round(time.perf_counter() - t, 3)}  # fmt: skip


def _sync(folder: Path) -> None:
    for f in folder.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    for sub in [*(p for p in folder.rglob("*") if p.is_dir()), folder]:
        fd = os.open(sub, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _build_source(root: Path, out: Path, entries: list[_Entry]) -> list[str]:
    """The arrays of one source under ``out``; returns their names."""
    out.mkdir(parents=True)
    saved = []
    n = sum(e.rows for e in entries)
    ord_type = np.uint32 if n < 2**32 else np.int64
    for col in COLUMNS:  # a column at a time: memory for one column of the source, not all of them
        parts = []
        for e in entries:
            chunked = pq.read_table(root / e.path, columns=[col]).column(0)
            if len(chunked) != e.rows or chunked.null_count:  # not as the footer said: not an index to trust
                raise ValueError(f"{e.path}: {col} has {len(chunked)} rows ({chunked.null_count} NULL), "
                                 f"{e.rows} in the footer")  # fmt: skip
            parts.append(chunked.to_numpy())
        v = np.concatenate(parts).astype(np.int64, copy=False) if parts else np.zeros(0, np.int64)
        if col in ROW_COLUMNS and v.any():
            np.save(out / f"{col}.rows.npy", v)
            saved.append(f"{col}.rows")
        sel = np.flatnonzero(v)
        if not sel.size:
            continue
        vals = v[sel]
        order = np.argsort(vals, kind="stable")
        np.save(out / f"{col}.keys.npy", vals[order])
        np.save(out / f"{col}.ord.npy", sel[order].astype(ord_type))
        saved += [f"{col}.keys", f"{col}.ord"]
    return saved
