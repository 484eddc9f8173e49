"""Built-in node maps for equipment whose OPC UA address space we publish (see docs/protocols/).

A profile is a function of the equipment's shape (how many dispensers, compressor stages)
returning ``NodeSpec`` lines. Deadbands are left at 0 here: set them per station (see
docs/how-to/opcua-adapter.md for why a server's deadband handling matters).
"""

from __future__ import annotations

from collections.abc import Callable

from protocol_adapters.opcua.points import NodeSpec, UaType

NAMESPACE_GAS_SKID = "urn:forecourt:gas-skid"
ROOT = "GasSkid"

DOUBLE, INT32, BOOL, TEXT = UaType.DOUBLE, UaType.INT32, UaType.BOOLEAN, UaType.STRING


def _objects(base: str, key: str, rows: list[tuple[str, str, str | None, UaType]]) -> list[NodeSpec]:
    """``(metric name, BrowseName, unit, type)`` rows of one object → specs ``key/name`` at ``base/BrowseName``."""
    return [NodeSpec(f"{key}/{name}", f"{base}/{browse}", unit, dtype) for name, browse, unit, dtype in rows]


def _compressor(stages: int) -> list[NodeSpec]:
    rows: list[tuple[str, str, str | None, UaType]] = [
        ("state", "State", None, INT32),                 # 0 stopped, 1 starting, 2 running, 3 fault
        ("state_name", "StateName", None, TEXT),
        ("auto", "AutoEnabled", None, BOOL),
        ("fault_code", "FaultCode", None, INT32),
        ("suction_pressure", "SuctionPressure_MPa_g", "MPa_g", DOUBLE),
        *((f"stage{k}_pressure", f"Stage{k}Pressure_MPa_g", "MPa_g", DOUBLE) for k in range(1, stages + 1)),
        ("discharge_pressure", "DischargePressure_MPa_g", "MPa_g", DOUBLE),
        ("discharge_temperature", "DischargeTemperature_C", "°C", DOUBLE),
        ("flow", "Flow_kg_min", "kg/min", DOUBLE),
        ("filling_bank", "FillingBank", None, INT32),    # 0 none, 1 low, 2 mid, 3 high
        ("run_hours", "RunHours_h", "h", DOUBLE),
        ("start_pressure", "StartPressure_MPa_g", "MPa_g", DOUBLE),
        ("stop_pressure", "StopPressure_MPa_g", "MPa_g", DOUBLE),
    ]
    return _objects(f"{ROOT}/Compressor1", "compressor", rows)


def _cascade() -> list[NodeSpec]:
    specs = _objects(f"{ROOT}/CascadeStorage", "cascade", [
        ("temperature", "Temperature_C", "°C", DOUBLE),
        ("total_mass", "TotalMass_kg", "kg", DOUBLE),
    ])
    for bank in ("low", "mid", "high"):
        specs += _objects(f"{ROOT}/CascadeStorage/{bank.capitalize()}Bank", f"cascade/{bank}", [
            ("pressure", "Pressure_MPa_g", "MPa_g", DOUBLE),
            ("mass", "Mass_kg", "kg", DOUBLE),
            ("water_volume", "WaterVolume_L", "L", DOUBLE),
        ])
    return specs


def _cng_dispenser(n: int) -> list[NodeSpec]:
    return _objects(f"{ROOT}/CngDispenser{n}", f"cng{n}", [
        ("state", "State", None, INT32),                 # 0 idle, 1 filling, 2 complete, 3 fault
        ("state_name", "StateName", None, TEXT),
        ("mass", "Mass_kg", "kg", DOUBLE),
        ("flow", "Flow_kg_min", "kg/min", DOUBLE),
        ("amount", "Amount_fen", "fen", INT32),
        ("price", "UnitPrice_fen_per_kg", "fen/kg", INT32),
        ("vehicle_pressure", "VehiclePressure_MPa_g", "MPa_g", DOUBLE),
        ("gas_temperature", "GasTemperature_C", "°C", DOUBLE),
        ("active_bank", "ActiveBank", None, INT32),
        ("active_bank_name", "ActiveBankName", None, TEXT),
        ("target_pressure", "TargetPressure_MPa_g", "MPa_g", DOUBLE),
        ("compensated_target", "CompensatedTarget_MPa_g", "MPa_g", DOUBLE),
        ("totalizer", "Totalizer_kg", "kg", DOUBLE),
        ("transaction", "TransactionNo", None, INT32),
        ("stop_reason", "StopReason", None, TEXT),
        ("fault_code", "FaultCode", None, INT32),
    ])


