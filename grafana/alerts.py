"""Grafana alert rules as code, from the alarm engine's own rule file, so Grafana alerts on the same limits.

``config/alarm-rules.yaml`` is the alarm engine's, read here with its own parser (``telemetry/alarms/rules.py``
``load_file``), so the limits cannot differ (docs/how-to/add-an-alarm-rule.md). Each enabled level rule
(``high``, ``high_high``, ``low``, ``low_low``) becomes one Grafana-managed alert rule: the latest good value
of every matching (station, device, metric) from ``telemetry.latest`` (one alert instance per row, labelled by
station, device and metric; a rule of one station watches that station only), a threshold at the rule's limit
(``gt`` for high, ``lt`` for low) held for its on-delay. Rules edited in the back office live in the engine's
table, not the file: Grafana mirrors the file only. Rate, discrete, comm-loss and bad-quality
rules stay with the engine (Grafana has no life cycle, deadband or suppression for them); Grafana's copy of the
level limits is the second line the control room keeps when the engine is down.

``forecourt grafana build`` writes ``grafana/provisioning/alerting/forecourt-alarms.yaml`` when the rule file is
there; a stock Grafana (10.4+) loads it from its provisioning folder. The rules are only a mirror: change a limit
in ``config/alarm-rules.yaml`` and build again.
"""

# ruff: noqa: S608 - SQL text for Grafana from the shipped rule file, its values quoted by _literal; nothing here runs it

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from grafana.build import FOLDER_TITLE, PROVISIONING
from grafana.model import DATASOURCE_UID
from telemetry.alarms.rules import DEFAULT_FILE as RULES_FILE
from telemetry.alarms.rules import RuleFileError, RuleSpec, load_file

ALERTING_FILE = PROVISIONING / "alerting" / "forecourt-alarms.yaml"
GROUP = "forecourt-alarm-limits"
LEVEL_KINDS = {"high": "gt", "high_high": "gt", "low": "lt", "low_low": "lt"}

__all__ = ["RULES_FILE", "RuleFileError", "alert_rule", "build_alerts", "level_rules", "provisioning", "query"]


def level_rules(specs: list[RuleSpec]) -> list[RuleSpec]:
    """The enabled level rules with a limit (other kinds are the engine's alone)."""
    return [s for s in specs if s.enabled and s.kind.value in LEVEL_KINDS and s.limit is not None]


def glob_to_regex(glob: str) -> str:
    """A rule's glob (``*``, ``?``, ``[…]``, ``[!…]``, as the engine matches them) as an anchored POSIX regex."""
    out, i = ["^"], 0
    while i < len(glob):
        c = glob[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[" and "]" in glob[i + 1:]:
            end = glob.index("]", i + 1)
            body = glob[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out) + "$"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def query(rule: RuleSpec) -> str:
    """The latest good value of each matching point, one row per (station, device, metric); a rule of one
    station (``station``) watches that station only."""
    station = f"AND m.station = {_literal(rule.station)} " if rule.station else ""
    return ("SELECT m.station, m.device, m.name AS metric, l.value "
            "FROM telemetry.metrics m JOIN telemetry.latest l USING (metric_id) "
            f"WHERE m.device ~ {_literal(glob_to_regex(rule.device))} "
            f"AND m.name ~ {_literal(glob_to_regex(rule.metric))} {station}"
            "AND l.quality = 'good' AND l.value IS NOT NULL")


def alert_rule(rule: RuleSpec) -> dict[str, Any]:
    uid = "fc-" + re.sub(r"[^A-Za-z0-9-]", "-", "-".join(filter(None, (rule.code, rule.station))))[:37]
    kind, limit = rule.kind.value, float(rule.limit or 0)
    return {
        "uid": uid, "title": f"{rule.message or rule.code} [{rule.code}]", "condition": "C",
        "data": [
            {"refId": "A", "relativeTimeRange": {"from": 600, "to": 0}, "datasourceUid": DATASOURCE_UID,
             "model": {"refId": "A", "rawQuery": True, "editorMode": "code", "format": "table",
                       "rawSql": query(rule)}},
            {"refId": "C", "relativeTimeRange": {"from": 0, "to": 0}, "datasourceUid": "__expr__",
             "model": {"refId": "C", "type": "threshold", "expression": "A",
                       "conditions": [{"evaluator": {"type": LEVEL_KINDS[kind], "params": [limit]}}]}},
        ],
        "noDataState": "OK", "execErrState": "Error", "for": f"{rule.on_delay_s:g}s", "isPaused": False,
        "annotations": {"summary": rule.message or rule.code,
                        "description": f"{kind} {limit:g} {rule.unit} on {rule.device}/{rule.metric} "
                                       "(config/alarm-rules.yaml; the alarm engine raises the same limit)"},
        "labels": {"rule": rule.code, "priority": rule.priority.value, "area": rule.area,
                   "station": rule.station or "*", "source": "forecourt"},
    }


def provisioning(rules: list[RuleSpec], interval: str = "10s") -> dict[str, Any]:
    return {"apiVersion": 1,
            "groups": [{"orgId": 1, "name": GROUP, "folder": FOLDER_TITLE, "interval": interval,
                        "rules": [alert_rule(r) for r in rules]}]}


def build_alerts(rules_file: Path = RULES_FILE, out: Path = ALERTING_FILE) -> Path | None:
    """Write the alerting provisioning file from the rule file; None when there is no rule file."""
    if not rules_file.is_file():
        return None
    rules = level_rules(load_file(rules_file))
    out.parent.mkdir(parents=True, exist_ok=True)
    header = ("# Generated by `forecourt grafana build` from config/alarm-rules.yaml (grafana/alerts.py).\n"
              "# Grafana alert rules on the alarm engine's level limits (docs/notifications.md).\n")
    out.write_text(header + yaml.safe_dump(provisioning(rules), allow_unicode=True, sort_keys=False),
                   encoding="utf-8")
    return out
