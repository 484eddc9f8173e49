"""The control port's command language, against a recording stand-in for the running scenario."""

from __future__ import annotations

import pytest

from simulators.scenario.control import CommandError, execute, parse_value


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def status_lines(self) -> list[str]:
        return ["time 07:00:00"]

    def send_car(self, grade: int | None, preset: str | None) -> str:
        self.calls.append(("car", grade, preset))
        return "sent"

    def send_gas(self, gas: str) -> str:
        self.calls.append(("gas", gas))
        return "sent"

    def send_ev(self) -> str:
        self.calls.append(("ev",))
        return "sent"

    def send_delivery(self, tank: int, litres: float) -> str:
        self.calls.append(("delivery", tank, litres))
        return "sent"

    async def inject_fault(self, device: str, fault: str, duration_s: float | None, args: dict[str, object]) -> str:
        self.calls.append(("fault", device, fault, duration_s, args))
        return "injected"

    async def clear_faults(self, device: str | None, fault: str | None) -> str:
        self.calls.append(("clear", device, fault))
        return "cleared 0"

    def fault_lines(self) -> list[str]:
        return []

    def request_stop(self) -> None:
        self.calls.append(("stop",))


@pytest.mark.parametrize(("line", "call"), [
    ("car", ("car", None, None)),
    ("car 95", ("car", 95, None)),
    ("CAR 92 full", ("car", 92, "full")),
    ("car amount", ("car", None, "amount")),
    ("lng", ("gas", "lng")),
    ("ev", ("ev",)),
    ("delivery tank-2 18000", ("delivery", 2, 18000.0)),
    ("delivery 3 500.5", ("delivery", 3, 500.5)),
    ("fault disp-01 offline", ("fault", "disp-01", "offline", None, {})),
    ("fault disp-01 offline 30 mode=silent", ("fault", "disp-01", "offline", 30.0, {"mode": "silent"})),
    ("fault disp-01 power_loss 00:02:00 during_fuelling=true",
     ("fault", "disp-01", "power_loss", 120.0, {"during_fuelling": True})),
    ("fault tank-1 leak l_per_h=2.5", ("fault", "tank-1", "leak", None, {"l_per_h": 2.5})),
    ("fault disp-01 exception code=6 count=3", ("fault", "disp-01", "exception", None, {"code": 6, "count": 3})),
    ("clear", ("clear", None, None)),
    ("clear all", ("clear", None, None)),
    ("clear disp-01 offline", ("clear", "disp-01", "offline")),
    ("stop", ("stop",)),
])
async def test_commands_reach_the_scenario(line: str, call: tuple[object, ...]) -> None:
    target = Recorder()
    answer = await execute(target, line)
    assert target.calls == [call]
    assert answer


@pytest.mark.parametrize("line", [
    "fly", "car 95 tank", "car 92 full extra", "delivery tank-1", "delivery tank-x 100", "fault disp-01",
    "fault disp-01 offline soon", "fault disp-01 offline 30 =5",
])
async def test_bad_commands_are_errors(line: str) -> None:
    target = Recorder()
    with pytest.raises((CommandError, ValueError)):
        await execute(target, line)
    assert target.calls == []


async def test_help_status_and_empty_lines() -> None:
    target = Recorder()
    assert await execute(target, "   ") == []
    assert await execute(target, "status") == ["time 07:00:00"]
    assert await execute(target, "faults") == ["无 none"]
    help_text = "\n".join(await execute(target, "help"))
    assert "power_loss" in help_text and "delivery TANK LITRES" in help_text


def test_argument_values_are_typed() -> None:
    assert parse_value("6") == 6 and parse_value("2.5") == 2.5 and parse_value("TRUE") is True
    assert parse_value("silent") == "silent" and parse_value("false") is False
