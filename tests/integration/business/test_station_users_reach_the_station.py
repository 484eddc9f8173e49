"""A user change at head office reaches the station: disabling a cashier or resetting their password raises
that station's list version in the same transaction and the list sent down holds the change; other stations'
lists, and changes to company-wide users (on no station's list), leave versions alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from business_services.access.demo import seed_demo_company
from forecourt.stations import import_file
from tests.support.api_client import served_api
from tests.support.auth import bearer

pytestmark = pytest.mark.integration

DEMO = Path(__file__).resolve().parents[3] / "config" / "stations" / "demo.yaml"


async def _versions(conn: psycopg.AsyncConnection) -> dict[str, int]:
    cur = await conn.execute("SELECT code, version FROM business.stations")
    return dict(await cur.fetchall())


async def _sent(conn: psycopg.AsyncConnection, station: str) -> dict[str, Any]:
    """The last list written to the outbox for ``station``."""
    cur = await conn.execute("SELECT payload FROM business.outbox WHERE payload->>'subject' = %s "
                             "ORDER BY seq DESC LIMIT 1", (station,))
    row = await cur.fetchone()
    assert row is not None
    return dict(row[0]["data"])


async def test_a_cashier_change_raises_the_station_list_version_and_is_sent(database_url: str) -> None:
    await import_file(database_url, DEMO, ["92", "95"], group="demo-co")
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await seed_demo_company(conn)
        start = await _versions(conn)
        async with served_api(database_url) as (app, http):
            admin = bearer(app, "user:read", "user:write", username="admin")
            users = (await http.get("/api/v1/users", params={"limit": 100}, headers=admin)).json()["items"]
            cashier = next(u for u in users if u["username"] == "cashier")
            company_wide = next(u for u in users if u["username"] == "finance")
            assert cashier["units"] == ["demo-01"]

            body = {"display_name": cashier["display_name"], "roles": cashier["roles"], "units": cashier["units"],
                    "disabled": True}
            answer = await http.patch(f"/api/v1/users/{cashier['id']}", json=body, headers=admin)
            assert answer.status_code == 204, answer.text
            disabled = await _versions(conn)
            assert disabled == start | {"demo-01": start["demo-01"] + 1}       # only the cashier's station
            sent = await _sent(conn, "demo-01")
            assert sent["version"] == disabled["demo-01"]
            assert next(u for u in sent["users"] if u["username"] == "cashier")["active"] is False

            old_hash = next(u for u in sent["users"] if u["username"] == "cashier")["password_hash"]
            reset = await http.post(f"/api/v1/users/{cashier['id']}/password-reset", headers=admin)
            assert reset.status_code == 200, reset.text
            assert (await _versions(conn))["demo-01"] == disabled["demo-01"] + 1
            sent = await _sent(conn, "demo-01")
            assert next(u for u in sent["users"] if u["username"] == "cashier")["password_hash"] != old_hash

            before = await _versions(conn)
            body = {"display_name": company_wide["display_name"], "roles": company_wide["roles"],
                    "units": company_wide["units"], "disabled": True}
            answer = await http.patch(f"/api/v1/users/{company_wide['id']}", json=body, headers=admin)
            assert answer.status_code == 204, answer.text
            assert await _versions(conn) == before                              # on no station's list
