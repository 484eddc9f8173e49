"""Inventory handlers: record delivery notes, dips, transfers and pump tests, set tolerances, and reconcile a
shift or a day (one unit of work each). docs/inventory.md.

A reconciliation reads the gauge's and the meters' telemetry, the fuellings and the station's master data
(``sources.py``), finds the deliveries in the gauge's data, matches them to their notes, and writes its
results and alarm conditions in the caller's transaction; run again over the same period it finds the same
figures and replaces them (the same keys), so a retried job or a recomputation doubles nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import psycopg

from business_services.audit.model import Actor, AuditEntry
from business_services.inventory import repository, sources
from business_services.inventory.model import (
    DeliveryRule,
    InventoryError,
    Movements,
    Period,
    ReconcileDay,
    ReconcileShift,
    Reconciliation,
    RecordDeliveryNote,
    RecordDip,
    RecordMovement,
    SetTolerance,
    detect_deliveries,
    match_notes,
    reconcile,
    road_loss,
    road_loss_condition,
    season_of,
    station_loss_condition,
    tank_groups,
)
from business_services.messagebus import Handler
from business_services.numbers import STATION_ZONE
from business_services.stations import views as stations
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.inventory import InventoryReconciled
from telemetry.contracts.vcf import vcf20

NOTE_WINDOW = timedelta(hours=12)      # notes read around a period to match its deliveries
DELIVERY_RULE = DeliveryRule()


async def record_delivery_note(c: RecordDeliveryNote, uow: UnitOfWork) -> bool:
    density = c.density_20 or sources.density_for(await _grade_of(uow.conn, c.station, c.tank))
    if c.invoiced_l_20 is not None:
        invoiced = c.invoiced_l_20
    elif c.invoiced_l_observed is not None and c.observed_temperature_c is not None:
        invoiced = c.invoiced_l_observed * vcf20(c.observed_temperature_c, density)
    else:
        raise InventoryError("invoiced_l_20", "请填写标准体积（20 °C），或视体积与油温 (give a volume)")
    added = await repository.add_note(uow.conn, c, invoiced, uow.actor.name)
    if added:
        await uow.audit(AuditEntry("inventory.delivery_note", f"{c.station}/{c.note_no}", c.station, None,
                                   {"tank": c.tank, "supplier": c.supplier, "carrier": c.carrier,
                                    "invoiced_l_20": round(invoiced, 2), "arrived_at": c.arrived_at.isoformat()}))
    return added


async def record_dip(c: RecordDip, uow: UnitOfWork) -> bool:
    density = sources.density_for(await _grade_of(uow.conn, c.station, c.tank))
    volume_20 = c.volume_l * vcf20(c.temperature_c, density)
    added = await repository.add_dip(uow.conn, c, volume_20, uow.actor.name)
    if added:
        await uow.audit(AuditEntry("inventory.dip", f"{c.station}/tank-{c.tank}", c.station, None,
                                   {"dipped_at": c.dipped_at.isoformat(), "level_mm": c.level_mm,
                                    "volume_l": c.volume_l, "temperature_c": c.temperature_c,
                                    "volume_l_20": round(volume_20, 2)}))
    return added


async def record_movement(c: RecordMovement, uow: UnitOfWork) -> bool:
    await _grade_of(uow.conn, c.station, c.tank)
    added = await repository.add_movement(uow.conn, c, uow.actor.name)
    if added:
        await uow.audit(AuditEntry("inventory.movement", f"{c.station}/{c.reference}", c.station, None,
                                   {"tank": c.tank, "kind": c.kind, "litres": c.litres, "at": c.at.isoformat()}))
    return added


async def set_tolerance(c: SetTolerance, uow: UnitOfWork) -> bool:
    before = await repository.set_tolerance(uow.conn, c.tolerance)
    if before is None:
        return False
    t = c.tolerance
    await uow.audit(AuditEntry("inventory.tolerance", f"{t.grade}/{t.season}", None,
                               {"station_loss_pct": before.station_loss_pct, "station_loss_min_l":
                                before.station_loss_min_l, "road_loss_pct": before.road_loss_pct},
                               {"station_loss_pct": t.station_loss_pct, "station_loss_min_l": t.station_loss_min_l,
                                "road_loss_pct": t.road_loss_pct}))
    return True


async def reconcile_day(c: ReconcileDay, uow: UnitOfWork) -> list[Reconciliation]:
    return await _day(uow, c.station, c.day)


async def reconcile_shift(c: ReconcileShift, uow: UnitOfWork) -> list[Reconciliation]:
    window = await sources.shift_window(uow.conn, c.station, c.shift_no)
    if window is None:
        raise InventoryError("shift_no", f"班次 {c.shift_no} 不存在或尚未交班 (no such closed shift)")
    return await reconcile_period(uow, c.station, "shift", c.shift_no, *window)


async def reconcile_period(uow: UnitOfWork, station: str, period: Period, key: str, start: datetime,
                           end: datetime, rule: DeliveryRule = DELIVERY_RULE) -> list[Reconciliation]:
    """Every tank group of the station over [start, end): deliveries found and matched, the reconciliation
    and its alarm conditions written; a result whose figures changed goes up to head office
    (``inventory.reconciled`` through the outbox)."""
    conn = uow.conn
    tanks = await sources.tanks(conn, station)
    if not tanks:
        raise InventoryError("station", f"站点 {station} 没有油罐主数据 (the station has no tanks in master data)")
    nozzles = await sources.nozzles(conn, station)
    notes = await repository.notes_between(conn, station, start - NOTE_WINDOW, end + NOTE_WINDOW)
    season = season_of(start.astimezone(STATION_ZONE).date())
    results = []
    for tank, (grade, numbers) in tank_groups(tanks).items():
        density = sources.density_for(grade)
        refs = [n for n in nozzles if n.grade == grade]
        tolerance = await repository.tolerance(conn, grade, season)
        opening: float | None = 0.0
        closing: float | None = 0.0
        series_all = []
        received_total = 0.0
        for number in numbers:
            series = await sources.gauge_series(conn, station, number, start - sources.READING_WITHIN, end, density)
            series_all += [s for s in series if s.at >= start]
            first = [s for s in series if s.at <= start]
            last = series[-1] if series and series[-1].at >= end - sources.READING_WITHIN else None
            opening = None if opening is None or not first else opening + first[-1].volume_l
            closing = None if closing is None or last is None else closing + last.volume_l
            found = [d for d in detect_deliveries(series, rule, until=end) if start <= d.started_at < end]
            matched = match_notes([(number, d) for d in found], notes)
            for index, delivery in enumerate(found):
                sold = await sources.sold_between(conn, station, refs, delivery.started_at, delivery.ended_at)
                received = delivery.rise_l + sold * vcf20(series[-1].temperature_c, density)
                received_total += received
                note = matched.get(index)
                loss = None if note is None else road_loss(note.invoiced_l, received, tolerance)
                await repository.save_delivery(conn, station, number, delivery, sold, received,
                                               None if note is None else note.note_no, loss)
                if note is not None and loss is not None:
                    await repository.signal(conn, road_loss_condition(station, number, note.note_no, loss))
        mean_t = sources.mean_temperature(series_all)
        sales_vcf = 1.0 if mean_t is None else vcf20(mean_t, density)
        transactions_l, tx_meters = await sources.transactions(conn, station, refs, start, end)
        meters = await sources.nozzle_meters(conn, station, refs, start, end)
        sales_observed = meters if meters is not None else (tx_meters if tx_meters is not None else 0.0)
        moved = await repository.movements(conn, station, list(numbers), start, end)
        result = reconcile(
            tank=tank, tanks=numbers, grade=grade, period=period, period_key=key, starts_at=start, ends_at=end,
            opening_l=opening, closing_l=closing, deliveries_l=received_total, sales_observed_l=sales_observed,
            sales_vcf=sales_vcf, movements=Movements(moved.get("transfer_in", 0.0), moved.get("transfer_out", 0.0),
                                                     moved.get("pump_test", 0.0)),
            transactions_l=transactions_l, nozzle_meters_l=meters,
            dip_open_l=await sources.dip_at(conn, station, numbers, start),
            dip_close_l=await sources.dip_at(conn, station, numbers, end), tolerance=tolerance)
        computed_at = await repository.save_reconciliation(conn, station, result)
        if computed_at is not None:
            event = reconciled_event(station, result, computed_at)
            uow.emit(await stations.event_topic_for(conn, station, event.TYPE),
                     event.envelope(source=f"station:{station}", subject=station, event_id=event.event_id()))
        if result.variance_l is not None:
            await repository.signal(conn, station_loss_condition(station, result))
        results.append(result)
    return results


async def _grade_of(conn: psycopg.AsyncConnection, station: str, tank: int) -> str:
    for number, grade in await sources.tanks(conn, station):
        if number == tank:
            return grade
    raise InventoryError("tank", f"站点 {station} 没有 {tank} 号罐 (no such tank at the station)")


def reconciled_event(station: str, r: Reconciliation, computed_at: datetime) -> InventoryReconciled:
    def litres(value: float | None) -> Decimal | None:
        return None if value is None else Decimal(f"{value:.2f}")
    return InventoryReconciled(
        station=station, tank=r.tank, tanks=r.tanks, grade=r.grade, period=r.period, period_key=r.period_key,
        starts_at=r.starts_at, ends_at=r.ends_at, opening_l=litres(r.opening_l),
        deliveries_l=Decimal(f"{r.deliveries_l:.2f}"), sales_l=Decimal(f"{r.sales_l:.2f}"), book_l=litres(r.book_l),
        closing_l=litres(r.closing_l), variance_l=litres(r.variance_l),
        loss_pct=None if r.loss_pct is None else Decimal(f"{r.loss_pct:.3f}"), limit_l=Decimal(f"{r.limit_l:.2f}"),
        status=r.status, detail=repository.detail_json(r), computed_at=computed_at)  # type: ignore[arg-type]


async def copy_reconciled(event: CloudEvent, uow: UnitOfWork) -> bool:
    """Head office: a station's result, kept as its copy (the newest by ``computed_at``)."""
    return await repository.copy_reconciliation(uow.conn, InventoryReconciled.from_event(event))


