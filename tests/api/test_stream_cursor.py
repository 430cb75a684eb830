"""The stream cursor keeps recent holes (ids committed out of order on PostgreSQL) and re-reads them."""

from __future__ import annotations

import pytest

from zhihui.api import stream


def test_holes_are_tracked_filled_and_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(stream.time, "monotonic", lambda: now[0])
    c = stream.Cursor(after=10)
    c.advance([11, 12, 15])
    assert c.last == 15 and set(c.holes) == {13, 14}
    c.advance([14])  # a transaction that took id 14 committed late: delivered, hole closed
    assert c.last == 15 and set(c.holes) == {13}
    now[0] += stream.HOLE_TTL_S + 1
    c.advance([16])  # 13 never came (rolled back): forgotten after the TTL
    assert c.last == 16 and c.holes == {}


def test_sse_frame_format() -> None:
    frame = stream._sse({"id": 7, "type": "incident.created", "data": {"地址": "深南大道"}}).decode()
    assert frame.startswith("id: 7\nevent: incident.created\ndata: {")
    assert "深南大道" in frame and frame.endswith("\n\n")
