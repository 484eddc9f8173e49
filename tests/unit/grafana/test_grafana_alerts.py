"""Grafana alert rules from the alarm engine's rule file (grafana/alerts.py): the level rules, at the same limits
and on-delays, the other kinds left to the engine, globs as regexes, a broken rule named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from grafana.alerts import (
    ALERTING_FILE,
    RULES_FILE,
    RuleFileError,
    build_alerts,
    glob_to_regex,
    level_rules,
    provisioning,
)
from telemetry.alarms.rules import RuleSpec, load_file

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
    priority: low
    enabled: false
"""


def rules(tmp_path: Path, text: str = RULES) -> list[RuleSpec]:
    """Read as the engine reads its file."""
    path = tmp_path / "alarm-rules.yaml"
    path.write_text(text, encoding="utf-8")
    return load_file(path)


def test_each_level_rule_becomes_a_grafana_rule_at_the_engines_limit(tmp_path: Path) -> None:
    document = provisioning(level_rules(rules(tmp_path)))
    (group,) = document["groups"]
    assert [r["labels"]["rule"] for r in group["rules"]] == ["tank.height.low", "gas.level2"]
    low, gas = group["rules"]
    assert low["data"][1]["model"]["conditions"][0]["evaluator"] == {"type": "lt", "params": [300.0]}
    assert gas["data"][1]["model"]["conditions"][0]["evaluator"] == {"type": "gt", "params": [50.0]}
    assert (low["for"], gas["for"]) == ("5s", "0s")
    assert gas["labels"]["priority"] == "urgent" and gas["uid"] == "fc-gas-level2"
    assert "m.device ~ '^lel\\-.*$'" in gas["data"][0]["model"]["rawSql"]
    assert "m.name ~ '^tank.*/height$'" in low["data"][0]["model"]["rawSql"]
    assert all(r["data"][0]["datasourceUid"] == "forecourt-pg" for r in group["rules"])


@pytest.mark.parametrize(("glob", "regex"), [("lel-*", "^lel\\-.*$"), ("tank?/height", "^tank./height$"),
                                             ("fp_1", "^fp_1$"), ("tank[12]/water", "^tank[12]/water$"),
                                             ("tank[!3]", "^tank[^3]$"), ("*", "^.*$")])
def test_globs_become_anchored_regexes(glob: str, regex: str) -> None:
    assert glob_to_regex(glob) == regex


def test_a_rule_of_one_station_watches_that_station(tmp_path: Path) -> None:
    (rule,) = level_rules(rules(tmp_path, "rules: [{code: x, kind: high, priority: high, station: demo-02, "
                                          "metric: m, limit: 1}]"))
    (made,) = provisioning([rule])["groups"][0]["rules"]
    assert "AND m.station = 'demo-02'" in made["data"][0]["model"]["rawSql"]
    assert made["uid"] == "fc-x-demo-02"


def test_a_broken_rule_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="rule x"):
        rules(tmp_path, "rules: [{code: x, kind: high, priority: high, metric: m, limit: lots}]")


def test_the_shipped_rule_file_gives_rules_for_its_level_limits() -> None:
    shipped = load_file(RULES_FILE)
    made = provisioning(level_rules(shipped))["groups"][0]["rules"]
    levels = [s for s in shipped if s.kind.value in ("high", "high_high", "low", "low_low") and s.enabled]
    assert [r["labels"]["rule"] for r in made] == [s.code for s in levels] and made
    for rule, spec in zip(made, levels, strict=True):
        assert rule["data"][1]["model"]["conditions"][0]["evaluator"]["params"] == [spec.limit]


def test_the_provisioning_file_is_written_from_the_rule_file(tmp_path: Path) -> None:
    rules, out = tmp_path / "alarm-rules.yaml", tmp_path / "alerting" / "forecourt-alarms.yaml"
    assert build_alerts(rules, out) is None          # no rule file yet: nothing written
    rules.write_text(RULES, encoding="utf-8")
    assert build_alerts(rules, out) == out
    written = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert written["apiVersion"] == 1
    assert len(written["groups"][0]["rules"]) == 2


def test_the_committed_alert_rules_are_what_the_builder_makes_of_the_shipped_file(tmp_path: Path) -> None:
    """After changing config/alarm-rules.yaml, run `forecourt grafana build`."""
    made = build_alerts(RULES_FILE, tmp_path / "forecourt-alarms.yaml")
    assert made is not None
    assert made.read_text(encoding="utf-8") == ALERTING_FILE.read_text(encoding="utf-8")
