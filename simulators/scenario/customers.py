"""Customers at the pumps: a car that fuels at a dispenser, a CNG car or LNG truck at the gas skid.

Each is one coroutine on the scenario clock, acting on the simulators' models in-process as the
people at the forecourt would: the driver pulls in and lifts the nozzle, the attendant authorises
the preset, the driver hangs up when the preset is met (or when the tank is full), then pays at
the counter, and the cashier clears the sale. A sale cut by a power loss stays payable in the
dispenser's buffer; the cashier clears it once power is back.
"""

from __future__ import annotations

import random

from simulators.dispenser.server import DispenserServer
from simulators.dispenser.states import OPEN_TRANSACTION_STATES, CommandResult, FpState, PresetType
from simulators.dispenser.transactions import Transaction, volume_for_amount_cl
from simulators.gas_skid.cng_dispenser import CngDispenser, CngDispenserState
from simulators.gas_skid.errors import CommandRefused
from simulators.gas_skid.lng_dispenser import LngDispenser, LngDispenserState
from simulators.scenario.context import Context
from simulators.scenario.lanes import Spot
from simulators.scenario.traffic import FuelCar, GasVehicle, describe_preset

#: Longest a fuelling or a gas fill may take before the customer gives up, simulated seconds.
MAX_FILL_S = 1800.0
#: How often a customer waiting to pay tries again while the dispenser has no power.
POWER_RETRY_S = 5.0
GAS_POLL_S = 5.0
_PRESET = {"amount": PresetType.AMOUNT, "volume": PresetType.VOLUME, "full": PresetType.NONE}


async def fuel_car(ctx: Context, car: FuelCar) -> None:
    who = f"车{car.habits.number} car{car.habits.number}"
    zh_preset, en_preset = describe_preset(car)
    grade = ctx.grade_name(car.grade)
    zh, en = f"{who} 到达 {grade} {zh_preset}", f"{who} arrives for {grade}, {en_preset}"
    if not ctx.station.grade_available(car.grade):
        ctx.tally.cars.arrived += 1
        ctx.tally.cars.left += 1
        ctx.console.event(f"{zh}，{grade} 缺油离开", f"{en}: {grade} is out of stock, drove on")
        return
    traffic = ctx.config.traffic.fuel
    spot = await ctx.arrive(ctx.tally.cars, str(car.grade), who, car.habits, traffic.max_queue, zh, en)
    if spot is None:
        return
    try:
        ctx.show_car(spot)
        await ctx.clock.sleep(car.habits.pull_in_s)
        sale = await _fuel(ctx, spot, car, who)
        if sale is not None:
            await ctx.clock.sleep(car.habits.pay_s)
            await _pay(ctx, ctx.station.dispenser(spot.device), spot, sale, who)
    finally:
        ctx.hide_car(spot)
        ctx.lanes.release(spot)


async def _fuel(ctx: Context, spot: Spot, car: FuelCar, who: str) -> Transaction | None:
    server = ctx.station.dispenser(spot.device)
    model, fp, nozzle = server.model, spot.point, spot.nozzles[car.grade]
    server.catch_up()
    if not ctx.station.grade_available(car.grade) or model.lift_nozzle(fp, nozzle) is not CommandResult.OK:
        _refused(ctx, who, spot, "无法提枪", "cannot lift the nozzle")
        return None
    preset_type = _PRESET[car.preset]
    if model.authorise(fp, preset_type, car.value if preset_type else 0, nozzle) is not CommandResult.OK:
        model.hang_nozzle(fp, nozzle)
        _refused(ctx, who, spot, "授权被拒", "authorisation refused")
        return None
    number = model.fp_view(fp).transaction_number
    flow_l_s = model.config.fuelling_points[fp - 1].nozzles[nozzle - 1].max_flow_l_min / 60
    started = ctx.clock.elapsed()
    while ctx.clock.elapsed() - started < MAX_FILL_S:
        view = model.fp_view(fp)
        if view.state not in OPEN_TRANSACTION_STATES:
            break
        target = car.value if car.preset != "amount" else volume_for_amount_cl(car.value, view.price_fen)
        remaining_cl = target - view.volume_cl
        if car.preset == "full" and remaining_cl <= 0:
            break  # the nozzle clicks off: the car's tank is full
        running = view.state in (FpState.STARTED, FpState.FUELLING)
        wait = max(remaining_cl, 1) / 100 / flow_l_s if running else POWER_RETRY_S
        await ctx.clock.sleep(min(max(wait, 0.05), 15.0))
        server.catch_up()
    model.hang_nozzle(fp, nozzle)
    sale = next((t for t in model.transactions(fp) if t.number == number), None)
    if sale is None:
        _refused(ctx, who, spot, "未加到油", "no fuel delivered")
        return None
    ctx.tally.fill(car.grade, sale.volume_cl, sale.amount_fen)
    reason = sale.end_reason.name.lower()
    ctx.console.event(
        f"{who} 加油完成 {spot.label} {ctx.grade_name(car.grade)} {sale.volume_cl / 100:.2f} 升 "
        f"{sale.amount_fen / 100:.2f} 元 (交易 {sale.number})",
        f"filled {sale.volume_cl / 100:.2f} L for {sale.amount_fen} fen, transaction {sale.number}, {reason}",
    )
    return sale


