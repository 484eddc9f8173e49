"""Dispenser register map v1: addresses of the contract, word order, write decoding, command panel."""

from __future__ import annotations

import pytest

from simulators.dispenser.config import DispenserConfig, FuellingPointConfig, NozzleConfig
from simulators.dispenser.model import DispenserModel
from simulators.dispenser.registers import (
    DEVICE_FIELDS,
    FP_FIELDS,
    NOZZLE_FIELDS,
    PANEL_FIELDS,
    RECORD_FIELDS,
    CommandPanel,
    CommandWrite,
    IllegalAddress,
    IllegalValue,
    PanelWrite,
    PriceWrite,
    apply_holding_writes,
    coil_image,
    decode_coil_write,
    decode_holding_write,
    encode_holding,
    get,
    put,
)
from simulators.dispenser.states import CommandResult, FpState, PresetType

NOZZLES = [2, 1]  # FP1 has two nozzles, FP2 one


def make_model(**settings: object) -> DispenserModel:
    config = DispenserConfig.model_validate({
        "fuelling_points": [
            FuellingPointConfig(nozzles=[NozzleConfig(price_fen=789, initial_volume_total_cl=2**40 + 5),
                                         NozzleConfig(grade_id=95, price_fen=70000 // 10)]),
            FuellingPointConfig(nozzles=[NozzleConfig(grade_id=10, price_fen=725, max_flow_l_min=120)]),
        ],
        **settings,
    })
    return DispenserModel(config)


def image_of(model: DispenserModel, panels: list[CommandPanel] | None = None) -> list[int]:
    return encode_holding(model.view(), panels or [CommandPanel(), CommandPanel()])


# The contract as written in the design note: (key, offset, words). Other code depends on these.
CONTRACT = {
    "device": (DEVICE_FIELDS, [("map_version", 0, 1), ("fp_count", 1, 1), ("status_bits", 2, 1)]),
    "fp": (FP_FIELDS, [("state", 0, 1), ("active_nozzle", 1, 1), ("buffer_state", 2, 1), ("error_code", 3, 1),
                       ("price_fen", 4, 2), ("volume_cl", 6, 2), ("amount_fen", 8, 2), ("flow_dl_min", 10, 1),
                       ("unpaid_count", 11, 1), ("transaction_number", 12, 2)]),
    "record": (RECORD_FIELDS, [("number", 20, 2), ("nozzle", 22, 1), ("buffer_state", 23, 1),
                               ("volume_cl", 24, 2), ("amount_fen", 26, 2), ("price_fen", 28, 2),
                               ("started_unix_s", 30, 2), ("ended_unix_s", 32, 2),
                               ("volume_total_after_cl", 34, 4)]),
    "nozzle": (NOZZLE_FIELDS, [("grade_id", 0, 1), ("lifted", 1, 1), ("price_fen", 2, 2),
                               ("volume_total_cl", 4, 4), ("amount_total_fen", 8, 4)]),
    "panel": (PANEL_FIELDS, [("command", 90, 1), ("preset_type", 91, 1), ("preset_value", 92, 2),
                             ("nozzle", 94, 1), ("result", 96, 1), ("counter", 97, 1)]),
}


@pytest.mark.parametrize("block", CONTRACT)
def test_contract_addresses_are_kept(block: str) -> None:
    fields, expected = CONTRACT[block]
    actual = {(f.key, f.offset, f.words) for f in fields}
    assert set(expected) <= actual


def test_fields_of_a_fuelling_point_do_not_overlap() -> None:
    used: list[int] = []
    for fields in (FP_FIELDS, RECORD_FIELDS, PANEL_FIELDS):
        used += [f.offset + i for f in fields for i in range(f.words)]
    for k in range(4):
        used += [40 + 12 * k + f.offset + i for f in NOZZLE_FIELDS for i in range(f.words)]
    assert len(used) == len(set(used)) and max(used) < 100


@pytest.mark.parametrize(
    ("words", "value", "registers"),
    [(1, 789, [789]), (2, 70000, [1, 4464]), (2, 2**32 - 1, [0xFFFF, 0xFFFF]),
     (4, 2**40 + 5, [0, 0x100, 0, 5]), (4, 0x0102030405060708, [0x0102, 0x0304, 0x0506, 0x0708])],
)
def test_values_are_written_high_word_first(words: int, value: int, registers: list[int]) -> None:
    image = [0] * 6
    put(image, 1, words, value)
    assert image[1 : 1 + words] == registers
    assert get(image, 1, words) == value


def test_idle_dispenser_image() -> None:
    model = make_model()
    image = image_of(model)
    assert len(image) == 300
    assert image[0:3] == [1, 2, 0b0001]
    assert get(image, 4, 2) == int(model.now.timestamp())
    assert image[100:104] == [FpState.IDLE, 0, 0, 0]
    assert image[140:148] == [92, 0, 0, 789, 0, 0x100, 0, 5]  # nozzle 1 grade, lifted, price, volume total
    assert image[152:156] == [95, 0, 0, 7000]
    assert image[164:176] == [0] * 12  # nozzle 3 does not exist
    assert image[240:244] == [10, 0, 0, 725]


def test_fuelling_and_record_image() -> None:
    model = make_model()
    model.lift_nozzle(1, 1)
    model.authorise(1, PresetType.VOLUME, 1000)
    model.advance(10)
    image = image_of(model)
    fp = model.fp_view(1)
    assert image[0:3] == [1, 2, 0b0011]  # power ok, fuelling
    assert image[100:102] == [FpState.FUELLING, 1]
    assert get(image, 106, 2) == fp.volume_cl > 0
    assert get(image, 108, 2) == fp.amount_fen
    assert image[110] == 400  # 40.0 L/min
    assert (get(image, 112, 2), image[114], get(image, 116, 2)) == (1, PresetType.VOLUME, 1000)
    model.advance(60)
    image = image_of(model)
    tx = model.transactions(1)[-1]
    assert image[102] == 2 and image[111] == 1 and image[0:3] == [1, 2, 0b1001]
    assert (get(image, 120, 2), image[122], image[123]) == (1, 1, 2)
    assert (get(image, 124, 2), get(image, 126, 2), get(image, 128, 2)) == (1000, 7890, 789)
    assert get(image, 130, 2) == int(tx.started_at.timestamp()) < get(image, 132, 2)
    assert get(image, 134, 4) - get(image, 124, 2) == 2**40 + 5  # totalizer before = after - volume
    assert (image[138], image[139]) == (92, 2)  # grade, end reason preset reached
    assert image[118] == 1  # nozzle still up: must be hung up


def test_coil_image_marks_lifted_nozzles() -> None:
    model = make_model()
    model.lift_nozzle(2, 1)
    coils = coil_image(model.view())
    assert [i for i, lifted in enumerate(coils) if lifted] == [201]


def test_fc16_authorise_decodes_arguments_before_the_command() -> None:
    model = make_model()
    writes = decode_holding_write(image_of(model), 190, [1, 2, 0, 20000, 1], NOZZLES)
    assert writes == [PanelWrite(1, "preset_type", 2), PanelWrite(1, "preset_value", 20000),
                      PanelWrite(1, "nozzle", 1), CommandWrite(1, 1)]


@pytest.mark.parametrize(
    ("address", "values"),
    [(100, [3]), (189, [0, 1]), (195, [0]), (196, [0]), (190, [1] * 10), (164, [0, 100]), (242, [0, 1, 0])],
    ids=["state", "before-panel", "reserved", "result", "panel-to-counter", "missing-nozzle", "past-price"],
)
def test_writes_outside_writable_registers_are_illegal_addresses(address: int, values: list[int]) -> None:
    with pytest.raises(IllegalAddress):
        decode_holding_write(image_of(make_model()), address, values, NOZZLES)


@pytest.mark.parametrize(("values", "address"), [([0, 0], 142), ([0, 10001], 142), ([1, 0], 142)])
def test_bad_prices_are_illegal_values(values: list[int], address: int) -> None:
    with pytest.raises(IllegalValue):
        decode_holding_write(image_of(make_model()), address, values, NOZZLES)


def test_price_written_one_word_at_a_time_keeps_the_other_word() -> None:
    model = make_model()
    assert decode_holding_write(image_of(model), 143, [812], NOZZLES) == [PriceWrite(1, 1, 812)]


def test_command_panel_runs_and_resets_its_arguments() -> None:
    model = make_model()
    panels = [CommandPanel(), CommandPanel()]
    model.lift_nozzle(1, 2)
    for address, values in [(191, [1]), (192, [0, 300]), (190, [1])]:
        apply_holding_writes(model, panels, decode_holding_write(image_of(model, panels), address, values, NOZZLES))
    assert model.fp_view(1).state is FpState.STARTED and model.fp_view(1).preset_value == 300
    assert (panels[0].result, panels[0].counter, panels[0].preset_type, panels[0].preset_value) == (0, 1, 0, 0)
    image = image_of(model, panels)
    assert image[190:198] == [0, 0, 0, 0, 0, 0, 0, 1]


@pytest.mark.parametrize(
    ("command", "transaction", "result"),
    [([2], 0, CommandResult.REFUSED), ([77], 0, CommandResult.BAD_ARGUMENT),
     ([1, 1, 0, 0], 0, CommandResult.BAD_ARGUMENT), ([1, 3, 0, 5], 0, CommandResult.BAD_ARGUMENT),
     ([1, 0, 0, 0, 4], 0, CommandResult.BAD_ARGUMENT), ([5], 0, CommandResult.REFUSED),
     ([5], 9, CommandResult.BAD_ARGUMENT), ([7], 0, CommandResult.REFUSED)],
    ids=["stop-idle", "unknown", "volume-0", "preset-type-3", "nozzle-4", "clear-empty", "clear-unknown", "open-open"],
)
def test_refused_and_bad_commands_are_reported_in_the_result_register(
    command: list[int], transaction: int, result: CommandResult
) -> None:
    model = make_model()
    panels = [CommandPanel(), CommandPanel()]
    if transaction:
        apply_holding_writes(model, panels, decode_holding_write(image_of(model, panels), 198, [0, transaction],
                                                                 NOZZLES))
    apply_holding_writes(model, panels, decode_holding_write(image_of(model, panels), 190, command, NOZZLES))
    assert panels[0].result == result
    assert panels[0].counter == 1


def test_writing_command_0_sets_arguments_without_running_anything() -> None:
    model, panels = make_model(), [CommandPanel(), CommandPanel()]
    writes = decode_holding_write(image_of(model, panels), 190, [0, 1, 0, 500], NOZZLES)
    apply_holding_writes(model, panels, writes)
    assert (panels[0].counter, panels[0].preset_type, panels[0].preset_value) == (0, 1, 500)
    assert model.fp_view(1).state is FpState.IDLE


def test_command_counter_wraps() -> None:
    model, panel = make_model(), CommandPanel(counter=0xFFFF)
    panel.execute(model, 1, 2)
    assert panel.counter == 0


@pytest.mark.parametrize(
    ("address", "bits", "changes"),
    [(101, [True], [(1, 1, True)]), (101, [False, True], [(1, 1, False), (1, 2, True)]), (201, [True], [(2, 1, True)])],
)
def test_coil_writes_decode_to_nozzles(address: int, bits: list[bool], changes: list[tuple[int, int, bool]]) -> None:
    assert decode_coil_write(address, bits, NOZZLES) == changes


@pytest.mark.parametrize(("address", "bits"), [(100, [True]), (103, [True]), (202, [True]), (301, [True]),
                                               (101, [True, True, True])])
def test_other_coils_are_illegal_addresses(address: int, bits: list[bool]) -> None:
    with pytest.raises(IllegalAddress):
        decode_coil_write(address, bits, NOZZLES)
