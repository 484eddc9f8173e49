"""Declared OPC UA objects of the CNG side: Compressor1, CascadeStorage and CngDispenser1..n."""

from __future__ import annotations

from collections.abc import Callable

from simulators.gas_skid.compressor import Bank
from simulators.gas_skid.model import GasSkidModel
from simulators.gas_skid.points import (
    BOOLEAN,
    CELSIUS,
    DOUBLE,
    HOUR,
    INT32,
    KG,
    KG_MIN,
    LITRE,
    MPA_G,
    PRESET,
    STRING,
    TRANSACTION,
    MethodSpec,
    ObjectSpec,
    PointSpec,
    Value,
    as_float,
    as_int,
    no_output,
    rounded,
)

BANK_CODES = "0 none, 1 low, 2 mid, 3 high"
TRIP_CODES = (
    "0 none, 1 high discharge temperature, 2 low suction pressure, 3 motor overload, "
    "4 high discharge pressure, 5 low oil pressure"
)


def _stage_pressure(stage: int) -> Callable[[GasSkidModel], Value]:
    return lambda m: rounded(m.compressor.stage_g_mpa[stage])


def compressor(stages: int) -> ObjectSpec:
    return ObjectSpec(
        ("Compressor1",),
        "CNG compressor behind the priority panel (fills banks high -> mid -> low)",
        points=(
            PointSpec("State", INT32, lambda m: int(m.compressor.state),
                      description="0 stopped, 1 starting, 2 running, 3 fault"),
            PointSpec("StateName", STRING, lambda m: m.compressor.state.name.lower()),
            PointSpec("AutoEnabled", BOOLEAN, lambda m: m.compressor.auto_enabled,
                      description="true after Start, false after Stop"),
            PointSpec("FaultCode", INT32, lambda m: int(m.compressor.fault_code), description=TRIP_CODES),
            PointSpec("SuctionPressure_MPa_g", DOUBLE,
                      lambda m: rounded(m.sensors.read("compressor.suction", m.compressor.suction_g_mpa)),
                      MPA_G, sensor="compressor.suction"),
            *(
                PointSpec(f"Stage{k + 1}Pressure_MPa_g", DOUBLE, _stage_pressure(k), MPA_G, f"stage {k + 1} discharge")
                for k in range(stages)
            ),
            PointSpec("DischargePressure_MPa_g", DOUBLE,
                      lambda m: rounded(m.sensors.read("compressor.discharge", m.compressor.discharge_g_mpa)),
                      MPA_G, "into the priority panel", sensor="compressor.discharge"),
            PointSpec("DischargeTemperature_C", DOUBLE, lambda m: rounded(m.compressor.discharge_t_c, 1), CELSIUS,
                      "after the aftercooler"),
            PointSpec("Flow_kg_min", DOUBLE, lambda m: rounded(m.compressor.flow_kg_min, 2), KG_MIN,
                      "into the banks"),
            PointSpec("FillingBank", INT32, lambda m: int(m.compressor.filling_bank), description=BANK_CODES),
            PointSpec("RunHours_h", DOUBLE, lambda m: rounded(m.compressor.run_hours, 3), HOUR),
            PointSpec("StartPressure_MPa_g", DOUBLE, lambda m: m.compressor.start_g_mpa, MPA_G,
                      "setpoint: auto start below this high-bank reading (15..24, <= stop - 1)",
                      write=lambda m, v: m.compressor.set_start_pressure(as_float(v)), eu_range=(15.0, 24.0)),
            PointSpec("StopPressure_MPa_g", DOUBLE, lambda m: m.compressor.stop_g_mpa, MPA_G,
                      "setpoint: a bank is full at this reading (20..25, >= start + 1)",
                      write=lambda m, v: m.compressor.set_stop_pressure(as_float(v)), eu_range=(20.0, 25.0)),
        ),
        methods=(
            MethodSpec("Start", no_output(lambda m: m.start_compressor()), "auto on; runs now if a bank is not full"),
            MethodSpec("Stop", no_output(lambda m: m.stop_compressor()), "auto off and stop"),
            MethodSpec("Reset", no_output(lambda m: m.reset_compressor()), "acknowledge a trip"),
        ),
    )


def cascade() -> ObjectSpec:
    return ObjectSpec(
        ("CascadeStorage",),
        "three-bank cascade storage, rated 25 MPa",
        points=(
            PointSpec("Temperature_C", DOUBLE, lambda m: m.cascade.ambient_c, CELSIUS, "banks are at ambient"),
            PointSpec("TotalMass_kg", DOUBLE, lambda m: rounded(m.cascade.total_mass_kg, 2), KG),
        ),
    )


