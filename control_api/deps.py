"""FastAPI dependencies as Annotated aliases."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request, WebSocket
from psycopg_pool import AsyncConnectionPool

from control_api.live import LiveHub


def _pool(request: Request) -> AsyncConnectionPool:
    return cast(AsyncConnectionPool, request.app.state.pool)


def ws_pool(websocket: WebSocket) -> AsyncConnectionPool:
    return cast(AsyncConnectionPool, websocket.app.state.pool)


def ws_hub(websocket: WebSocket) -> LiveHub:
    return cast(LiveHub, websocket.app.state.hub)


Pool = Annotated[AsyncConnectionPool, Depends(_pool)]
WsPool = Annotated[AsyncConnectionPool, Depends(ws_pool)]
WsHub = Annotated[LiveHub, Depends(ws_hub)]
