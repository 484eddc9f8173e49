"""The charger's ordered outbox: charger-initiated messages waiting for the CSMS.

Like a real charger's persistent queue it survives disconnects and reboots, so transaction
messages (start/stop, meter values, TransactionEvent) reach the CSMS in order after a reconnect.
While offline a newer StatusNotification of a connector replaces the unsent older one.
"""

from __future__ import annotations

import asyncio
from collections import deque

from simulators.charger.dialect import Outgoing


class Outbox:
    """FIFO of ``Outgoing``; the sender peeks the head and removes it once it is answered."""

    def __init__(self) -> None:
        self._items: deque[Outgoing] = deque()
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, message: Outgoing, *, coalesce: bool = False) -> None:
        """Append ``message``; with ``coalesce`` drop queued statuses of the same connector first."""
        if coalesce and message.status_key is not None:
            kept = [m for m in self._items if m.status_key != message.status_key]
            self._items = deque(kept)
        self._items.append(message)
        self._changed.set()

    async def head(self) -> Outgoing:
        """The oldest message, waiting until there is one (it stays queued until ``done``)."""
        while not self._items:
            self._changed.clear()
            await self._changed.wait()
        return self._items[0]

    def done(self, message: Outgoing) -> None:
        """Remove ``message`` (answered, or given up); a no-op if it was coalesced away."""
        for index, queued in enumerate(self._items):
            if queued is message:
                del self._items[index]
                return

    def pending(self) -> list[Outgoing]:
        """A snapshot of the queue, oldest first."""
        return list(self._items)

    def transactional_count(self) -> int:
        return sum(1 for m in self._items if m.transactional)
