"""SQL of the station's fleet authorisations (``business.station_fleet_authorisations``) and of the fleet cards
on its member list."""

from __future__ import annotations

from datetime import datetime

import psycopg

from business_services import numbers
from business_services.station_fleets.model import Authorisation, Nozzle
from telemetry.contracts.members import ListedFleetCard

_COLUMNS = """auth_no, station, card_no, enterprise, plate, device, fuelling_point, nozzle, grade, fen_per_l,
              wanted_fen, state, preset_fen, code, reason, offline, payment_no, captured_fen, captured_offline,
              release_told, asked_at, closed_at"""


async def nozzle_grade(conn: psycopg.AsyncConnection, station: str, n: Nozzle) -> int | None:
    cur = await conn.execute(
        """SELECT grade FROM business.stations_nozzles
           WHERE station = %s AND device = %s AND fuelling_point = %s AND number = %s""",
        (station, n.device, n.fuelling_point, n.number))
    row = await cur.fetchone()
    if row is None:
        return None
    if str(row[0]).isdigit():
        return int(row[0])
    cur = await conn.execute(       # a gas grade (cng, lng): the number its pump reports, from its last fuelling
        """SELECT grade FROM business.orders WHERE station = %s AND pump = %s AND fuelling_point = %s AND nozzle = %s
               AND grade IS NOT NULL ORDER BY created_at DESC LIMIT 1""", (station, n.device, n.fuelling_point,
                                                                           n.number))
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def price(conn: psycopg.AsyncConnection, station: str, n: Nozzle, grade: int) -> int | None:
    """The nozzle's price now: its newest applied price set's, else what its grade was last sold at (at this
    nozzle first)."""
    cur = await conn.execute(
        """SELECT price_fen FROM business.station_price_nozzles
           WHERE station = %s AND device = %s AND fuelling_point = %s AND nozzle = %s AND state = 'applied'
           ORDER BY version DESC LIMIT 1""", (station, n.device, n.fuelling_point, n.number))
    row = await cur.fetchone()
    if row is None:
        cur = await conn.execute(
            """SELECT price_fen_per_l FROM business.orders WHERE station = %s AND grade = %s
                   AND price_fen_per_l IS NOT NULL
               ORDER BY (pump, fuelling_point, nozzle) = (%s, %s, %s) DESC, created_at DESC LIMIT 1""",
            (station, grade, n.device, n.fuelling_point, n.number))
        row = await cur.fetchone()
    return None if row is None else int(row[0])


async def add(conn: psycopg.AsyncConnection, station: str, n: Nozzle, grade: int, fen_per_l: int,
              card_no: str | None, plate: str | None, wanted_fen: int | None, at: datetime) -> Authorisation:
    """A new ask, 'asked', under the station's next A number of the day."""
    cur = await conn.execute(
        f"""WITH number AS ({numbers.NEXT})
            INSERT INTO business.station_fleet_authorisations
                (auth_no, station, card_no, plate, device, fuelling_point, nozzle, grade, fen_per_l, wanted_fen,
                 state, asked_at)
            SELECT number, %(station)s, %(card_no)s, %(plate)s, %(device)s, %(point)s, %(nozzle)s, %(grade)s,
                   %(price)s, %(wanted)s, 'asked', %(at)s FROM number
            RETURNING {_COLUMNS}""",  # noqa: S608
        {**numbers.counter(station, numbers.Kind.AUTHORISATION, at), "card_no": card_no, "plate": plate,
         "device": n.device, "point": n.fuelling_point, "nozzle": n.number, "grade": grade, "price": fen_per_l,
         "wanted": wanted_fen, "at": at})
    row = await cur.fetchone()
    if row is None:
        raise LookupError("no authorisation number")
    return Authorisation(*row)


async def get(conn: psycopg.AsyncConnection, auth_no: str, *, lock: bool = False) -> Authorisation | None:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM business.station_fleet_authorisations WHERE auth_no = %s"  # noqa: S608
        + (" FOR UPDATE" if lock else ""), (auth_no,))
    row = await cur.fetchone()
    return None if row is None else Authorisation(*row)


async def found(conn: psycopg.AsyncConnection, auth_no: str) -> Authorisation:
    """An authorisation this process has just written or read (LookupError if it vanished)."""
    got = await get(conn, auth_no)
    if got is None:
        raise LookupError(f"authorisation {auth_no} vanished")
    return got


async def by_payment(conn: psycopg.AsyncConnection, payment_no: str) -> Authorisation | None:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM business.station_fleet_authorisations WHERE payment_no = %s",  # noqa: S608
        (payment_no,))
    row = await cur.fetchone()
    return None if row is None else Authorisation(*row)


async def listed(conn: psycopg.AsyncConnection, station: str, state: str | None,
                 limit: int) -> list[tuple[Authorisation, str | None]]:
    """The newest authorisations, each with the payable order its fuelling made (an open one's: the first order of
    its nozzle since it was asked), which the POS pays with fleet_credit."""
    cur = await conn.execute(
        f"""SELECT {", ".join("a." + c.strip() for c in _COLUMNS.split(","))}, o.order_no
            FROM business.station_fleet_authorisations a
            LEFT JOIN LATERAL (SELECT order_no FROM business.orders
                               WHERE a.state = 'reserved' AND station = a.station AND pump = a.device
                                   AND fuelling_point = a.fuelling_point AND nozzle = a.nozzle
                                   AND created_at >= a.asked_at AND status = 'payable'
                               ORDER BY created_at LIMIT 1) o ON true
            WHERE a.station = %s AND (%s::text IS NULL OR a.state = %s)
            ORDER BY a.asked_at DESC LIMIT %s""",  # noqa: S608
        (station, state, state, limit))
    return [(Authorisation(*row[:-1]), row[-1]) for row in await cur.fetchall()]


