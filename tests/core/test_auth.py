from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, World
from zhihui.core.auth import hash_password, verify_password
from zhihui.core.errors import InvalidInput


def test_password_hashing_and_policy() -> None:
    h = hash_password("Correct#Horse9")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "Correct#Horse9")
    assert not verify_password(h, "Correct#Horse8")
    assert not verify_password("not-a-hash", "x")
    with pytest.raises(InvalidInput):
        hash_password("short")
    with pytest.raises(InvalidInput):
        hash_password("12345678")


async def test_lockout_after_five_failures(client: httpx.AsyncClient, world: World) -> None:
    for _ in range(5):
        r = await client.post("/api/v1/auth/token", data={"username": "analyst", "password": "wrong-password"})
        assert r.status_code == 401
    r = await client.post("/api/v1/auth/token", data={"username": "analyst", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["code"] == "locked"
    # Other accounts are unaffected.
    r = await client.post("/api/v1/auth/token", data={"username": "leader", "password": PASSWORD})
    assert r.status_code == 200


async def test_logons_are_audited(app: Any, client: httpx.AsyncClient, world: World) -> None:
    await client.post("/api/v1/auth/token", data={"username": "leader", "password": "nope-nope"})
    r = await client.get("/api/v1/audit", headers=world.headers["inspector"])
    assert r.status_code == 200
    actions = [(row["action"], row["user"], row["outcome"]) for row in r.json()]
    assert ("auth.login", "leader", "success") in actions
    assert ("auth.login_failed", "leader", "failure") in actions
    # Reading the audit log is itself recorded; a dispatcher may not read it.
    r = await client.get("/api/v1/audit", headers=world.headers["inspector"])
    assert any(row["action"] == "audit.read" for row in r.json())
    assert (await client.get("/api/v1/audit", headers=world.headers["dispatcher"])).status_code == 403
    r = await client.post("/api/v1/audit/verify", headers=world.headers["inspector"])
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["unsealed"] == 0


async def test_admin_creates_users(client: httpx.AsyncClient, world: World) -> None:
    body = {"username": "new.ct", "password": "Another#Pass1", "role": "call_taker", "full_name": "新接警员"}
    r = await client.post("/api/v1/users", json=body, headers=world.headers["admin"])
    assert r.status_code == 201 and r.json()["role_label"] == "接警员"
    assert (await client.post("/api/v1/users", json=body, headers=world.headers["admin"])).status_code == 409
    weak = {**body, "username": "weak", "password": "password"}
    r = await client.post("/api/v1/users", json=weak, headers=world.headers["admin"])
    assert r.status_code == 422 and r.json()["field"] == "password"
    assert (await client.post("/api/v1/users", json=body, headers=world.headers["commander"])).status_code == 403
    me = await client.get("/api/v1/auth/me", headers=world.headers["officer"])
    assert me.json()["unit_id"] == world.officer_unit


async def test_control_characters_in_logon_are_401(client: httpx.AsyncClient, world: World) -> None:
    r = await client.post("/api/v1/auth/token", data={"username": "lead\x00er", "password": PASSWORD})
    assert r.status_code == 401


async def test_tokens_expire_and_refresh(client: httpx.AsyncClient, world: World, settings: Any) -> None:
    import jwt

    r = await client.post("/api/v1/auth/refresh", headers=world.headers["dispatcher"])
    assert r.status_code == 200
    claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == settings.token_minutes * 60 == 30 * 60
    expired = jwt.encode({**claims, "exp": claims["iat"] - 1}, settings.secret_key, algorithm="HS256")
    r = await client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.text
    r = await client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
