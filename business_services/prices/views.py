"""Read queries of prices for the API (plain rows), and what a change is planned against (``current``).

Station master data (names, nozzles, company) comes from ``business_services/stations/views.py``: this context
reads its own tables only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.access import views as access
from business_services.pages import After, Sort, keyset_page
from business_services.prices import repository
from business_services.prices.model import (
    CurrentPrices,
    NozzleKey,
    PriceError,
    StationNozzle,
    expand_units,
    set_state,
    summary,
)
from business_services.stations import views as stations
from business_services.stations.model import GRADES

NEWEST_VERSION = Sort("version", int, True, tiebreak="version", tiebreak_kind=int)
NEWEST_CHANGE = Sort("requested_at", datetime, True, tiebreak="change_no", tiebreak_kind=str)


async def station_nozzles(conn: psycopg.AsyncConnection, station: str) -> tuple[StationNozzle, ...]:
    return tuple(StationNozzle(n["device"], n["fuelling_point"], n["number"], n["grade"])
                 for n in await stations.nozzles_json(conn, station) if n["grade"])


async def current(conn: psycopg.AsyncConnection, codes: list[str]) -> dict[str, CurrentPrices]:
    """Each station as a change is planned against: its newest set and its nozzles. Unknown station: PriceError."""
    found: dict[str, CurrentPrices] = {}
    for i, code in enumerate(codes):
        if await stations.station_detail(conn, code) is None:
            raise PriceError(f"stations[{i}]", f"没有站点 {code} (no station {code})")
        newest = await repository.newest_set(conn, code)
        grades, nozzle_prices = ({}, {}) if newest is None else (
            newest[1], {k: n.price_fen for k, n in newest[2].items()})
        found[code] = CurrentPrices(grades, await station_nozzles(conn, code), nozzle_prices)
    return found


async def stations_of_units(conn: psycopg.AsyncConnection, units: Iterable[str], scope: frozenset[str] | None
                            ) -> list[str]:
    """The stations under the named org units (regions, the company) within ``scope``, those with master data
    (a station of the org tree not yet imported cannot be priced); PriceError for an unknown or foreign unit."""
    tree = {u["code"]: u["stations"] for u in await access.units_with_stations(conn)}
    return [s for s in expand_units(list(units), tree, scope) if await stations.station_detail(conn, s) is not None]


async def units_in_scope(conn: psycopg.AsyncConnection, scope: frozenset[str] | None) -> list[dict[str, Any]]:
    """The company and regions with their stations in ``scope`` (those with none left out): what 调价申请 offers."""
    found = []
    for unit in await access.units_with_stations(conn):
        mine = [s for s in unit["stations"] if scope is None or s in scope]
        if unit["kind"] != "station" and mine:
            found.append({**unit, "stations": mine})
    return found


async def company_of(conn: psycopg.AsyncConnection, station: str, default: str) -> str:
    detail = await stations.station_detail(conn, station)
    return default if detail is None else str(detail["company_group"])


# --- a station's prices ------------------------------------------------------------------------------

async def _sets(conn: psycopg.AsyncConnection, station: str, where: str = "", params: tuple[Any, ...] = ()
                ) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"""SELECT s.station, s.version, s.change_no, s.effective_at, s.sent_at, s.in_force_at, s.reason,
                       s.requested_by, s.approved_by,
                       count(n.*) FILTER (WHERE n.state = 'applied')::int AS applied,
                       count(n.*) FILTER (WHERE n.state = 'refused')::int AS refused,
                       count(n.*) FILTER (WHERE n.state = 'pending')::int AS pending
                FROM business.price_sets s
                LEFT JOIN business.price_set_nozzles n USING (station, version)
                WHERE s.station = %s {where}
                GROUP BY s.station, s.version""",   # noqa: S608 (our own text)
            (station, *params))
        rows = await cur.fetchall()
    for row in rows:
        row["state"] = set_state(["refused"] * row["refused"], row["in_force_at"])
    return rows


async def _grades(conn: psycopg.AsyncConnection, station: str, version: int) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT grade, unit, price_fen, since FROM business.price_set_grades "
                          "WHERE station = %s AND version = %s ORDER BY grade", (station, version))
        return list(await cur.fetchall())


async def _nozzles(conn: psycopg.AsyncConnection, station: str, version: int) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT device, fuelling_point, nozzle, grade, price_fen, version, state, detail, at "
                          "FROM business.price_set_nozzles WHERE station = %s AND version = %s "
                          "ORDER BY device, fuelling_point, nozzle", (station, version))
        return list(await cur.fetchall())


async def version_in_force(conn: psycopg.AsyncConnection, station: str) -> int | None:
    cur = await conn.execute("SELECT max(version) FROM business.price_sets WHERE station = %s "
                             "AND in_force_at IS NOT NULL", (station,))
    row = await cur.fetchone()
    return None if row is None or row[0] is None else int(row[0])


async def _next_scheduled(conn: psycopg.AsyncConnection, station: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT change_no, effective_at FROM business.price_changes "
                          "WHERE state = 'scheduled' AND %s = ANY(stations) ORDER BY effective_at LIMIT 1", (station,))
        return await cur.fetchone()


async def latest(conn: psycopg.AsyncConnection, station: str) -> dict[str, Any] | None:
    """The station's newest decision: a change scheduled for it, else its newest set with that set's state."""
    scheduled = await _next_scheduled(conn, station)
    if scheduled is not None:
        return {"version": None, "state": "scheduled", "effective_at": scheduled["effective_at"],
                "change_no": scheduled["change_no"]}
    sets = await _sets(conn, station, "AND s.version = (SELECT max(version) FROM business.price_sets "
                                      "WHERE station = %s)", (station,))
    if not sets:
        return None
    s = sets[0]
    return {"version": s["version"], "state": s["state"], "effective_at": s["effective_at"],
            "change_no": s["change_no"]}


async def station_prices(conn: psycopg.AsyncConnection, station: str) -> dict[str, Any] | None:
    """``GET /stations/{station}/prices``: the prices in force (per grade), the newest decision, and each
    nozzle's state under the newest set; None for a station that does not exist."""
    if await stations.station_detail(conn, station) is None:
        return None
    in_force = await version_in_force(conn, station)
    newest = await repository.newest_set(conn, station)
    return {"station": station, "version_in_force": in_force,
            "grades": [] if in_force is None else await _grades(conn, station, in_force),
            "latest": await latest(conn, station),
            "nozzles": [] if newest is None else await _nozzles(conn, station, newest[0])}


