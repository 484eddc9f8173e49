"""Grafana alert rules from the alarm engine's rule file (grafana/alerts.py): the level rules, at the same limits
and on-delays, the other kinds left to the engine, globs as LIKE patterns, a broken rule named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from grafana.alerts import RuleFileError, build_alerts, glob_to_like, level_rules, provisioning

#: the shape of config/alarm-rules.yaml (the engine's file, docs/how-to/add-an-alarm-rule.md)
RULES = """
rules:
  - code: tank.height.low
    kind: low
    device: "atg-*"
    metric: "tank*/height"
    limit: 300
    deadband: 20
    on_delay_s: 5
    priority: medium
    area: 油罐区
    unit: mm
    message: 油罐液位低，请安排补油 (tank level low)
    during: [delivery]
  - code: tank.height.rate
    kind: rate
    device: "atg-*"
    metric: "tank*/height"
    limit: -20
    window_s: 60
    priority: high
  - code: gas.level2
    kind: high_high
    device: "lel-*"
    metric: concentration
    limit: 50
    priority: urgent
    area: 加油区
    unit: "%LEL"
    message: 可燃气体二级报警，立即疏散并切断电源 (gas level 2, 50 %LEL)
  - code: gas.detector.fault
    kind: bad_quality
    device: "lel-*"
    metric: concentration
    priority: high
  - code: gas.off
    kind: high
    device: "lel-*"
    metric: concentration
    limit: 10
    enabled: false
"""


def test_each_level_rule_becomes_a_grafana_rule_at_the_engines_limit() -> None:
    document = provisioning(level_rules(RULES))
    (group,) = document["groups"]
    assert [r["labels"]["rule"] for r in group["rules"]] == ["tank.height.low", "gas.level2"]
    low, gas = group["rules"]
    assert low["data"][1]["model"]["conditions"][0]["evaluator"] == {"type": "lt", "params": [300.0]}
    assert gas["data"][1]["model"]["conditions"][0]["evaluator"] == {"type": "gt", "params": [50.0]}
    assert (low["for"], gas["for"]) == ("5s", "0s")
    assert gas["labels"]["priority"] == "urgent" and gas["uid"] == "fc-gas-level2"
    assert "m.device LIKE 'lel-%'" in gas["data"][0]["model"]["rawSql"]
    assert "m.name LIKE 'tank%/height'" in low["data"][0]["model"]["rawSql"]
    assert all(r["data"][0]["datasourceUid"] == "forecourt-pg" for r in group["rules"])


@pytest.mark.parametrize(("glob", "like"), [("lel-*", "lel-%"), ("tank?/height", "tank_/height"),
                                            ("fp_1", "fp\\_1"), ("50%", "50\\%"), ("it's", "it's")])
def test_globs_become_like_patterns(glob: str, like: str) -> None:
    assert glob_to_like(glob) == like


def test_a_quote_in_a_glob_stays_inside_the_literal() -> None:
    (rule,) = level_rules("rules: [{code: x, kind: high, device: \"a'b\", metric: m, limit: 1}]")
    sql = provisioning([rule])["groups"][0]["rules"][0]["data"][0]["model"]["rawSql"]
    assert "LIKE 'a''b'" in sql


@pytest.mark.parametrize(("text", "complaint"), [
    ("rules: [{code: x, kind: high, metric: m}]", "rule 1 (x)"),
    ("rules: [{code: x, kind: high, metric: m, limit: lots}]", "numeric limit"),
    ("rules: 3", "a list under 'rules'"),
])
def test_a_broken_rule_file_is_named(text: str, complaint: str) -> None:
    with pytest.raises(RuleFileError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        level_rules(text)


def test_the_provisioning_file_is_written_from_the_rule_file(tmp_path: Path) -> None:
    rules, out = tmp_path / "alarm-rules.yaml", tmp_path / "alerting" / "forecourt-alarms.yaml"
    assert build_alerts(rules, out) is None          # no rule file yet: nothing written
    rules.write_text(RULES, encoding="utf-8")
    assert build_alerts(rules, out) == out
    written = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert written["apiVersion"] == 1
    assert len(written["groups"][0]["rules"]) == 2
