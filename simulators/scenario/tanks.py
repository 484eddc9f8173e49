"""The product side: pipes from tanks to nozzles, tanker drops, and reordering when a tank runs low.

``Pipes`` draws from each tank exactly what the nozzles fed by it really delivered (the
dispenser model's *true* litres, not the metered ones), every ``DRAW_EVERY_S`` and once more at
the end, so a wet-stock reconciliation sees the meters' error. ``tanker`` drops a load into a
tank (hook-up time, then the gauge's delivery at its rate). ``reorder_watch`` reads the gauge
as the station manager would and orders a tanker when a tank falls below the threshold.
"""

from __future__ import annotations

from simulators.scenario.context import Context
from simulators.scenario.traffic_config import Reorder, TankerDelivery
from simulators.tank_gauge.records import TankStatus

DRAW_EVERY_S = 2.0


class Pipes:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._drawn: dict[tuple[str, int, int], float] = {}
        for code, server in ctx.station.dispensers.items():
            for fp in server.model.view().fuelling_points:
                for nozzle in fp.nozzles:
                    self._drawn[(code, fp.number, nozzle.number)] = nozzle.delivered_total_l

    def flush(self) -> None:
        """Draw from the tanks what left them through the nozzles since the last flush."""
        station = self._ctx.station
        if station.gauge is None:
            return
        for code, server in station.dispensers.items():
            server.catch_up()
            for fp in server.model.view().fuelling_points:
                for nozzle in fp.nozzles:
                    key = (code, fp.number, nozzle.number)
                    litres = nozzle.delivered_total_l - self._drawn[key]
                    if litres <= 0:
                        continue
                    self._drawn[key] = nozzle.delivered_total_l
                    tank = station.grade_tank[nozzle.grade_id]
                    station.gauge.draw(tank, litres)
                    self._ctx.tally.draw(tank, litres)

    async def run(self) -> None:
        while True:
            await self._ctx.clock.sleep(DRAW_EVERY_S)
            self.flush()


async def tanker(ctx: Context, delivery: TankerDelivery, reason_zh: str, reason_en: str) -> None:
    gauge = ctx.station.gauge
    if gauge is None:
        return
    tank = delivery.tank
    ctx.console.event(f"油罐车到达 {tank}# 罐 {delivery.litres:,.0f} 升 ({reason_zh})",
                      f"tanker for tank {tank}: {delivery.litres:,.0f} L ({reason_en})")
    await ctx.clock.sleep(delivery.hook_up_s)
    gauge.start_delivery(tank, delivery.litres, delivery.temperature_c, delivery.rate_l_min)
    ctx.tally.deliveries += 1  # the load is in the tank's pipe now, whether or not the run lasts the drop
    ctx.tally.delivered_l += delivery.litres
    ctx.console.event(f"开始卸油 {tank}# 罐", f"tank {tank}: drop started at {delivery.rate_l_min:g} L/min")
    await ctx.clock.sleep(delivery.litres / delivery.rate_l_min * 60)
    spilled = gauge.tank(tank).spilled_l
    spill_zh, spill_en = (f"，溢出 {spilled:.0f} 升", f", {spilled:.0f} L spilled") if spilled > 0 else ("", "")
    ctx.console.event(f"卸油完成 {tank}# 罐 {delivery.litres:,.0f} 升{spill_zh}",
                      f"tank {tank}: drop of {delivery.litres:,.0f} L finished{spill_en}")


async def reorder_watch(ctx: Context, rule: Reorder) -> None:
    """Order a tanker for a tank whose gauge reading falls below ``below_pct``; one order at a time."""
    gauge = ctx.station.gauge
    if gauge is None:
        return
    ordered: set[int] = set()
    while True:
        await ctx.clock.sleep(rule.check_every_s)
        for number, tank in sorted(gauge.console.tanks.items()):
            reading = gauge.reading(number)
            if number in ordered or reading.status & TankStatus.INVALID_FUEL_HEIGHT:
                continue
            capacity = tank.config.capacity_l
            if reading.volume_l >= rule.below_pct / 100 * capacity:
                continue
            ordered.add(number)
            litres = round(rule.fill_to_pct / 100 * capacity - reading.volume_l, -2)
            ctx.console.event(f"{number}# 罐低于 {rule.below_pct:g}%，订油 {litres:,.0f} 升",
                              f"tank {number} below {rule.below_pct:g} %: ordered {litres:,.0f} L")
            delivery = TankerDelivery(at=0, tank=number, litres=litres, temperature_c=rule.temperature_c,
                                      rate_l_min=rule.rate_l_min)
            ctx.spawn(_deliver_later(ctx, delivery, rule.lead_time_s, ordered), f"reorder-tank-{number}",
                      role="background")


async def _deliver_later(ctx: Context, delivery: TankerDelivery, lead_time_s: float, ordered: set[int]) -> None:
    await ctx.clock.sleep(lead_time_s)
    try:
        await tanker(ctx, delivery, "自动订油", "reorder")
    finally:
        ordered.discard(delivery.tank)
