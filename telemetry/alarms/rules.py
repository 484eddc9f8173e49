"""Alarm rules from configuration (``config/alarm-rules.yaml``) and their validated shape for the back office.

``RuleSpec`` is one rule as a file or the API writes it; ``load_file`` reads the YAML and fails with the file,
the rule and the key when something is wrong; ``to_rule`` makes the model's ``Rule`` (which checks what the
kinds need, e.g. a limit for high/low/rate).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from telemetry.alarms.model import Kind, Rule, RuleError
from telemetry.contracts.events.alarms import Priority

DEFAULT_FILE = Path(__file__).resolve().parent.parent.parent / "config" / "alarm-rules.yaml"

Glob = Annotated[str, Field(max_length=128, pattern=r"^[A-Za-z0-9_.*?/\[\]-]*$")]


class RuleSpec(BaseModel):
    """One rule as configured (YAML or the back office)."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
    kind: Kind
    priority: Priority
    station: Annotated[str, Field(max_length=64, pattern=r"^([a-z0-9][a-z0-9-]*)?$")] = ""
    device: Glob = "*"
    metric: Glob = "*"
    limit: float | None = None
    deadband: Annotated[float, Field(ge=0)] = 0.0
    on_delay_s: Annotated[float, Field(ge=0, le=86400)] = 0.0
    off_delay_s: Annotated[float, Field(ge=0, le=86400)] = 0.0
    window_s: Annotated[float, Field(gt=0, le=86400)] = 60.0
    match_values: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=32)] = []
    mask: Annotated[int, Field(ge=0, le=2**62)] = 0
    area: Annotated[str, Field(max_length=64)] = ""
    message: Annotated[str, Field(max_length=500)] = ""
    unit: Annotated[str, Field(max_length=16)] = ""
    during: Annotated[list[str], Field(max_length=4)] = []
    enabled: bool = True


class RuleFileError(ValueError):
    pass


def to_rule(spec: RuleSpec, rule_id: int = 0) -> Rule:
    return Rule(id=rule_id, code=spec.code, kind=spec.kind, priority=spec.priority, station=spec.station,
                device=spec.device, metric=spec.metric, limit=spec.limit, deadband=spec.deadband,
                on_delay_s=spec.on_delay_s, off_delay_s=spec.off_delay_s, window_s=spec.window_s,
                match_values=tuple(spec.match_values), mask=spec.mask, area=spec.area, message=spec.message,
                unit=spec.unit, during=tuple(spec.during), enabled=spec.enabled)


def load_file(path: Path = DEFAULT_FILE) -> list[RuleSpec]:
    """The rules of a YAML file, each checked; ``RuleFileError`` names the file, rule and key."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RuleFileError(f"{path}: cannot read alarm rules: {exc}") from exc
    entries = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise RuleFileError(f"{path}: expected a mapping with a list under 'rules'")
    specs: list[RuleSpec] = []
    seen: set[tuple[str, str]] = set()
    for n, entry in enumerate(entries):
        name = entry.get("code", f"#{n + 1}") if isinstance(entry, dict) else f"#{n + 1}"
        try:
            spec = RuleSpec.model_validate(entry)
            to_rule(spec)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            raise RuleFileError(f"{path}: rule {name}: {key}: {first['msg']}") from None
        except RuleError as exc:
            raise RuleFileError(f"{path}: rule {exc}") from None      # the model's text starts with the code
        if (spec.code, spec.station) in seen:
            raise RuleFileError(f"{path}: rule {name}: the code appears twice for station {spec.station!r}")
        seen.add((spec.code, spec.station))
        specs.append(spec)
    return specs