async def _pay(ctx: Context, server: DispenserServer, spot: Spot, sale: Transaction, who: str) -> None:
    told = False
    while True:
        server.catch_up()
        result = server.model.clear(spot.point, sale.number)
        if result is not CommandResult.REFUSED or server.model.powered:
            break  # cleared, or already cleared / gone from the buffer (the POS was quicker)
        if not told:
            told = True
            ctx.console.event(f"{who} 停电，等待来电后付款", f"{who}: the dispenser has no power, waits to pay")
        await ctx.clock.sleep(POWER_RETRY_S)
    record = ctx.tally.power_loss_sale(spot.device, spot.point, sale.number)
    if record is not None:
        record.paid_s = ctx.clock.elapsed()
    ctx.tally.cars.served += 1
    ctx.console.event(f"{who} 付款 {sale.amount_fen / 100:.2f} 元，离开", f"{who} paid {sale.amount_fen} fen, leaves")


def _refused(ctx: Context, who: str, spot: Spot, zh: str, en: str) -> None:
    ctx.tally.cars.refused += 1
    ctx.tally.cars.left += 1
    ctx.console.event(f"{who} {spot.label} {zh}，离开", f"{who} at {spot.label}: {en}, drove on")


async def gas_vehicle(ctx: Context, vehicle: GasVehicle) -> None:
    name = "CNG" if vehicle.gas == "cng" else "LNG"
    who = f"{name}车{vehicle.habits.number} {name}-vehicle{vehicle.habits.number}"
    preset_zh = f"预置 {vehicle.preset_kg:g} kg" if vehicle.preset_kg else "加满"
    preset_en = f"preset {vehicle.preset_kg:g} kg" if vehicle.preset_kg else "fill up"
    traffic = ctx.config.traffic.cng if vehicle.gas == "cng" else ctx.config.traffic.lng
    zh, en = f"{who} 到达 {preset_zh}", f"{who} arrives, {preset_en}"
    spot = await ctx.arrive(ctx.tally.gas, vehicle.gas, who, vehicle.habits, traffic.max_queue, zh, en)
    if spot is None:
        return
    try:
        ctx.show_car(spot)
        await ctx.clock.sleep(vehicle.habits.pull_in_s)
        dispenser = await _start_gas_fill(ctx, spot, vehicle, who)
        if dispenser is None:
            return
        started = ctx.clock.elapsed()
        while ctx.clock.elapsed() - started < MAX_FILL_S and _gas_busy(dispenser):
            await ctx.clock.sleep(GAS_POLL_S)
            await _sync_skid(ctx)
        if _gas_busy(dispenser):
            dispenser.stop()
        kg, fen = dispenser.mass_kg, dispenser.amount_fen
        ctx.tally.gas_kg[vehicle.gas] += kg
        ctx.tally.gas_fen[vehicle.gas] += fen
        ctx.console.event(f"{who} 加气完成 {spot.label} {kg:.2f} kg {fen / 100:.2f} 元 ({dispenser.stop_reason})",
                          f"filled {kg:.2f} kg {name} for {fen} fen ({dispenser.stop_reason})")
        await ctx.clock.sleep(vehicle.habits.pay_s)
        await _sync_skid(ctx)
        if int(dispenser.state) == _complete_state(dispenser):
            dispenser.reset()  # hose back on the dispenser (a faulted one waits for the technician)
        ctx.tally.gas.served += 1
        ctx.console.event(f"{who} 付款 {fen / 100:.2f} 元，离开", f"{who} paid {fen} fen, leaves")
    finally:
        ctx.hide_car(spot)
        ctx.lanes.release(spot)


async def _start_gas_fill(
    ctx: Context, spot: Spot, vehicle: GasVehicle, who: str
) -> CngDispenser | LngDispenser | None:
    skid = ctx.station.skid
    if skid is None:
        return None
    await _sync_skid(ctx)
    rng = random.Random(vehicle.vehicle_seed)
    try:
        if vehicle.gas == "cng":
            cng = skid.model.cng(spot.point)
            skid.model.start_cng_fill(spot.point, vehicle.preset_kg, cng.draw_vehicle(rng))
            return cng
        lng = skid.model.lng(spot.point)
        truck = lng.draw_vehicle(rng, skid.model.lng_tank.liquid_density)
        skid.model.start_lng_fill(spot.point, vehicle.preset_kg, truck)
        return lng
    except CommandRefused as refused:
        ctx.tally.gas.refused += 1
        ctx.tally.gas.left += 1
        ctx.console.event(f"{who} {spot.label} 无法加气，离开", f"{who} at {spot.label}: refused ({refused.message})")
        return None


def _gas_busy(dispenser: CngDispenser | LngDispenser) -> bool:
    if isinstance(dispenser, CngDispenser):
        return dispenser.state is CngDispenserState.FILLING
    return dispenser.busy


def _complete_state(dispenser: CngDispenser | LngDispenser) -> int:
    return CngDispenserState.COMPLETE if isinstance(dispenser, CngDispenser) else LngDispenserState.COMPLETE


async def _sync_skid(ctx: Context) -> None:
    if ctx.station.skid is not None:
        await ctx.station.skid.sync()
