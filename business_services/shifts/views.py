"""Read queries of the shifts context, for the API and for other contexts.

``report`` is the one shape of a shift's figures: live while it is open (``GET …/shifts/current``), and the
same dict frozen into the shift's row at close, so a closed shift's report never changes afterwards.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from business_services.numbers import STATION_ZONE
from business_services.orders import views as orders
from business_services.pages import After, Sort, keyset_page
from business_services.shifts.model import totalizer_difference
from business_services.stations import views as stations
from telemetry.contracts.events.payments import METHOD_NAMES, Method

_OPEN = "SELECT shift_no FROM business.shifts WHERE station = %s AND status = 'open'"
_OPEN_LOCKED = _OPEN + " FOR SHARE"
_COLUMNS = "shift_no, station, status, definition, opened_by, opened_at, closed_by, closed_at, report"



async def open_shift(conn: psycopg.AsyncConnection, station: str, *, lock: bool = False) -> str | None:
    """The number of the station's open shift, or None. ``lock``: hold its row FOR SHARE until the caller's
    transaction ends, so the shift cannot close meanwhile (a payment taken in it counts in it)."""
    query = _OPEN_LOCKED if lock else _OPEN
    cur = await conn.execute(query, (station,))
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def definitions(conn: psycopg.AsyncConnection, station: str) -> list[tuple[str, time, time]]:
    """The station's shift definitions (name, starts, ends), from its master data."""
    return [(d["name"], time.fromisoformat(d["starts"]), time.fromisoformat(d["ends"]))
            for d in await stations.shifts_json(conn, station)]


def _litres(value: Any) -> str | None:
    return None if value is None else str(Decimal(value).quantize(Decimal("0.01")))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def _takings(conn: psycopg.AsyncConnection, shift_no: str) -> list[dict[str, Any]]:
    cur = await conn.execute(
        """SELECT method, count(*) FILTER (WHERE kind = 'captured'), coalesce(sum(amount_fen) FILTER
                  (WHERE kind = 'captured'), 0), count(*) FILTER (WHERE kind = 'refunded'),
                  coalesce(sum(amount_fen) FILTER (WHERE kind = 'refunded'), 0)
           FROM business.shift_takings WHERE shift_no = %s GROUP BY method ORDER BY method""", (shift_no,))
    return [{"method": r[0], "method_name": METHOD_NAMES.get(Method(r[0]), r[0]), "payments": int(r[1]),
             "captured_fen": int(r[2]), "refunds": int(r[3]), "refunded_fen": int(r[4]),
             "net_fen": int(r[2]) - int(r[4])} for r in await cur.fetchall()]


async def _nozzles(conn: psycopg.AsyncConnection, shift_no: str) -> list[dict[str, Any]]:
    """Per nozzle: sold volume and amount, start and end readings, and the 泵码差异 between them."""
    cur = await conn.execute("SELECT pump, fuelling_point, nozzle, start_l, start_source, end_l "
                             "FROM business.shift_nozzles WHERE shift_no = %s", (shift_no,))
    readings = {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in await cur.fetchall()}
    sold: dict[tuple[str, int, int], dict[str, Any]] = {}
    for row in await orders.sales_by_nozzle(conn, shift_no):
        key = (str(row["pump"]), int(str(row["fuelling_point"])), int(str(row["nozzle"])))
        entry = sold.setdefault(key, {"grade": row["grade"], "orders": 0, "volume_l": Decimal(0), "amount_fen": 0})
        entry["orders"] += row["orders"]
        entry["volume_l"] += Decimal(str(row["volume_l"]))
        entry["amount_fen"] += row["amount_fen"]
    result = []
    for key in sorted(set(readings) | set(sold)):
        start_l, source, end_l = readings.get(key, (None, None, None))
        entry = sold.get(key, {"grade": None, "orders": 0, "volume_l": Decimal(0), "amount_fen": 0})
        result.append({"pump": key[0], "fuelling_point": key[1], "nozzle": key[2], "grade": entry["grade"],
                       "orders": entry["orders"], "volume_l": _litres(entry["volume_l"]),
                       "amount_fen": entry["amount_fen"], "start_l": _litres(start_l), "start_source": source,
                       "end_l": _litres(end_l),
                       "difference_l": _litres(totalizer_difference(start_l, end_l, entry["volume_l"]))})
    return result


