"""The card reader's codec from byte tables (bad frames included) and the chip's rules, without a socket."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from business_services.ic_cards.model import GreyRule, Psam, counter_of, grey_rule, reference, wait_message
from simulators.card_reader.chip import Chip
from telemetry.contracts.card_reader import (
    AID,
    SW,
    Command,
    Frame,
    GreyRecord,
    Ins,
    ProtocolError,
    Response,
    amounts,
    card_from_bcd,
    card_key,
    split,
)

KEY = bytes(range(16))
CARD = "1000113200000001"
AT = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def test_a_frame_round_trips_and_names_its_parts() -> None:
    raw = Frame(2, 0x12, 7, b"\x00\xa4").encode()
    assert raw.hex() == "020005" + "021207" + "00a4" + raw[-3:-1].hex() + "03"
    assert split(raw + b"\x02") == (Frame(2, 0x12, 7, b"\x00\xa4"), len(raw))


@pytest.mark.parametrize(("raw", "why"), [
    (b"\xff\xfe" + Frame(1, 0x10, 1).encode(), "garbage"),
    (bytes.fromhex("02ffff"), "length"),
    (Frame(1, 0x10, 1).encode()[:-3] + b"\x00\x00\x03", "CRC"),
    (Frame(1, 0x10, 1).encode()[:-1] + b"\x04", "CRC or ETX"),
])
def test_bad_bytes_are_named_and_skipped(raw: bytes, why: str) -> None:
    found, used = split(raw)
    assert isinstance(found, ProtocolError) and why in str(found) and used > 0


def test_a_frame_cut_short_waits_for_the_rest() -> None:
    raw = Frame(1, 0x10, 1).encode()
    assert split(raw[:5]) == (None, 0)


def test_an_apdu_with_a_wrong_lc_is_refused() -> None:
    with pytest.raises(ProtocolError):
        Command.decode(bytes.fromhex("80500102050102"))


def selected(balance: int = 10000) -> Chip:
    chip = Chip(CARD, card_key(KEY, CARD), balance)
    assert Response.decode(chip.run(Command(0, Ins.SELECT, 4, 0, AID).encode())).sw == SW.OK
    return chip


def run(chip: Chip, command: Command) -> Response:
    return Response.decode(chip.run(command.encode()))


def lock(chip: Chip) -> int:
    answer = run(chip, Command(0x80, Ins.INITIALIZE_FOR_PURCHASE, 1, 2, GreyRecord("st-01", "disp-01", 1, AT).encode()))
    assert answer.sw == SW.OK
    return int(struct.unpack(">HI", answer.data)[0])


def test_the_chip_debits_a_lock_once_and_a_pull_ends_the_session() -> None:
    chip = selected()
    counter = lock(chip)
    assert chip.grey is not None and chip.grey.counter == counter == 1
    assert run(chip, Command(0x80, Ins.INITIALIZE_FOR_PURCHASE, 1, 2,
                             GreyRecord("st-01", "disp-01", 1, AT).encode())).sw == SW.CONDITIONS   # grey already
    chip.reset()
    selected_again = run(chip, Command(0, Ins.SELECT, 4, 0, AID))
    assert selected_again.sw == SW.OK and card_from_bcd(selected_again.data) == CARD
    debit = Command(0x80, Ins.DEBIT_FOR_PURCHASE, 1, 0, amounts(counter, 2500, AT))
    assert run(chip, debit).sw == SW.CONDITIONS            # the session that locked is gone: only unlock now
    psam = Psam(KEY)
    unlock = Command(0x80, Ins.DEBIT_FOR_UNLOCK, 8, 0, amounts(counter, 2500, AT) + psam.unlock_mac(CARD, counter,
                                                                                                   2500, AT))
    answer = run(chip, unlock)
    assert answer.sw == SW.OK and answer.data == psam.tac(CARD, counter, 2500, AT)
    assert run(chip, unlock).sw == SW.CONDITIONS           # replayed: not grey any more, no second debit
    assert (chip.balance_fen, chip.grey, chip.log[0].kind) == (7500, None, "P")


def test_the_chip_refuses_a_wrong_mac_a_short_purse_and_a_stale_load() -> None:
    chip = selected(1000)
    counter = lock(chip)
    psam = Psam(KEY)
    forged = amounts(counter, 100, AT) + b"\0\0\0\0"
    assert run(chip, Command(0x80, Ins.DEBIT_FOR_UNLOCK, 8, 0, forged)).sw == SW.MAC_INVALID
    too_much = amounts(counter, 5000, AT) + psam.unlock_mac(CARD, counter, 5000, AT)
    assert run(chip, Command(0x80, Ins.DEBIT_FOR_UNLOCK, 8, 0, too_much)).sw == SW.INSUFFICIENT
    release = amounts(counter, 0, AT) + psam.unlock_mac(CARD, counter, 0, AT)
    assert run(chip, Command(0x80, Ins.DEBIT_FOR_UNLOCK, 8, 0, release)).sw == SW.OK
    load = amounts(counter + 1, 2000, AT) + psam.load_mac(CARD, counter + 1, 2000, AT)
    assert run(chip, Command(0x80, Ins.CREDIT_FOR_LOAD, 0, 0, load)).sw == SW.OK
    assert run(chip, Command(0x80, Ins.CREDIT_FOR_LOAD, 0, 0, load)).sw == SW.COUNTER_MISMATCH   # replayed load
    assert chip.balance_fen == 3000 and [r.kind for r in chip.log] == ["L", "U"]


def test_the_grey_rule_and_the_payment_reference() -> None:
    record = GreyRecord("st-01", "disp-01", 1, AT, 3)
    delay = timedelta(minutes=10)
    assert grey_rule(record, "st-01", AT + timedelta(hours=1), delay) is GreyRule.OWN
    assert grey_rule(record, "st-02", AT + timedelta(minutes=9), delay) is GreyRule.WAIT
    assert grey_rule(record, "st-02", AT + timedelta(minutes=10), delay) is GreyRule.HEAD_OFFICE
    assert "2 分钟后" in wait_message(record, AT + timedelta(minutes=8, seconds=30), delay)
    assert counter_of(reference(3, b"\x01\x02\x03\x04")) == 3 and counter_of("880012") is None
