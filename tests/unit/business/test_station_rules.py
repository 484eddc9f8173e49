"""Pure rules of station master data: grades, checks, the list's version, and the station file both ways."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest
import yaml

from business_services.stations.model import (
    GRADES,
    Device,
    MasterDataError,
    Nozzle,
    ScheduleDay,
    ShiftDefinition,
    StationRecord,
    Tank,
    check_nozzle,
    check_schedule,
    check_shift,
    check_station,
    check_tank,
    check_tank_removal,
    fuelling_point_counts,
    next_version,
)
from business_services.stations.station_file import device_kind, records_from_file
from telemetry.contracts.master_data import MasterData, newer

DEMO = Path(__file__).resolve().parents[3] / "config" / "stations" / "demo.yaml"
DISPENSER = [Device("disp-01", "dispenser", {})]
TANKS = [Tank(1, "92", 30000), Tank(2, "95", 30000)]


def test_the_grade_catalogue_names_and_units() -> None:
    assert [(g.code, g.name, g.unit) for g in GRADES.values()] == [
        ("92", "92#汽油", "L"), ("95", "95#汽油", "L"), ("98", "98#汽油", "L"), ("0", "0#柴油", "L"),
        ("cng", "CNG", "kg"), ("lng", "LNG", "kg")]


@pytest.mark.parametrize(("nozzle", "field"), [
    (Nozzle("disp-01", 1, 1, "98"), "grade"),          # no tank holds 98
    (Nozzle("disp-01", 1, 1, "97"), "grade"),          # no such grade
    (Nozzle("disp-02", 1, 1, "92"), "device"),         # no such dispenser
    (Nozzle("disp-01", 5, 1, "92"), "fuelling_point"),
    (Nozzle("disp-01", 1, 0, "92"), "number"),
])
def test_a_nozzle_that_breaks_a_rule_names_the_field(nozzle: Nozzle, field: str) -> None:
    with pytest.raises(MasterDataError) as refused:
        check_nozzle(nozzle, TANKS, DISPENSER)
    assert refused.value.field == field
    assert "(" in refused.value.message and refused.value.message[0] > "\u2e80"   # Chinese first, then English


def test_a_nozzle_selling_a_grade_in_a_tank_passes_and_none_means_unassigned() -> None:
    assert check_nozzle(Nozzle("disp-01", 2, 2, "95"), TANKS, DISPENSER).grade == "95"
    assert check_nozzle(Nozzle("disp-01", 2, 2, None), [], DISPENSER).grade is None


def test_a_tank_goes_only_when_no_nozzle_is_left_without_its_grade() -> None:
    nozzles = [Nozzle("disp-01", 1, 1, "92")]
    with pytest.raises(MasterDataError):
        check_tank_removal(1, TANKS, nozzles)
    check_tank_removal(2, TANKS, nozzles)                                   # nobody sells 95
    check_tank_removal(1, [*TANKS, Tank(3, "92", 20000)], nozzles)          # another tank holds 92


@pytest.mark.parametrize("station", [
    StationRecord("Demo-01", "x"), StationRecord("demo-01", " "), StationRecord("demo-01", "x", latitude=91),
    StationRecord("demo-01", "x", longitude=-181), StationRecord("demo-01", "x", opening_hours="6-22"),
])
def test_a_station_that_breaks_a_rule_is_refused(station: StationRecord) -> None:
    with pytest.raises(MasterDataError):
        check_station(station)


def test_tanks_shifts_and_the_rota() -> None:
    for capacity in (0, 1e-300, 0.05, 200_001):      # 1e-300 would be stored as 0.0 (found by the API fuzz test)
        with pytest.raises(MasterDataError):
            check_tank(Tank(1, "92", capacity))
    night = check_shift(ShiftDefinition("night", "晚班", time(22), time(6)))   # past midnight is fine
    with pytest.raises(MasterDataError):
        check_shift(ShiftDefinition("x", "班", time(8), time(8)))
    check_schedule(ScheduleDay(date(2026, 12, 4), "night", ("li", "wang")), [night])
    with pytest.raises(MasterDataError):
        check_schedule(ScheduleDay(date(2026, 12, 4), "early", ("li",)), [night])
    with pytest.raises(MasterDataError):
        check_schedule(ScheduleDay(date(2026, 12, 4), "night", ("li", "li")), [night])


def test_the_version_moves_only_when_something_changed_and_the_edge_keeps_only_newer() -> None:
    assert next_version(4, {"grade": "92"}, {"grade": "95"}) == 5
    assert next_version(4, {"grade": "95"}, {"grade": "95"}) == 4
    assert newer(1, None) and newer(5, 4)
    assert not newer(4, 4) and not newer(3, 4)


def test_a_dispensers_counts_come_from_its_nozzles() -> None:
    nozzles = [Nozzle("disp-01", fp, n, "92") for fp in (1, 2, 3) for n in (1, 2)]
    assert fuelling_point_counts(nozzles, "disp-01") == (3, 2)
    assert fuelling_point_counts(nozzles, "disp-09") == (1, 1)


def test_the_demo_file_reads_as_master_data() -> None:
    raw = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    station, devices, tanks, nozzles = records_from_file(raw, ["92", "95"], group="demo-co")
    assert (station.code, station.name) == ("demo-01", "演示综合能源站")
    assert [(d.code, d.kind) for d in devices] == [("disp-01", "dispenser"), ("chargers", "charger")]
    assert "fuelling_points" not in devices[0].settings and devices[0].settings["port"] == 5020
    assert [(t.number, t.grade) for t in tanks] == [(1, "92"), (2, "95")]
    assert [(n.fuelling_point, n.number, n.grade) for n in nozzles] == [
        (1, 1, "92"), (1, 2, "95"), (2, 1, "92"), (2, 2, "95")]
    with pytest.raises(MasterDataError):
        records_from_file(raw, ["92"], group="demo-co")           # two nozzles per point, one grade given
    assert device_kind({"protocol": "tls"}) == "tank-gauge"


def test_the_list_carries_password_hashes_only() -> None:
    base = {"version": 1, "station_code": "demo-01", "station": {}, "devices": [], "grades": [], "tanks": [],
            "nozzles": []}
    ok = MasterData.model_validate({**base, "users": [
        {"username": "li", "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$abc$def", "roles": ["cashier"]}]})
    assert ok.users[0].roles == ["cashier"]
    with pytest.raises(ValueError, match="password_hash"):
        MasterData.model_validate({**base, "users": [
            {"username": "li", "password_hash": "plain-password-1234567", "roles": ["cashier"]}]})
