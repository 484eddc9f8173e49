"""The customer's receipt of one order: a printable page (58 mm wide) and ESC/POS bytes for the station's
receipt printer, and sending them to it (a file, or a network printer ``host:9100``).

ESC/POS text is Chinese in GB18030: the printer is put in Chinese character mode (``FS &``) and the text
sent as GB18030 bytes, the way 58 mm Chinese thermal printers expect; python-escpos does the layout (align,
bold, cut) through its ``Dummy`` printer, which collects the bytes. A reprint says 重印 COPY and counts.
"""

from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import psycopg
from escpos.printer import Dummy

from business_services.numbers import STATION_ZONE
from business_services.payments import repository
from business_services.station_members import views as station_members
from telemetry.contracts.events.payments import METHOD_NAMES, Method

CHINESE_MODE = b"\x1c\x26"          # FS &: select Chinese character mode (GB18030 double-byte text)
PAYMENT_WIDTH = 32                   # characters on a 58 mm line (a Chinese character is two)


@dataclass(frozen=True, slots=True)
class Receipt:
    station: str
    station_name: str
    order_no: str
    nozzle: int | None
    grade: int | None
    volume_l: Decimal | None
    price_fen_per_l: int | None
    amount_fen: int
    paid_fen: int
    payments: tuple[tuple[str, int], ...]        # (method label, fen) in the order taken
    cashier: str
    at: datetime
    member: tuple[tuple[str, str], ...] = ()     # the member's lines (station_members.views.receipt_lines)


def yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


async def load(conn: psycopg.AsyncConnection, station: str, order_no: str) -> Receipt | None:
    """The order's receipt (read-only: the order's columns the receipt shows), or None."""
    cur = await conn.execute(
        """SELECT o.order_no, coalesce(s.name, o.station), o.nozzle, o.grade, o.volume_l, o.price_fen_per_l,
                  o.amount_fen, o.paid_fen, coalesce(o.paid_at, o.created_at), o.member_no
           FROM business.orders o LEFT JOIN business.stations s ON s.code = o.station
           WHERE o.station = %s AND o.order_no = %s""", (station, order_no))
    row = await cur.fetchone()
    if row is None:
        return None
    paid = await repository.of_order(conn, station, order_no)
    cur = await conn.execute(
        """SELECT p.cashier FROM business.payment_allocations a JOIN business.payments p USING (payment_no)
           WHERE a.order_no = %s AND p.state = 'succeeded' ORDER BY p.settled_at DESC LIMIT 1""", (order_no,))
    cashier = await cur.fetchone()
    tenders = tuple((METHOD_NAMES[Method(m)], f) for m, f, _ in paid if f > 0)
    return Receipt(station, row[1], row[0], row[2], row[3], row[4], row[5], int(row[6]), int(row[7]),
                   tenders, cashier[0] if cashier else "", row[8],
                   tuple(await station_members.receipt_lines(conn, order_no, row[9])))


def _lines(r: Receipt) -> list[tuple[str, str]]:
    local = r.at.astimezone(STATION_ZONE)
    lines = [("订单号", r.order_no)]
    if r.nozzle is not None:
        lines += [("油枪", f"{r.nozzle} 号枪"), ("油品", f"{r.grade}#"), ("升数", f"{r.volume_l} L"),
                  ("单价", f"{yuan(r.price_fen_per_l or 0)} 元/L")]
    lines.append(("金额", f"{yuan(r.amount_fen)} 元"))
    lines += [(label, f"{yuan(fen)} 元") for label, fen in r.payments]
    lines += list(r.member)
    lines += [("时间", f"{local:%Y-%m-%d %H:%M:%S}"), ("收银员", r.cashier or "-")]
    return lines


def page(r: Receipt, copy_no: int = 1) -> str:
    """The printable page: 58 mm wide, Chinese."""
    rows = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in _lines(r))
    mark = '<p class="copy">重印 COPY</p>' if copy_no > 1 else ""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>小票 {html.escape(r.order_no)}</title>
<style>
@page {{ size: 58mm auto; margin: 2mm; }}
body {{ width: 54mm; margin: 0 auto; font: 12px/1.4 "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; }}
h1 {{ font-size: 14px; text-align: center; margin: 0 0 2mm; }}
table {{ width: 100%; border-collapse: collapse; }} th {{ text-align: left; font-weight: normal; }}
td {{ text-align: right; }} .copy {{ text-align: center; font-weight: bold; }}
p.thanks {{ text-align: center; margin-top: 3mm; }}
</style></head>
<body><h1>{html.escape(r.station_name)}</h1>{mark}
<table>
{rows}
</table>
<p class="thanks">谢谢惠顾，欢迎再次光临</p></body></html>
"""


def escpos(r: Receipt, copy_no: int = 1) -> bytes:
    """The receipt as ESC/POS bytes for a 58 mm printer."""
    printer = Dummy()

    def text(value: str) -> None:
        printer._raw(CHINESE_MODE + value.encode("gb18030"))

    printer.set(align="center", bold=True, double_height=True)
    text(r.station_name + "\n")
    printer.set(align="center", bold=True)
    if copy_no > 1:
        text(f"重印 COPY ({copy_no})\n")
    printer.set(align="left", bold=False)
    for key, value in _lines(r):
        gap = PAYMENT_WIDTH - len(key.encode("gb18030")) - len(value.encode("gb18030"))
        text(f"{key}{' ' * max(gap, 1)}{value}\n")
    printer.set(align="center")
    text("谢谢惠顾，欢迎再次光临\n")
    printer.cut()
    return bytes(printer.output)


async def count_print(conn: psycopg.AsyncConnection, order_no: str, at: datetime) -> int:
    """This print's number for the order (1: the first; above: a reprint)."""
    cur = await conn.execute(
        """INSERT INTO business.receipt_prints (order_no, printed, last_at) VALUES (%s, 1, %s)
           ON CONFLICT (order_no) DO UPDATE SET printed = business.receipt_prints.printed + 1, last_at = %s
           RETURNING printed""", (order_no, at, at))
    (printed,) = await cur.fetchone() or (1,)
    return int(printed)


async def send(target: str, data: bytes, timeout_s: float = 5.0) -> None:
    """Send to ``host:port`` (a network printer, raw TCP, usually port 9100) or append to a file path."""
    host, _, port = target.rpartition(":")
    if host and port.isdigit() and "/" not in target:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout_s)
        try:
            writer.write(data)
            await asyncio.wait_for(writer.drain(), timeout_s)
        finally:
            writer.close()
            await writer.wait_closed()
        return
    await asyncio.to_thread(_append, Path(target), data)


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as out:
        out.write(data)