def _lng_tank() -> list[NodeSpec]:
    return _objects(f"{ROOT}/LngTank1", "lng_tank", [
        ("level", "Level_mm", "mm", DOUBLE),
        ("level_pct", "Level_pct", "%", DOUBLE),
        ("liquid_mass", "LiquidMass_kg", "kg", DOUBLE),
        ("liquid_volume", "LiquidVolume_m3", "m3", DOUBLE),
        ("pressure", "Pressure_MPa_g", "MPa_g", DOUBLE),
        ("liquid_temperature", "LiquidTemperature_C", "°C", DOUBLE),
        ("vapour_temperature", "VapourTemperature_C", "°C", DOUBLE),
        ("liquid_density", "LiquidDensity_kg_m3", "kg/m3", DOUBLE),
        ("vacuum", "Vacuum_Pa", "Pa", DOUBLE),
        ("heat_leak", "HeatLeak_W", "W", DOUBLE),
        ("vent_valve_open", "VentValveOpen", None, BOOL),
        ("relief_valve_open", "ReliefValveOpen", None, BOOL),
        ("vented_mass", "VentedMass_kg", "kg", DOUBLE),
        ("high_pressure_alarm", "HighPressureAlarm", None, BOOL),
        ("high_level_alarm", "HighLevelAlarm", None, BOOL),
        ("low_level_alarm", "LowLevelAlarm", None, BOOL),
        ("vacuum_loss_alarm", "VacuumLossAlarm", None, BOOL),
        ("high_pressure_setpoint", "HighPressureSetpoint_MPa_g", "MPa_g", DOUBLE),
        ("high_level_setpoint", "HighLevelSetpoint_pct", "%", DOUBLE),
        ("low_level_setpoint", "LowLevelSetpoint_pct", "%", DOUBLE),
    ])


def _lng_dispenser(n: int) -> list[NodeSpec]:
    return _objects(f"{ROOT}/LngDispenser{n}", f"lng{n}", [
        ("state", "State", None, INT32),                 # 0 idle, 1 precooling, 2 filling, 3 complete, 4 fault
        ("state_name", "StateName", None, TEXT),
        ("mass", "Mass_kg", "kg", DOUBLE),               # billed: gross - return gas
        ("gross_mass", "GrossMass_kg", "kg", DOUBLE),
        ("return_gas_mass", "ReturnGasMass_kg", "kg", DOUBLE),
        ("flow", "Flow_kg_min", "kg/min", DOUBLE),
        ("density", "Density_kg_m3", "kg/m3", DOUBLE),
        ("liquid_temperature", "LiquidTemperature_C", "°C", DOUBLE),
        ("amount", "Amount_fen", "fen", INT32),
        ("price", "UnitPrice_fen_per_kg", "fen/kg", INT32),
        ("totalizer", "Totalizer_kg", "kg", DOUBLE),
        ("return_gas_totalizer", "ReturnGasTotalizer_kg", "kg", DOUBLE),
        ("transaction", "TransactionNo", None, INT32),
        ("stop_reason", "StopReason", None, TEXT),
        ("fault_code", "FaultCode", None, INT32),
    ])


def gas_skid_v1(cng_dispensers: int, lng_dispensers: int, compressor_stages: int = 3) -> list[NodeSpec]:
    """The Forecourt gas skid (docs/protocols/gas-skid-opcua.md); the LNG tank comes with LNG dispensers."""
    specs = [NodeSpec("skid/last_refusal", f"{ROOT}/LastRefusal", None, TEXT)]
    specs += _compressor(compressor_stages) + _cascade()
    for n in range(1, cng_dispensers + 1):
        specs += _cng_dispenser(n)
    if lng_dispensers:
        specs += _lng_tank()
    for n in range(1, lng_dispensers + 1):
        specs += _lng_dispenser(n)
    return specs


#: Profiles by name, with the namespace URI their browse paths live in.
PROFILES: dict[str, tuple[str, Callable[[int, int, int], list[NodeSpec]]]] = {
    "gas-skid-v1": (NAMESPACE_GAS_SKID, gas_skid_v1),
}
