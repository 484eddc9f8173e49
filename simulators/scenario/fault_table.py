"""Which faults each kind of device takes, and with which arguments (pure data).

The scenario file's ``faults:`` entries and the control port's ``fault`` command are checked
against this table before anything runs; ``faults.py`` carries them out. Kinds of fault target:

- ``dispenser`` (``disp-01``), ``tank_gauge`` (its code, e.g. ``atg-01``), ``tank`` (``tank-1`` …,
  one per tank of the gauge), ``gas_skid`` (``skid-01``), ``detector_line`` (the line's code: every
  detector on it) and ``detector`` (a detector's ``tag``, or ``<line>/<unit id>``), ``charger``
  (its ``charge_point_id``), ``camera`` (its code).
"""

from __future__ import annotations

from collections.abc import Mapping

KINDS = ("dispenser", "tank_gauge", "tank", "gas_skid", "detector_line", "detector", "charger", "camera")

_DETECTORS = ("detector", "detector_line")

#: fault -> kind -> the argument names it accepts
FAULTS: Mapping[str, Mapping[str, frozenset[str]]] = {
    "offline": {
        "dispenser": frozenset({"mode"}), "tank_gauge": frozenset(), "gas_skid": frozenset(),
        **dict.fromkeys(_DETECTORS, frozenset()), "charger": frozenset(), "camera": frozenset({"mode"}),
    },
    "slow": dict.fromkeys(("dispenser", "tank_gauge", "gas_skid", *_DETECTORS, "charger"), frozenset({"delay_ms"})),
    "bad_checksum": {"tank_gauge": frozenset({"count"}), **dict.fromkeys(_DETECTORS, frozenset())},
    "garbage": {
        "dispenser": frozenset({"kind", "count"}), "tank_gauge": frozenset({"count"}),
        **dict.fromkeys(_DETECTORS, frozenset()), "charger": frozenset(),
    },
    "exception": {"dispenser": frozenset({"code", "count"}), **dict.fromkeys(_DETECTORS, frozenset({"code"}))},
    "stuck_sensor": {"tank": frozenset(), "gas_skid": frozenset({"sensor", "value"}), "detector": frozenset()},
    "probe_out": {"tank": frozenset(), "detector": frozenset()},
    "leak": {"tank": frozenset({"l_per_h"}), "detector": frozenset({"peak_pct_lel", "rise_s", "fall_s"})},
    "power_loss": {
        "dispenser": frozenset({"during_fuelling", "max_wait_s"}), "charger": frozenset(),
        **dict.fromkeys(_DETECTORS, frozenset()),
    },
    "charger_fault": {"charger": frozenset({"connector", "error_code", "info"})},
    "fp_error": {"dispenser": frozenset({"fp", "code"})},
    "compressor_trip": {"gas_skid": frozenset({"code"})},
    "gas_dispenser_fault": {"gas_skid": frozenset({"kind", "number", "code"})},
    "sensor_failure": {"gas_skid": frozenset({"sensor"})},
    "vacuum_loss": {"gas_skid": frozenset()},
    "frozen": {"camera": frozenset()},
}

FAULT_NAMES = frozenset(FAULTS)

#: one line per fault for ``help`` and the docs: Chinese, then English
DESCRIPTIONS: Mapping[str, str] = {
    "offline": "离线 device unreachable (dispenser mode=refuse|silent, camera mode=drop|hang|http_503)",
    "slow": "慢应答 answers delay_ms real milliseconds late (default 500)",
    "bad_checksum": "校验错 wrong checksum/CRC (tank gauge: count answers, default until cleared)",
    "garbage": "乱码帧 garbage frames (dispenser kind=random_bytes|bad_protocol_id|bad_length|truncated|…)",
    "exception": "异常码 Modbus exception code on reads (code=4 device failure, 6 busy, …)",
    "stuck_sensor": "传感器卡死 a reading freezes (gas skid sensor=cascade.high …, value=…)",
    "probe_out": "探棒脱落 probe out / sensor missing",
    "leak": "泄漏 tank leak l_per_h (default 5) or gas at a detector peak_pct_lel (default 40)",
    "power_loss": "断电 power lost; dispenser during_fuelling=true waits for a fuelling to cut",
    "charger_fault": "充电桩故障 connector fault (connector=1, error_code=GroundFailure)",
    "fp_error": "加油点故障 fuelling point inoperative (fp=1, code=1)",
    "compressor_trip": "压缩机跳闸 compressor trip (code=3 motor overload)",
    "gas_dispenser_fault": "加气机故障 CNG/LNG dispenser fault (kind=cng|lng, number=1, code=1)",
    "sensor_failure": "传感器失效 transmitter reports BadSensorFailure (sensor=…)",
    "vacuum_loss": "真空失效 LNG tank insulation vacuum lost",
    "frozen": "画面冻结 camera repeats its last frame",
}


def check_fault(fault: str, kind: str, args: Mapping[str, object]) -> str | None:
    """Why ``fault`` with ``args`` cannot hit a device of ``kind``; None when it can."""
    kinds = FAULTS.get(fault)
    if kinds is None:
        return f"unknown fault {fault!r}; known: {', '.join(sorted(FAULT_NAMES))}"
    accepted = kinds.get(kind)
    if accepted is None:
        return f"a {kind} does not take fault {fault!r}; it takes: {', '.join(faults_for(kind)) or 'none'}"
    unknown = sorted(set(args) - accepted)
    if unknown:
        return f"fault {fault!r} on a {kind} takes arguments {sorted(accepted) or 'none'}, not {unknown}"
    return None


def faults_for(kind: str) -> list[str]:
    return sorted(fault for fault, kinds in FAULTS.items() if kind in kinds)
