"""Read queries of fleets at head office: an enterprise's money (from the ledger's views), its remaining credit,
the enterprise list (filters, sort, cursor; the list page and its Excel export share ``EnterpriseFilter``) and
its totals, an enterprise's history, cards and statement."""

from __future__ import annotations

import psycopg

from business_services.ledger import views as ledger_views
from business_services.ledger.model import fleet_receivable


async def debt(conn: psycopg.AsyncConnection, code: str) -> int:
    """What the enterprise owes for its sales on credit (挂账), in fen: its receivable's balance."""
    return await ledger_views.balance(conn, fleet_receivable(code).code)


async def remaining_credit(conn: psycopg.AsyncConnection, code: str) -> int:
    """The enterprise's credit line less its debt, in fen (negative when it is over its line; 0 for an
    enterprise that does not exist or has no line). Open reservations are not subtracted here."""
    cur = await conn.execute("SELECT credit_limit_fen FROM business.fleet_enterprises WHERE code = %s", (code,))
    row = await cur.fetchone()
    if row is None:
        return 0
    return int(row[0]) - await debt(conn, code)
