"""Test data of the fleets tests (docs/fleets.md): an enterprise and its cards written straight into head office's
tables, for tests whose subject is something else (authorisation, statements, the open API). The enterprise and
card handlers have their own tests through the API."""

from __future__ import annotations

import itertools
from typing import Any

import psycopg

from business_services.fleets.cards import fleet_card_no

_codes = itertools.count(1)


async def make_enterprise(conn: psycopg.AsyncConnection, *, code: str | None = None, name: str = "顺达物流",
                          station: str = "demo-01", settlement: str = "credit", credit_limit_fen: int = 1_000_000,
                          status: str = "normal", **columns: Any) -> str:
    """An approved enterprise; its code."""
    code = code or f"E{900000 + next(_codes):06d}"
    values = {"code": code, "name": name, "customer_code": f"C{code[1:]}", "maintaining_station": station,
              "settlement": settlement, "credit_limit_fen": credit_limit_fen, "status": status, "review": "approved",
              "created_by": "test", **columns}
    await _insert(conn, "business.fleet_enterprises", values)
    return code


async def make_card(conn: psycopg.AsyncConnection, enterprise: str, *, serial: int = 1, plate: str | None = None,
                    pays_from: str = "credit", **limits: Any) -> str:
    """An active card of ``enterprise`` (a vehicle card when ``plate``); its number."""
    card_no = fleet_card_no(enterprise, serial)
    values = {"card_no": card_no, "enterprise": enterprise, "holder": "vehicle" if plate else "driver",
              "plate": plate, "pays_from": pays_from, "issued_by": "test", **limits}
    await _insert(conn, "business.fleet_cards", values)
    return card_no


async def _insert(conn: psycopg.AsyncConnection, table: str, values: dict[str, Any]) -> None:
    """One row of ``values`` into ``table`` (names from this module and its callers' keyword arguments)."""
    names, marks = ", ".join(values), ", ".join(["%s"] * len(values))
    await conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(values.values()))  # noqa: S608
