"""Commands the edge node cannot read are counted and logged, never answered or crashed on; the rest are answered."""

import json

import pytest

from edge_nodes.commands import CommandRunner
from edge_nodes.metrics import REGISTRY
from telemetry.contracts.events import MAX_EVENT_BYTES, CloudEvent


def _count(result: str) -> float:
    return REGISTRY.get_sample_value("forecourt_edge_commands_total", {"result": result}) or 0.0


@pytest.mark.parametrize("raw", [
    b"\x00 not json",
    json.dumps({"id": "c\x00", "source": "x", "type": "command.set_price"}).encode(),   # NUL in the id
    json.dumps({"id": "c" * 10_000, "source": "x", "type": "command.set_price"}).encode(),
    b"[" * 30_000 + b"]" * 30_000,                                                       # nested too deep
    b" " * (MAX_EVENT_BYTES + 1),
])
async def test_an_unreadable_command_is_counted_not_answered(raw: bytes) -> None:
    answered: list[CloudEvent] = []

    async def emit(event: CloudEvent) -> None:
        answered.append(event)

    before = _count("unreadable")
    await CommandRunner("st-01", {}, emit).handle(raw)
    assert answered == [] and _count("unreadable") == before + 1


async def test_a_readable_command_is_answered_and_counted_by_result() -> None:
    answered: list[CloudEvent] = []

    async def emit(event: CloudEvent) -> None:
        answered.append(event)

    before = _count("bad-argument")
    command = CloudEvent(source="test", type="command.set_price", data={"device": "disp-09", "fuelling_point": 1,
                                                                         "nozzle": 1, "price_fen_per_l": 800})
    await CommandRunner("st-01", {}, emit).handle(command.to_bytes())
    [ack] = answered
    assert ack.data["command_id"] == command.id and ack.data["result"] == "bad-argument"
    assert _count("bad-argument") == before + 1
