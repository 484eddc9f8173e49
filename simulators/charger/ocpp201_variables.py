"""OCPP 2.0.1 GetVariables / SetVariables over the charger's settings (pure, no I/O).

Each request item names a component and a variable; ``settings.SPECS`` maps them to the 1.6 key
that holds the value. Only the ``Actual`` attribute exists. Payloads use the snake_case keys of
the ``ocpp`` library (it converts them to camelCase on the wire).
"""

from __future__ import annotations

from typing import Any

from simulators.charger.settings import ChargerSettings, SettingSpec, find_variable, parse

_COMPONENTS = {"ocppcommctrlr", "sampleddatactrlr", "txctrlr", "authctrlr"}


def _lookup(item: dict[str, Any]) -> tuple[SettingSpec | None, str | None]:
    """The spec an item addresses, or the 2.0.1 status explaining why there is none."""
    component = str(item.get("component", {}).get("name", ""))
    variable = str(item.get("variable", {}).get("name", ""))
    if item.get("attribute_type", "Actual") != "Actual":
        return None, "NotSupportedAttributeType"
    spec = find_variable(component, variable)
    if spec is not None:
        return spec, None
    return None, "UnknownVariable" if component.lower() in _COMPONENTS else "UnknownComponent"


def _echo(item: dict[str, Any]) -> dict[str, Any]:
    return {"component": item["component"], "variable": item["variable"]}


def get_variables(settings: ChargerSettings, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """getVariableResult list for a GetVariables request."""
    results = []
    for item in items:
        spec, problem = _lookup(item)
        result = {**_echo(item), "attribute_type": item.get("attribute_type", "Actual")}
        if spec is None:
            result["attribute_status"] = problem
        else:
            result.update(attribute_status="Accepted", attribute_value=settings.text(spec.key))
        results.append(result)
    return results


def set_variables(settings: ChargerSettings, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """setVariableResult list for a SetVariables request (each item applied independently)."""
    results = []
    for item in items:
        spec, problem = _lookup(item)
        status = problem
        if spec is not None:
            value = None if spec.readonly else parse(spec, str(item.get("attribute_value", "")))
            if value is None:
                status = "Rejected"
            else:
                settings.set_value(spec, value)
                status = "Accepted"
        results.append(
            {**_echo(item), "attribute_type": item.get("attribute_type", "Actual"), "attribute_status": status}
        )
    return results