async def station_list(conn: psycopg.AsyncConnection, scope: frozenset[str] | None, q: str, after: After | None,
                       limit: int) -> tuple[list[dict[str, Any]], int, After | None]:
    """``GET /prices/stations``: the stations of the caller (their master-data page) with their prices."""
    page = await stations.list_stations(conn, scope, q=q, after=after, limit=limit)
    items = []
    for row in page.items:
        in_force = await version_in_force(conn, row.code)
        last = await latest(conn, row.code)
        newest = await repository.newest_set(conn, row.code)
        cur = await conn.execute("SELECT max(sent_at) FROM business.price_sets WHERE station = %s", (row.code,))
        updated = await cur.fetchone()
        grades = [] if in_force is None else await _grades(conn, row.code, in_force)
        items.append({"station": row.code, "name": row.name, "version_in_force": in_force,
                      "version_latest": None if newest is None else newest[0],
                      "state": "none" if last is None else last["state"],
                      "grades": [{"grade": g["grade"], "unit": g["unit"], "price_fen": g["price_fen"]} for g in grades],
                      "updated_at": None if updated is None else updated[0]})
    return items, page.total, page.last


async def set_history(conn: psycopg.AsyncConnection, station: str, after: After | None, limit: int
                      ) -> tuple[list[dict[str, Any]], int, After | None]:
    query = """SELECT s.version, s.change_no, s.effective_at, s.sent_at, s.in_force_at, s.reason, s.requested_by,
                      s.approved_by,
                      (SELECT count(*) FROM business.price_set_nozzles n WHERE n.station = s.station
                         AND n.version = s.version AND n.state = 'applied')::int AS applied,
                      (SELECT count(*) FROM business.price_set_nozzles n WHERE n.station = s.station
                         AND n.version = s.version AND n.state = 'refused')::int AS refused,
                      (SELECT count(*) FROM business.price_set_nozzles n WHERE n.station = s.station
                         AND n.version = s.version AND n.state = 'pending')::int AS pending
               FROM business.price_sets s WHERE s.station = %(station)s"""
    rows, total, last = await keyset_page(conn, query, {"station": station}, NEWEST_VERSION, limit, after)
    for row in rows:
        row["state"] = set_state(["refused"] * row["refused"], row["in_force_at"])
    return rows, total, last


async def price_set(conn: psycopg.AsyncConnection, station: str, version: int) -> dict[str, Any] | None:
    sets = await _sets(conn, station, "AND s.version = %s", (version,))
    if not sets:
        return None
    return {**sets[0], "grades": await _grades(conn, station, version),
            "nozzles": await _nozzles(conn, station, version)}


async def current_public(conn: psycopg.AsyncConnection, station: str) -> dict[str, Any] | None:
    """``GET /prices/current``: the prices in force at a station, for partners and the customer H5."""
    detail = await stations.station_detail(conn, station)
    if detail is None:
        return None
    in_force = await version_in_force(conn, station)
    grades = [] if in_force is None else await _grades(conn, station, in_force)
    return {"station": station, "name": detail["name"], "version": in_force,
            "grades": [{**g, "name": GRADES[g["grade"]].name if g["grade"] in GRADES else g["grade"]}
                       for g in grades]}


# --- changes --------------------------------------------------------------------------------------------

_CHANGE_COLUMNS = """c.change_no, c.state, c.stations, c.units, c.effective_at, c.reason, c.requested_by,
                     c.requested_at, c.approved_by, c.approval_id, c.sent_at, c.cancelled_by, c.cancelled_at,
                     (SELECT count(*) FROM business.price_change_lines l WHERE l.change_no = c.change_no)::int
                         AS lines_count"""


