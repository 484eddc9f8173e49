"""Read queries of the gas context for the control API: plain rows, newest first."""

from __future__ import annotations

import psycopg

from business_services.fuelling.views import rows


async def recent_fills(conn: psycopg.AsyncConnection, station: str, limit: int = 50) -> list[dict[str, object]]:
    return await rows(await conn.execute(
        """SELECT skid, product, dispenser, transaction_no, mass_kg, amount_fen, price_fen_per_kg,
                  totalizer_after_kg, stop_reason, ended_at
           FROM business.gas_fills WHERE station = %s ORDER BY ended_at DESC LIMIT %s""", (station, limit)))
