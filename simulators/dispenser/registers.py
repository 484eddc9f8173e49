"""Register map v1 of the dispenser (docs/protocols/dispenser-modbus.md) as pure functions.

Holding registers, 0-based wire addresses; fuelling point n (1..4) at base B = 100*n; 32/64-bit
values unsigned with the high word at the lower address. One ``Field`` line per value; the
encoder fills an image of the whole map from a model view, the decoder turns a write request
into typed writes (or refuses it), and ``apply_holding_writes`` carries them out on the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from simulators.dispenser.config import MAX_PRICE_FEN
from simulators.dispenser.model import DispenserModel
from simulators.dispenser.states import CommandResult
from simulators.dispenser.transactions import Transaction
from simulators.dispenser.views import DispenserView, FpView, NozzleView

MAP_VERSION = 1
FP_STRIDE = 100
NOZZLE_BASE = 40
NOZZLE_STRIDE = 12
MAX_NOZZLES = 4


@dataclass(frozen=True, slots=True)
class Field:
    """``words`` registers at ``offset`` (from the block base) holding the value named ``key``."""

    offset: int
    words: int
    key: str
    writable: bool = False


DEVICE_FIELDS = (
    Field(0, 1, "map_version"),
    Field(1, 1, "fp_count"),
    Field(2, 1, "status_bits"),
    Field(4, 2, "clock_unix_s"),
)
FP_FIELDS = (
    Field(0, 1, "state"),
    Field(1, 1, "active_nozzle"),
    Field(2, 1, "buffer_state"),
    Field(3, 1, "error_code"),
    Field(4, 2, "price_fen"),
    Field(6, 2, "volume_cl"),
    Field(8, 2, "amount_fen"),
    Field(10, 1, "flow_dl_min"),
    Field(11, 1, "unpaid_count"),
    Field(12, 2, "transaction_number"),
    Field(14, 1, "preset_type"),
    Field(16, 2, "preset_value"),
    Field(18, 1, "hang_up_required"),
)
RECORD_FIELDS = (  # last completed transaction, offsets from B
    Field(20, 2, "number"),
    Field(22, 1, "nozzle"),
    Field(23, 1, "buffer_state"),
    Field(24, 2, "volume_cl"),
    Field(26, 2, "amount_fen"),
    Field(28, 2, "price_fen"),
    Field(30, 2, "started_unix_s"),
    Field(32, 2, "ended_unix_s"),
    Field(34, 4, "volume_total_after_cl"),
    Field(38, 1, "grade_id"),
    Field(39, 1, "end_reason"),
)
NOZZLE_FIELDS = (  # offsets from B + 40 + 12*(k-1)
    Field(0, 1, "grade_id"),
    Field(1, 1, "lifted"),
    Field(2, 2, "price_fen", writable=True),
    Field(4, 4, "volume_total_cl"),
    Field(8, 4, "amount_total_fen"),
)
PANEL_FIELDS = (  # command panel, offsets from B
    Field(90, 1, "command", writable=True),
    Field(91, 1, "preset_type", writable=True),
    Field(92, 2, "preset_value", writable=True),
    Field(94, 1, "nozzle", writable=True),
    Field(96, 1, "result"),
    Field(97, 1, "counter"),
    Field(98, 2, "transaction", writable=True),
)


class RegisterMapError(Exception):
    """A request the register map refuses; ``exception_code`` is the Modbus answer."""

    exception_code = 4


class IllegalAddress(RegisterMapError):
    exception_code = 2


class IllegalValue(RegisterMapError):
    exception_code = 3


@dataclass(slots=True)
class CommandPanel:
    """Argument registers B+91..99 of one FP plus the last result and the command counter."""

    preset_type: int = 0
    preset_value: int = 0
    nozzle: int = 0
    transaction: int = 0
    result: int = 0
    counter: int = 0

    def execute(self, model: DispenserModel, fp: int, command: int) -> CommandResult:
        """Run ``command`` with the argument registers, then reset them to 0 (no stale presets)."""
        result = model.execute(fp, command, preset_type=self.preset_type, preset_value=self.preset_value,
                               nozzle=self.nozzle, transaction=self.transaction)
        self.result, self.counter = int(result), (self.counter + 1) % 0x10000
        self.preset_type = self.preset_value = self.nozzle = self.transaction = 0
        return result


@dataclass(frozen=True, slots=True)
class PriceWrite:
    fp: int
    nozzle: int
    price_fen: int


@dataclass(frozen=True, slots=True)
class PanelWrite:
    fp: int
    key: str
    value: int


@dataclass(frozen=True, slots=True)
class CommandWrite:
    fp: int
    command: int


RegisterWrite = PriceWrite | PanelWrite | CommandWrite


@dataclass(frozen=True, slots=True)
class _Slot:
    """Where a field of the map lives: its absolute address and which FP / nozzle it belongs to."""

    address: int
    fp: int
    nozzle: int
    spec: Field


def holding_register_count(fp_count: int) -> int:
    """Size of the holding-register map: device block plus 100 registers per fuelling point."""
    return FP_STRIDE * (fp_count + 1)


def nozzle_base(fp: int, nozzle: int) -> int:
    return FP_STRIDE * fp + NOZZLE_BASE + NOZZLE_STRIDE * (nozzle - 1)


def put(image: list[int], address: int, words: int, value: int) -> None:
    """Write an unsigned value over ``words`` registers, high word first."""
    value %= 1 << (16 * words)
    for i in range(words):
        image[address + i] = (value >> (16 * (words - 1 - i))) & 0xFFFF


def get(image: Sequence[int], address: int, words: int) -> int:
    value = 0
    for i in range(words):
        value = (value << 16) | image[address + i]
    return value


# ----- encoding ------------------------------------------------------------------------------
def encode_holding(view: DispenserView, panels: Sequence[CommandPanel]) -> list[int]:
    """The whole holding-register image for a model view and the FPs' command panels."""
    image = [0] * holding_register_count(len(view.fuelling_points))
    _put_fields(image, 0, DEVICE_FIELDS, _device_values(view))
    for fp, panel in zip(view.fuelling_points, panels, strict=True):
        base = FP_STRIDE * fp.number
        _put_fields(image, base, FP_FIELDS, _fp_values(fp))
        _put_fields(image, base, RECORD_FIELDS, _record_values(fp.last))
        _put_fields(image, base, PANEL_FIELDS, _panel_values(panel))
        for nozzle in fp.nozzles:
            _put_fields(image, nozzle_base(fp.number, nozzle.number), NOZZLE_FIELDS, _nozzle_values(nozzle))
    return image


