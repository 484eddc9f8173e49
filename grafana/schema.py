"""A schema check of our own for dashboard JSON, run before anything is written or pushed (pure).

It checks what would make a stock Grafana show an empty or broken dashboard: required keys,
unique panel ids, ``gridPos`` inside the 24 columns and not overlapping, datasource references to
a known uid, one ``rawSql`` per target in code mode with a ``table`` or ``time_series`` format,
template variables that are defined, and macros Grafana's PostgreSQL datasource knows.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any

from grafana.model import DATASOURCE_UID, GRID_COLUMNS

DASHBOARD_KEYS = ("uid", "title", "description", "tags", "schemaVersion", "time", "templating", "panels")
PANEL_KEYS = ("id", "type", "title", "gridPos")
PANEL_TYPES = frozenset({"row", "timeseries", "stat", "table", "bargauge", "state-timeline", "gauge", "text"})
FORMATS = frozenset({"table", "time_series"})
MACROS = frozenset({"__time", "__timeEpoch", "__timeFilter", "__timeFrom", "__timeTo", "__timeGroup",
                    "__timeGroupAlias", "__unixEpochFilter", "__unixEpochNanoFilter", "__unixEpochNanoFrom",
                    "__unixEpochNanoTo", "__unixEpochGroup", "__unixEpochGroupAlias", "__unixEpochFrom",
                    "__unixEpochTo"})
BUILTIN_VARIABLES = frozenset({"__interval", "__interval_ms", "__from", "__to", "__dashboard", "__user", "__org"})

_VARIABLE_USE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::\w+)?\]\]|\$\{(\w+)(?::[^}]+)?\}")
_MACRO_USE = re.compile(r"\$(__\w+)\(")


class DashboardError(ValueError):
    """The dashboard JSON failed the schema check; the message lists every problem."""


def check_dashboard(dashboard: dict[str, Any], datasource_uids: Collection[str] = (DATASOURCE_UID,)) -> list[str]:
    """Every problem found, each prefixed with where it is; an empty list means the dashboard is fine."""
    where = f"dashboard {dashboard.get('uid', '?')}"
    problems = [f"{where}: missing {k!r}" for k in DASHBOARD_KEYS if k not in dashboard]
    if problems:
        return problems
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", str(dashboard["uid"])):
        problems.append(f"{where}: uid must be 1-40 letters, digits, '-' or '_'")
    if "id" in dashboard and dashboard["id"] is not None:
        problems.append(f"{where}: must not carry a database 'id' (Grafana assigns it)")
    variables = dashboard["templating"].get("list", [])
    defined = {v.get("name") for v in variables}
    for v in variables:
        problems += _variable_problems(v, defined, datasource_uids, where)
    ids: set[Any] = set()
    boxes: list[tuple[str, tuple[int, int, int, int]]] = []
    for panel in dashboard["panels"]:
        here = f"{where} panel {panel.get('id', '?')} {panel.get('title', '')!r}"
        missing = [k for k in PANEL_KEYS if k not in panel]
        if missing:
            problems.append(f"{here}: missing {missing}")
            continue
        if panel["id"] in ids:
            problems.append(f"{here}: duplicate panel id {panel['id']}")
        ids.add(panel["id"])
        if panel["type"] not in PANEL_TYPES:
            problems.append(f"{here}: unknown panel type {panel['type']!r}")
        box = _box(panel["gridPos"])
        if box is None:
            problems.append(f"{here}: gridPos must have whole x, y, w, h with w, h ≥ 1 and x + w ≤ {GRID_COLUMNS}")
        else:
            problems += [f"{here}: overlaps {other}" for other, b in boxes if _overlap(box, b)]
            boxes.append((here, box))
        if panel["type"] != "row":
            problems += _query_problems(panel, defined, datasource_uids, here)
    return problems


def require_valid(dashboards: Iterable[dict[str, Any]], datasource_uids: Collection[str] = (DATASOURCE_UID,)) -> None:
    """Raise ``DashboardError`` listing every problem of every dashboard, or return quietly."""
    problems = [p for d in dashboards for p in check_dashboard(d, datasource_uids)]
    if problems:
        raise DashboardError("\n".join(problems))


def _variable_problems(v: dict[str, Any], defined: set[Any], uids: Collection[str], where: str) -> list[str]:
    here = f"{where} variable {v.get('name', '?')!r}"
    if not v.get("name") or not v.get("type"):
        return [f"{here}: needs a name and a type"]
    if v["type"] != "query":
        return []
    problems = _datasource_problems(v.get("datasource"), uids, here)
    if not isinstance(v.get("query"), str) or not v["query"].strip():
        problems.append(f"{here}: a query variable needs its SQL in 'query'")
    else:
        problems += _sql_problems(v["query"], defined, here)
    return problems


def _query_problems(panel: dict[str, Any], defined: set[Any], uids: Collection[str], here: str) -> list[str]:
    problems = _datasource_problems(panel.get("datasource"), uids, here)
    targets = panel.get("targets")
    if not isinstance(targets, list) or not targets:
        return [*problems, f"{here}: needs at least one target"]
    ref_ids = [t.get("refId") for t in targets]
    if len(set(ref_ids)) != len(ref_ids) or None in ref_ids:
        problems.append(f"{here}: targets need distinct refIds")
    for t in targets:
        at = f"{here} target {t.get('refId', '?')}"
        problems += _datasource_problems(t.get("datasource"), uids, at)
        if t.get("format") not in FORMATS:
            problems.append(f"{at}: format must be one of {sorted(FORMATS)}, not {t.get('format')!r}")
        if t.get("editorMode") != "code" or t.get("rawQuery") is not True:
            problems.append(f"{at}: must be a raw SQL query (editorMode 'code', rawQuery true)")
        sql = t.get("rawSql")
        if not isinstance(sql, str) or not sql.strip():
            problems.append(f"{at}: rawSql is missing or empty")
        else:
            problems += _sql_problems(sql, defined, at)
    return problems


def _datasource_problems(ref: Any, uids: Collection[str], here: str) -> list[str]:
    if not isinstance(ref, dict) or "uid" not in ref or "type" not in ref:
        return [f"{here}: datasource must be {{type, uid}}"]
    return [] if ref["uid"] in uids else [f"{here}: datasource uid {ref['uid']!r} is not one of {sorted(uids)}"]


def _sql_problems(sql: str, defined: set[Any], here: str) -> list[str]:
    problems = [f"{here}: unknown macro ${name}" for name in _MACRO_USE.findall(sql) if name not in MACROS]
    for m in _VARIABLE_USE.finditer(sql):
        name = m.group(1) or m.group(2) or m.group(3)
        if name.startswith("__") and (name in MACROS or name in BUILTIN_VARIABLES):
            continue
        if name not in defined:
            problems.append(f"{here}: variable ${name} is not defined on the dashboard")
    return problems


def _box(pos: Any) -> tuple[int, int, int, int] | None:
    if not isinstance(pos, dict) or not all(isinstance(pos.get(k), int) for k in "xywh"):
        return None
    x, y, w, h = pos["x"], pos["y"], pos["w"], pos["h"]
    ok = x >= 0 and y >= 0 and w >= 1 and h >= 1 and x + w <= GRID_COLUMNS
    return (x, y, w, h) if ok else None


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
