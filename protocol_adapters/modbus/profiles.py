"""Built-in point maps for device types whose register map we publish (see docs/protocols/).

A profile is a function of the device's shape (fuelling points, nozzles) returning PointSpec lines.
"""

from __future__ import annotations

from collections.abc import Callable

from protocol_adapters.modbus.points import DType, PointSpec, Table

CENTI = 0.01


def dispenser_v1(fuelling_points: int, nozzles: int) -> list[PointSpec]:
    """The Forecourt dispenser register map v1 (docs/protocols/dispenser-modbus.md)."""
    points = [
        PointSpec("map_version", 0, integer=True),
        PointSpec("status", 2, integer=True, description="bit0 power, bit1 fuelling, bit2 error, bit3 unpaid"),
    ]
    for n in range(1, fuelling_points + 1):
        b, fp = 100 * n, f"fp{n}"
        points += [
            PointSpec(f"{fp}/state", b + 0, integer=True, description="IFSF FP state 1..9"),
            PointSpec(f"{fp}/nozzle", b + 1, integer=True),
            PointSpec(f"{fp}/buffer_state", b + 2, integer=True),
            PointSpec(f"{fp}/error", b + 3, integer=True),
            PointSpec(f"{fp}/price", b + 4, DType.U32, unit="fen/L", integer=True),
            PointSpec(f"{fp}/volume", b + 6, DType.U32, scale=CENTI, unit="L"),
            PointSpec(f"{fp}/amount", b + 8, DType.U32, unit="fen", integer=True),
            PointSpec(f"{fp}/flow", b + 10, DType.U16, scale=0.1, unit="L/min"),
            PointSpec(f"{fp}/unpaid", b + 11, integer=True, description="payable or locked transactions"),
            PointSpec(f"{fp}/transaction", b + 12, DType.U32, integer=True),
            PointSpec(f"{fp}/last/transaction", b + 20, DType.U32, integer=True),
            PointSpec(f"{fp}/last/nozzle", b + 22, integer=True),
            PointSpec(f"{fp}/last/buffer_state", b + 23, integer=True),
            PointSpec(f"{fp}/last/volume", b + 24, DType.U32, scale=CENTI, unit="L"),
            PointSpec(f"{fp}/last/amount", b + 26, DType.U32, unit="fen", integer=True),
            PointSpec(f"{fp}/last/price", b + 28, DType.U32, unit="fen/L", integer=True),
            PointSpec(f"{fp}/last/start", b + 30, DType.U32, unit="s", integer=True),
            PointSpec(f"{fp}/last/end", b + 32, DType.U32, unit="s", integer=True),
            PointSpec(f"{fp}/last/volume_total", b + 34, DType.U64, scale=CENTI, unit="L"),
            PointSpec(f"{fp}/last/grade", b + 38, integer=True),
            PointSpec(f"{fp}/last/end_reason", b + 39, integer=True),
        ]
        for k in range(1, nozzles + 1):
            a, nz = b + 40 + 12 * (k - 1), f"{fp}/nozzle{k}"
            points += [
                PointSpec(f"{nz}/grade", a + 0, integer=True),
                PointSpec(f"{nz}/lifted", a + 1, DType.BOOL),
                PointSpec(f"{nz}/price", a + 2, DType.U32, unit="fen/L", integer=True, writable=True),
                PointSpec(f"{nz}/volume_total", a + 4, DType.U64, scale=CENTI, unit="L"),
                PointSpec(f"{nz}/amount_total", a + 8, DType.U64, unit="fen", integer=True),
            ]
    return points


def dispenser_v1_panel(fuelling_point: int) -> dict[str, PointSpec]:
    """The command panel of one fuelling point (register map v1 §3.4, §3.2a), by role."""
    b = 100 * fuelling_point
    return {
        "command": PointSpec(f"fp{fuelling_point}/command", b + 90, integer=True, writable=True),
        "arguments": PointSpec(f"fp{fuelling_point}/arguments", b + 91, integer=True, writable=True),  # B+91..94
        "result": PointSpec(f"fp{fuelling_point}/result", b + 96, integer=True),
        "counter": PointSpec(f"fp{fuelling_point}/counter", b + 97, integer=True),
        "window": PointSpec(f"fp{fuelling_point}/window", b + 98, DType.U32, integer=True, writable=True),
    }


def nozzle_lift_coil(fuelling_point: int, nozzle: int) -> PointSpec:
    """Simulator-only control: a coil that lifts (1) or hangs up (0) a nozzle."""
    return PointSpec(f"fp{fuelling_point}/nozzle{nozzle}/lift", 100 * fuelling_point + nozzle, DType.BOOL,
                     table=Table.COIL, writable=True)


def gas_detector_v1(*_: int) -> list[PointSpec]:
    """The Forecourt gas detector map v1 (docs/protocols/gas-detector-modbus-rtu.md)."""
    return [
        PointSpec("concentration", 0, scale=0.1, unit="%LEL", invalid_raw=0xFFFF),
        PointSpec("status", 1, integer=True, description="bit0 warm-up, bit1 AL1, bit2 AL2, bit3 fault, bit4 out"),
        PointSpec("al1_setpoint", 2, scale=0.1, unit="%LEL", writable=True),
        PointSpec("al2_setpoint", 3, scale=0.1, unit="%LEL", writable=True),
        PointSpec("fault_code", 9, integer=True, description="0 none, 1 sensor fault, 2 sensor out"),
    ]


PROFILES: dict[str, Callable[[int, int], list[PointSpec]]] = {
    "dispenser-v1": dispenser_v1,
    "gas-detector-v1": gas_detector_v1,
}
