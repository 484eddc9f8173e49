"""Declared OPC UA objects of the LNG side: LngTank1 and LngDispenser1..n."""

from __future__ import annotations

import math
from collections.abc import Callable

from simulators.gas_skid.model import GasSkidModel
from simulators.gas_skid.points import (
    BOOLEAN,
    CELSIUS,
    DOUBLE,
    INT32,
    KG,
    KG_M3,
    KG_MIN,
    M3,
    MM,
    MPA_G,
    PASCAL,
    PERCENT,
    PRESET,
    STRING,
    TRANSACTION,
    WATT,
    MethodSpec,
    ObjectSpec,
    PointSpec,
    Value,
    as_float,
    as_int,
    no_output,
    rounded,
)


def _alarm(name: str) -> Callable[[GasSkidModel], Value]:
    return lambda m: m.lng_tank.alarms(m.sensors)[name]


def _alarm_setpoint(which: str) -> Callable[[GasSkidModel, Value], None]:
    return lambda m, v: m.set_lng_alarm_setpoint(which, as_float(v))


def lng_tank(relief_g_mpa: float) -> ObjectSpec:
    return ObjectSpec(
        ("LngTank1",),
        "vertical vacuum-perlite LNG storage tank",
        points=(
            PointSpec("Level_mm", DOUBLE, lambda m: rounded(m.lng_tank.level_reading_mm(m.sensors), 1), MM,
                      "liquid height (DP level transmitter), mm, resolution 0.1", sensor="lng_tank.level"),
            PointSpec("Level_pct", DOUBLE,
                      lambda m: rounded(m.lng_tank.level_reading_pct(m.sensors), 2), PERCENT,
                      "liquid volume / geometric volume, %, 0..100, resolution 0.01", sensor="lng_tank.level"),
            PointSpec("LiquidMass_kg", DOUBLE, lambda m: rounded(m.lng_tank.liquid_kg, 1), KG,
                      "LNG inventory in the tank, kg, resolution 0.1"),
            PointSpec("LiquidVolume_m3", DOUBLE, lambda m: rounded(m.lng_tank.liquid_m3, 3), M3,
                      "liquid volume in the tank, m³, resolution 0.001"),
            PointSpec("Pressure_MPa_g", DOUBLE,
                      lambda m: rounded(m.lng_tank.pressure_reading_g(m.sensors), 4), MPA_G,
                      "vapour-space pressure, MPa gauge, resolution 0.0001", sensor="lng_tank.pressure"),
            PointSpec("LiquidTemperature_C", DOUBLE, lambda m: rounded(m.lng_tank.liquid_t_c, 2), CELSIUS,
                      "bulk liquid temperature, °C, resolution 0.01"),
            PointSpec("VapourTemperature_C", DOUBLE, lambda m: rounded(m.lng_tank.vapour_t_c, 2), CELSIUS,
                      "saturation temperature of the vapour pressure, °C, resolution 0.01"),
            PointSpec("LiquidDensity_kg_m3", DOUBLE, lambda m: rounded(m.lng_tank.liquid_density, 2), KG_M3,
                      "saturated liquid density at the liquid temperature, kg/m³, resolution 0.01"),
            PointSpec("Vacuum_Pa", DOUBLE, lambda m: rounded(m.lng_tank.vacuum_pa, 2), PASCAL,
                      "insulation annulus pressure, Pa, resolution 0.01 (good <= 1 Pa)"),
            PointSpec("HeatLeak_W", DOUBLE, lambda m: rounded(m.lng_tank.heat_leak_w, 1), WATT,
                      "present heat in-leak into the tank, W, resolution 0.1"),
            PointSpec("VentValveOpen", BOOLEAN, lambda m: m.lng_tank.vent_valve_open,
                      description="manual BOG vent valve open (OpenVentValve / CloseVentValve)"),
            PointSpec("ReliefValveOpen", BOOLEAN, lambda m: m.lng_tank.relief_open,
                      description="pressure relief valve lifted (at the relief pressure)"),
            PointSpec("VentedMass_kg", DOUBLE, lambda m: rounded(m.lng_tank.vented_kg, 2), KG,
                      "vapour let out by relief and vent valves since start, kg, monotonic"),
            PointSpec("HighPressureAlarm", BOOLEAN, _alarm("high_pressure"),
                      description="Pressure_MPa_g >= HighPressureSetpoint_MPa_g"),
            PointSpec("HighLevelAlarm", BOOLEAN, _alarm("high_level"),
                      description="Level_pct >= HighLevelSetpoint_pct"),
            PointSpec("LowLevelAlarm", BOOLEAN, _alarm("low_level"),
                      description="Level_pct <= LowLevelSetpoint_pct; StartFill is refused while on"),
            PointSpec("VacuumLossAlarm", BOOLEAN, _alarm("vacuum_loss"),
                      description="Vacuum_Pa at or above the configured alarm limit (default 10 Pa)"),
            PointSpec("HighPressureSetpoint_MPa_g", DOUBLE, lambda m: m.lng_tank.high_pressure_alarm_g_mpa,
                      MPA_G, "setpoint: high-pressure alarm, MPa gauge, 0.3..relief pressure",
                      write=_alarm_setpoint("high_pressure"), eu_range=(0.3, relief_g_mpa)),
            PointSpec("HighLevelSetpoint_pct", DOUBLE, lambda m: m.lng_tank.high_level_alarm_pct, PERCENT,
                      "setpoint: high-level alarm, %, 50..98, >= low + 10",
                      write=_alarm_setpoint("high_level"), eu_range=(50.0, 98.0)),
            PointSpec("LowLevelSetpoint_pct", DOUBLE, lambda m: m.lng_tank.low_level_alarm_pct, PERCENT,
                      "setpoint: low-level alarm, %, 2..40, <= high - 10",
                      write=_alarm_setpoint("low_level"), eu_range=(2.0, 40.0)),
        ),
        methods=(
            MethodSpec("OpenVentValve", no_output(lambda m: m.open_vent_valve()), "open the manual BOG vent"),
            MethodSpec("CloseVentValve", no_output(lambda m: m.close_vent_valve()), "close the manual BOG vent"),
        ),
    )


