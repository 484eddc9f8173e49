"""The alarm rules file: the shipped one loads and every rule works; a wrong one is refused naming file, rule, key."""

from __future__ import annotations

from pathlib import Path

import pytest

from telemetry.alarms.model import Kind
from telemetry.alarms.rules import DEFAULT_FILE, RuleFileError, load_file, to_rule


def test_the_shipped_rules_load() -> None:
    rules = [to_rule(spec) for spec in load_file(DEFAULT_FILE)]
    by_code = {r.code: r for r in rules}
    assert (by_code["gas.level1"].limit, by_code["gas.level2"].limit) == (25, 50)
    assert by_code["gas.level2"].priority == "urgent"
    assert by_code["tank.height.low"].during == ("delivery",) and by_code["tank.height.rate"].during == ("delivery",)
    assert by_code["station.uplink"].kind is Kind.COMM_LOSS and by_code["station.uplink"].device == ""
    assert by_code["tank.height.low"].applies_to("demo-01", "atg-01", "tank3/height")
    assert not by_code["tank.height.low"].applies_to("demo-01", "atg-01", "tank3/volume")


@pytest.mark.parametrize(("text", "expected"), [
    ("rules: 3", "a list under 'rules'"),
    ("rules:\n  - {code: a.b, kind: high, priority: high}", "rule a.b: kind high needs a finite limit"),
    ("rules:\n  - {code: a.b, kind: hot, priority: high, limit: 1}", "rule a.b: kind:"),
    ("rules:\n  - {code: a.b, kind: low, priority: high, limit: 1, during: [lunch]}", "during must be one of"),
    ("rules:\n  - {code: a.b, kind: low, priority: high, limit: 1, colour: red}", "rule a.b: colour:"),
    ("rules:\n  - {code: a.b, kind: low, priority: high, limit: 1}\n  - {code: a.b, kind: low, priority: low, "
     "limit: 2}", "appears twice"),
    ("rules: [", "cannot read alarm rules"),
])
def test_a_wrong_file_names_the_rule_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleFileError) as refused:
        load_file(path)
    assert str(path) in str(refused.value) and expected in str(refused.value)
