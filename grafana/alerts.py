"""Grafana alert rules as code, from the alarm engine's own rule file, so Grafana alerts on the same limits.

``config/alarm-rules.yaml`` (owned by the alarm engine, ``telemetry/alarms/rules.py``; docs/how-to/add-an-alarm-rule.md)
lists rules with ``code``, ``kind``, ``device`` and ``metric`` globs, ``limit``, ``on_delay_s``, ``priority``,
``area``, ``unit`` and ``message``. Each level rule (``high``, ``high_high``, ``low``, ``low_low``) becomes one
Grafana-managed alert rule: the latest good value of every matching (station, device, metric) from
``telemetry.latest`` (one alert instance per row, labelled by station, device and metric), a threshold at the
rule's limit (``gt`` for high, ``lt`` for low) held for its on-delay. Rate, discrete, comm-loss and bad-quality
rules stay with the engine (Grafana has no life cycle, deadband or suppression for them); Grafana's copy of the
level limits is the second line the control room keeps when the engine is down.

``forecourt grafana build`` writes ``grafana/provisioning/alerting/forecourt-alarms.yaml`` when the rule file is
there; a stock Grafana (10.4+) loads it from its provisioning folder. The rules are only a mirror: change a limit
in ``config/alarm-rules.yaml`` and build again.
"""

# ruff: noqa: S608 - SQL text for Grafana from the shipped rule file, its values quoted by _literal; nothing here runs it

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from grafana.build import FOLDER_TITLE, PROVISIONING
from grafana.model import DATASOURCE_UID

RULES_FILE = Path(__file__).resolve().parents[1] / "config" / "alarm-rules.yaml"
ALERTING_FILE = PROVISIONING / "alerting" / "forecourt-alarms.yaml"
GROUP = "forecourt-alarm-limits"
LEVEL_KINDS = {"high": "gt", "high_high": "gt", "low": "lt", "low_low": "lt"}


class RuleFileError(ValueError):
    """The rule file cannot be read as rules: names the rule and the key."""


@dataclass(frozen=True, slots=True)
class LevelRule:
    code: str
    kind: str
    device: str
    metric: str
    limit: float
    on_delay_s: int
    priority: str
    area: str
    unit: str
    message: str


def level_rules(text: str, source: str = "alarm-rules.yaml") -> list[LevelRule]:
    """The level rules of a rule file (other kinds and keys are the engine's business and are skipped)."""
    document = yaml.safe_load(text) or {}
    if not isinstance(document, dict) or not isinstance(document.get("rules", []), list):
        raise RuleFileError(f"{source}: expected a mapping with a list under 'rules'")
    found = []
    for n, rule in enumerate(document.get("rules", []), 1):
        if not isinstance(rule, dict) or rule.get("kind") not in LEVEL_KINDS or rule.get("enabled") is False:
            continue
        try:
            found.append(LevelRule(
                code=str(rule["code"]), kind=str(rule["kind"]), device=str(rule.get("device", "*")),
                metric=str(rule["metric"]), limit=float(rule["limit"]), on_delay_s=int(rule.get("on_delay_s", 0)),
                priority=str(rule.get("priority", "medium")), area=str(rule.get("area", "")),
                unit=str(rule.get("unit", "")), message=str(rule.get("message", rule["code"]))))
        except (KeyError, TypeError, ValueError) as exc:
            raise RuleFileError(f"{source}: rule {n} ({rule.get('code', '?')}): {exc!r} (expected code, metric "
                                "and a numeric limit)") from None
    return found


def glob_to_like(glob: str) -> str:
    """A rule's ``*``/``?`` glob as a SQL LIKE pattern (``%`` and ``_`` in the name matched literally)."""
    escaped = re.sub(r"([%_\\])", r"\\\1", glob)
    return escaped.replace("*", "%").replace("?", "_")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def query(rule: LevelRule) -> str:
    """The latest good value of each matching point, one row per (station, device, metric)."""
    return ("SELECT m.station, m.device, m.name AS metric, l.value "
            "FROM telemetry.metrics m JOIN telemetry.latest l USING (metric_id) "
            f"WHERE m.device LIKE {_literal(glob_to_like(rule.device))} "
            f"AND m.name LIKE {_literal(glob_to_like(rule.metric))} "
            "AND l.quality = 'good' AND l.value IS NOT NULL")


def alert_rule(rule: LevelRule) -> dict[str, Any]:
    uid = "fc-" + re.sub(r"[^A-Za-z0-9-]", "-", rule.code)[:37]
    return {
        "uid": uid, "title": f"{rule.message} [{rule.code}]", "condition": "C",
        "data": [
            {"refId": "A", "relativeTimeRange": {"from": 600, "to": 0}, "datasourceUid": DATASOURCE_UID,
             "model": {"refId": "A", "rawQuery": True, "editorMode": "code", "format": "table",
                       "rawSql": query(rule)}},
            {"refId": "C", "relativeTimeRange": {"from": 0, "to": 0}, "datasourceUid": "__expr__",
             "model": {"refId": "C", "type": "threshold", "expression": "A",
                       "conditions": [{"evaluator": {"type": LEVEL_KINDS[rule.kind], "params": [rule.limit]}}]}},
        ],
        "noDataState": "OK", "execErrState": "Error", "for": f"{rule.on_delay_s}s", "isPaused": False,
        "annotations": {"summary": rule.message,
                        "description": f"{rule.kind} {rule.limit:g} {rule.unit} on {rule.device}/{rule.metric} "
                                       "(config/alarm-rules.yaml; the alarm engine raises the same limit)"},
        "labels": {"rule": rule.code, "priority": rule.priority, "area": rule.area, "source": "forecourt"},
    }


def provisioning(rules: list[LevelRule], interval: str = "10s") -> dict[str, Any]:
    return {"apiVersion": 1,
            "groups": [{"orgId": 1, "name": GROUP, "folder": FOLDER_TITLE, "interval": interval,
                        "rules": [alert_rule(r) for r in rules]}]}


def build_alerts(rules_file: Path = RULES_FILE, out: Path = ALERTING_FILE) -> Path | None:
    """Write the alerting provisioning file from the rule file; None when there is no rule file."""
    if not rules_file.is_file():
        return None
    rules = level_rules(rules_file.read_text(encoding="utf-8"), str(rules_file))
    out.parent.mkdir(parents=True, exist_ok=True)
    header = ("# Generated by `forecourt grafana build` from config/alarm-rules.yaml (grafana/alerts.py).\n"
              "# Grafana alert rules on the alarm engine's level limits (docs/notifications.md).\n")
    out.write_text(header + yaml.safe_dump(provisioning(rules), allow_unicode=True, sort_keys=False),
                   encoding="utf-8")
    return out
