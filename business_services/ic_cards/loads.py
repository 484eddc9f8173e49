"""A load (圈存) at the station: head office moves reserve → purse and gives the MAC; the reader writes the chip.

``load``: read the purse, ask head office to authorise the load under the chip's next counter, keep it
(``writing``), write the chip, confirm with the chip's TAC. When the write's outcome is unknown (the card
left during it, the reader stopped answering), ``resolve`` decides at the card's next insertion, from the chip
itself: its log holds the load's counter → it was written (confirmed with the TAC recomputed from the log);
the chip's counter has not reached it → the write is **retried** with the same MAC (a load is never written
twice: the chip refuses a MAC for a counter it has passed); the chip moved on under another transaction → the
load is **reversed** at head office (``abandon`` does the same when the customer leaves without it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row

from business_services.ic_cards.model import IcCardError
from business_services.ic_cards.reader import ReaderError, Slot


class LoadAuthority(Protocol):
    """Head office's load routes (``station_link.HeadOfficeIc``)."""

    async def authorise(self, load_no: str, card_no: str, station: str, counter: int,
                        amount_fen: int) -> dict[str, Any]: ...

    async def confirm(self, load_no: str, tac: str) -> dict[str, Any]: ...

    async def reverse(self, load_no: str) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class LoadResult:
    state: str          # written, writing (unknown: resolved at the next insertion), reversed
    balance_fen: int | None
    message: str


async def _keep(conn: psycopg.AsyncConnection, load_no: str, card_no: str, counter: int, amount_fen: int, at: datetime,
                mac: str) -> None:
    await conn.execute("""INSERT INTO business.ic_station_loads (load_no, card_no, counter, amount_fen, at, mac, state)
                          VALUES (%s, %s, %s, %s, %s, %s, 'writing') ON CONFLICT DO NOTHING""",
                       (load_no, card_no, counter, amount_fen, at, mac))


async def _end(conn: psycopg.AsyncConnection, load_no: str, state: str) -> None:
    await conn.execute("UPDATE business.ic_station_loads SET state = %s WHERE load_no = %s AND state = 'writing'",
                       (state, load_no))


async def open_loads(conn: psycopg.AsyncConnection, card_no: str) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM business.ic_station_loads WHERE card_no = %s AND state = 'writing'",
                          (card_no,))
        return await cur.fetchall()


async def load(conn: psycopg.AsyncConnection, slot: Slot, authority: LoadAuthority, station: str, load_no: str,
               amount_fen: int) -> LoadResult:
    try:
        purse = await slot.open()
    except ReaderError as exc:
        raise IcCardError(str(exc)) from exc
    if purse.grey is not None:
        raise IcCardError("此卡灰锁，请先解灰再圈存 (the card is grey: settle it before a load)")
    for pending in await open_loads(conn, purse.card_no):
        await resolve(conn, slot, authority, pending)
    purse = await slot.open()
    granted = await authority.authorise(load_no, purse.card_no, station, purse.counter + 1, amount_fen)
    at = datetime.fromisoformat(str(granted["at"]))
    await _keep(conn, load_no, purse.card_no, int(granted["counter"]), amount_fen, at, str(granted["mac"]))
    kept = next((row for row in await open_loads(conn, purse.card_no) if row["load_no"] == load_no), None)
    if kept is None:
        return LoadResult("written", None, "已圈存 (loaded before)")
    return await _write(conn, slot, authority, kept)


async def _write(conn: psycopg.AsyncConnection, slot: Slot, authority: LoadAuthority,
                 kept: dict[str, Any]) -> LoadResult:
    try:
        tac = await slot.load(kept["counter"], kept["amount_fen"], kept["at"], bytes.fromhex(kept["mac"]))
    except ReaderError as exc:
        return LoadResult("writing", None, f"{exc}；圈存结果待下次插卡确认 (the load is settled at the next insertion)")
    await authority.confirm(kept["load_no"], tac.hex())
    await _end(conn, kept["load_no"], "written")
    balance = (await slot.open()).balance_fen
    return LoadResult("written", balance, "圈存成功 (loaded)")


async def resolve(conn: psycopg.AsyncConnection, slot: Slot, authority: LoadAuthority,
                  kept: dict[str, Any]) -> LoadResult:
    """Settle a load whose write's outcome was unknown, from the chip in ``slot``."""
    purse = await slot.open()
    for n in range(1, 11):
        line = await slot.log(n)
        if line is None:
            break
        if line.counter == kept["counter"] and line.kind == "L" and line.amount_fen == kept["amount_fen"]:
            tac = await _recomputed(authority, kept, line.at)
            await authority.confirm(kept["load_no"], tac)
            await _end(conn, kept["load_no"], "written")
            return LoadResult("written", purse.balance_fen, "圈存已写卡 (the chip was written)")
    if purse.counter + 1 == kept["counter"] and purse.grey is None:
        return await _write(conn, slot, authority, kept)                      # retried
    await authority.reverse(kept["load_no"])
    await _end(conn, kept["load_no"], "reversed")
    return LoadResult("reversed", purse.balance_fen, "圈存未写卡，已冲正回备用金 (not written: reversed)")


async def abandon(conn: psycopg.AsyncConnection, authority: LoadAuthority, load_no: str) -> None:
    """The customer left with the load unwritten and will not come back to it: reverse it at head office.
    (If the chip was written after all, head office refuses: a written load is confirmed at the next read.)"""
    await authority.reverse(load_no)
    await _end(conn, load_no, "reversed")


async def _recomputed(authority: LoadAuthority, kept: dict[str, Any], at: datetime) -> str:
    psam = getattr(authority, "psam", None)
    if psam is None:
        raise IcCardError("没有 PSAM，无法核对 TAC (no PSAM to recompute the TAC)")
    return str(psam.tac(kept["card_no"], kept["counter"], kept["amount_fen"], at).hex())
