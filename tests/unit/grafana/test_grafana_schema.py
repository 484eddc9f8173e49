"""The dashboard schema check: our dashboards pass, and each kind of breakage is reported where it is."""

import copy
from collections.abc import Callable
from typing import Any

import pytest

from grafana.dashboards import DASHBOARDS
from grafana.schema import DashboardError, check_dashboard, require_valid

Doc = dict[str, Any]


def _station() -> Doc:
    return copy.deepcopy(DASHBOARDS[0].to_json())


def _first_query_panel(d: Doc) -> Doc:
    return next(p for p in d["panels"] if p["type"] != "row")


def test_every_dashboard_passes() -> None:
    for d in DASHBOARDS:
        assert check_dashboard(d.to_json()) == [], d.uid


def _set(path: Callable[[Doc], Doc], key: str, value: object) -> Callable[[Doc], None]:
    def change(d: Doc) -> None:
        path(d)[key] = value
    return change


def _drop(key: str) -> Callable[[Doc], None]:
    return lambda d: d.pop(key)


def _duplicate_id(d: Doc) -> None:
    d["panels"][2]["id"] = d["panels"][1]["id"]


def _extra_target(d: Doc) -> None:
    panel = _first_query_panel(d)
    panel["targets"].append(dict(panel["targets"][0]))


@pytest.mark.parametrize(("change", "problem"), [
    (_drop("templating"), "missing 'templating'"),
    (_set(lambda d: d, "uid", "has spaces and is far too long for grafana uids"), "uid must be 1-40"),
    (_set(lambda d: d, "id", 7), "must not carry a database 'id'"),
    (_duplicate_id, "duplicate panel id"),
    (_set(lambda d: _first_query_panel(d)["gridPos"], "x", 20), "x + w ≤ 24"),
    (_set(lambda d: _first_query_panel(d)["gridPos"], "h", 0), "w, h ≥ 1"),
    (_set(lambda d: d["panels"][2]["gridPos"], "x", 0), "overlaps"),
    (_set(lambda d: _first_query_panel(d), "type", "graph"), "unknown panel type 'graph'"),
    (_set(lambda d: _first_query_panel(d), "datasource", {"type": "prometheus", "uid": "prom"}),
     "datasource uid 'prom' is not one of"),
    (_set(lambda d: _first_query_panel(d)["targets"][0], "datasource", "forecourt-pg"), "must be {type, uid}"),
    (_set(lambda d: _first_query_panel(d), "targets", []), "needs at least one target"),
    (_extra_target, "distinct refIds"),
    (_set(lambda d: _first_query_panel(d)["targets"][0], "rawSql", " "), "rawSql is missing or empty"),
    (_set(lambda d: _first_query_panel(d)["targets"][0], "format", "timeseries"), "format must be one of"),
    (_set(lambda d: _first_query_panel(d)["targets"][0], "editorMode", "builder"), "must be a raw SQL query"),
    (_set(lambda d: _first_query_panel(d)["targets"][0], "rawSql", "SELECT 1 WHERE s = '$stationn'"),
     "variable $stationn is not defined"),
    (_set(lambda d: _first_query_panel(d)["targets"][0], "rawSql", "SELECT $__timeFilterr(ts)"),
     "unknown macro $__timeFilterr"),
    (_set(lambda d: d["templating"]["list"][0], "query", ""), "needs its SQL in 'query'"),
    (_set(lambda d: d["templating"]["list"][0], "datasource", {"type": "x", "uid": "nope"}), "uid 'nope'"),
])
def test_each_breakage_is_reported(change: Callable[[Doc], None], problem: str) -> None:
    d = _station()
    change(d)
    problems = check_dashboard(d)
    assert any(problem in p for p in problems), problems
    assert all(p.startswith("dashboard ") for p in problems), "every problem says where it is"


def test_builtins_and_macros_are_not_taken_for_variables() -> None:
    d = _station()
    _first_query_panel(d)["targets"][0]["rawSql"] = (
        "SELECT $__timeGroupAlias(ts, $__interval), $__interval_ms FROM t WHERE $__timeFilter(ts) AND s = '$station'")
    assert check_dashboard(d) == []


def test_require_valid_lists_every_problem() -> None:
    a, b = _station(), _station()
    a["panels"][1]["gridPos"]["w"] = 30
    b["panels"][1]["targets"][0]["format"] = "json"
    with pytest.raises(DashboardError) as caught:
        require_valid([a, b])
    assert "x + w ≤ 24" in str(caught.value) and "format must be one of" in str(caught.value)