def encode_input(view: DispenserView, panels: Sequence[CommandPanel],
                 buffers: Sequence[Sequence[Transaction]]) -> list[int]:
    """Input registers (FC04): at B+20..39 of each FP, the record of the buffered transaction whose
    number is in B+98..99 (the transaction window), zeros when it is no longer in the buffer."""
    image = [0] * holding_register_count(len(view.fuelling_points))
    for fp, panel, buffer in zip(view.fuelling_points, panels, buffers, strict=True):
        chosen = next((t for t in buffer if t.number == panel.transaction), None) if panel.transaction else None
        _put_fields(image, FP_STRIDE * fp.number, RECORD_FIELDS, _record_values(chosen))
    return image


def coil_image(view: DispenserView) -> list[bool]:
    """Simulation-only coils: coil 100*n + k is nozzle k of FP n, 1 = lifted."""
    coils = [False] * holding_register_count(len(view.fuelling_points))
    for fp in view.fuelling_points:
        for nozzle in fp.nozzles:
            coils[FP_STRIDE * fp.number + nozzle.number] = nozzle.lifted
    return coils


def _put_fields(image: list[int], base: int, fields: Sequence[Field], values: Mapping[str, int]) -> None:
    for spec in fields:
        put(image, base + spec.offset, spec.words, values[spec.key])


def _device_values(view: DispenserView) -> dict[str, int]:
    bits = view.powered | view.any_fuelling << 1 | view.any_error << 2 | view.any_unpaid << 3
    return {"map_version": MAP_VERSION, "fp_count": len(view.fuelling_points), "status_bits": bits,
            "clock_unix_s": int(view.now.timestamp())}


def _fp_values(fp: FpView) -> dict[str, int]:
    return {
        "state": fp.state, "active_nozzle": fp.active_nozzle, "buffer_state": fp.buffer_state,
        "error_code": fp.error_code, "price_fen": fp.price_fen, "volume_cl": fp.volume_cl,
        "amount_fen": fp.amount_fen, "flow_dl_min": round(fp.flow_l_min * 10), "unpaid_count": fp.unpaid_count,
        "transaction_number": fp.transaction_number, "preset_type": fp.preset_type,
        "preset_value": fp.preset_value, "hang_up_required": fp.hang_up_required,
    }


