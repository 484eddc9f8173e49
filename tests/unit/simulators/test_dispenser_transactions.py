"""Transaction buffer of the dispenser: Payable -> Locked -> Cleared, unpaid limit, numbering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from simulators.clock import ManualClock
from simulators.dispenser.config import DispenserConfig, FuellingPointConfig, NozzleConfig
from simulators.dispenser.model import DispenserModel
from simulators.dispenser.states import BufferState, CommandResult, EndReason, FpState, PresetType
from simulators.dispenser.transactions import Transaction, TransactionBuffer, volume_for_amount_cl

OK, REFUSED, BAD = CommandResult.OK, CommandResult.REFUSED, CommandResult.BAD_ARGUMENT
T0 = datetime(2026, 1, 1, tzinfo=UTC)
P, L, C = BufferState.PAYABLE, BufferState.LOCKED, BufferState.CLEARED


def tx(number: int, state: BufferState = P) -> Transaction:
    return Transaction(number=number, fuelling_point=1, nozzle=1, grade_id=92, price_fen=789, volume_cl=100,
                       amount_fen=789, started_at=T0, ended_at=T0, volume_total_after_cl=100 * number,
                       amount_total_after_fen=789 * number, end_reason=EndReason.NOZZLE_HUNG_UP, buffer_state=state)


def buffer_of(*states: BufferState, size: int = 4) -> TransactionBuffer:
    buffer = TransactionBuffer(size)
    for number, state in enumerate(states, start=1):
        buffer.add(tx(number, state))
    return buffer


# (buffer states of transactions 1.., operation, transaction number, result, states afterwards)
BUFFER_TABLE = [
    ((P, P), "lock", 0, OK, (P, L)),
    ((P, L), "lock", 0, OK, (L, L)),
    ((L, L), "lock", 0, REFUSED, (L, L)),
    ((P, P), "lock", 1, OK, (L, P)),
    ((P, P), "lock", 9, BAD, (P, P)),
    ((C, P), "lock", 1, REFUSED, (C, P)),
    ((P, L), "unlock", 0, OK, (P, P)),
    ((P, P), "unlock", 0, REFUSED, (P, P)),
    ((P, L), "clear", 0, OK, (P, C)),
    ((P, C), "clear", 0, OK, (C, C)),
    ((C, C), "clear", 0, REFUSED, (C, C)),
    ((P, P), "clear", 1, OK, (C, P)),
    ((C, P), "clear", 1, REFUSED, (C, P)),
    ((), "clear", 0, REFUSED, ()),
    ((P,), "clear", -1, BAD, (P,)),
]


@pytest.mark.parametrize(("states", "operation", "number", "result", "after"), BUFFER_TABLE)
def test_buffer_transitions(
    states: tuple[BufferState, ...], operation: str, number: int, result: CommandResult,
    after: tuple[BufferState, ...],
) -> None:
    buffer = buffer_of(*states)
    assert getattr(buffer, operation)(number) is result
    assert tuple(t.buffer_state for t in buffer.transactions) == after


def test_full_buffer_drops_the_oldest_cleared_transaction_first() -> None:
    buffer = buffer_of(P, C, P, size=3)
    buffer.add(tx(4))
    assert [t.number for t in buffer.transactions] == [1, 3, 4]
    assert buffer.unpaid_count == 3
    buffer.add(tx(5))  # nothing cleared: the oldest goes
    assert [t.number for t in buffer.transactions] == [3, 4, 5]


@pytest.mark.parametrize(("amount", "price", "volume"), [(20000, 789, 2535), (100, 789, 13), (789, 789, 100),
                                                         (1, 789, 0), (5000, 725, 690), (394, 789, 50)])
def test_volume_bought_by_an_amount_rounds_half_up(amount: int, price: int, volume: int) -> None:
    assert volume_for_amount_cl(amount, price) == volume


def _model(**settings: object) -> tuple[ManualClock, DispenserModel]:
    config = DispenserConfig.model_validate(
        {"fuelling_points": [FuellingPointConfig(nozzles=[NozzleConfig()])], **settings}
    )
    clock = ManualClock()
    return clock, DispenserModel(config, start=clock.now())


def _fuel(model: DispenserModel, litres_cl: int = 500) -> CommandResult:
    model.lift_nozzle(1, 1)
    result = model.authorise(1, PresetType.VOLUME, litres_cl)
    model.advance(120)
    model.hang_nozzle(1, 1)
    return result


def test_unpaid_limit_refuses_authorisation_until_one_is_cleared() -> None:
    _, model = _model(unpaid_limit=2)
    assert _fuel(model) is OK and _fuel(model) is OK
    assert model.fp_view(1).unpaid_count == 2
    assert _fuel(model) is REFUSED
    assert len(model.transactions(1)) == 2
    assert model.clear(1) is OK
    assert model.fp_view(1).unpaid_count == 1
    assert _fuel(model) is OK
    assert [t.number for t in model.transactions(1)] == [1, 2, 3]


def test_auto_authorise_calls_instead_of_starting_when_the_buffer_is_full() -> None:
    _, model = _model(unpaid_limit=1, auto_authorise=True)
    model.lift_nozzle(1, 1)
    model.advance(60)
    model.hang_nozzle(1, 1)
    model.lift_nozzle(1, 1)
    assert model.fp_view(1).state is FpState.CALLING


def test_without_an_unpaid_limit_fuellings_never_block() -> None:
    _, model = _model(unpaid_limit=0, buffer_size=2)
    for _ in range(5):
        assert _fuel(model) is OK
    assert [t.number for t in model.transactions(1)] == [4, 5]


def test_buffer_state_of_the_latest_transaction_is_visible() -> None:
    _, model = _model()
    assert model.fp_view(1).buffer_state == 0
    _fuel(model)
    assert model.fp_view(1).buffer_state == BufferState.PAYABLE
    model.lock(1)
    assert model.fp_view(1).buffer_state == BufferState.LOCKED
    model.clear(1)
    assert model.fp_view(1).buffer_state == BufferState.CLEARED
    assert model.fp_view(1).unpaid_count == 0


def test_a_fuelling_that_delivered_nothing_leaves_no_transaction_and_no_number() -> None:
    _, model = _model()
    _fuel(model)
    model.lift_nozzle(1, 1)
    model.authorise(1)
    assert model.fp_view(1).transaction_number == 2  # the open one
    model.advance(0.2)  # still in the start delay
    model.hang_nozzle(1, 1)
    assert model.fp_view(1).transaction_number == 1
    assert [t.number for t in model.transactions(1)] == [1]
    _fuel(model)
    assert [t.number for t in model.transactions(1)] == [1, 2]


def test_transaction_record_carries_times_totals_and_reason() -> None:
    clock, model = _model()
    model.lift_nozzle(1, 1)
    model.authorise(1, PresetType.VOLUME, 1000)
    for _ in range(60):
        clock.advance(1)
        model.advance(1, now=clock.now())
    last = model.transactions(1)[-1]
    assert last.started_at == T0
    # 0.5 s start delay, 1.5 s ramp (0.5 L), 8.7 L at 40 L/min, the last 0.8 L at 6 L/min
    assert (last.ended_at - last.started_at).total_seconds() == pytest.approx(0.5 + 1.5 + 13.05 + 8.0, abs=0.06)
    assert (last.volume_total_before_cl, last.volume_total_after_cl) == (0, 1000)
    assert last.end_reason is EndReason.PRESET_REACHED
    assert model.fp_view(1).hang_up_required


def test_fp_error_ends_the_fuelling_and_blocks_until_repaired() -> None:
    _, model = _model()
    model.lift_nozzle(1, 1)
    model.authorise(1)
    model.advance(10)
    model.set_fp_error(1, 17)
    fp = model.fp_view(1)
    assert (fp.state, fp.error_code) == (FpState.INOPERATIVE, 17)
    assert model.transactions(1)[-1].end_reason is EndReason.FP_ERROR
    assert model.authorise(1) is REFUSED
    model.set_fp_error(1, 0)
    assert model.fp_view(1).state is FpState.IDLE


def _one_litre_in_one_step(step_wall_s: float) -> Transaction:
    _, model = _model()
    model.advance(0.0, now=T0)
    model.lift_nozzle(1, 1)
    model.authorise(1, PresetType.VOLUME, 100)
    model.advance(20.0, now=T0 + timedelta(seconds=step_wall_s))       # the litre ends inside this step
    return model.transactions(1)[-1]


def test_a_fuelling_ending_inside_a_fast_step_ends_between_the_steps_wall_clock_stamps() -> None:
    """At speed 20 a step of 20 simulated seconds spans 1 s of wall clock (simulators/clock.py, ``stamp``):
    the end is placed inside that second at the same fraction of the step, never before the start."""
    real_time, fast = _one_litre_in_one_step(20.0), _one_litre_in_one_step(1.0)
    assert fast.end_reason is EndReason.PRESET_REACHED
    assert T0 <= fast.started_at <= fast.ended_at <= T0 + timedelta(seconds=1)
    simulated_s = (real_time.ended_at - real_time.started_at).total_seconds()
    assert 0 < simulated_s < 20
    assert (fast.ended_at - fast.started_at).total_seconds() == pytest.approx(simulated_s / 20, abs=0.001)
