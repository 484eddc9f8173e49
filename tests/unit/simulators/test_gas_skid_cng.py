"""CNG physics of the gas skid model: bank sequencing, compensated fill end, compressor priority, faults."""

from __future__ import annotations

import itertools

import pytest

from simulators.gas_skid import gas
from simulators.gas_skid.cng_dispenser import CngDispenserState, CngVehicle
from simulators.gas_skid.compressor import Bank, CompressorState, TripCode
from simulators.gas_skid.config import CascadeConfig, CngDispenserConfig, CompressorConfig, GasSkidConfig
from simulators.gas_skid.errors import CommandRefused, Refusal
from simulators.gas_skid.model import FINE_STEP_S, GasSkidModel


def skid(low: float = 16.0, mid: float = 20.0, high: float = 24.5, **kwargs: object) -> GasSkidModel:
    cascade = CascadeConfig(low_initial_g_mpa=low, mid_initial_g_mpa=mid, high_initial_g_mpa=high)
    return GasSkidModel(GasSkidConfig(cascade=cascade, **kwargs))  # type: ignore[arg-type]


def fill(model: GasSkidModel, number: int = 1, step: float = 0.5, limit_s: float = 900.0) -> list[tuple]:
    """Run a fill to its end; return (t, bank, flow, pressure, mass, totalizer) after each step."""
    dispenser = model.cng(number)
    trace = []
    t = 0.0
    while dispenser.state is CngDispenserState.FILLING and t < limit_s:
        model.advance(step)
        t += step
        assert dispenser.vehicle is not None
        trace.append((t, dispenser.active_bank, dispenser.flow_kg_min, dispenser.vehicle.pressure_g,
                      dispenser.mass_kg, dispenser.totalizer_kg))
    return trace


def test_fill_switches_low_mid_high_and_ends_at_compensated_target() -> None:
    model = skid()
    model.start_cng_fill(1, vehicle=CngVehicle.at_pressure(100.0, 3.0, 15.0))
    trace = fill(model)
    dispenser = model.cng(1)
    banks = [row[1] for row in trace if row[2] > 0]
    assert banks == sorted(banks)
    assert [b for i, b in enumerate(banks) if i == 0 or banks[i - 1] != b] == [Bank.LOW, Bank.MID, Bank.HIGH]
    # each switch-over happened because the flow had fallen below the threshold
    cfg = model.config.cng_dispensers[0]
    for before, after in itertools.pairwise(trace):
        if after[1] != before[1]:
            assert before[2] < cfg.max_flow_kg_min
            assert after[2] > before[2]
    assert dispenser.state is CngDispenserState.COMPLETE
    assert dispenser.stop_reason == "target_pressure"
    vehicle = dispenser.vehicle
    assert vehicle is not None
    assert vehicle.gas_t_c > 30.0  # fast fill heats the gas ...
    expected = gas.compensated_target_g(20.0, 15.0, vehicle.gas_t_c)
    assert vehicle.pressure_g == pytest.approx(expected, abs=2e-3)
    assert vehicle.pressure_g > 21.0  # ... so it stops above 20 MPa
    model.advance(3600.0)  # and settles to 20 MPa once back at 15 °C
    assert vehicle.gas_t_c == pytest.approx(15.0, abs=0.01)
    assert vehicle.pressure_g == pytest.approx(20.0, abs=0.01)


