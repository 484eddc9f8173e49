"""The scenario's traffic generator: seeded, Poisson by hour of day, and each car's wishes drawn as configured."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections import Counter

import pytest

from simulators.scenario.timing import parse_hourly_rates
from simulators.scenario.traffic import TrafficGenerator, poisson_times
from simulators.scenario.traffic_config import EvTraffic, FuelTraffic, PresetMix, WeightedEv

DAY_S = 86_400.0
RATES = parse_hourly_rates({0: 0, 6: 20, 7: 90, 9: 40, 17: 70, 22: 5})


def counts_by_hour(rates: tuple[float, ...], days: int, seed: int, day_offset_s: float = 0.0) -> list[list[int]]:
    """counts[day][hour] of arrivals over ``days`` days starting at local midnight + offset."""
    counts = [[0] * 24 for _ in range(days)]
    for t in poisson_times(rates, random.Random(seed), day_offset_s):
        local = day_offset_s + t
        day = int(local // DAY_S)
        if day >= days:
            break
        counts[day][int(local % DAY_S // 3600)] += 1
    return counts


def test_the_hourly_rates_mapping_is_a_step_function_round_midnight() -> None:
    assert RATES[0:6] == (0.0,) * 6
    assert RATES[6] == 20 and RATES[7] == RATES[8] == 90 and RATES[9] == RATES[16] == 40
    assert RATES[17] == RATES[21] == 70 and RATES[22] == RATES[23] == 5
    assert parse_hourly_rates({7: 30})[3] == 30  # the only entry holds all day
    assert parse_hourly_rates(12) == (12.0,) * 24


def test_arrivals_per_hour_follow_the_rates_within_poisson_tolerance() -> None:
    days = 300
    counts = counts_by_hour(RATES, days, seed=11)
    for hour, rate in enumerate(RATES):
        total = sum(day[hour] for day in counts)
        expected = rate * days
        assert abs(total - expected) <= 4 * math.sqrt(expected) + 1, (hour, total, expected)
    assert all(day[h] == 0 for day in counts for h in range(6))  # closed hours stay empty


def test_counts_in_an_hour_are_poisson_dispersed() -> None:
    """Variance ≈ mean: arrivals are random, not evenly spaced (which would give variance ≈ 0)."""
    counts = [day[7] for day in counts_by_hour(RATES, 400, seed=3)]
    mean, variance = statistics.fmean(counts), statistics.variance(counts)
    assert 85 < mean < 95
    assert 0.75 < variance / mean < 1.3


def test_a_start_in_the_middle_of_an_hour_uses_that_hours_rate() -> None:
    rates = tuple([0.0] * 7 + [3600.0] + [0.0] * 16)  # only 07:00-08:00, one per second
    times = list(itertools.islice(poisson_times(rates, random.Random(1), day_offset_s=7.5 * 3600), 5000))
    today = [t for t in times if t < 1800]
    assert 1600 < len(today) < 2000  # the half hour left of 07:00-08:00 on the first day
    assert min(t for t in times if t >= 1800) >= DAY_S - 1800  # then nothing until 07:00 the next day


def test_same_seed_same_arrivals_other_seed_other_arrivals() -> None:
    def first(seed: int) -> list[float]:
        return list(itertools.islice(poisson_times(RATES, random.Random(seed), 0.0), 200))

    assert first(5) == first(5)
    assert first(5) != first(6)
    assert all(b > a for a, b in itertools.pairwise(first(5)))


def test_no_traffic_at_all_ends_the_stream() -> None:
    assert list(poisson_times((0.0,) * 24, random.Random(1), 0.0)) == []
    with pytest.raises(ValueError):
        next(poisson_times((1.0,) * 23, random.Random(1), 0.0))


def cars(traffic: FuelTraffic, n: int, seed: int = 7) -> list:  # type: ignore[type-arg]
    generator = TrafficGenerator(seed, 7 * 3600, [92, 95, 10])
    return list(itertools.islice(generator.fuel_cars(traffic), n))


def test_cars_choose_grades_and_presets_by_their_shares() -> None:
    traffic = FuelTraffic(cars_per_hour=200, grade_mix={92: 0.6, 95: 0.3, 10: 0.1},
                          preset_mix=PresetMix(amount=0.5, volume=0.2, full=0.3))
    drawn = cars(traffic, 6000)
    grades = Counter(car.grade for car in drawn)
    presets = Counter(car.preset for car in drawn)
    for grade, share in ((92, 0.6), (95, 0.3), (10, 0.1)):
        assert abs(grades[grade] / len(drawn) - share) < 0.03
    for preset, share in (("amount", 0.5), ("volume", 0.2), ("full", 0.3)):
        assert abs(presets[preset] / len(drawn) - share) < 0.03
    for car in drawn:
        if car.preset == "amount":
            assert car.value in traffic.amounts_fen
        elif car.preset == "volume":
            assert car.value in {round(v * 100) for v in traffic.volumes_l}
        else:
            assert traffic.full_l[0] * 100 <= car.value <= traffic.full_l[1] * 100
        assert traffic.pay_s[0] <= car.habits.pay_s <= traffic.pay_s[1]
        assert 0 <= car.habits.pick < 1
    assert [c.habits.number for c in drawn[:3]] == [1, 2, 3]


def test_a_grade_left_out_of_the_mix_never_comes_and_an_empty_mix_means_all_alike() -> None:
    assert {car.grade for car in cars(FuelTraffic(cars_per_hour=100, grade_mix={92: 1.0}), 300)} == {92}
    alike = Counter(car.grade for car in cars(FuelTraffic(cars_per_hour=100), 3000))
    assert all(abs(alike[g] / 3000 - 1 / 3) < 0.04 for g in (92, 95, 10))


def test_the_same_seed_gives_the_same_cars() -> None:
    traffic = FuelTraffic(cars_per_hour=60)
    assert cars(traffic, 50, seed=3) == cars(traffic, 50, seed=3)
    assert cars(traffic, 50, seed=3) != cars(traffic, 50, seed=4)


def test_a_car_sent_by_command_gets_what_was_asked_for() -> None:
    generator = TrafficGenerator(1, 0, [92, 95])
    car = generator.fuel_car(FuelTraffic(), random.Random(2), 9001, 12.5, grade=95, preset="full")
    assert (car.grade, car.preset, car.habits.at_s, car.habits.number) == (95, "full", 12.5, 9001)
    assert car.value > 0


def test_evs_draw_a_profile_by_weight_and_a_start_charge_in_range() -> None:
    traffic = EvTraffic(sessions_per_hour=50, start_soc_pct=(20, 40), profiles=[
        WeightedEv(weight=3, battery_kwh=60), WeightedEv(weight=1, battery_kwh=90, target_soc_pct=30)])
    generator = TrafficGenerator(9, 0, [92])
    drivers = list(itertools.islice(generator.ev_drivers(traffic), 2000))
    batteries = Counter(d.ev.battery_kwh for d in drivers)
    assert abs(batteries[60] / len(drivers) - 0.75) < 0.04
    for d in drivers:
        assert 20 <= d.ev.start_soc_pct <= 40 and d.ev.start_soc_pct <= d.ev.target_soc_pct
        assert d.id_tag.startswith("EV")


def test_each_kind_of_traffic_has_its_own_stream() -> None:
    """Adding EVs to a scenario does not change which cars come."""
    generator = TrafficGenerator(4, 0, [92])
    first = list(itertools.islice(generator.fuel_cars(FuelTraffic(cars_per_hour=30)), 20))
    list(itertools.islice(generator.ev_drivers(EvTraffic(sessions_per_hour=10)), 20))
    again = list(itertools.islice(TrafficGenerator(4, 0, [92]).fuel_cars(FuelTraffic(cars_per_hour=30)), 20))
    assert first == again
