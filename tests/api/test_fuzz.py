"""Bad input never produces a 500: property-based bodies against the intake and dispatch endpoints."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.conftest import PASSWORD
from zhihui.api.app import create_app
from zhihui.core.auth import Role, create_user
from zhihui.core.store import Database

FIELDS = ["channel", "caller_phone", "caller_name", "address", "lat", "lon", "category_code", "level",
          "urgent", "description", "received_at", "extra"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=5,
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8),
    json_values,
    st.fixed_dictionaries({"category_code": st.sampled_from(["01", "02", "0101", "x"]),
                           "description": st.text(max_size=50),
                           "lat": st.floats(allow_nan=False, allow_infinity=False),
                           "lon": st.floats(allow_nan=False, allow_infinity=False),
                           "caller_phone": st.text(alphabet="0123456789+- ", max_size=16)}),
)


def _make_users(db_url: str) -> None:
    async def run() -> None:
        db = Database(db_url)
        async with db.tx() as session:
            for role in (Role.CALL_TAKER, Role.DISPATCHER):
                await create_user(session, username=role.value, password=PASSWORD, role=role)
        await db.dispose()

    asyncio.run(run())


def test_intake_never_500(db_url: str, settings: Any) -> None:
    _make_users(db_url)
    with TestClient(create_app(settings, background=False)) as client:
        tokens = {}
        for role in ("call_taker", "dispatcher"):
            r = client.post("/api/v1/auth/token", data={"username": role, "password": PASSWORD})
            tokens[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}

        @hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(body=bodies, key=st.none() | st.text(min_size=0, max_size=140))
        def check(body: Any, key: str | None) -> None:
            headers = dict(tokens["call_taker"])
            if key is not None and key.isascii() and key.isprintable():
                headers["Idempotency-Key"] = key
            r = client.post("/api/v1/incidents", json=body, headers=headers)
            assert r.status_code in (201, 422), (r.status_code, r.text)
            if r.status_code == 422:
                assert r.json()["detail"], r.text
            r = client.post("/api/v1/incidents/1/dispatch", json=body, headers=tokens["dispatcher"])
            assert r.status_code in (201, 404, 409, 422), (r.status_code, r.text)

        check()