async def reconcile_due(conn: psycopg.AsyncConnection, now: datetime) -> int:
    """The job's work on this database: for each station whose shifts it owns, yesterday (a local day) and
    every shift closed in the last 36 hours. Returns how many tank results it wrote."""
    written = 0
    today = now.astimezone(STATION_ZONE).date()
    async with UnitOfWork(conn, Actor.system("jobs")) as uow:
        for station in await sources.stations_with_shifts(conn):
            if not await sources.tanks(conn, station):
                continue
            written += len(await _day(uow, station, today - timedelta(days=1)))
            for shift_no in await sources.closed_shifts_between(conn, station, now - timedelta(hours=36), now):
                window = await sources.shift_window(conn, station, shift_no)
                if window is not None:
                    written += len(await reconcile_period(uow, station, "shift", shift_no, *window))
    return written


async def _day(uow: UnitOfWork, station: str, day: date) -> list[Reconciliation]:
    start = datetime.combine(day, time(0), STATION_ZONE).astimezone(UTC)
    return await reconcile_period(uow, station, "day", day.isoformat(), start, start + timedelta(days=1))


EVENT_HANDLERS: dict[str, list[Handler]] = {}        # the station computes; head office: COPY_HANDLERS
COMMAND_HANDLERS: dict[type, Handler] = {
    RecordDeliveryNote: record_delivery_note, RecordDip: record_dip, RecordMovement: record_movement,
    SetTolerance: set_tolerance, ReconcileDay: reconcile_day, ReconcileShift: reconcile_shift,
}

#: Head office's bus (forecourt/roles.py): the copies of the stations' results.
COPY_HANDLERS: dict[str, list[Handler]] = {InventoryReconciled.TYPE: [copy_reconciled]}
