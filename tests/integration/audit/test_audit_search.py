"""GET /api/v1/audit: filters, cursor pages, station scope, and who may read it."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.api_client import served_api
from tests.support.audit_chain import write_chain
from tests.support.auth import bearer

pytestmark = pytest.mark.integration


async def test_search_filters_pages_and_scopes(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await write_chain(conn, 120)   # stations cycle demo-01/02/03 by seq % 3; actions by seq % 4
    async with served_api(database_url) as (app, http):
        assert (await http.get("/api/v1/audit")).status_code == 401
        assert (await http.get("/api/v1/audit", headers=bearer(app, "fuelling:read"))).status_code == 403

        everyone = bearer(app, "audit:read")
        first = (await http.get("/api/v1/audit", params={"limit": 50}, headers=everyone)).json()
        assert first["total"] == 120 and len(first["items"]) == 50 and first["items"][0]["seq"] == 120
        assert first["items"][0]["after"] == {"price_fen": 821, "说明": "调价"}
        seen = [i["seq"] for i in first["items"]]
        cursor = first["next_cursor"]
        while cursor is not None:
            page = (await http.get("/api/v1/audit", params={"limit": 50, "cursor": cursor}, headers=everyone)).json()
            seen += [i["seq"] for i in page["items"]]
            cursor = page["next_cursor"]
        assert seen == list(range(120, 0, -1))

        prices = (await http.get("/api/v1/audit", params={"action": "price.change", "station": "demo-02",
                                                          "target": "#1"}, headers=everyone)).json()
        assert prices["total"] > 0
        assert all(i["action"] == "price.change" and i["station"] == "demo-02" and "#1" in i["target"]
                   for i in prices["items"])
        assert {i["seq"] for i in prices["items"]} == {s for s in range(1, 121) if s % 4 == 1 and s % 3 == 1
                                                       and f"#{s}".startswith("#1")}

        scoped = bearer(app, "audit:read", stations=frozenset({"demo-01"}))
        mine = (await http.get("/api/v1/audit", params={"limit": 500}, headers=scoped)).json()
        assert mine["total"] == 40 and {i["station"] for i in mine["items"]} == {"demo-01"}
        assert (await http.get("/api/v1/audit", params={"station": "demo-02"}, headers=scoped)).status_code == 403

        bad = await http.get("/api/v1/audit", params={"since": "yesterday"}, headers=everyone)
        assert bad.status_code == 422


async def test_times_with_any_offset_are_read_in_utc(database_url: str) -> None:
    """START is 2026-01-01T00:00Z and record n is n seconds later; +20:00 is beyond what PostgreSQL parses."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await write_chain(conn, 10)
    async with served_api(database_url) as (app, http):
        everyone = bearer(app, "audit:read")
        far_east = await http.get("/api/v1/audit", params={"since": "2026-01-01T20:00:05+20:00"}, headers=everyone)
        assert far_east.status_code == 200, far_east.text
        assert [i["seq"] for i in far_east.json()["items"]] == list(range(10, 4, -1))
        naive = await http.get("/api/v1/audit", params={"until": "2026-01-01T00:00:03"}, headers=everyone)
        assert [i["seq"] for i in naive.json()["items"]] == [2, 1]
