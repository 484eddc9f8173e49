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
            PointSpec("StateName", STRING, lambda m: m.compressor.state.name.lower(),
                      description="State as text: stopped, starting, running, fault"),
            PointSpec("AutoEnabled", BOOLEAN, lambda m: m.compressor.auto_enabled,
                      description="automatic start and stop on bank pressure: true after Start, false after Stop"),
            PointSpec("FaultCode", INT32, lambda m: int(m.compressor.fault_code), description=TRIP_CODES),
            PointSpec("SuctionPressure_MPa_g", DOUBLE,
                      lambda m: rounded(m.sensors.read("compressor.suction", m.compressor.suction_g_mpa)),
                      MPA_G, "inlet gas pressure, MPa gauge, resolution 0.001", sensor="compressor.suction"),
            *(
                PointSpec(f"Stage{k + 1}Pressure_MPa_g", DOUBLE, _stage_pressure(k), MPA_G,
                          f"stage {k + 1} discharge pressure, MPa gauge, resolution 0.001; suction when not running")
                for k in range(stages)
            ),
            PointSpec("DischargePressure_MPa_g", DOUBLE,
                      lambda m: rounded(m.sensors.read("compressor.discharge", m.compressor.discharge_g_mpa)),
                      MPA_G, "discharge into the priority panel, MPa gauge, resolution 0.001",
                      sensor="compressor.discharge"),
            PointSpec("DischargeTemperature_C", DOUBLE, lambda m: rounded(m.compressor.discharge_t_c, 1), CELSIUS,
                      "discharge gas temperature after the aftercooler, °C, resolution 0.1"),
            PointSpec("Flow_kg_min", DOUBLE, lambda m: rounded(m.compressor.flow_kg_min, 2), KG_MIN,
                      "mass flow into the banks, kg/min, resolution 0.01; 0 when not running"),
            PointSpec("FillingBank", INT32, lambda m: int(m.compressor.filling_bank),
                      description=f"bank being filled: {BANK_CODES}"),
            PointSpec("RunHours_h", DOUBLE, lambda m: rounded(m.compressor.run_hours, 3), HOUR,
                      "running hours (starting and running), h, monotonic, resolution 0.001"),
            PointSpec("StartPressure_MPa_g", DOUBLE, lambda m: m.compressor.start_g_mpa, MPA_G,
                      "setpoint: auto start when the high bank reads below this, MPa gauge, 15..24, <= stop - 1",
                      write=lambda m, v: m.compressor.set_start_pressure(as_float(v)), eu_range=(15.0, 24.0)),
            PointSpec("StopPressure_MPa_g", DOUBLE, lambda m: m.compressor.stop_g_mpa, MPA_G,
                      "setpoint: a bank counts as full at this reading, MPa gauge, 20..25, >= start + 1",
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
            PointSpec("Temperature_C", DOUBLE, lambda m: m.cascade.ambient_c, CELSIUS,
                      "bank temperature (ambient), °C"),
            PointSpec("TotalMass_kg", DOUBLE, lambda m: rounded(m.cascade.total_mass_kg, 2), KG,
                      "gas inventory of the three banks, kg, resolution 0.01"),
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
                      lambda m: rounded(m.sensors.read(sensor, m.cascade.pressure_g(bank))), MPA_G,
                      f"{bank.name.lower()} bank pressure transmitter, MPa gauge, 0..25, resolution 0.001",
                      sensor=sensor),
            PointSpec("Mass_kg", DOUBLE, lambda m: rounded(m.cascade[bank].mass_kg, 2), KG,
                      "gas inventory of the bank, kg, resolution 0.01"),
            PointSpec("WaterVolume_L", DOUBLE, lambda m: m.cascade[bank].water_l, LITRE,
                      "geometric (water) volume of the bank, L, from the configuration"),
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
            PointSpec("StateName", STRING, lambda m: m.cng(number).state.name.lower(),
                      description="State as text: idle, filling, complete, fault"),
            PointSpec("Mass_kg", DOUBLE, lambda m: rounded(m.cng(number).mass_kg, 2), KG,
                      "mass this fill (Coriolis meter), kg, resolution 0.01"),
            PointSpec("Flow_kg_min", DOUBLE, lambda m: rounded(m.cng(number).flow_kg_min, 2), KG_MIN,
                      "present mass flow to the vehicle, kg/min, resolution 0.01"),
            PointSpec("Amount_fen", INT32, lambda m: m.cng(number).amount_fen,
                      description="this fill, fen (mass to 0.01 kg x unit price, half up)"),
            PointSpec("UnitPrice_fen_per_kg", INT32, lambda m: m.cng(number).price_fen_per_kg,
                      description="setpoint: unit price, fen/kg, 1..100000, refused during a fill",
                      write=lambda m, v: m.cng(number).set_price(as_int(v)), eu_range=(1, 100_000)),
            PointSpec("VehiclePressure_MPa_g", DOUBLE,
                      lambda m: rounded(m.cng(number).vehicle_pressure_g(m.sensors)), MPA_G,
                      "vehicle cylinder pressure, MPa gauge, resolution 0.001; 0 with no vehicle", sensor=sensor),
            PointSpec("GasTemperature_C", DOUBLE, lambda m: rounded(m.cng(number).gas_t_c, 1), CELSIUS,
                      "gas temperature in the vehicle cylinder (ambient with no vehicle), °C, resolution 0.1"),
            PointSpec("ActiveBank", INT32, lambda m: int(m.cng(number).active_bank),
                      description=f"bank the vehicle draws from: {BANK_CODES}"),
            PointSpec("ActiveBankName", STRING, lambda m: m.cng(number).active_bank.name.lower(),
                      description="ActiveBank as text: none, low, mid, high"),
            PointSpec("TargetPressure_MPa_g", DOUBLE, lambda m: m.cng(number).target_g_mpa, MPA_G,
                      "setpoint: fill target at 15 °C, MPa gauge, 10..20, refused during a fill",
                      write=lambda m, v: m.cng(number).set_target(as_float(v)), eu_range=(10.0, 20.0)),
            PointSpec("CompensatedTarget_MPa_g", DOUBLE,
                      lambda m: rounded(m.cng(number).compensated_target_g(m.cng(number).gas_t_c)), MPA_G,
                      "fill target at the present gas temperature, MPa gauge, resolution 0.001"),
            PointSpec("Totalizer_kg", DOUBLE, lambda m: rounded(m.cng(number).totalizer_kg, 2), KG,
                      "mass totalizer, kg, monotonic, resolution 0.01"),
            PointSpec("TransactionNo", INT32, lambda m: m.cng(number).transaction_no,
                      description="number of the last fill started (1, 2, …); 0 before the first"),
            PointSpec("StopReason", STRING, lambda m: m.cng(number).stop_reason,
                      description="why the last fill ended: target_pressure, preset_reached, banks_exhausted, "
                                  "operator_stop, fault; empty while filling"),
            PointSpec("FaultCode", INT32, lambda m: m.cng(number).fault_code,
                      description="dispenser fault code, 0 = none"),
        ),
        methods=(
            _start_cng_fill(number),
            MethodSpec("Stop", no_output(lambda m: m.cng(number).stop()), "end the fill in progress"),
            MethodSpec("Reset", no_output(lambda m: m.cng(number).reset()), "hang up / clear a fault"),
        ),
    )
