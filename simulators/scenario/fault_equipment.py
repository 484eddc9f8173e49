"""Equipment faults: stuck sensors, probes out, leaks, power loss, charger and dispenser faults.

Each takes the ``Target`` it hits and the fault's arguments and returns how to undo it (None when
it undoes itself, like a puff of gas at a detector, shaped by the fault's duration). A dispenser's
power loss can wait for a fuelling to be under way (``during_fuelling``): the sale it cuts stays
payable in the buffer, is recorded in the tally, and the cashier clears it once power is back.
"""

from __future__ import annotations

from simulators.charger.events import ErrorCode
from simulators.dispenser.states import BufferState, EndReason, FpState
from simulators.scenario.fault_target import (
    Args,
    Target,
    Undo,
    arg_flag,
    arg_float,
    arg_int,
    arg_text,
    undo_by,
    undo_units,
)
from simulators.scenario.tally import PowerLossSale

MID_FUELLING_CL = 500  # "in the middle of a fuelling": at least 5 L on the display


async def stuck_sensor(t: Target, args: Args) -> Undo | None:
    if t.kind == "tank":
        gauge = t.gauge()
        gauge.faults.stuck_level(t.tank(), True)
        return undo_by(lambda: gauge.faults.stuck_level(t.tank(), False))
    if t.kind == "gas_skid":
        skid, sensor = t.skid(), arg_text(args, "sensor", "cascade.high")
        await skid.sync()
        skid.faults.stuck_sensor(sensor, arg_float(args, "value", 0.0) if "value" in args else None)
        return undo_by(lambda: skid.faults.repair_sensor(sensor))
    line, units = t.detectors()
    line.step()
    for unit in units:
        line.faults.stuck_sensor(unit, True)
    return undo_units(units, lambda unit: line.faults.stuck_sensor(unit, False))


async def probe_out(t: Target, args: Args) -> Undo | None:
    if t.kind == "tank":
        gauge = t.gauge()
        gauge.faults.probe_out(t.tank(), True)
        return undo_by(lambda: gauge.faults.probe_out(t.tank(), False))
    line, units = t.detectors()
    for unit in units:
        line.faults.probe_out(unit, True)
    return undo_units(units, lambda unit: line.faults.probe_out(unit, False))


async def leak(t: Target, args: Args) -> Undo | None:
    if t.kind == "tank":
        gauge = t.gauge()
        gauge.faults.leak(t.tank(), arg_float(args, "l_per_h", 5.0))
        return undo_by(lambda: gauge.faults.leak(t.tank(), 0.0))
    line, units = t.detectors()
    for unit in units:
        line.start_leak(unit, arg_float(args, "peak_pct_lel", 40.0), arg_float(args, "rise_s", 30.0),
                        t.duration_s if t.duration_s is not None else 300.0, arg_float(args, "fall_s", 60.0))
    return None


async def power_loss(t: Target, args: Args) -> Undo | None:
    ctx = t.ctx
    if t.kind == "charger":
        charger = t.charger()
        charger.faults.power_loss()
        return undo_by(charger.faults.power_restore)
    if t.kind != "dispenser":
        line, units = t.detectors()
        for unit in units:
            line.faults.power_off(unit)
        return undo_units(units, lambda unit: line.faults.power_on(unit))
    server = t.dispenser()
    if arg_flag(args, "during_fuelling"):
        await _wait_for_fuelling(t, arg_float(args, "max_wait_s", 3600.0))
    t.fired_s = ctx.clock.elapsed()
    server.power_off()
    sales = [
        PowerLossSale(t.code, fp.number, tx.number, tx.volume_cl, tx.amount_fen,
                      payable_during_outage=tx.buffer_state is BufferState.PAYABLE)
        for fp in server.model.view().fuelling_points
        for tx in server.model.transactions(fp.number)
        if tx.end_reason is EndReason.POWER_LOST and ctx.tally.power_loss_sale(t.code, fp.number, tx.number) is None
    ]
    ctx.tally.power_loss_sales.extend(sales)
    for sale in sales:
        ctx.console.event(f"断电中断交易 {t.code}/{sale.fuelling_point} 交易 {sale.transaction} "
                          f"{sale.volume_cl / 100:.2f} 升，待付款",
                          f"power cut transaction {sale.transaction}: {sale.volume_cl / 100:.2f} L, payable")

    async def restore() -> None:
        server.power_on()
        for sale in sales:
            sale.power_back_s = ctx.clock.elapsed()

    return restore


async def _wait_for_fuelling(t: Target, max_wait_s: float) -> None:
    server, clock = t.dispenser(), t.ctx.clock
    until = clock.elapsed() + max_wait_s
    while clock.elapsed() < until:
        server.catch_up()
        points = server.model.view().fuelling_points
        if any(fp.state is FpState.FUELLING and fp.volume_cl >= MID_FUELLING_CL for fp in points):
            return
        await clock.sleep(1.0)


async def charger_fault(t: Target, args: Args) -> Undo | None:
    charger, connector = t.charger(), arg_int(args, "connector", 1)
    info = args.get("info")
    charger.inject_fault(connector, ErrorCode(arg_text(args, "error_code", "GroundFailure")),
                         None if info is None else str(info))
    return undo_by(lambda: charger.clear_fault(connector))


async def fp_error(t: Target, args: Args) -> Undo | None:
    server, fp = t.dispenser(), arg_int(args, "fp", 1)
    server.catch_up()
    server.model.set_fp_error(fp, arg_int(args, "code", 1))

    def repair() -> None:
        server.catch_up()
        server.model.set_fp_error(fp, 0)

    return undo_by(repair)


async def compressor_trip(t: Target, args: Args) -> Undo | None:
    skid = t.skid()
    await skid.sync()
    skid.faults.compressor_trip(arg_int(args, "code", 3))
    return undo_by(skid.model.reset_compressor)


async def gas_dispenser_fault(t: Target, args: Args) -> Undo | None:
    skid, kind, number = t.skid(), arg_text(args, "kind", "cng"), arg_int(args, "number", 1)
    if kind not in ("cng", "lng"):
        raise ValueError(f"kind: expected cng or lng, got {kind!r}")
    await skid.sync()
    skid.faults.dispenser_fault("cng" if kind == "cng" else "lng", number, arg_int(args, "code", 1))
    dispenser = skid.model.cng(number) if kind == "cng" else skid.model.lng(number)
    return undo_by(dispenser.reset)


async def sensor_failure(t: Target, args: Args) -> Undo | None:
    skid, sensor = t.skid(), arg_text(args, "sensor", "cascade.high")
    skid.faults.sensor_failure(sensor)
    return undo_by(lambda: skid.faults.repair_sensor(sensor))


async def vacuum_loss(t: Target, args: Args) -> Undo | None:
    skid = t.skid()
    await skid.sync()
    skid.faults.lng_vacuum_loss()
    return undo_by(skid.faults.restore_lng_vacuum)


async def frozen(t: Target, args: Args) -> Undo | None:
    cameras = t.cameras()
    cameras.faults.frozen(t.code, True)
    return undo_by(lambda: cameras.faults.frozen(t.code, False))
