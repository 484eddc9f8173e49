"""The detector's Modbus register map: one line per register, pure encoding and decoding.

All registers are 16-bit holding registers at 0-based wire addresses 0..16 (FC 03 reads,
FC 04 reads the same table, FC 06 / FC 16 write). Nothing here touches I/O or the model's
state: ``register_image`` renders a model, ``decode_write`` turns a write into the new
settings and command, or the Modbus exception code to answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

from pymodbus.constants import ExcCodes

from simulators.gas_detector.model import DetectorModel, DetectorSettings, SettingRejected


class Access(Enum):
    READ = "R"
    READ_WRITE = "RW"
    COMMAND = "W"


@dataclass(frozen=True)
class RegisterSpec:
    """One 16-bit register: engineering value = raw * scale."""

    address: int
    key: str
    access: Access
    unit: str
    scale: float
    description: str


R, RW, CMD = Access.READ, Access.READ_WRITE, Access.COMMAND
REGISTER_MAP: tuple[RegisterSpec, ...] = (
    RegisterSpec(0, "concentration", R, "% LEL", 0.1, "0..1000; 0 in warm-up; 0xFFFF in fault"),
    RegisterSpec(1, "status", R, "bits", 1, "DetectorStatus bits"),
    RegisterSpec(2, "al1_setpoint", RW, "% LEL", 0.1, "level-1 alarm, 10..250"),
    RegisterSpec(3, "al2_setpoint", RW, "% LEL", 0.1, "level-2 alarm, AL1+1..500"),
    RegisterSpec(4, "hysteresis", RW, "% LEL", 0.1, "alarm clear band, 0..100"),
    RegisterSpec(5, "latch_mode", RW, "bits", 1, "bit0 latch AL1, bit1 latch AL2"),
    RegisterSpec(6, "command", CMD, "", 1, "1 = reset latched alarms; reads the last command"),
    RegisterSpec(7, "lel_basis", RW, "vol %", 0.01, "vol % equal to 100 % LEL, 50..1500"),
    RegisterSpec(8, "unit_code", R, "", 1, "1 = % LEL"),
    RegisterSpec(9, "fault_code", R, "", 1, "0 none, 1 sensor fault, 2 sensor out"),
    RegisterSpec(10, "warmup_remaining", R, "s", 1, "seconds of warm-up left"),
    RegisterSpec(11, "device_address", R, "", 1, "the unit id"),
    RegisterSpec(12, "gas_name_1", R, "ASCII", 1, "gas name chars 1-2, high byte first"),
    RegisterSpec(13, "gas_name_2", R, "ASCII", 1, "gas name chars 3-4"),
    RegisterSpec(14, "gas_name_3", R, "ASCII", 1, "gas name chars 5-6"),
    RegisterSpec(15, "gas_name_4", R, "ASCII", 1, "gas name chars 7-8, NUL padded"),
    RegisterSpec(16, "firmware_version", R, "", 0.01, "102 = v1.02"),
)
REGISTER_COUNT = len(REGISTER_MAP)
ADDRESS = {spec.key: spec.address for spec in REGISTER_MAP}

FAULT_READING = 0xFFFF
UNIT_CODE_PCT_LEL = 1
FIRMWARE_VERSION = 102
COMMAND_NONE = 0x0000
COMMAND_RESET_ALARMS = 0x0001
COMMANDS = frozenset({COMMAND_NONE, COMMAND_RESET_ALARMS})
READ_FUNCTION_CODES = frozenset({3, 4})
WRITE_FUNCTION_CODES = frozenset({6, 16})


def encode_ascii(text: str, registers: int) -> list[int]:
    """Two characters per register, high byte first, NUL padded."""
    raw = text.encode("ascii").ljust(2 * registers, b"\x00")[: 2 * registers]
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def decode_ascii(registers: Sequence[int]) -> str:
    raw = b"".join(value.to_bytes(2, "big") for value in registers)
    return raw.rstrip(b"\x00").decode("ascii")


def encode_concentration(reading_pct_lel: float | None, in_warmup: bool) -> int:
    if reading_pct_lel is None:
        return 0 if in_warmup else FAULT_READING
    return max(0, min(1000, round(reading_pct_lel * 10.0)))


def register_image(model: DetectorModel, unit_id: int) -> list[int]:
    """All 17 registers of one detector, in address order."""
    s = model.settings
    status = model.status
    return [
        encode_concentration(model.reading_pct_lel, model.warmup_remaining_s > 0.0),
        int(status),
        round(s.al1_pct_lel * 10.0),
        round(s.al2_pct_lel * 10.0),
        round(s.hysteresis_pct_lel * 10.0),
        int(s.latch_al1) | int(s.latch_al2) << 1,
        model.last_command,
        round(s.lel_basis_vol_pct * 100.0),
        UNIT_CODE_PCT_LEL,
        int(model.fault_code),
        min(0xFFFF, round(model.warmup_remaining_s)),
        unit_id,
        *encode_ascii(model.config.gas_name, 4),
        FIRMWARE_VERSION,
    ]


def read_block(image: Sequence[int], func_code: int, address: int, count: int) -> list[int] | ExcCodes:
    """The registers a read asks for, or exception 01 / 02."""
    if func_code not in READ_FUNCTION_CODES | WRITE_FUNCTION_CODES:
        return ExcCodes.ILLEGAL_FUNCTION
    if count < 1 or address < 0 or address + count > len(image):
        return ExcCodes.ILLEGAL_ADDRESS
    return list(image[address : address + count])


@dataclass(frozen=True)
class DecodedWrite:
    """What a valid write asks for: the full new settings and an optional command."""

    settings: DetectorSettings
    command: int | None


def decode_write(
    settings: DetectorSettings, func_code: int, address: int, values: Sequence[int]
) -> DecodedWrite | ExcCodes:
    """Validate a write as a whole: 02 for a read-only or unknown address, 03 for a bad value."""
    if func_code not in WRITE_FUNCTION_CODES:
        return ExcCodes.ILLEGAL_FUNCTION
    if not values or address < 0 or address + len(values) > REGISTER_COUNT:
        return ExcCodes.ILLEGAL_ADDRESS
    written = dict(zip(range(address, address + len(values)), values, strict=True))
    if any(REGISTER_MAP[addr].access is Access.READ for addr in written):
        return ExcCodes.ILLEGAL_ADDRESS
    new = settings
    if (raw := written.get(ADDRESS["al1_setpoint"])) is not None:
        new = replace(new, al1_pct_lel=raw / 10.0)
    if (raw := written.get(ADDRESS["al2_setpoint"])) is not None:
        new = replace(new, al2_pct_lel=raw / 10.0)
    if (raw := written.get(ADDRESS["hysteresis"])) is not None:
        new = replace(new, hysteresis_pct_lel=raw / 10.0)
    if (raw := written.get(ADDRESS["latch_mode"])) is not None:
        if raw > 0b11:
            return ExcCodes.ILLEGAL_VALUE
        new = replace(new, latch_al1=bool(raw & 0b01), latch_al2=bool(raw & 0b10))
    if (raw := written.get(ADDRESS["lel_basis"])) is not None:
        new = replace(new, lel_basis_vol_pct=raw / 100.0)
    command = written.get(ADDRESS["command"])
    if command is not None and command not in COMMANDS:
        return ExcCodes.ILLEGAL_VALUE
    try:
        new.check()
    except SettingRejected:
        return ExcCodes.ILLEGAL_VALUE
    return DecodedWrite(settings=new, command=command)
