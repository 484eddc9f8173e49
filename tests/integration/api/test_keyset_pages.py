"""Keyset cursors (control_api/pagination.py): rows inserted between fetching one page and the next never make
the next page skip or repeat a row; a cursor made for another sort, or forged, is 422."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.api_client import served_api
from tests.support.auth import bearer

pytestmark = pytest.mark.integration


async def _users(database_url: str, *names: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        for name in names:
            await conn.execute("INSERT INTO business.access_users (username, display_name, password_hash) "
                               "VALUES (%s, %s, 'x')", (name, f"用户{name}"))
        await conn.commit()


async def _logins(database_url: str, count: int, at: str) -> list[int]:
    """``count`` login records, all at the same time ``at`` (so only the id breaks the tie): their ids."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("INSERT INTO business.access_login_log (at, username, source, result) "
                                 "SELECT %s::timestamptz, 'li.si', '10.0.0.1', 'ok' FROM generate_series(1, %s) "
                                 "RETURNING id", (at, count))
        ids = [r[0] for r in await cur.fetchall()]
        await conn.commit()
    return ids


async def _rest(http: httpx.AsyncClient, path: str, params: dict[str, Any], cursor: str | None,
                headers: dict[str, str]) -> list[Any]:
    """Every item of the pages from ``cursor`` on."""
    items: list[Any] = []
    while cursor is not None:
        answer = await http.get(path, params=params | {"cursor": cursor}, headers=headers)
        assert answer.status_code == 200, answer.text
        items += answer.json()["items"]
        cursor = answer.json()["next_cursor"]
    return items


async def test_users_inserted_between_pages_shift_nothing(database_url: str) -> None:
    await _users(database_url, *(f"u{n}" for n in range(10, 30)))
    async with served_api(database_url) as (app, http):
        admin = bearer(app, "user:read")
        params = {"limit": 5, "sort": "username"}
        first = (await http.get("/api/v1/users", params=params, headers=admin)).json()
        seen = [u["username"] for u in first["items"]]
        assert seen == ["u10", "u11", "u12", "u13", "u14"]
        await _users(database_url, "u05", "u01", "u155")   # two before the cursor (offsets would repeat), one after
        rest = [u["username"] for u in await _rest(http, "/api/v1/users", params, first["next_cursor"], admin)]
    assert len(rest) == len(set(rest)) and not set(rest) & set(seen)
    assert seen + rest == sorted({*(f"u{n}" for n in range(10, 30)), "u155"})

    descending = {"limit": 5, "sort": "-created_at"}
    async with served_api(database_url) as (app, http):
        admin = bearer(app, "user:read")
        newest = (await http.get("/api/v1/users", params=descending, headers=admin)).json()
        other_sort = await http.get("/api/v1/users", params=params | {"cursor": newest["next_cursor"]}, headers=admin)
        assert other_sort.status_code == 422 and "游标" in other_sort.json()["detail"]
        forged = base64.urlsafe_b64encode(json.dumps(["-created_at", "not a time", 1]).encode()).decode()
        refused = await http.get("/api/v1/users", params=descending | {"cursor": forged}, headers=admin)
        assert refused.status_code == 422


async def test_logins_inserted_between_pages_shift_nothing(database_url: str) -> None:
    older = await _logins(database_url, 12, "2026-03-01T08:00:00Z")
    async with served_api(database_url) as (app, http):
        reader = bearer(app, "loginlog:read")
        first = (await http.get("/api/v1/login-log", params={"limit": 5}, headers=reader)).json()
        seen = [r["id"] for r in first["items"]]
        newer = await _logins(database_url, 3, "2026-03-02T08:00:00Z")   # newest first: they go on top
        rest = [r["id"] for r in await _rest(http, "/api/v1/login-log", {"limit": 5}, first["next_cursor"], reader)]
    assert seen == sorted(older, reverse=True)[:5]
    assert seen + rest == sorted(older, reverse=True)   # the newer ones are on page 1 next time, not repeated here
    assert not set(newer) & set(rest)


async def test_stations_inserted_between_pages_shift_nothing(database_url: str) -> None:
    async def stations(*codes: str) -> None:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            for code in codes:
                await conn.execute("INSERT INTO business.stations (code, name, company_group, version) "
                                   "VALUES (%s, %s, 'demo-co', %s)", (code, f"站{code}", 1 + len(code) % 2))
            await conn.commit()

    await stations(*(f"s-{n}" for n in range(10, 22)))
    async with served_api(database_url) as (app, http):
        reader = bearer(app, "station:read")
        for sort in ("code", "-version"):
            params = {"limit": 4, "sort": sort}
            first = (await http.get("/api/v1/stations", params=params, headers=reader)).json()
            seen = [s["code"] for s in first["items"]]
            await stations(f"s-0{sort}", f"s-00{sort}")   # before the cursor in either order (version 2, then 1)
            rest = [s["code"] for s in await _rest(http, "/api/v1/stations", params, first["next_cursor"], reader)]
            assert len(seen + rest) == len(set(seen + rest))
            assert {f"s-{n}" for n in range(10, 22)} <= set(seen + rest)
        wrong = await http.get("/api/v1/stations", params={"sort": "code", "cursor": first["next_cursor"]},
                               headers=reader)
        assert wrong.status_code == 422
