"""In-process notifications: wakes live event streams right after a commit.

The durable record is the `events` table (written in the same transaction as the change); the bus only
says "look again". Ephemeral messages (unit positions) that have no durable row travel on it too.
Other processes are picked up by the streams' periodic poll.
"""

from __future__ import annotations

import asyncio
from typing import Any


class Bus:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._subscribers.discard(queue)

    def committed(self) -> None:
        """New durable events exist: wake every stream (None means "poll the table")."""
        self._put(None)

    def ephemeral(self, message: dict[str, Any]) -> None:
        self._put(message)

    def _put(self, item: dict[str, Any] | None) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                # A slow consumer only loses wake-ups and positions; it re-polls the durable table.
                pass

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