def _start_lng_fill(number: int) -> MethodSpec:
    def call(model: GasSkidModel, args: list[Value]) -> list[Value]:
        return [model.start_lng_fill(number, as_float(args[0]))]

    return MethodSpec("StartFill", call, "precool, then fill the waiting truck", (PRESET,), (TRANSACTION,))


def _finite(value: float, digits: int) -> float:
    return rounded(value, digits) if math.isfinite(value) else 0.0


def lng_dispenser(number: int) -> ObjectSpec:
    return ObjectSpec(
        (f"LngDispenser{number}",),
        f"LNG dispenser {number} (liquid meter + return-gas meter)",
        points=(
            PointSpec("State", INT32, lambda m: int(m.lng(number).state),
                      description="0 idle, 1 precooling, 2 filling, 3 complete, 4 fault"),
            PointSpec("StateName", STRING, lambda m: m.lng(number).state.name.lower(),
                      description="State as text: idle, precooling, filling, complete, fault"),
            PointSpec("Mass_kg", DOUBLE, lambda m: rounded(m.lng(number).mass_kg, 2), KG,
                      "billed mass this fill = GrossMass_kg - ReturnGasMass_kg, kg, resolution 0.01"),
            PointSpec("GrossMass_kg", DOUBLE, lambda m: rounded(m.lng(number).gross_kg, 2), KG,
                      "liquid delivered this fill (liquid meter), kg, resolution 0.01"),
            PointSpec("ReturnGasMass_kg", DOUBLE, lambda m: rounded(m.lng(number).return_gas_kg, 3), KG,
                      "vapour returned from the truck tank this fill (return-gas meter), kg, resolution 0.001"),
            PointSpec("Flow_kg_min", DOUBLE, lambda m: rounded(m.lng(number).flow_kg_min, 2), KG_MIN,
                      "present liquid mass flow (liquid meter), kg/min, resolution 0.01"),
            PointSpec("Density_kg_m3", DOUBLE, lambda m: _finite(m.lng(number).density_kg_m3, 2), KG_M3,
                      "liquid density at the meter, kg/m³, resolution 0.01; 0 before the first fill"),
            PointSpec("LiquidTemperature_C", DOUBLE, lambda m: _finite(m.lng(number).liquid_t_c, 2), CELSIUS,
                      "liquid temperature at the meter, °C, resolution 0.01; 0 before the first fill"),
            PointSpec("Amount_fen", INT32, lambda m: m.lng(number).amount_fen,
                      description="this fill, fen (billed mass to 0.01 kg x unit price, half up)"),
            PointSpec("UnitPrice_fen_per_kg", INT32, lambda m: m.lng(number).price_fen_per_kg,
                      description="setpoint: unit price, fen/kg, 1..100000, refused during precool or fill",
                      write=lambda m, v: m.lng(number).set_price(as_int(v)), eu_range=(1, 100_000)),
            PointSpec("Totalizer_kg", DOUBLE, lambda m: rounded(m.lng(number).totalizer_kg, 2), KG,
                      "billed-mass totalizer, kg, monotonic, resolution 0.01"),
            PointSpec("ReturnGasTotalizer_kg", DOUBLE,
                      lambda m: rounded(m.lng(number).return_gas_totalizer_kg, 2), KG,
                      "return-gas totalizer, kg, monotonic, resolution 0.01"),
            PointSpec("TransactionNo", INT32, lambda m: m.lng(number).transaction_no,
                      description="number of the last fill started (1, 2, …); 0 before the first"),
            PointSpec("StopReason", STRING, lambda m: m.lng(number).stop_reason,
                      description="why the last fill ended: vehicle_full, preset_reached, tank_low_level, "
                                  "operator_stop, fault; empty while filling"),
            PointSpec("FaultCode", INT32, lambda m: m.lng(number).fault_code,
                      description="dispenser fault code, 0 = none"),
        ),
        methods=(
            _start_lng_fill(number),
            MethodSpec("Stop", no_output(lambda m: m.lng(number).stop()), "end the fill in progress"),
            MethodSpec("Reset", no_output(lambda m: m.lng(number).reset()), "hang up / clear a fault"),
        ),
    )
