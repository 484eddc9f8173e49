"""Gas detector register map, write decoding, fault byte helpers and RTU frame reassembly."""

from __future__ import annotations

import random

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerRTU

from simulators.gas_detector.bus import BusCounters, RtuReceiver
from simulators.gas_detector.config import DetectorConfig
from simulators.gas_detector.faults import garbage_like, with_bad_crc
from simulators.gas_detector.model import DetectorModel, DetectorSettings
from simulators.gas_detector.registers import (
    ADDRESS,
    FAULT_READING,
    REGISTER_MAP,
    decode_ascii,
    decode_write,
    encode_ascii,
    read_block,
    register_image,
)

# Unit 1, FC 03, address 0, count 2 -- CRC from the Modbus spec's algorithm, checked by hand.
READ_UNIT1_HR0_2 = bytes.fromhex("010300000002c40b")


def detector(**overrides: object) -> DetectorModel:
    settings: dict[str, object] = {"unit_id": 5, "warmup_s": 0.0, "noise_pct_lel": 0.0, **overrides}
    return DetectorModel(DetectorConfig.model_validate(settings), random.Random(0))


def test_map_is_contiguous_from_zero() -> None:
    assert [spec.address for spec in REGISTER_MAP] == list(range(17))
    assert len({spec.key for spec in REGISTER_MAP}) == 17


def test_image_of_a_clean_detector() -> None:
    image = register_image(detector(gas_name="CH4"), 5)
    assert image[:12] == [0, 0, 250, 500, 20, 0b10, 0, 500, 1, 0, 0, 5]
    assert image[12:16] == [0x4348, 0x3400, 0, 0]
    assert decode_ascii(image[12:16]) == "CH4"
    assert image[16] == 102


def test_image_scales_concentration_and_sets_status_bits() -> None:
    model = detector()
    model.start_leak(peak_pct_lel=37.44, rise_s=0.0, hold_s=600.0, fall_s=0.0)
    model.advance(120.0)
    image = register_image(model, 5)
    assert image[ADDRESS["concentration"]] == 374
    assert image[ADDRESS["status"]] == 0x0002


def test_warm_up_reads_zero_and_fault_reads_the_fault_value() -> None:
    warming = detector(warmup_s=60.0)
    image = register_image(warming, 5)
    assert image[0] == 0 and image[1] == 0x0001 and image[ADDRESS["warmup_remaining"]] == 60
    faulty = detector()
    faulty.set_probe_out()
    image = register_image(faulty, 5)
    assert image[0] == FAULT_READING
    assert image[1] == 0x0018 and image[ADDRESS["fault_code"]] == 2


def test_ascii_round_trip_and_padding() -> None:
    assert encode_ascii("C3H8", 4) == [0x4333, 0x4838, 0, 0]
    assert decode_ascii(encode_ascii("GASOLINE", 4)) == "GASOLINE"


@pytest.mark.parametrize(
    ("func_code", "address", "count", "expected"),
    [
        (3, 0, 3, [10, 11, 12]),
        (4, 15, 2, [25, 26]),
        (3, 16, 2, ExcCodes.ILLEGAL_ADDRESS),
        (3, 0, 0, ExcCodes.ILLEGAL_ADDRESS),
        (1, 0, 1, ExcCodes.ILLEGAL_FUNCTION),
    ],
)
def test_read_block(func_code: int, address: int, count: int, expected: object) -> None:
    assert read_block(list(range(10, 27)), func_code, address, count) == expected


SETTINGS = DetectorSettings(25.0, 50.0, 2.0, False, True, 5.0)


def test_decode_write_of_both_setpoints_at_once() -> None:
    decoded = decode_write(SETTINGS, 16, 2, [300 // 2, 400])  # AL1 15.0, AL2 40.0
    assert not isinstance(decoded, ExcCodes)
    assert (decoded.settings.al1_pct_lel, decoded.settings.al2_pct_lel) == (15.0, 40.0)
    assert decoded.command is None


def test_decode_write_of_latch_mode_basis_and_reset_command() -> None:
    decoded = decode_write(SETTINGS, 16, 5, [0b01, 1, 440])
    assert not isinstance(decoded, ExcCodes)
    assert decoded.settings.latch_al1 and not decoded.settings.latch_al2
    assert decoded.settings.lel_basis_vol_pct == 4.4
    assert decoded.command == 1


@pytest.mark.parametrize(
    ("func_code", "address", "values", "code"),
    [
        (6, 0, [0], ExcCodes.ILLEGAL_ADDRESS),  # concentration is read-only
        (16, 1, [0, 200], ExcCodes.ILLEGAL_ADDRESS),  # status is read-only, nothing written
        (16, 16, [1, 2], ExcCodes.ILLEGAL_ADDRESS),  # beyond the map
        (6, 2, [260], ExcCodes.ILLEGAL_VALUE),  # AL1 above 25 % LEL
        (6, 3, [240], ExcCodes.ILLEGAL_VALUE),  # AL2 below AL1
        (6, 3, [510], ExcCodes.ILLEGAL_VALUE),  # AL2 above 50 % LEL
        (6, 5, [4], ExcCodes.ILLEGAL_VALUE),  # unknown latch bit
        (6, 6, [7], ExcCodes.ILLEGAL_VALUE),  # unknown command
        (6, 7, [20], ExcCodes.ILLEGAL_VALUE),  # LEL basis 0.2 vol %
        (5, 2, [1], ExcCodes.ILLEGAL_FUNCTION),
    ],
)
def test_decode_write_rejections(func_code: int, address: int, values: list[int], code: ExcCodes) -> None:
    assert decode_write(SETTINGS, func_code, address, values) == code


def test_bad_crc_and_garbage_never_check() -> None:
    good = READ_UNIT1_HR0_2
    assert FramerRTU.check_CRC(good[:-2], int.from_bytes(good[-2:], "big"))
    for frame in (with_bad_crc(good), garbage_like(good, random.Random(3))):
        assert len(frame) == len(good) and frame != good
        assert not FramerRTU.check_CRC(frame[:-2], int.from_bytes(frame[-2:], "big"))


def test_receiver_reassembles_a_split_frame_after_noise_and_silence() -> None:
    counters = BusCounters()
    receiver = RtuReceiver(0.004, counters)
    assert receiver.feed(b"\x00\xff", at=0.0) == []
    assert receiver.feed(READ_UNIT1_HR0_2[:3], at=1.0) == []
    (request,) = receiver.feed(READ_UNIT1_HR0_2[3:], at=1.001)
    assert (request.dev_id, request.function_code, request.address, request.count) == (1, 3, 0, 2)
    assert counters.discarded_bytes == 2


def test_receiver_drops_a_frame_with_a_bad_crc() -> None:
    counters = BusCounters()
    receiver = RtuReceiver(0.004, counters)
    assert receiver.feed(with_bad_crc(READ_UNIT1_HR0_2), at=0.0) == []
    assert counters.discarded_bytes == len(READ_UNIT1_HR0_2)
    assert len(receiver.feed(READ_UNIT1_HR0_2, at=1.0)) == 1


def test_receiver_forgets_a_partial_frame_after_line_silence() -> None:
    counters = BusCounters()
    receiver = RtuReceiver(0.004, counters)
    receiver.feed(READ_UNIT1_HR0_2[:5], at=0.0)
    (request,) = receiver.feed(READ_UNIT1_HR0_2, at=5.0)
    assert request.dev_id == 1
    assert counters.discarded_bytes == 5