def test_fill_mass_is_integral_of_flow_and_gas_is_conserved() -> None:
    model = skid()
    before = model.cascade.total_mass_kg
    vehicle = CngVehicle.at_pressure(80.0, 2.0, 15.0)
    start_mass = vehicle.mass_kg
    model.start_cng_fill(1, vehicle=vehicle)
    step = FINE_STEP_S  # flow is that of the last integration step
    trace = fill(model, step=step)
    integral = sum(row[2] / 60.0 * step for row in trace)
    dispenser = model.cng(1)
    assert dispenser.mass_kg == pytest.approx(integral, rel=1e-9)
    assert dispenser.mass_kg > 10.0
    assert before - model.cascade.total_mass_kg == pytest.approx(dispenser.mass_kg, rel=1e-9)
    assert vehicle.mass_kg - start_mass == pytest.approx(dispenser.mass_kg, rel=1e-9)
    totals = [row[5] for row in trace]
    assert all(b >= a for a, b in itertools.pairwise(totals))
    price = model.config.cng_dispensers[0].price_fen_per_kg
    assert dispenser.amount_fen == (round(dispenser.mass_kg * 100) * price + 50) // 100


def test_totalizer_accumulates_over_fills() -> None:
    model = skid(low=22.0, mid=23.0, high=24.5)
    totals = [model.cng(1).totalizer_kg]
    for _ in range(3):
        model.cng(1).reset()
        model.start_cng_fill(1, vehicle=CngVehicle.at_pressure(60.0, 4.0, 15.0))
        fill(model)
        totals.append(model.cng(1).totalizer_kg)
    steps = [b - a for a, b in itertools.pairwise(totals)]
    assert all(s > 5.0 for s in steps)
    assert model.cng(1).transaction_no == 3


def test_preset_stops_at_preset_mass() -> None:
    model = skid()
    model.start_cng_fill(1, preset_kg=4.5, vehicle=CngVehicle.at_pressure(100.0, 3.0, 15.0))
    fill(model)
    assert model.cng(1).stop_reason == "preset_reached"
    assert model.cng(1).mass_kg == pytest.approx(4.5, abs=1e-9)


def test_fill_ends_when_banks_are_exhausted() -> None:
    model = skid(low=14.0, mid=15.0, high=16.0)
    model.stop_compressor()
    model.start_cng_fill(1, vehicle=CngVehicle.at_pressure(120.0, 2.0, 15.0))
    fill(model)
    dispenser = model.cng(1)
    assert dispenser.stop_reason == "banks_exhausted"
    assert dispenser.active_bank is Bank.HIGH
    assert dispenser.vehicle is not None and dispenser.vehicle.pressure_g < 16.0


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda m: m.fault_cng_dispenser(1, 7), Refusal.INVALID_STATE),
        (lambda m: m.start_cng_fill(1), Refusal.INVALID_STATE),
    ],
)
def test_start_refused_in_fault_or_while_filling(setup, reason: Refusal) -> None:  # type: ignore[no-untyped-def]
    model = skid()
    setup(model)
    with pytest.raises(CommandRefused) as refused:
        model.start_cng_fill(1)
    assert refused.value.reason is reason


def test_start_refused_when_bank_pressure_too_low() -> None:
    model = skid(low=8.0, mid=9.0, high=11.0)
    with pytest.raises(CommandRefused) as refused:
        model.start_cng_fill(1)
    assert refused.value.reason is Refusal.RESOURCE_LOW
    assert model.cng(1).state is CngDispenserState.IDLE


def test_dispenser_fault_ends_fill_and_needs_reset() -> None:
    model = skid()
    model.start_cng_fill(1)
    model.advance(5.0)
    model.fault_cng_dispenser(1, 3)
    dispenser = model.cng(1)
    assert (dispenser.state, dispenser.stop_reason, dispenser.fault_code) == (CngDispenserState.FAULT, "fault", 3)
    mass = dispenser.mass_kg
    model.advance(10.0)
    assert dispenser.mass_kg == mass
    dispenser.reset()
    assert dispenser.state is CngDispenserState.IDLE
    model.start_cng_fill(1)


def test_price_and_target_setpoints_are_checked() -> None:
    model = skid()
    dispenser = model.cng(1)
    for bad_price in (0, 100_001):
        with pytest.raises(CommandRefused):
            dispenser.set_price(bad_price)
    with pytest.raises(CommandRefused):
        dispenser.set_target(25.0)
    model.start_cng_fill(1)
    with pytest.raises(CommandRefused) as refused:
        dispenser.set_price(500)
    assert refused.value.reason is Refusal.INVALID_STATE


