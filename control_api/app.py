"""The control API application: one FastAPI app, one router per resource."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from control_api.live import LiveHub
from control_api.routes import commands, devices, fueling, health
from telemetry.contracts.broker import BrokerAddress


def create_app(database_url: str, broker: BrokerAddress | None = None, *, group: str = "demo-co") -> FastAPI:
    """``group``: the operating company whose stations this API commands (its MQTT topics' group level)."""
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = AsyncConnectionPool(database_url, min_size=1, max_size=10, open=False)
        await pool.open()
        hub = LiveHub(database_url)
        listener = asyncio.create_task(hub.run(), name="live-hub")
        app.state.pool, app.state.hub, app.state.broker, app.state.group = pool, hub, broker, group
        try:
            yield
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            await pool.close()

    app = FastAPI(title="Forecourt control API", version="0.1.0", lifespan=lifespan,
                  description="加油/加气/充电站运营平台 控制 API")
    app.include_router(health.router)
    app.include_router(devices.router)
    app.include_router(fueling.router)
    app.include_router(commands.router)
    return app
