"""Read queries of IC cards: head office's grey list, and the reconciliation of chips against their mirrors.

The reconciliation compares each card's purse as a station last read it (``ic_card.purse_read``) with its
purse mirror account in the ledger (``purse:<card_no>``): ``difference_fen`` = chip − mirror. A grey lock
not yet debited (``open_grey_fen``) and captures still on their way explain a mirror above the chip for a
while; a difference that stays is a card to look at (docs/ic-cards.md "Reconciliation"). ``shortfall_fen``: chip
debits the mirror could not cover (a card whose chip held value the mirror never had).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.ic_cards import repository
from business_services.ledger import views as ledger
from business_services.ledger.model import purse


async def grey_record(conn: psycopg.AsyncConnection, card_no: str, counter: int) -> dict[str, Any] | None:
    return await repository.grey_record(conn, card_no, counter)


async def reconciliation(conn: psycopg.AsyncConnection, stations: frozenset[str] | None,
                         differences_only: bool = False) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT r.card_no, r.station, r.balance_fen AS chip_fen, r.counter, r.grey, r.read_at,
                      coalesce((SELECT sum(g.amount_fen) FROM business.ic_grey_list g
                                WHERE g.card_no = r.card_no AND g.state = 'open'), 0) AS open_grey_fen,
                      coalesce((SELECT sum(s.amount_fen) FROM business.ic_purse_shortfalls s
                                WHERE s.card_no = r.card_no), 0) AS shortfall_fen
               FROM business.ic_purse_reads r
               WHERE %s::text[] IS NULL OR r.station = ANY(%s::text[]) ORDER BY r.card_no""",
            (None if stations is None else sorted(stations),) * 2)
        rows = await cur.fetchall()
    report = []
    for row in rows:
        account = await ledger.account(conn, purse(row["card_no"]).code)
        mirror = int(account["balance"]) if account else 0
        row.update(mirror_fen=mirror, open_grey_fen=int(row["open_grey_fen"]),
                   shortfall_fen=int(row["shortfall_fen"]), difference_fen=int(row["chip_fen"]) - mirror)
        if row["difference_fen"] or not differences_only:
            report.append(row)
    return report
