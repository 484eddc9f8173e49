"""Test helpers for the business consumer: event payloads as a station sends them, and a running consumer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from business_services.consumer import EventConsumer

STATION = "st-01"


def fuelling(number: int, **data: object) -> dict[str, object]:
    return {"station": STATION, "pump": "disp-01", "fuelling_point": 1, "nozzle": 1, "grade": 92,
            "transaction": number, "volume_l": 40.0, "amount_fen": 29000, "price_fen_per_l": 725,
            "totalizer_before_l": 1000.0, "totalizer_after_l": 1040.0, "started_at": "2026-03-01T08:00:00+00:00",
            "ended_at": "2026-03-01T08:02:00+00:00"} | data


def gas_fill(**data: object) -> dict[str, object]:
    return {"station": STATION, "skid": "gas-01", "product": "CNG", "dispenser": 1, "transaction": 3,
            "mass_kg": 5.0, "amount_fen": 2250, "price_fen_per_kg": 450, "totalizer_after_kg": 100.0,
            "stop_reason": "preset", "ended_at": "2026-03-01T08:02:00+00:00"} | data


def envelope(event_type: str, data: dict[str, object], event_id: str | None = None, **extra: object) -> bytes:
    return json.dumps({"specversion": "1.0", "id": event_id or str(uuid.uuid4()), "source": "test",
                       "type": event_type, "time": "2026-03-01T08:02:00Z", "data": data} | extra).encode()


FUELLING = "fuelling.completed"


@contextlib.asynccontextmanager
async def running(consumer: EventConsumer) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(consumer.subscribed.wait(), 10)
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_for(check: Callable[[], Awaitable[bool]], within_s: float = 15) -> None:
    async with asyncio.timeout(within_s):
        while not await check():
            await asyncio.sleep(0.1)
