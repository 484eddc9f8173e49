"""A small typed builder for Grafana dashboard JSON: panels, rows, variables, one datasource.

Dashboards are written as Python values (``Dashboard``, ``Row``, ``Panel``, ``Query``) and turned
into the JSON a stock Grafana loads (``Dashboard.to_json``). Layout is automatic: panels fill each
row left to right and wrap at Grafana's 24 columns. Every ``Query`` names the columns its panel
needs (``Column``); those drive the table headers and units, and the tests check them against
what the SQL really returns (``grafana/frames.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

#: The one datasource every panel reads: PostgreSQL/TimescaleDB (provisioning/datasources/forecourt.yaml).
DATASOURCE_UID = "forecourt-pg"
DATASOURCE_TYPE = "grafana-postgresql-datasource"
DATASOURCE_NAME = "Forecourt PostgreSQL"
DATASOURCE: dict[str, str] = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}

GRID_COLUMNS = 24
SCHEMA_VERSION = 39          # Grafana 10.4 / 11
Format = Literal["table", "time_series"]
PanelType = Literal["timeseries", "stat", "table", "bargauge", "state-timeline"]


class Kind(StrEnum):
    """What Grafana makes of a result column (PostgreSQL type → data frame field type)."""

    TEXT = "text"
    NUMBER = "number"
    TIME = "time"
    BOOL = "bool"


@dataclass(frozen=True, slots=True)
class Column:
    """A column the panel needs: its name in the SQL, its kind, and how people see it."""

    name: str
    kind: Kind
    label: str | None = None       # header / legend shown instead of the SQL name (Chinese)
    unit: str | None = None        # Grafana unit id: litre, lengthmm, celsius, currencyCNY, s …
    mappings: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Query:
    """One SQL target. ``time_series``: a ``time`` column, optionally ``metric`` (series name), numbers."""

    sql: str
    format: Format
    columns: tuple[Column, ...]
    ref_id: str = "A"

    def to_json(self) -> dict[str, Any]:
        return {"refId": self.ref_id, "datasource": dict(DATASOURCE), "editorMode": "code",
                "format": self.format, "rawQuery": True, "rawSql": self.sql.strip()}


@dataclass(frozen=True, slots=True)
class Panel:
    type: PanelType
    title: str                     # Chinese, for the people at the station
    description: str               # English: what it shows and where it comes from
    query: Query
    width: int = 12
    height: int = 8
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    mappings: tuple[Mapping[str, Any], ...] = ()
    thresholds: tuple[tuple[float | None, str], ...] = ()   # (from value, colour); the first is (None, …)
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        defaults: dict[str, Any] = {"mappings": list(self.mappings)}
        if self.thresholds:
            defaults["thresholds"] = {"mode": "absolute",
                                      "steps": [{"value": v, "color": c} for v, c in self.thresholds]}
        for key, value in (("unit", self.unit), ("min", self.min), ("max", self.max)):
            if value is not None:
                defaults[key] = value
        return {
            "id": panel_id, "type": self.type, "title": self.title, "description": self.description,
            "gridPos": {"x": x, "y": y, "w": self.width, "h": self.height},
            "datasource": dict(DATASOURCE), "targets": [self.query.to_json()],
            "fieldConfig": {"defaults": defaults, "overrides": _overrides(self.query.columns)},
            "options": {**_DEFAULT_OPTIONS[self.type], **self.options},
        }


@dataclass(frozen=True, slots=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True, slots=True)
class Variable:
    """A query variable. ``multi``/``include_all`` make Grafana send a quoted list: use ``IN ($name)``;
    a single-value variable is sent bare: use ``'$name'``."""

    name: str
    label: str
    sql: str
    multi: bool = False
    include_all: bool = False

    def to_json(self) -> dict[str, Any]:
        sql = self.sql.strip()
        return {"type": "query", "name": self.name, "label": self.label, "datasource": dict(DATASOURCE),
                "query": sql, "definition": sql, "refresh": 1, "multi": self.multi,
                "includeAll": self.include_all, "sort": 1, "hide": 0, "regex": "", "options": [],
                "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if self.include_all else {}}


@dataclass(frozen=True, slots=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    variables: tuple[Variable, ...] = ()
    tags: tuple[str, ...] = ("forecourt",)
    time_from: str = "now-6h"
    refresh: str = "30s"

    def panels(self) -> Iterator[Panel]:
        for row in self.rows:
            yield from row.panels

    def to_json(self) -> dict[str, Any]:
        panels: list[dict[str, Any]] = []
        y, next_id = 0, 1
        for row in self.rows:
            panels.append({"id": next_id, "type": "row", "title": row.title, "collapsed": False,
                           "gridPos": {"x": 0, "y": y, "w": GRID_COLUMNS, "h": 1}, "panels": []})
            next_id, y = next_id + 1, y + 1
            x, row_height = 0, 0
            for panel in row.panels:
                if x + panel.width > GRID_COLUMNS:
                    x, y, row_height = 0, y + row_height, 0
                panels.append(panel.to_json(next_id, x, y))
                next_id, x, row_height = next_id + 1, x + panel.width, max(row_height, panel.height)
            y += row_height
        return {
            "uid": self.uid, "title": self.title, "description": self.description, "tags": list(self.tags),
            "schemaVersion": SCHEMA_VERSION, "version": 1, "editable": True, "graphTooltip": 1,
            "timezone": "browser", "time": {"from": self.time_from, "to": "now"}, "refresh": self.refresh,
            "templating": {"list": [v.to_json() for v in self.variables]},
            "annotations": {"list": []}, "links": [], "panels": panels,
        }


def value_map(entries: Mapping[int | str, tuple[str, str]]) -> tuple[Mapping[str, Any], ...]:
    """``{1: ("空闲", "green")}`` → one Grafana value mapping (value → text and colour)."""
    options = {str(value): {"text": text, "color": color, "index": i}
               for i, (value, (text, color)) in enumerate(entries.items())}
    return ({"type": "value", "options": options},)


def _overrides(columns: tuple[Column, ...]) -> list[dict[str, Any]]:
    out = []
    for c in columns:
        props: list[dict[str, Any]] = []
        if c.label:
            props.append({"id": "displayName", "value": c.label})
        if c.unit:
            props.append({"id": "unit", "value": c.unit})
        if c.mappings:
            props.append({"id": "mappings", "value": list(c.mappings)})
        if props:
            out.append({"matcher": {"id": "byName", "options": c.name}, "properties": props})
    return out


_REDUCE_LAST = {"calcs": ["lastNotNull"], "fields": "", "values": False}
_DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "timeseries": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                   "tooltip": {"mode": "multi", "sort": "none"}},
    "stat": {"reduceOptions": _REDUCE_LAST, "colorMode": "value", "graphMode": "none", "textMode": "value_and_name",
             "justifyMode": "auto", "orientation": "auto"},
    "table": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}},
    "bargauge": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True},
                 "orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True},
    "state-timeline": {"mergeValues": True, "showValue": "auto", "alignValue": "left", "rowHeight": 0.9,
                       "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
}