def _record_values(tx: Transaction | None) -> dict[str, int]:
    if tx is None:
        return {spec.key: 0 for spec in RECORD_FIELDS}
    return {
        "number": tx.number, "nozzle": tx.nozzle, "buffer_state": tx.buffer_state, "volume_cl": tx.volume_cl,
        "amount_fen": tx.amount_fen, "price_fen": tx.price_fen, "started_unix_s": int(tx.started_at.timestamp()),
        "ended_unix_s": int(tx.ended_at.timestamp()), "volume_total_after_cl": tx.volume_total_after_cl,
        "grade_id": tx.grade_id, "end_reason": tx.end_reason,
    }


def _nozzle_values(nozzle: NozzleView) -> dict[str, int]:
    return {"grade_id": nozzle.grade_id, "lifted": nozzle.lifted, "price_fen": nozzle.price_fen,
            "volume_total_cl": nozzle.volume_total_cl, "amount_total_fen": nozzle.amount_total_fen}


def _panel_values(panel: CommandPanel) -> dict[str, int]:
    return {"command": 0, "preset_type": panel.preset_type, "preset_value": panel.preset_value,
            "nozzle": panel.nozzle, "result": panel.result, "counter": panel.counter,
            "transaction": panel.transaction}


# ----- decoding writes -----------------------------------------------------------------------
def writable_slots(nozzle_counts: Sequence[int]) -> dict[int, _Slot]:
    """Every writable register address -> the field it belongs to (for FPs 1..len(nozzle_counts))."""
    slots: dict[int, _Slot] = {}
    for fp, nozzles in enumerate(nozzle_counts, start=1):
        blocks: list[tuple[int, int, Sequence[Field]]] = [(FP_STRIDE * fp, 0, PANEL_FIELDS)]
        blocks += [(nozzle_base(fp, k), k, NOZZLE_FIELDS) for k in range(1, nozzles + 1)]
        for base, nozzle, fields in blocks:
            for spec in (s for s in fields if s.writable):
                slot = _Slot(base + spec.offset, fp, nozzle, spec)
                slots.update({slot.address + i: slot for i in range(spec.words)})
    return slots


def decode_holding_write(
    image: Sequence[int], address: int, values: Sequence[int], nozzle_counts: Sequence[int]
) -> list[RegisterWrite]:
    """Typed writes for an FC06/FC16 request; commands come last. Raises ``RegisterMapError``.

    ``image`` is the current map: a 32-bit field written one word at a time keeps its other word.
    Nothing is applied when anything in the request is refused.
    """
    slots = writable_slots(nozzle_counts)
    addresses = range(address, address + len(values))
    if not values or any(a not in slots for a in addresses):
        raise IllegalAddress(f"registers {address}..{address + len(values) - 1} are not all writable")
    new_image = list(image)
    new_image[address : address + len(values)] = values
    touched = sorted({slots[a] for a in addresses}, key=lambda s: s.address)
    writes: list[RegisterWrite] = []
    commands: list[RegisterWrite] = []
    for slot in touched:
        value = get(new_image, slot.address, slot.spec.words)
        if slot.spec.key == "price_fen":
            if not 0 < value <= MAX_PRICE_FEN:
                raise IllegalValue(f"price {value} fen/L outside 1..{MAX_PRICE_FEN}")
            writes.append(PriceWrite(slot.fp, slot.nozzle, value))
        elif slot.spec.key == "command":
            if value:  # 0 is "no command": B+90 reads 0, so a read-modify-write must not trigger one
                commands.append(CommandWrite(slot.fp, value))
        else:
            writes.append(PanelWrite(slot.fp, slot.spec.key, value))
    return writes + commands


def apply_holding_writes(
    model: DispenserModel, panels: Sequence[CommandPanel], writes: Sequence[RegisterWrite]
) -> None:
    """Carry out decoded writes: prices and argument registers first, then commands."""
    for write in writes:
        panel = panels[write.fp - 1]
        if isinstance(write, PriceWrite):
            model.set_price(write.fp, write.nozzle, write.price_fen)
        elif isinstance(write, PanelWrite):
            setattr(panel, write.key, write.value)
        else:
            panel.execute(model, write.fp, write.command)


def decode_coil_write(address: int, bits: Sequence[bool], nozzle_counts: Sequence[int]) -> list[tuple[int, int, bool]]:
    """(fp, nozzle, lifted) for an FC05/FC15 request; every coil must be a nozzle's."""
    changes = []
    for offset, lifted in enumerate(bits):
        fp, nozzle = divmod(address + offset, FP_STRIDE)
        if not (1 <= fp <= len(nozzle_counts) and 1 <= nozzle <= nozzle_counts[fp - 1]):
            raise IllegalAddress(f"coil {address + offset} is not a nozzle coil")
        changes.append((fp, nozzle, bool(lifted)))
    return changes