def _by_grade(nozzles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    grades: dict[Any, dict[str, Any]] = defaultdict(lambda: {"orders": 0, "volume_l": Decimal(0), "amount_fen": 0})
    for n in nozzles:
        if n["orders"]:
            g = grades[n["grade"]]
            g["orders"] += n["orders"]
            g["volume_l"] += Decimal(n["volume_l"])
            g["amount_fen"] += n["amount_fen"]
    return [{"grade": grade, **g, "volume_l": _litres(g["volume_l"])}
            for grade, g in sorted(grades.items(), key=lambda item: str(item[0]))]


def _unpaid_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"order_no": row["order_no"], "shift_no": row["shift_no"], "amount_fen": row["amount_fen"],
            "paid_fen": row["paid_fen"], "outstanding_fen": row["amount_fen"] - row["paid_fen"],
            "fuelled_at": _iso(row["fuelled_at"])}


async def live_report(conn: psycopg.AsyncConnection, shift: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The figures of an open shift as they stand (the handover freezes this dict with the cash count)."""
    shift_no = shift["shift_no"]
    nozzles = await _nozzles(conn, shift_no)
    takings = await _takings(conn, shift_no)
    unpaid = await orders.unpaid(conn, shift["station"])
    return {
        "shift_no": shift_no, "station": shift["station"], "status": shift["status"],
        "definition": shift["definition"], "person_in_charge": shift["opened_by"],
        "opened_at": _iso(shift["opened_at"]), "closed_at": _iso(shift["closed_at"]),
        "closed_by": shift["closed_by"],
        "hours": round((now - shift["opened_at"]).total_seconds() / 3600, 2),
        "order_count": sum(n["orders"] for n in nozzles),
        "sales_fen": sum(n["amount_fen"] for n in nozzles),
        "volume_l": _litres(sum((Decimal(n["volume_l"]) for n in nozzles), Decimal(0))),
        "by_grade": _by_grade(nozzles), "by_nozzle": nozzles,
        "takings": takings, "takings_fen": sum(t["net_fen"] for t in takings),
        "unpaid": [_unpaid_json(o) for o in unpaid if o["shift_no"] == shift_no],
        "carried": [_unpaid_json(o) for o in unpaid if o["shift_no"] != shift_no],
        "cash": None, "override_reason": None,
    }


async def shift(conn: psycopg.AsyncConnection, station: str, shift_no: str) -> dict[str, Any] | None:
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM business.shifts WHERE station = %s AND shift_no = %s",  # noqa: S608
                             (station, shift_no))
    row = await cur.fetchone()
    return None if row is None else dict(zip(_COLUMNS.split(", "), row, strict=True))


async def report(conn: psycopg.AsyncConnection, station: str, shift_no: str, now: datetime) -> dict[str, Any] | None:
    """The shift's report: frozen at close, or live while open; None when the station has no such shift."""
    found = await shift(conn, station, shift_no)
    if found is None:
        return None
    if found["report"] is not None:
        return dict(found["report"])
    return await live_report(conn, found, now)


NEWEST_FIRST = Sort("opened_at", datetime, descending=True, tiebreak="shift_no", tiebreak_kind=str)


async def history(conn: psycopg.AsyncConnection, station: str, *, day_from: date | None, day_to: date | None,
                  person: str, after: After | None, limit: int) -> tuple[list[dict[str, Any]], int, After | None]:
    """The station's shifts, newest first (keyset pages); days are station-local (opened on that day)."""
    query = """SELECT shift_no, status, definition, opened_by, opened_at, closed_by, closed_at,
                      report->'sales_fen' AS sales_fen, report->'takings_fen' AS takings_fen,
                      report->'cash'->'over_short_fen' AS over_short_fen
               FROM business.shifts WHERE station = %(station)s
                 AND (%(since)s::timestamptz IS NULL OR opened_at >= %(since)s)
                 AND (%(until)s::timestamptz IS NULL OR opened_at < %(until)s)
                 AND (%(person)s = '' OR opened_by = %(person)s OR closed_by = %(person)s)"""
    params = {"station": station, "person": person,
              "since": None if day_from is None else datetime.combine(day_from, time(), STATION_ZONE),
              "until": None if day_to is None else datetime.combine(day_to + timedelta(days=1), time(), STATION_ZONE)}
    rows, total, last = await keyset_page(conn, query, params, NEWEST_FIRST, limit, after)
    items = [{"shift_no": r["shift_no"], "status": r["status"], "definition": r["definition"],
              "person_in_charge": r["opened_by"], "opened_at": _iso(r["opened_at"]), "closed_by": r["closed_by"],
              "closed_at": _iso(r["closed_at"]), "sales_fen": r["sales_fen"], "takings_fen": r["takings_fen"],
              "over_short_fen": r["over_short_fen"]} for r in rows]
    return items, total, last
