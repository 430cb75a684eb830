"""串并案 suggestions over the platform's own incidents (GET /intel/series/suggest)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import World, incident_body


async def _incident(client: httpx.AsyncClient, w: World, key: str, **body: Any) -> int:
    r = await client.post("/api/v1/incidents", json=incident_body(**body),
                          headers={**w.headers["call_taker"], "Idempotency-Key": f"series-test-{key}"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_series_suggestions_rank_the_look_alike_first(client: httpx.AsyncClient, world: World) -> None:
    w = world
    a = await _incident(client, w, "a", category_code="010501", lat=22.5405, lon=114.0553, caller_phone="13900000001",
                        description="报警人称家中被撬锁入室，卧室抽屉内现金和金首饰被盗，门锁有明显撬痕")
    b = await _incident(client, w, "b", category_code="010501", lat=22.5412, lon=114.0561, caller_phone="13900000002",
                        description="住户回家发现防盗门锁被撬，家中现金、首饰被盗")
    c = await _incident(client, w, "c", category_code="010501", lat=22.5600, lon=114.0900, caller_phone="13900000003",
                        description="报警称阳台窗户未关，有人攀爬阳台入室，笔记本电脑被盗")
    d = await _incident(client, w, "d", category_code="04", lat=22.5406, lon=114.0554, caller_phone="13900000004",
                        description="两车追尾，无人受伤")
    r = await client.get("/api/v1/intel/series/suggest", params={"incident_id": a}, headers=w.headers["analyst"])
    assert r.status_code == 200, r.text
    out = r.json()
    ids = [s["incident_id"] for s in out["suggestions"]]
    assert out["candidates"] == 2 and d not in ids  # only the same crime group is compared
    assert ids[0] == b and ids[1] == c
    top = out["suggestions"][0]
    assert top["score"] > out["suggestions"][1]["score"]
    assert any("米" in e for e in top["evidence"]) and any("撬锁" in e for e in top["evidence"])
    r = await client.get("/api/v1/intel/series/suggest", params={"incident_id": 999999}, headers=w.headers["analyst"])
    assert r.status_code == 404
    r = await client.get("/api/v1/intel/series/suggest", params={"incident_id": a}, headers=w.headers["call_taker"])
    assert r.status_code == 403


def test_series_linker_is_cached_on_disk_and_never_trusted_blindly(tmp_path: Any, monkeypatch: Any) -> None:
    """The service's linker is trained once, then loaded from the model directory; a file whose key or
    digest does not match (other code, other settings, corruption) is retrained, never unpickled."""
    import numpy as np

    from zhihui.intel import service
    from zhihui.intel.series import sample_pairs
    from zhihui.sim.series import generate_cases

    monkeypatch.setenv("ZHIHUI_MODEL_DIR", str(tmp_path))
    monkeypatch.setattr(service, "_TRAIN", {**service._TRAIN, "n_offenders": 80})  # small: a quick fit
    first = service._train_linker()
    assert service.linker_source == "trained"
    files = list(tmp_path.glob("series-*.pkl"))
    assert len(files) == 1 and files[0].name.startswith(f"series-{service._linker_key()[:20]}")
    second = service._train_linker()
    assert service.linker_source == "cache"
    cases = generate_cases(seed=5, n_offenders=30)
    pairs, _ = sample_pairs(cases, ratio=2.0, seed=0)
    assert np.array_equal(first.predict_proba(cases, pairs), second.predict_proba(cases, pairs))
    # Corrupted payload: retrained and rewritten.
    blob = files[0].read_bytes()
    files[0].write_bytes(blob[:-10] + b"0123456789")
    service._train_linker()
    assert service.linker_source == "trained"
    assert service._train_linker() is not None and service.linker_source == "cache"
    # Other settings (another key): a new file, and the stale one is removed.
    monkeypatch.setattr(service, "_TRAIN", {**service._TRAIN, "n_offenders": 81})
    service._train_linker()
    assert service.linker_source == "trained"
    assert [f.name for f in tmp_path.glob("series-*.pkl")] == [f"series-{service._linker_key()[:20]}.pkl"]