async def decided(conn: psycopg.AsyncConnection, auth_no: str, state: str, preset_fen: int, code: str, reason: str,
                  offline: bool, card_no: str | None, enterprise: str | None, plate: str | None) -> None:
    """Record the decision of an asked row (a decided one stays as it is)."""
    await conn.execute(
        """UPDATE business.station_fleet_authorisations SET state = %s, preset_fen = %s, code = %s, reason = %s,
               offline = %s, card_no = coalesce(%s, card_no), enterprise = coalesce(%s, enterprise),
               plate = coalesce(plate, %s), closed_at = CASE WHEN %s = 'refused' THEN now() END
           WHERE auth_no = %s AND state = 'asked'""",
        (state, preset_fen, code, reason[:200], offline, card_no, enterprise, plate, state, auth_no))


async def released(conn: psycopg.AsyncConnection, auth_no: str, told: bool) -> bool:
    """Release a reservation (or an ask never decided); False when it was captured, refused or released before."""
    cur = await conn.execute(
        """UPDATE business.station_fleet_authorisations SET state = 'released', closed_at = now(),
               release_told = %s OR offline
           WHERE auth_no = %s AND state IN ('asked', 'reserved')""", (told, auth_no))
    return cur.rowcount == 1


async def pump_refused(conn: psycopg.AsyncConnection, auth_no: str, reason: str) -> None:
    """Why a released authorisation never reached the pump."""
    await conn.execute("""UPDATE business.station_fleet_authorisations SET code = 'pump', reason = %s
                          WHERE auth_no = %s""", (reason[:200], auth_no))


async def told(conn: psycopg.AsyncConnection, auth_no: str) -> None:
    await conn.execute("UPDATE business.station_fleet_authorisations SET release_told = true WHERE auth_no = %s",
                       (auth_no,))


async def untold(conn: psycopg.AsyncConnection, station: str) -> list[str]:
    cur = await conn.execute(
        """SELECT auth_no FROM business.station_fleet_authorisations
           WHERE station = %s AND state = 'released' AND NOT release_told ORDER BY auth_no""", (station,))
    return [r[0] for r in await cur.fetchall()]


async def claim(conn: psycopg.AsyncConnection, auth_no: str, payment_no: str) -> Authorisation | None:
    """Name the payment that captures a reservation, before head office is asked (a retry asks with the same
    number); None when the authorisation is not open for this payment (captured by another, released, refused)."""
    cur = await conn.execute(
        f"""UPDATE business.station_fleet_authorisations SET payment_no = %s
            WHERE auth_no = %s AND state = 'reserved' AND (payment_no IS NULL OR payment_no = %s)
            RETURNING {_COLUMNS}""", (payment_no, auth_no, payment_no))  # noqa: S608
    row = await cur.fetchone()
    return None if row is None else Authorisation(*row)


async def captured(conn: psycopg.AsyncConnection, auth_no: str, payment_no: str, amount_fen: int,
                   offline: bool) -> bool:
    cur = await conn.execute(
        """UPDATE business.station_fleet_authorisations SET state = 'captured', payment_no = %s, captured_fen = %s,
               captured_offline = %s, closed_at = now()
           WHERE auth_no = %s AND state = 'reserved'""", (payment_no, amount_fen, offline, auth_no))
    return cur.rowcount == 1


async def held_of(conn: psycopg.AsyncConnection, card_no: str, since: datetime) -> list[Authorisation]:
    """The card's reserved and captured authorisations at this station asked since ``since``."""
    cur = await conn.execute(
        f"""SELECT {_COLUMNS} FROM business.station_fleet_authorisations
            WHERE card_no = %s AND state IN ('reserved', 'captured') AND asked_at >= %s""",  # noqa: S608
        (card_no, since))
    return [Authorisation(*row) for row in await cur.fetchall()]


# --- the fleet cards on the member list ------------------------------------------------------------------

async def fleet_card(conn: psycopg.AsyncConnection, card_no: str | None, plate: str | None, *,
                     lock: bool = False) -> tuple[ListedFleetCard, datetime] | None:
    """The listed fleet card by number or by its vehicle's plate, and when head office made the change;
    ``lock``: FOR UPDATE until the transaction ends (what serialises two pumps' offline asks of one card)."""
    query = """SELECT item, at FROM business.station_member_list WHERE kind = 'fleet_card' AND item IS NOT NULL
               AND """ + ("key = %s" if card_no else "plates @> ARRAY[%s]") + " LIMIT 1"  # noqa: S608 - fixed
    cur = await conn.execute(query + (" FOR UPDATE" if lock else ""), (card_no or plate,))
    row = await cur.fetchone()
    return None if row is None else (ListedFleetCard.model_validate(row[0]), row[1])
