"""A cashier logs in at the station server with head office's password while head office is away: the
master-data list carries the station's users (hashes only), and the station's own database holds them."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from business_services.access.demo import DemoLogin, seed_demo_company
from business_services.stations import copy, views
from control_api.app import create_app
from forecourt.roles import Role
from forecourt.stations import import_file
from telemetry.contracts.master_data import MasterData

pytestmark = pytest.mark.integration

DEMO = Path(__file__).resolve().parents[3] / "config" / "stations" / "demo.yaml"


async def head_office_list(database_url: str) -> tuple[MasterData, dict[str, DemoLogin]]:
    await import_file(database_url, DEMO, ["92", "95"], group="demo-co")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        logins = {d.username: d for d in await seed_demo_company(conn)}
        await conn.commit()
        return await views.master_data(conn, "demo-01"), logins


def login(http: TestClient, who: str, password: str) -> int:
    return http.post("/api/v1/auth/token", data={"username": who, "password": password}).status_code


async def test_the_cashier_logs_in_at_the_station_with_head_offices_password(
        database_url: str, station_database_url: str) -> None:
    data, logins = await head_office_list(database_url)
    async with await psycopg.AsyncConnection.connect(station_database_url) as station:
        assert await copy.apply_list(station, data) is True
    # head office is away: only the station server's own database is used from here on
    with TestClient(create_app(station_database_url, role=Role.STATION)) as http:
        assert login(http, "cashier", logins["cashier"].password) == 200
        assert login(http, "cashier", "not-the-password-1") == 401
        assert login(http, "admin", logins["admin"].password) == 401          # company-wide users log in online
        token = http.post("/api/v1/auth/token", data={"username": "manager", "password": logins["manager"].password})
        me = http.get("/api/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}).json()
        assert me["roles"] == ["station_manager"] and [s["code"] for s in me["stations"]] == ["demo-01"]

        # the next list no longer has the cashier (moved to another station): the station disables the account
        without = data.model_copy(update={"version": data.version + 1,
                                          "users": [u for u in data.users if u.username != "cashier"]})
        async with await psycopg.AsyncConnection.connect(station_database_url) as station:
            assert await copy.apply_list(station, without) is True
        assert login(http, "cashier", logins["cashier"].password) == 401
        assert login(http, "manager", logins["manager"].password) == 200
