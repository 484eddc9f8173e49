"""The wet-stock rules: delivery detection, note matching, road loss, the reconciliation, ARTS, tolerances."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from business_services.inventory.model import (
    DeliveryNote,
    GaugeSample,
    InventoryError,
    Movements,
    RecordDeliveryNote,
    RecordDip,
    RecordMovement,
    Tolerance,
    detect_deliveries,
    match_notes,
    reconcile,
    road_loss,
    season_of,
    station_loss_condition,
    tank_groups,
)

T0 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)


def _series(volumes: list[float], step_s: float = 60.0, temperature: float = 18.0) -> list[GaugeSample]:
    return [GaugeSample(T0 + timedelta(seconds=i * step_s), v, temperature) for i, v in enumerate(volumes)]


def test_a_tanker_drop_is_found_with_its_start_end_and_rise() -> None:
    selling = [10_000 - 30 * i for i in range(10)]              # 30 L/min of sales
    drop = [selling[-1] + 600 * (i + 1) for i in range(8)]       # 600 L/min for 8 minutes
    after = [drop[-1] - 30 * (i + 1) for i in range(10)]         # selling again, settled
    found = detect_deliveries(_series(selling + drop + after))
    assert len(found) == 1
    d = found[0]
    assert d.started_at == T0 + timedelta(minutes=9) and d.ended_at == T0 + timedelta(minutes=17)
    assert d.rise_l == pytest.approx(4800)


def test_sales_noise_and_a_small_rise_are_not_deliveries() -> None:
    noisy = [10_000 + (3 if i % 2 else -3) - 20 * i for i in range(60)]
    assert detect_deliveries(_series(noisy)) == []
    small = [10_000.0] * 5 + [10_100.0] + [10_100.0] * 10         # 100 L < the 200 L minimum
    assert detect_deliveries(_series(small)) == []


def test_a_drop_still_running_at_the_series_end_is_not_yet_a_delivery() -> None:
    assert detect_deliveries(_series([10_000.0, 10_600.0, 11_200.0, 11_800.0])) == []


def test_each_delivery_takes_the_nearest_unmatched_note_of_its_tank() -> None:
    drop = [10_000.0] * 3 + [10_000.0 + 600 * i for i in range(1, 6)] + [13_000.0] * 8
    (d,) = detect_deliveries(_series(drop))
    notes = [DeliveryNote("N-far", 1, d.started_at - timedelta(hours=5), 3000.0),
             DeliveryNote("N-near", 1, d.started_at - timedelta(minutes=20), 3010.0),
             DeliveryNote("N-other-tank", 2, d.started_at, 3000.0),
             DeliveryNote("N-too-early", 1, d.started_at - timedelta(hours=7), 3000.0)]
    assert match_notes([(1, d)], notes) == {0: notes[1]}
    assert match_notes([(1, d)], [notes[2], notes[3]]) == {}


def test_road_loss_is_invoiced_minus_received_against_its_tolerance() -> None:
    tolerance = Tolerance("92", "winter", road_loss_pct=0.2)
    ok = road_loss(10_000.0, 9_985.0, tolerance)
    assert (ok.loss_l, ok.limit_l, ok.exceeded) == (15.0, 20.0, False)
    assert ok.loss_pct == pytest.approx(0.15)
    bad = road_loss(10_000.0, 9_970.0, tolerance)
    assert bad.exceeded and bad.loss_l == 30.0


def _rec(closing: float, **kw: object) -> object:
    args: dict[str, object] = dict(
        tank=1, tanks=(1,), grade="92", period="day", period_key="2026-12-03", starts_at=T0,
        ends_at=T0 + timedelta(days=1), opening_l=20_000.0, closing_l=closing, deliveries_l=5_000.0,
        sales_observed_l=10_000.0, sales_vcf=0.998, movements=Movements(), transactions_l=9_990.0,
        nozzle_meters_l=10_000.0, dip_open_l=20_010.0, dip_close_l=closing + 5,
        tolerance=Tolerance("92", "winter", station_loss_pct=0.3, station_loss_min_l=20.0))
    args.update(kw)
    return reconcile(**args)  # type: ignore[arg-type]


def test_book_stock_variance_and_station_loss_at_20_degrees() -> None:
    r = _rec(15_000.0)
    assert r.sales_l == pytest.approx(9_980.0)                   # 10 000 L at the meters × VCF 0.998
    assert r.book_l == pytest.approx(20_000 + 5_000 - 9_980)
    assert r.variance_l == pytest.approx(15_000 - 15_020)        # 20 L missing
    assert r.loss_pct == pytest.approx(20 / 9_980 * 100)
    assert r.limit_l == pytest.approx(29.94) and not r.exceeded and r.status == "ok"


def test_a_loss_over_the_tolerance_is_exceeded_and_a_gain_is_not() -> None:
    lost = _rec(14_950.0)                                        # 70 L missing > 29.94
    assert lost.exceeded and lost.status == "exceeded"
    condition = station_loss_condition("st-01", lost)
    assert condition.active and condition.value == pytest.approx(70.0) and condition.source == "tank-1/day"
    assert "超出允许" in condition.message
    assert not _rec(15_100.0).exceeded                            # more than the book: a gain, not a loss


def test_the_minimum_litres_apply_on_a_quiet_day() -> None:
    r = _rec(24_985.0, sales_observed_l=10.0, sales_vcf=1.0)
    assert r.limit_l == 20.0 and not r.exceeded                  # 5 L missing of 10 L sold: under 20 L


def test_transfers_and_pump_tests_move_the_book() -> None:
    r = _rec(15_000.0, movements=Movements(transfer_in_l=100.0, transfer_out_l=40.0, pump_test_l=20.0))
    assert r.book_l == pytest.approx(20_000 + 5_000 - 9_980 + 100 - 40 + 20 * 0.998)


def test_missing_gauge_readings_make_an_incomplete_result_without_alarm() -> None:
    r = _rec(15_000.0, opening_l=None)
    assert r.book_l is None and r.variance_l is None and r.status == "incomplete" and not r.exceeded
    assert r.arts.tank_meters_l is None and r.notes


def test_arts_four_way_puts_each_instrument_against_the_nozzle_meters() -> None:
    r = _rec(15_000.0)
    assert r.arts.transactions_l == 9_990.0 and r.arts.nozzle_meters_l == 10_000.0
    assert r.arts.tank_meters_l == pytest.approx((20_000 + 5_000 - 15_000) / 0.998)
    assert r.arts.dip_l == pytest.approx((20_010 + 5_000 - 15_005) / 0.998)
    spreads = r.arts.spreads()
    assert spreads["transactions"] == pytest.approx(-10.0)
    assert spreads["tank_meters"] == pytest.approx(10_000 / 0.998 - 10_000)
    assert _rec(15_000.0, dip_open_l=None).arts.dip_l is None


def test_tanks_of_one_grade_are_one_group_named_by_the_lowest_number() -> None:
    assert tank_groups([(3, "92"), (1, "92"), (2, "0")]) == {1: ("92", (1, 3)), 2: ("0", (2,))}


def test_seasons_follow_gb_11085() -> None:
    assert season_of(date(2026, 7, 1)) == "summer" and season_of(date(2026, 12, 3)) == "winter"
    assert season_of(date(2026, 4, 1)) == "summer" and season_of(date(2026, 3, 31)) == "winter"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"station_loss_pct": 0}, "station_loss_pct"), ({"station_loss_pct": 6}, "station_loss_pct"),
    ({"station_loss_min_l": -1}, "station_loss_min_l"), ({"road_loss_pct": 0}, "road_loss_pct"),
])
def test_bad_tolerances_name_their_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(InventoryError) as info:
        Tolerance("92", "summer", **kwargs)
    assert info.value.field == field


def test_a_note_needs_a_standard_volume_or_the_observed_one_with_its_temperature() -> None:
    base = dict(station="st", note_no="N1", tank=1, supplier="中石化", carrier="顺达", vehicle="",
                arrived_at=T0, invoiced_l_20=None, invoiced_l_observed=10_000.0, observed_temperature_c=None,
                density_20=None)
    with pytest.raises(InventoryError) as info:
        RecordDeliveryNote(**base)  # type: ignore[arg-type]
    assert info.value.field == "invoiced_l_20"
    RecordDeliveryNote(**{**base, "observed_temperature_c": 15.0})  # type: ignore[arg-type]
    with pytest.raises(InventoryError):
        RecordDeliveryNote(**{**base, "note_no": " ", "invoiced_l_20": 1.0})  # type: ignore[arg-type]


def test_dips_and_movements_check_their_values() -> None:
    with pytest.raises(InventoryError) as info:
        RecordDip("st", 1, T0, level_mm=1000, water_mm=1200, volume_l=5000, temperature_c=15)
    assert info.value.field == "water_mm"
    with pytest.raises(InventoryError) as info:
        RecordMovement("st", 1, "theft", 10.0, T0, "R1")
    assert info.value.field == "kind"


def test_a_gauge_that_reports_only_changes_still_shows_its_delivery() -> None:
    samples = [GaugeSample(T0, 10_000.0, 18.0),                                  # quiet for an hour, no reading
               GaugeSample(T0 + timedelta(hours=1, seconds=5), 10_400.0, 18.0),  # 400 L at once after the gap
               GaugeSample(T0 + timedelta(hours=1, seconds=65), 11_000.0, 18.0)]
    assert detect_deliveries(samples) == []                                      # not yet known to be over
    (d,) = detect_deliveries(samples, until=T0 + timedelta(hours=2))
    assert d.started_at == T0 and d.rise_l == 1_000.0
