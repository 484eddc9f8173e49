"""Display-format (human-readable) reports: ``I20100`` inventory and ``I20200`` deliveries.

Lines end in CR LF (``codec.build_display_frame`` adds them); the date reads like the manual's
(``JAN 15, 2026  2:30 PM``) on the console's local clock. Units are metric: litres, mm, °C. The
product label is UTF-8 (Chinese labels allowed) and padded to 20 columns by display width.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, tzinfo

from simulators.tank_gauge.records import DeliveryRecord, TankReading, TankStatus

LABEL_COLUMNS = 20
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
INVENTORY_HEADER = (
    "TANK PRODUCT               " + f"{'VOLUME':>9}{'TC VOLUME':>10}{'ULLAGE':>9}{'HEIGHT':>9}{'WATER':>9}{'TEMP':>9}"
)


def console_datetime(moment: datetime, tz: tzinfo) -> str:
    """``JAN 15, 2026  2:30 PM`` (hour padded to 2 columns) on the local clock ``tz``."""
    local = moment.astimezone(tz)
    hour = local.hour % 12 or 12
    noon = "AM" if local.hour < 12 else "PM"
    return f"{_MONTHS[local.month - 1]} {local.day}, {local.year} {hour:>2}:{local.minute:02d} {noon}"


def pad_label(label: str, columns: int = LABEL_COLUMNS) -> str:
    """``label`` cut or padded to ``columns`` screen columns (CJK characters take two)."""
    out, used = [], 0
    for char in label:
        width = 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
        if used + width > columns:
            break
        out.append(char)
        used += width
    return "".join(out) + " " * (columns - used)


def _heading(title: str, moment: datetime, tz: tzinfo, station_header: tuple[str, ...]) -> list[str]:
    return [console_datetime(moment, tz), "", *station_header, "", title, ""]


def inventory_lines(
    moment: datetime, tz: tzinfo, station_header: tuple[str, ...], rows: list[tuple[TankReading, str]]
) -> list[str]:
    """The ``I201`` report: one line per (reading, label)."""
    lines = [*_heading("IN-TANK INVENTORY", moment, tz, station_header), INVENTORY_HEADER]
    for reading, label in rows:
        start = f"{reading.tank:>3}  {pad_label(label)}  "
        if reading.status & TankStatus.INVALID_FUEL_HEIGHT:
            lines.append(start + "PROBE OUT")
            continue
        lines.append(
            start + f"{reading.volume_l:>9.0f}{reading.tc_volume_l:>10.0f}{reading.ullage_l:>9.0f}"
            f"{reading.height_mm:>9.1f}{reading.water_mm:>9.1f}{reading.temperature_c:>9.2f}"
        )
    return lines


def _delivery_line(name: str, moment: datetime | None, tz: tzinfo, values: tuple[float, ...]) -> str:
    when = console_datetime(moment, tz) if moment is not None else ""
    numbers = "".join(f"{value:>{width}.{digits}f}" for value, (width, digits) in zip(
        values, ((9, 0), (10, 0), (8, 1), (8, 2), (9, 1)), strict=False))
    return f"{name:>9}: {when:<22}{numbers}"


def delivery_lines(
    moment: datetime, tz: tzinfo, station_header: tuple[str, ...],
    tanks: list[tuple[int, str, list[DeliveryRecord]]],
) -> list[str]:
    """The ``I202`` report: per tank, END/START/AMOUNT lines for each delivery, newest first."""
    lines = _heading("DELIVERY REPORT", moment, tz, station_header)
    for tank, label, deliveries in tanks:
        lines += [f"T {tank}:{label}",
                  "INCREASE   DATE / TIME              LITRES TC LITRES WATER MM  TEMP C HEIGHT MM", ""]
        for d in deliveries:
            lines.append(_delivery_line("END", d.end, tz, (d.end_volume_l, d.end_tc_volume_l, d.end_water_mm,
                                                           d.end_temperature_c, d.end_height_mm)))
            lines.append(_delivery_line("START", d.start, tz, (d.start_volume_l, d.start_tc_volume_l,
                                                               d.start_water_mm, d.start_temperature_c,
                                                               d.start_height_mm)))
            lines.append(_delivery_line("AMOUNT", None, tz, (d.volume_l, d.tc_volume_l)))
            lines.append("")
    return lines
