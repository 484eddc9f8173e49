"""Dispenser model physics on a ManualClock: presets, money, totalizers, prices, meter error, power."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from simulators.clock import ManualClock
from simulators.dispenser.config import DispenserConfig, FuellingPointConfig, NozzleConfig
from simulators.dispenser.model import DispenserModel
from simulators.dispenser.states import BufferState, CommandResult, EndReason, FpState, PresetType
from simulators.dispenser.transactions import amount_fen, volume_for_amount_cl

OK, REFUSED, BAD = CommandResult.OK, CommandResult.REFUSED, CommandResult.BAD_ARGUMENT


@dataclass
class Rig:
    """A model stepped on a ManualClock the way the server steps it."""

    clock: ManualClock
    model: DispenserModel

    def run(self, seconds: float, step: float = 0.5) -> None:
        while seconds > 1e-9:
            dt = min(step, seconds)
            self.clock.advance(dt)
            self.model.advance(dt, now=self.clock.now())
            seconds -= dt

    def run_until_idle(self, fp: int = 1, limit_s: float = 3600) -> None:
        waited = 0.0
        while self.model.fp_view(fp).state is not FpState.IDLE:
            self.run(1.0)
            waited += 1.0
            assert waited < limit_s, "fuelling never ended"


def rig_for(*nozzles: NozzleConfig, **settings: object) -> Rig:
    config = DispenserConfig.model_validate(
        {"fuelling_points": [FuellingPointConfig(nozzles=list(nozzles or [NozzleConfig()]))], **settings}
    )
    clock = ManualClock()
    return Rig(clock, DispenserModel(config, start=clock.now()))


def fill(rig: Rig, preset_type: PresetType = PresetType.NONE, value: int = 0, seconds: float = 0, nozzle: int = 1):
    """Lift, authorise, let it run (until the preset, or ``seconds`` then hang up); return the transaction."""
    m = rig.model
    assert m.lift_nozzle(1, nozzle) is OK
    assert m.authorise(1, preset_type, value) is OK
    if seconds:
        rig.run(seconds)
        m.hang_nozzle(1, nozzle)
    else:
        rig.run_until_idle()
        m.hang_nozzle(1, nozzle)
    return m.transactions(1)[-1]


@pytest.mark.parametrize(
    ("volume_cl", "price", "amount"),
    [(0, 789, 0), (1, 49, 0), (1, 50, 1), (50, 789, 395), (150, 1, 2), (2534, 789, 19993), (2535, 789, 20001),
     (100, 789, 789), (333, 333, 1109), (999_999, 9999, 99_989_900)],
)
def test_amount_is_volume_times_price_rounded_half_up(volume_cl: int, price: int, amount: int) -> None:
    assert amount_fen(volume_cl, price) == amount


@pytest.mark.parametrize(
    ("preset_cl", "flow", "price"),
    [(100, 40.0, 789), (2000, 40.0, 789), (2555, 45.0, 812), (5001, 120.0, 725), (30, 40.0, 789), (80_00, 120.0, 750)],
)
def test_volume_preset_is_met_to_the_centilitre(preset_cl: int, flow: float, price: int) -> None:
    rig = rig_for(NozzleConfig(price_fen=price, max_flow_l_min=flow))
    tx = fill(rig, PresetType.VOLUME, preset_cl)
    assert tx.volume_cl == preset_cl
    assert tx.amount_fen == amount_fen(preset_cl, price)
    assert tx.end_reason is EndReason.PRESET_REACHED


@pytest.mark.parametrize(
    ("preset_fen", "price"), [(20000, 789), (10000, 812), (100, 789), (33333, 789), (5000, 725), (123_45, 999)]
)
def test_amount_preset_is_met_to_the_fen(preset_fen: int, price: int) -> None:
    rig = rig_for(NozzleConfig(price_fen=price))
    tx = fill(rig, PresetType.AMOUNT, preset_fen)
    assert tx.amount_fen == preset_fen
    assert tx.volume_cl == volume_for_amount_cl(preset_fen, price)
    assert abs(tx.volume_cl * price - preset_fen * 100) <= price // 2  # within half a centilitre of money


def test_amount_follows_volume_half_up_while_fuelling() -> None:
    rig = rig_for(NozzleConfig(price_fen=789))
    m = rig.model
    m.lift_nozzle(1, 1)
    m.authorise(1)
    seen = []
    for _ in range(60):
        rig.run(0.7)
        fp = m.fp_view(1)
        seen.append(fp.volume_cl)
        assert fp.amount_fen == amount_fen(fp.volume_cl, 789)
    assert seen == sorted(seen) and seen[-1] > 0


def test_flow_ramps_up_then_slows_down_before_the_preset() -> None:
    rig = rig_for(NozzleConfig(max_flow_l_min=40.0), start_delay_s=0.5, ramp_up_s=1.5)
    m = rig.model
    m.lift_nozzle(1, 1)
    m.authorise(1, PresetType.VOLUME, 1000)
    rig.run(0.4, step=0.1)
    assert m.fp_view(1).state is FpState.STARTED and m.fp_view(1).flow_l_min == 0
    rig.run(0.6, step=0.1)  # 0.5 s into the ramp
    assert m.fp_view(1).state is FpState.FUELLING and 5 < m.fp_view(1).flow_l_min < 40
    rig.run(2.0, step=0.1)
    assert m.fp_view(1).flow_l_min == pytest.approx(40.0)
    while m.fp_view(1).volume_cl < 1000 - 60:  # inside the last 0.8 L
        rig.run(0.1, step=0.1)
    assert m.fp_view(1).flow_l_min == pytest.approx(6.0)  # 15 % of 40


def test_totalizers_never_go_back_and_chain_across_transactions() -> None:
    rng = random.Random(7)
    rig = rig_for(NozzleConfig(price_fen=789, initial_volume_total_cl=123_456_78),
                  NozzleConfig(grade_id=95, price_fen=836), unpaid_limit=0)
    m = rig.model
    last = {k: (n.volume_total_cl, n.amount_total_fen) for k, n in enumerate(m.fp_view(1).nozzles, 1)}
    actions: list[Callable[[int], object]] = [
        lambda k: m.lift_nozzle(1, k),
        lambda k: m.hang_nozzle(1, k),
        lambda k: m.authorise(1),
        lambda k: m.authorise(1, PresetType.VOLUME, rng.randint(1, 3000)),
        lambda k: m.authorise(1, PresetType.AMOUNT, rng.randint(1, 30000)),
        lambda k: m.stop(1),
        lambda k: m.suspend(1),
        lambda k: m.resume(1),
        lambda k: m.set_price(1, k, rng.randint(600, 900)),
        lambda k: m.power_off() if m.powered else m.power_on(),
    ]
    for _ in range(400):
        rng.choice(actions)(rng.choice([1, 2]))
        rig.run(rng.uniform(0, 5))
        for k, n in enumerate(m.fp_view(1).nozzles, 1):
            assert n.volume_total_cl >= last[k][0] and n.amount_total_fen >= last[k][1]
            last[k] = (n.volume_total_cl, n.amount_total_fen)
    transactions = m.transactions(1)
    assert len(transactions) >= 2
    for tx in transactions:
        assert tx.volume_total_before_cl == tx.volume_total_after_cl - tx.volume_cl >= 0
    for earlier, later in itertools.pairwise(transactions):
        if earlier.nozzle == later.nozzle:
            assert later.volume_total_before_cl >= earlier.volume_total_after_cl


@pytest.mark.parametrize("change_in", [FpState.STARTED, FpState.FUELLING, FpState.SUSPENDED_FUELLING])
def test_open_transaction_keeps_the_price_it_started_with(change_in: FpState) -> None:
    rig = rig_for(NozzleConfig(price_fen=789), start_delay_s=0.5)
    m = rig.model
    m.lift_nozzle(1, 1)
    m.authorise(1, PresetType.VOLUME, 1500)
    if change_in is not FpState.STARTED:
        rig.run(5)
    if change_in is FpState.SUSPENDED_FUELLING:
        m.suspend(1)
    assert m.fp_view(1).state is change_in
    assert m.set_price(1, 1, 812) is OK
    assert m.fp_view(1).price_fen == 789
    m.resume(1)
    rig.run_until_idle()
    m.hang_nozzle(1, 1)
    tx = m.transactions(1)[-1]
    assert (tx.price_fen, tx.amount_fen) == (789, amount_fen(1500, 789))
    assert fill(rig, PresetType.VOLUME, 100).price_fen == 812


def test_price_changed_after_authorisation_but_before_the_lift_applies() -> None:
    rig = rig_for(NozzleConfig(price_fen=789))
    m = rig.model
    m.authorise(1, PresetType.VOLUME, 500)
    m.set_price(1, 1, 799)
    m.lift_nozzle(1, 1)
    rig.run_until_idle()
    assert m.transactions(1)[-1].price_fen == 799


@pytest.mark.parametrize("seed", range(40))
def test_drawn_meter_error_stays_within_the_limit(seed: int) -> None:
    config = DispenserConfig(seed=seed, fuelling_points=[FuellingPointConfig(nozzles=[NozzleConfig()] * 4)] * 4)
    errors = [n.meter_error_pct for fp in DispenserModel(config).view().fuelling_points for n in fp.nozzles]
    assert all(-0.3 <= e <= 0.3 for e in errors)
    assert len(set(errors)) == 16  # each nozzle its own
    assert errors == [n.meter_error_pct for fp in DispenserModel(config).view().fuelling_points for n in fp.nozzles]


@pytest.mark.parametrize("error_pct", [-0.3, -0.1, 0.0, 0.25, 2.0])
def test_meter_error_separates_true_volume_from_displayed_volume(error_pct: float) -> None:
    rig = rig_for(NozzleConfig(meter_error_pct=error_pct))
    tx = fill(rig, PresetType.VOLUME, 5000)
    assert tx.volume_cl == 5000
    assert tx.delivered_l == pytest.approx(50.0 / (1 + error_pct / 100), rel=1e-9)
    assert rig.model.delivered_litres(1, 1) == pytest.approx(tx.delivered_l)
    assert rig.model.delivered_by_grade() == {92: pytest.approx(tx.delivered_l)}


def test_power_loss_while_fuelling_leaves_a_payable_transaction() -> None:
    rig = rig_for(NozzleConfig(price_fen=789))
    m = rig.model
    m.lift_nozzle(1, 1)
    m.authorise(1, PresetType.VOLUME, 4000)
    rig.run(10)
    shown = m.fp_view(1)
    assert shown.state is FpState.FUELLING and 0 < shown.volume_cl < 4000
    m.power_off()
    rig.run(60)  # no fuel flows without power
    assert m.authorise(1) is REFUSED
    m.power_on()
    fp = m.fp_view(1)
    tx = m.transactions(1)[-1]
    assert (tx.volume_cl, tx.amount_fen) == (shown.volume_cl, shown.amount_fen)
    assert (tx.buffer_state, tx.end_reason) == (BufferState.PAYABLE, EndReason.POWER_LOST)
    assert fp.state is FpState.IDLE and fp.hang_up_required
    assert fp.nozzles[0].volume_total_cl == shown.volume_cl


@pytest.mark.parametrize(
    ("before", "after"), [("closed", FpState.CLOSED), ("authorised", FpState.IDLE), ("started", FpState.IDLE)]
)
def test_power_cycle_restores_open_or_closed_and_drops_authorisations(before: str, after: FpState) -> None:
    rig = rig_for()
    m = rig.model
    if before == "closed":
        m.close(1)
    else:
        m.authorise(1)
        if before == "started":
            m.lift_nozzle(1, 1)
    m.power_off()
    assert m.fp_view(1).state is FpState.INOPERATIVE
    m.power_on()
    assert m.fp_view(1).state is after
    assert m.transactions(1) == ()  # nothing was delivered


# (steps, expected FP state, expected result of the last step)
STATE_TABLE = [
    (["lift 1"], FpState.CALLING, OK),
    (["lift 1", "hang 1"], FpState.IDLE, OK),
    (["lift 1", "auth"], FpState.STARTED, OK),
    (["lift 1", "auth", "run"], FpState.FUELLING, OK),
    (["lift 1", "auth", "run", "suspend"], FpState.SUSPENDED_FUELLING, OK),
    (["lift 1", "auth", "suspend"], FpState.SUSPENDED_STARTED, OK),
    (["lift 1", "auth", "suspend", "resume"], FpState.STARTED, OK),
    (["lift 1", "auth", "run", "suspend", "resume"], FpState.FUELLING, OK),
    (["auth"], FpState.AUTHORISED, OK),
    (["auth", "lift 1"], FpState.STARTED, OK),
    (["auth nozzle 2", "lift 1"], FpState.AUTHORISED, OK),
    (["auth nozzle 2", "lift 2"], FpState.STARTED, OK),
    (["auth", "stop"], FpState.IDLE, OK),
    (["auth", "auth"], FpState.AUTHORISED, REFUSED),
    (["lift 1", "auth nozzle 2"], FpState.CALLING, REFUSED),
    (["lift 1", "lift 2"], FpState.CALLING, REFUSED),
    (["lift 1", "auth", "run", "stop"], FpState.IDLE, OK),
    (["lift 1", "auth", "run", "stop", "auth"], FpState.AUTHORISED, OK),
    (["lift 1", "auth", "run", "stop", "auth", "lift 1"], FpState.AUTHORISED, OK),  # must hang up first
    (["lift 1", "auth", "run", "stop", "auth", "hang 1", "lift 1"], FpState.STARTED, OK),
    (["stop"], FpState.IDLE, REFUSED),
    (["suspend"], FpState.IDLE, REFUSED),
    (["resume"], FpState.IDLE, REFUSED),
    (["lift 1", "auth", "run", "resume"], FpState.FUELLING, REFUSED),
    (["open"], FpState.IDLE, REFUSED),
    (["close"], FpState.CLOSED, OK),
    (["close", "lift 1"], FpState.CLOSED, OK),
    (["close", "auth"], FpState.CLOSED, REFUSED),
    (["close", "lift 1", "open"], FpState.CALLING, OK),
    (["close", "open"], FpState.IDLE, OK),
    (["lift 1", "auth", "run", "close"], FpState.FUELLING, REFUSED),
    (["auth preset 3"], FpState.IDLE, BAD),
    (["auth volume 0"], FpState.IDLE, BAD),
    (["auth nozzle 3"], FpState.IDLE, BAD),
]


def _step(rig: Rig, step: str) -> CommandResult:
    m, (verb, *args) = rig.model, step.split()
    if verb == "run":
        rig.run(3)
        return OK
    if verb in ("lift", "hang"):
        return (m.lift_nozzle if verb == "lift" else m.hang_nozzle)(1, int(args[0]))
    if verb == "auth":
        kind, value = (args[0], int(args[1])) if args else ("", 0)
        if kind == "nozzle":
            return m.authorise(1, nozzle=value)
        if kind == "preset":
            return m.authorise(1, value, 100)
        return m.authorise(1, PresetType.VOLUME if kind == "volume" else PresetType.NONE, value)
    return m.execute(1, {"stop": 2, "suspend": 3, "resume": 4, "open": 7, "close": 8}[verb])


@pytest.mark.parametrize(("steps", "state", "result"), STATE_TABLE, ids=[" / ".join(s) for s, _, _ in STATE_TABLE])
def test_fp_state_machine(steps: list[str], state: FpState, result: CommandResult) -> None:
    rig = rig_for(NozzleConfig(), NozzleConfig(grade_id=95))
    outcome = None
    for step in steps:
        outcome = _step(rig, step)
    assert rig.model.fp_view(1).state is state
    assert outcome is result


def test_auto_authorise_starts_on_lift_without_a_preset() -> None:
    rig = rig_for(auto_authorise=True)
    assert rig.model.lift_nozzle(1, 1) is OK
    fp = rig.model.fp_view(1)
    assert (fp.state, fp.active_nozzle, fp.preset_type) == (FpState.STARTED, 1, PresetType.NONE)
