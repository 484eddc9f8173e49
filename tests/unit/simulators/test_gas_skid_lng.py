"""LNG physics of the gas skid model: heat-leak pressure rise, dispensing, relief, vacuum loss, fills."""

from __future__ import annotations

import itertools

import pytest

from simulators.gas_skid import gas
from simulators.gas_skid.config import GasSkidConfig, LngDispenserConfig, LngTankConfig
from simulators.gas_skid.errors import CommandRefused, Refusal
from simulators.gas_skid.lng_dispenser import LngDispenserState, LngVehicle
from simulators.gas_skid.lng_tank import LngTank
from simulators.gas_skid.model import FINE_STEP_S, GasSkidModel

DAY = 86400.0


def skid(**tank: float) -> GasSkidModel:
    return GasSkidModel(GasSkidConfig(lng_tank=LngTankConfig(**tank)))  # type: ignore[arg-type]


def quasi_steady_rate_mpa_s(tank: LngTank) -> float:
    """dP/dt of an idle homogeneous tank whose vapour tracks Psat(T_liquid).

    Heat leak Q warms the liquid (m cp dT) and evaporates the vapour the rising pressure needs
    (h_fg dm_v); dm_v/dT follows from m_v = rho_v(P(T), T) x (V - m/rho_l(T)).
    """
    t_c, t_k = tank.liquid_t_c, tank.liquid_t_c + gas.T0_K
    slope_pa_k = gas.dpsat_dt(t_c) * 1e6
    rho_v = gas.vapour_density(tank.vapour_abs_mpa, t_c)
    rho_l = tank.liquid_density
    dmv_dt = (tank.vapour_m3 * gas.M_KG_MOL * slope_pa_k / (gas.R_J_MOL_K * t_k)
              - rho_v * tank.vapour_m3 / t_k
              - rho_v * tank.liquid_kg * gas.lng_liquid_density_slope(t_c) / rho_l**2)
    t_dot = tank.heat_leak_w / (tank.liquid_kg * gas.LNG_CP_J_KG_K + gas.LNG_H_FG_J_KG * dmv_dt)
    return gas.dpsat_dt(t_c) * t_dot


@pytest.mark.parametrize(("level", "p_g"), [(80.0, 0.3), (50.0, 0.5)])
def test_idle_tank_pressure_rises_at_the_predicted_rate(level: float, p_g: float) -> None:
    model = skid(initial_level_pct=level, initial_g_mpa=p_g, boil_off_pct_per_day=0.25)
    tank = model.lng_tank
    model.advance(3600.0)  # settle the vapour onto the saturation line
    p0 = tank.pressure_g
    predicted = quasi_steady_rate_mpa_s(tank)
    model.advance(DAY)
    measured = (tank.pressure_g - p0) / DAY
    assert measured == pytest.approx(predicted, rel=0.02)
    # and near the domain's homogeneous figure dPsat/dT x Q / (m cp) (vapour growth takes a few %)
    homogeneous = gas.dpsat_dt(tank.liquid_t_c) * 0.0025 * gas.LNG_H_FG_J_KG / (DAY * gas.LNG_CP_J_KG_K)
    assert 0.75 * homogeneous < measured < homogeneous
    assert 5.0 < measured * DAY * 1000 < 15.0  # kPa/day
    assert not tank.relief_open and tank.vented_kg == 0.0


def test_heat_leak_follows_the_domain_formula() -> None:
    tank = skid(initial_level_pct=80.0, boil_off_pct_per_day=0.25).lng_tank
    assert tank.heat_leak_w == pytest.approx(0.0025 * tank.liquid_kg * 510e3 / DAY)
    assert 240.0 < tank.heat_leak_w < 300.0  # domain.md §2.5: ~255 W for 60 m³ at 80 %


def test_dispensing_lowers_pressure_which_recovers_partly_afterwards() -> None:
    model = skid(initial_level_pct=70.0, initial_g_mpa=0.5)
    tank = model.lng_tank
    model.advance(3600.0)
    before = tank.pressure_g
    model.start_lng_fill(1, vehicle=LngVehicle(capacity_kg=180.0, liquid_kg=20.0, pressure_g_mpa=0.8))
    lowest = before
    while model.lng(1).state is not LngDispenserState.COMPLETE:
        model.advance(1.0)
        lowest = min(lowest, tank.pressure_g)
    assert before - lowest > 0.003  # several kPa down while pumping
    model.advance(3600.0)
    assert lowest < tank.pressure_g < before  # flashing brought most of it back; the liquid is colder


def test_relief_valve_holds_the_tank_at_1_1_mpa() -> None:
    model = skid(initial_level_pct=70.0, initial_g_mpa=1.05)
    tank = model.lng_tank
    model.lose_lng_vacuum()
    highest = 0.0
    for _ in range(8 * 6):
        model.advance(600.0)
        highest = max(highest, tank.pressure_g)
    assert tank.relief_openings >= 2
    assert tank.vented_kg > 10.0
    assert 1.09 < highest <= 1.1 + 0.002
    assert tank.alarms(model.sensors)["high_pressure"]


