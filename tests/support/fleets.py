"""Test data of the fleets tests (docs/fleets.md): an enterprise and its cards written straight into head office's
tables, for tests whose subject is something else (authorisation, statements, the open API). The enterprise and
card handlers have their own tests through the API."""

from __future__ import annotations

import itertools
from typing import Any

import psycopg

from business_services.cards.model import card_number

_codes = itertools.count(1)
#: fleet card numbers: this prefix, the enterprise's six digits, a five-digit serial, the Luhn digit (16 digits)
FLEET_PREFIX = "9100"


def fleet_card_no(enterprise: str, serial: int) -> str:
    return card_number(FLEET_PREFIX + enterprise[1:], 16, serial)


async def make_enterprise(conn: psycopg.AsyncConnection, *, code: str | None = None, name: str = "顺达物流",
                          station: str = "demo-01", settlement: str = "credit", credit_limit_fen: int = 1_000_000,
                          status: str = "normal", **columns: Any) -> str:
    """An approved enterprise; its code."""
    code = code or f"E{900000 + next(_codes):06d}"
    values = {"code": code, "name": name, "customer_code": f"C{code[1:]}", "maintaining_station": station,
              "settlement": settlement, "credit_limit_fen": credit_limit_fen, "status": status, "review": "approved",
              "created_by": "test", **columns}
    names = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    await conn.execute(f"INSERT INTO business.fleet_enterprises ({names}) VALUES ({marks})",  # noqa: S608
                       list(values.values()))
    return code


async def make_card(conn: psycopg.AsyncConnection, enterprise: str, *, serial: int = 1, plate: str | None = None,
                    pays_from: str = "credit", **limits: Any) -> str:
    """An active card of ``enterprise`` (a vehicle card when ``plate``); its number."""
    card_no = fleet_card_no(enterprise, serial)
    values = {"card_no": card_no, "enterprise": enterprise, "holder": "vehicle" if plate else "driver",
              "plate": plate, "pays_from": pays_from, "issued_by": "test", **limits}
    names = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    await conn.execute(f"INSERT INTO business.fleet_cards ({names}) VALUES ({marks})",  # noqa: S608
                       list(values.values()))
    return card_no