async def changes(conn: psycopg.AsyncConnection, scope: frozenset[str] | None, *, state: str | None,
                  station: str | None, since: datetime | None, until: datetime | None, after: After | None,
                  limit: int) -> tuple[list[dict[str, Any]], int, After | None]:
    """Changes newest first; a caller scoped to stations sees only changes all of whose stations it holds."""
    query = f"""SELECT {_CHANGE_COLUMNS} FROM business.price_changes c
                WHERE (%(scope)s::text[] IS NULL OR c.stations <@ %(scope)s::text[])
                  AND (%(state)s::text IS NULL OR c.state = %(state)s)
                  AND (%(station)s::text IS NULL OR %(station)s = ANY(c.stations))
                  AND (%(since)s::timestamptz IS NULL OR coalesce(c.effective_at, c.requested_at) >= %(since)s)
                  AND (%(until)s::timestamptz IS NULL OR coalesce(c.effective_at, c.requested_at) < %(until)s)"""  # noqa: S608
    params = {"scope": None if scope is None else sorted(scope), "state": state, "station": station,
              "since": since, "until": until}
    return await keyset_page(conn, query, params, NEWEST_CHANGE, limit, after)


async def change_detail(conn: psycopg.AsyncConnection, change_no: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_CHANGE_COLUMNS} FROM business.price_changes c "   # noqa: S608 (our own text)
                          "WHERE c.change_no = %s", (change_no,))
        row = await cur.fetchone()
        if row is None:
            return None
        await cur.execute("SELECT station, grade, device, fuelling_point, nozzle, old_price_fen, new_price_fen "
                          "FROM business.price_change_lines WHERE change_no = %s ORDER BY line", (change_no,))
        row["lines"] = list(await cur.fetchall())
        await cur.execute("SELECT station, version FROM business.price_sets WHERE change_no = %s ORDER BY station",
                          (change_no,))
        made = {r["station"]: r["version"] for r in await cur.fetchall()}
    row["versions"] = [{"station": s, "version": made.get(s)} for s in row["stations"]]
    return row


async def calendar(conn: psycopg.AsyncConnection, scope: frozenset[str] | None, since: datetime, until: datetime
                   ) -> list[dict[str, Any]]:
    """Changes whose time (effective, else requested) falls in [since, until), oldest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT c.change_no, coalesce(c.effective_at, c.requested_at) AS effective_at, c.stations, c.state
               FROM business.price_changes c
               WHERE (%(scope)s::text[] IS NULL OR c.stations <@ %(scope)s::text[])
                 AND coalesce(c.effective_at, c.requested_at) >= %(since)s
                 AND coalesce(c.effective_at, c.requested_at) < %(until)s
               ORDER BY 2, 1 LIMIT 1000""",
            {"scope": None if scope is None else sorted(scope), "since": since, "until": until})
        rows = list(await cur.fetchall())
    for row in rows:
        row["summary"] = summary(await repository.lines(conn, row["change_no"]))
    return rows


async def rules(conn: psycopg.AsyncConnection, scope: frozenset[str] | None, group: str, *,
                active_at: datetime | None = None) -> list[dict[str, Any]]:
    """Special-price rules of the company, newest first; a station-scoped caller sees the rules that reach one
    of its stations (company-wide ones included); ``active_at``: only those valid then."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT id, kind, stations, grade, params, valid_from, valid_to, note, created_by, created_at, ended_by
               FROM business.price_rules
               WHERE company_group = %(group)s
                 AND (%(scope)s::text[] IS NULL OR stations IS NULL OR stations && %(scope)s::text[])
                 AND (%(at)s::timestamptz IS NULL OR (valid_from <= %(at)s AND (valid_to IS NULL OR valid_to > %(at)s)))
               ORDER BY id DESC LIMIT 500""",
            {"group": group, "scope": None if scope is None else sorted(scope), "at": active_at})
        return list(await cur.fetchall())


async def rule(conn: psycopg.AsyncConnection, group: str, rule_id: int) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT id, kind, stations, grade, params, valid_from, valid_to, note, created_by, "
                          "created_at, ended_by FROM business.price_rules WHERE company_group = %s AND id = %s",
                          (group, rule_id))
        return await cur.fetchone()


async def nozzle_key_prices(conn: psycopg.AsyncConnection, station: str) -> dict[NozzleKey, int]:
    newest = await repository.newest_set(conn, station)
    return {} if newest is None else {k: n.price_fen for k, n in newest[2].items()}


async def fleet_agreement_exists(conn: psycopg.AsyncConnection, fleet: str) -> bool:
    """Whether a fleet agreement price rule (kind ``fleet_agreement``) names this fleet code (the fleets context
    checks an enterprise's agreement by it)."""
    cur = await conn.execute("""SELECT 1 FROM business.price_rules
                                WHERE kind = 'fleet_agreement' AND params->>'fleet' = %s LIMIT 1""", (fleet,))
    return await cur.fetchone() is not None
