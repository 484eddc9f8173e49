"""EV drivers at the chargers: plug in, charge until the car is full or time is up, unplug.

With a CSMS the driver presents a card (``plug_in`` with an id tag: Authorize, then the session);
without one the pile starts the session itself, as piles set up for offline charging do, and
queues its OCPP messages. The energy counted is the connector's meter from plug-in to unplug.
"""

from __future__ import annotations

from simulators.charger.model import ChargerError
from simulators.charger.server import ChargerSimulator
from simulators.scenario.context import Context
from simulators.scenario.lanes import Spot
from simulators.scenario.traffic import EvDriver

#: How often a plugged-in driver looks at the charger's display, simulated seconds.
LOOK_EVERY_S = 30.0


async def ev_driver(ctx: Context, driver: EvDriver) -> None:
    who = f"电车{driver.habits.number} EV{driver.habits.number}"
    ev = driver.ev
    zh = f"{who} 到达 {ev.battery_kwh:g} kWh 电量 {ev.start_soc_pct:.0f}%"
    en = f"{who} arrives: {ev.battery_kwh:g} kWh battery at {ev.start_soc_pct:.0f} %"
    traffic = ctx.config.traffic.ev
    spot = await ctx.arrive(ctx.tally.evs, "ev", who, driver.habits, traffic.max_queue, zh, en)
    if spot is None:
        return
    charging_from: float | None = None  # the connector's meter at plug-in, once charging started
    try:
        await ctx.clock.sleep(driver.habits.pull_in_s)
        charger = ctx.station.charger(spot.device)
        charger.sync()
        meter = charger.model.connector(spot.point).energy_wh
        if not await _start(ctx, charger, spot, driver):
            if charger.model.connector(spot.point).ev is not None:
                charger.mutate(lambda model: model.unplug(spot.point))
            ctx.tally.evs.refused += 1
            ctx.tally.evs.left += 1
            ctx.console.event(f"{who} {spot.label} 无法充电，离开",
                              f"{who} at {spot.label}: charging refused, drove on")
            return
        charging_from = meter
        ctx.console.event(f"{who} 开始充电 {spot.label}", f"{who} starts charging at {spot.label}")
        await _stay(ctx, charger, spot, driver)
    finally:
        if charging_from is not None:
            _unplug(ctx, spot, charging_from, who)  # also when the run ends with the car still plugged in
        ctx.lanes.release(spot)


def _unplug(ctx: Context, spot: Spot, charging_from: float, who: str) -> None:
    charger = ctx.station.charger(spot.device)
    charger.sync()
    connector = charger.model.connector(spot.point)
    wh = int(connector.energy_wh - charging_from)
    if connector.ev is not None:
        charger.mutate(lambda model: model.unplug(spot.point))
    ctx.tally.ev_sessions += 1
    ctx.tally.ev_wh += wh
    ctx.tally.evs.served += 1
    ctx.console.event(f"{who} 充电结束 {spot.label} {wh / 1000:.2f} kWh，离开",
                      f"{who} unplugs at {spot.label}: {wh / 1000:.2f} kWh, leaves")


async def _start(ctx: Context, charger: ChargerSimulator, spot: Spot, driver: EvDriver) -> bool:
    connector = spot.point
    try:
        if ctx.station.networked[spot.device] and charger.online:
            return await charger.plug_in(connector, driver.id_tag, driver.ev)
        await charger.plug_in(connector, None, driver.ev)
        charger.mutate(lambda model: model.authorize(connector, driver.id_tag))
    except ChargerError:
        return False
    return True


async def _stay(ctx: Context, charger: ChargerSimulator, spot: Spot, driver: EvDriver) -> None:
    """Wait until the session ended and the driver lingered, or the longest stay is over."""
    leave_by = ctx.clock.elapsed() + ctx.config.traffic.ev.max_stay_s
    ended_at: float | None = None
    while True:
        now = ctx.clock.elapsed()
        due = leave_by if ended_at is None else min(leave_by, ended_at + driver.linger_s)
        if now >= due:
            return
        await ctx.clock.sleep(min(LOOK_EVERY_S, due - now))
        charger.sync()
        if ended_at is None and charger.model.connector(spot.point).transaction is None:
            ended_at = ctx.clock.elapsed()
