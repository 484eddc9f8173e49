"""The station's price rules without a database: a set's state from its nozzles, the order of one nozzle's
reports, the view's shape from sets and reports, and the station bus taking price.applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from business_services.bootstrap import build_bus
from business_services.station_prices.handlers import HoldPriceSet
from business_services.station_prices.model import prices_view, report_order, set_state
from forecourt.roles import Role, policy
from telemetry.contracts.events import CloudEvent

T0 = datetime(2026, 12, 4, 8, tzinfo=UTC)


@pytest.mark.parametrize(("states", "expected"), [
    (["applied", "applied"], "in_force"),
    (["applied", "pending"], "applying"),
    (["applied", None], "applying"),              # a nozzle not heard of yet
    (["applied", "refused", "pending"], "partly_applied"),
    (["refused"], "partly_applied"),
    ([], "applying"),
])
def test_set_state(states: list[str | None], expected: str) -> None:
    assert set_state(states) == expected


def test_report_order_attempt_then_time_then_a_final_state() -> None:
    assert report_order(2, T0, "pending") > report_order(1, T0 + timedelta(hours=1), "applied")
    assert report_order(1, T0 + timedelta(seconds=1), "pending") > report_order(1, T0, "refused")
    assert report_order(1, T0, "applied") > report_order(1, T0, "pending")


def _set(version: int, p92: int) -> dict[str, object]:
    return {"version": version, "effective_at": T0, "change_no": f"PC{version}", "grades": {"92": p92},
            "units": {}, "nozzles": [{"device": "d", "fuelling_point": fp, "nozzle": 1, "grade": "92",
                                      "price_fen": p92} for fp in (1, 2)]}


def _report(version: int, fp: int, state: str, price: int, minute: int = 0) -> dict[str, object]:
    return {"version": version, "device": "d", "fuelling_point": fp, "nozzle": 1, "price_fen": price,
            "state": state, "detail": "", "at": T0 + timedelta(minutes=minute)}


def test_the_view_before_any_set_and_with_a_set_not_yet_in_force() -> None:
    assert prices_view("st", [], []) == {"station": "st", "version_in_force": None, "grades": [], "latest": None,
                                         "nozzles": []}
    view = prices_view("st", [_set(1, 789)], [_report(1, 1, "applied", 789)])
    assert view["version_in_force"] is None and view["grades"] == []
    assert view["latest"]["state"] == "applying"
    assert [(n["state"], n["old_price_fen"]) for n in view["nozzles"]] == [("applied", None), ("pending", None)]


def test_the_view_names_the_set_in_force_and_what_each_pump_still_shows() -> None:
    sets = [_set(2, 802), _set(1, 789)]
    reports = [_report(1, 1, "applied", 789, 1), _report(1, 2, "applied", 789, 2), _report(2, 1, "refused", 802)]
    view = prices_view("st", sets, reports)
    assert view["version_in_force"] == 1
    assert view["grades"] == [{"grade": "92", "unit": "L", "price_fen": 789, "since": T0 + timedelta(minutes=2)}]
    assert view["latest"]["version"] == 2 and view["latest"]["state"] == "partly_applied"
    assert [(n["state"], n["price_fen"], n["old_price_fen"]) for n in view["nozzles"]] == [
        ("refused", 802, 789), ("pending", 802, 789)]


def test_the_station_bus_takes_price_reports_and_held_sets() -> None:
    bus = build_bus(policy(Role.STATION).contexts)
    report = CloudEvent(source="t", type="price.applied", data={})
    assert bus.handles(report) and HoldPriceSet in bus.commands