def test_vacuum_loss_raises_alarm_and_speeds_up_the_rise() -> None:
    normal, lost = skid(initial_g_mpa=0.4), skid(initial_g_mpa=0.4)
    lost.lose_lng_vacuum()
    for model in (normal, lost):
        model.advance(6 * 3600.0)
    rise_normal = normal.lng_tank.pressure_g - 0.4
    rise_lost = lost.lng_tank.pressure_g - 0.4
    assert rise_lost > 20 * rise_normal
    assert lost.lng_tank.alarms(lost.sensors)["vacuum_loss"]
    assert not normal.lng_tank.alarms(normal.sensors)["vacuum_loss"]


def test_vent_valve_lowers_pressure_and_liquid_temperature() -> None:
    model = skid(initial_g_mpa=0.8)
    tank = model.lng_tank
    t0, p0 = tank.liquid_t_c, tank.pressure_g
    model.open_vent_valve()
    model.advance(3600.0)
    assert tank.pressure_g < p0 - 0.02
    assert tank.liquid_t_c < t0
    assert tank.vented_kg > 50.0
    model.close_vent_valve()
    vented = tank.vented_kg
    model.advance(3600.0)
    assert tank.vented_kg == vented


def test_truck_fill_takes_three_to_five_minutes_and_mass_is_integral_of_flow() -> None:
    model = skid(initial_level_pct=60.0)
    liquid_before = model.lng_tank.liquid_kg
    model.start_lng_fill(1, vehicle=LngVehicle(capacity_kg=175.0, liquid_kg=15.0, pressure_g_mpa=0.8))
    dispenser = model.lng(1)
    t, step, integral, totals = 0.0, FINE_STEP_S, 0.0, []  # flow is that of the last integration step
    while dispenser.state is not LngDispenserState.COMPLETE:
        model.advance(step)
        t += step
        integral += dispenser.flow_kg_min / 60.0 * step
        totals.append(dispenser.totalizer_kg)
    assert dispenser.stop_reason == "vehicle_full"
    assert 180.0 <= t <= 300.0
    assert dispenser.gross_kg == pytest.approx(integral, rel=1e-9)
    assert dispenser.gross_kg == pytest.approx(160.0, abs=0.2)
    assert liquid_before - model.lng_tank.liquid_kg == pytest.approx(dispenser.gross_kg, rel=0.05)
    assert 0.01 < dispenser.return_gas_kg / dispenser.gross_kg < 0.06
    assert dispenser.mass_kg == pytest.approx(dispenser.gross_kg - dispenser.return_gas_kg)
    assert dispenser.amount_fen == (round(dispenser.mass_kg * 100) * dispenser.price_fen_per_kg + 50) // 100
    assert all(b >= a for a, b in itertools.pairwise(totals))
    assert totals[-1] == pytest.approx(dispenser.mass_kg)
    assert -160.0 < dispenser.liquid_t_c < -110.0 and 340.0 < dispenser.density_kg_m3 < 420.0


def test_preset_is_billed_mass() -> None:
    model = skid()
    model.start_lng_fill(2, preset_kg=50.0, vehicle=LngVehicle(175.0, 15.0, 0.8))
    model.advance(300.0)
    assert model.lng(2).stop_reason == "preset_reached"
    assert model.lng(2).mass_kg == pytest.approx(50.0, abs=1e-6)


def test_low_tank_level_refuses_and_stops_fills() -> None:
    model = skid(initial_level_pct=10.3)
    model.start_lng_fill(1, vehicle=LngVehicle(500.0, 0.0, 0.8))
    model.advance(600.0)
    assert model.lng(1).stop_reason == "tank_low_level"
    with pytest.raises(CommandRefused) as refused:
        model.start_lng_fill(2)
    assert refused.value.reason is Refusal.RESOURCE_LOW


def test_fault_refuses_start_until_reset() -> None:
    model = skid()
    model.fault_lng_dispenser(1, 9)
    with pytest.raises(CommandRefused):
        model.start_lng_fill(1)
    model.lng(1).reset()
    assert model.start_lng_fill(1) == 1
    assert model.lng(1).state is LngDispenserState.PRECOOLING


def test_alarm_setpoints_are_range_checked() -> None:
    model = skid()
    model.set_lng_alarm_setpoint("high_pressure", 0.9)
    assert model.lng_tank.high_pressure_alarm_g_mpa == 0.9
    with pytest.raises(CommandRefused):
        model.set_lng_alarm_setpoint("high_pressure", 1.2)  # above the relief pressure
    with pytest.raises(CommandRefused):
        model.set_lng_alarm_setpoint("low_level", 85.0)


def test_dispenser_config_rejects_bad_residual_range() -> None:
    with pytest.raises(ValueError, match="vehicle_initial_pct"):
        LngDispenserConfig(vehicle_initial_pct=(40.0, 20.0))