def test_compressor_refills_high_then_mid_then_low() -> None:
    model = skid(low=12.0, mid=15.0, high=19.0)
    order: list[Bank] = []
    for _ in range(4 * 3600):
        model.advance(1.0)
        bank = model.compressor.filling_bank
        if bank is not Bank.NONE and (not order or order[-1] is not bank):
            order.append(bank)
        if model.compressor.state is CompressorState.STOPPED and order:
            break
    assert order == [Bank.HIGH, Bank.MID, Bank.LOW]
    stop = model.config.compressor.stop_g_mpa
    for bank in (Bank.LOW, Bank.MID, Bank.HIGH):
        assert stop <= model.cascade.pressure_g(bank) < stop + 0.05
    assert model.compressor.run_hours > 0.2
    rate = model.config.compressor.rate_kg_h
    assert model.compressor.delivered_kg == pytest.approx(rate * (model.compressor.run_hours - 10 / 3600), rel=1e-3)


def test_compressor_waits_for_high_bank_below_start() -> None:
    model = skid(low=12.0, mid=15.0, high=21.0)
    model.advance(600.0)
    assert model.compressor.state is CompressorState.STOPPED  # high bank above 20 MPa
    model.start_compressor()  # operator start: banks are not full
    model.advance(30.0)
    assert model.compressor.state is CompressorState.RUNNING
    model.stop_compressor()
    assert model.compressor.state is CompressorState.STOPPED and not model.compressor.auto_enabled


def test_trip_needs_reset_and_refuses_start() -> None:
    model = skid(high=19.0)
    model.advance(30.0)
    model.trip_compressor(TripCode.LOW_OIL_PRESSURE)
    assert model.compressor.state is CompressorState.FAULT
    assert model.compressor.fault_code == 5
    mass = model.cascade.total_mass_kg
    model.advance(600.0)
    assert model.cascade.total_mass_kg == mass
    with pytest.raises(CommandRefused):
        model.start_compressor()
    model.reset_compressor()
    model.advance(30.0)
    assert model.compressor.state is CompressorState.RUNNING


def test_stuck_high_bank_sensor_overfills_until_the_pressure_switch_trips() -> None:
    model = skid(low=24.0, mid=24.0, high=19.0)
    model.sensors.stick("cascade.high", 19.0)
    model.advance(3 * 3600.0)
    assert model.compressor.state is CompressorState.FAULT
    assert model.compressor.fault_code is TripCode.HIGH_DISCHARGE_PRESSURE
    trip = model.config.compressor.trip_discharge_g_mpa
    assert trip - 0.4 < model.cascade.pressure_g(Bank.HIGH) < trip


def test_compressor_setpoints_keep_start_below_stop() -> None:
    model = GasSkidModel(GasSkidConfig(compressor=CompressorConfig(start_g_mpa=20.0, stop_g_mpa=25.0)))
    model.compressor.set_start_pressure(22.0)
    with pytest.raises(CommandRefused):
        model.compressor.set_stop_pressure(22.5)  # less than 1 MPa above start
    with pytest.raises(CommandRefused):
        model.compressor.set_start_pressure(24.5)
    model.compressor.set_stop_pressure(24.0)
    assert (model.compressor.start_g_mpa, model.compressor.stop_g_mpa) == (22.0, 24.0)


def test_vehicles_are_repeatable_from_the_seed() -> None:
    def run(seed: int) -> float:
        model = GasSkidModel(GasSkidConfig(seed=seed, cng_dispensers=(CngDispenserConfig(),)))
        model.start_cng_fill(1)
        model.advance(120.0)
        return model.cng(1).mass_kg

    assert run(3) == run(3)
    assert run(3) != run(4)