def cascade_bank(bank: Bank) -> ObjectSpec:
    name = bank.name.capitalize()
    sensor = f"cascade.{bank.name.lower()}"
    return ObjectSpec(
        ("CascadeStorage", f"{name}Bank"),
        f"{bank.name.lower()}-pressure bank",
        points=(
            PointSpec("Pressure_MPa_g", DOUBLE,
                      lambda m: rounded(m.sensors.read(sensor, m.cascade.pressure_g(bank))), MPA_G, sensor=sensor),
            PointSpec("Mass_kg", DOUBLE, lambda m: rounded(m.cascade[bank].mass_kg, 2), KG, "gas inventory"),
            PointSpec("WaterVolume_L", DOUBLE, lambda m: m.cascade[bank].water_l, LITRE, "geometric volume"),
        ),
    )


def _start_cng_fill(number: int) -> MethodSpec:
    def call(model: GasSkidModel, args: list[Value]) -> list[Value]:
        return [model.start_cng_fill(number, as_float(args[0]))]

    return MethodSpec("StartFill", call, "connect the waiting vehicle and fill", (PRESET,), (TRANSACTION,))


def cng_dispenser(number: int) -> ObjectSpec:
    sensor = f"cng_dispenser.{number}.pressure"
    return ObjectSpec(
        (f"CngDispenser{number}",),
        f"CNG dispenser {number} (one hose, sequential low -> mid -> high)",
        points=(
            PointSpec("State", INT32, lambda m: int(m.cng(number).state),
                      description="0 idle, 1 filling, 2 complete, 3 fault"),
            PointSpec("StateName", STRING, lambda m: m.cng(number).state.name.lower()),
            PointSpec("Mass_kg", DOUBLE, lambda m: rounded(m.cng(number).mass_kg, 2), KG, "this fill"),
            PointSpec("Flow_kg_min", DOUBLE, lambda m: rounded(m.cng(number).flow_kg_min, 2), KG_MIN),
            PointSpec("Amount_fen", INT32, lambda m: m.cng(number).amount_fen,
                      description="this fill, fen (mass to 0.01 kg x unit price, half up)"),
            PointSpec("UnitPrice_fen_per_kg", INT32, lambda m: m.cng(number).price_fen_per_kg,
                      description="setpoint: 1..100000, refused during a fill",
                      write=lambda m, v: m.cng(number).set_price(as_int(v)), eu_range=(1, 100_000)),
            PointSpec("VehiclePressure_MPa_g", DOUBLE,
                      lambda m: rounded(m.cng(number).vehicle_pressure_g(m.sensors)), MPA_G, sensor=sensor),
            PointSpec("GasTemperature_C", DOUBLE, lambda m: rounded(m.cng(number).gas_t_c, 1), CELSIUS,
                      "in the vehicle cylinder"),
            PointSpec("ActiveBank", INT32, lambda m: int(m.cng(number).active_bank), description=BANK_CODES),
            PointSpec("ActiveBankName", STRING, lambda m: m.cng(number).active_bank.name.lower()),
            PointSpec("TargetPressure_MPa_g", DOUBLE, lambda m: m.cng(number).target_g_mpa, MPA_G,
                      "setpoint: fill target at 15 °C (10..20), refused during a fill",
                      write=lambda m, v: m.cng(number).set_target(as_float(v)), eu_range=(10.0, 20.0)),
            PointSpec("CompensatedTarget_MPa_g", DOUBLE,
                      lambda m: rounded(m.cng(number).compensated_target_g(m.cng(number).gas_t_c)), MPA_G,
                      "target at the present gas temperature"),
            PointSpec("Totalizer_kg", DOUBLE, lambda m: rounded(m.cng(number).totalizer_kg, 2), KG),
            PointSpec("TransactionNo", INT32, lambda m: m.cng(number).transaction_no),
            PointSpec("StopReason", STRING, lambda m: m.cng(number).stop_reason,
                      description="target_pressure, preset_reached, banks_exhausted, operator_stop, fault"),
            PointSpec("FaultCode", INT32, lambda m: m.cng(number).fault_code, description="0 = none"),
        ),
        methods=(
            _start_cng_fill(number),
            MethodSpec("Stop", no_output(lambda m: m.cng(number).stop()), "end the fill in progress"),
            MethodSpec("Reset", no_output(lambda m: m.cng(number).reset()), "hang up / clear a fault"),
        ),
    )
