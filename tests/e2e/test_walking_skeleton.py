"""End to end, one process per service as in production: simulator → edge → broker → ingest → DB → API.

Dispenses 2.00 L on the simulated pump over Modbus (as a cashier's POS would) and sees the new
totalizer and the amount through the control API, then stops every process with SIGINT.
"""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pymodbus.client import AsyncModbusTcpClient

from control_api.security import TokenIssuer
from forecourt.local import free_port
from telemetry.contracts.broker import BrokerAddress
from tests.support.auth import headers

SECRET = "walking-skeleton-secret-" + "7" * 16     # FORECOURT_JWT_SECRET of the API process, so we can sign
READER = headers(TokenIssuer(SECRET), "device:read", stations=frozenset({"e2e-01"}))

pytestmark = pytest.mark.e2e

FORECOURT = [sys.executable, "-m", "forecourt.cli"]


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*FORECOURT, *args], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            cwd=Path(__file__).parents[2])


def _latest(api: str) -> dict[str, dict[str, object]]:
    r = httpx.get(f"{api}/api/v1/stations/e2e-01/devices/disp-01/latest", timeout=2, headers=READER)
    return r.json()["values"] if r.status_code == 200 else {}


def _wait(predicate: object, what: str, within_s: float = 60.0) -> object:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            value = predicate()  # type: ignore[operator]
        except (httpx.HTTPError, KeyError, ValueError):
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_dispensing_on_the_simulator_shows_up_in_the_api(database_url: str, broker: BrokerAddress,
                                                          group: str, tmp_path: Path) -> None:
    modbus_port, api_port = free_port(), free_port()
    station = tmp_path / "station.yaml"
    station.write_text(f"""station: e2e-01
devices:
  - code: disp-01
    kind: dispenser
    port: {modbus_port}
    profile: dispenser-v1
    fuelling_points: 2
    nozzles_per_point: 2
    poll_interval_s: 0.2
""")
    edge_metrics, ingest_metrics = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORECOURT_")}
    env.update(FORECOURT_JWT_SECRET=SECRET, FORECOURT_DATABASE_URL=database_url, FORECOURT_MQTT_URL=broker.url(),
               FORECOURT_MQTT_V5="true" if broker.mqtt5 else "false", FORECOURT_GROUP=group,
               FORECOURT_INGEST_GROUP=group, FORECOURT_PRIMARY_HOST_ID=f"host-{group}",
               FORECOURT_API_PORT=str(api_port),
               FORECOURT_EDGE_METRICS_PORT=str(edge_metrics), FORECOURT_INGEST_METRICS_PORT=str(ingest_metrics),
               FORECOURT_DATA_DIR=str(tmp_path / "data"))
    procs = {
        "sim": _spawn(["sim", "dispenser", "--port", str(modbus_port)], env, tmp_path / "sim.log"),
        "ingest": _spawn(["ingest"], env, tmp_path / "ingest.log"),
        "api": _spawn(["api"], env, tmp_path / "api.log"),
        "edge": _spawn(["edge", "--station", str(station)], env, tmp_path / "edge.log"),
    }
    api = f"http://127.0.0.1:{api_port}"
    failure: BaseException | None = None
    try:
        _wait(lambda: httpx.get(f"{api}/healthz", timeout=2).status_code == 200, "the API to be healthy")
        before = _wait(lambda: (v := _latest(api).get("fp1/nozzle1/volume_total")) and v["quality"] == "good" and v,
                       "the first totalizer reading")
        total_before = before["value"]  # type: ignore[index]

        asyncio.run(_dispense_two_litres(modbus_port))

        def done() -> dict[str, dict[str, object]] | None:
            values = _latest(api)
            moved = values["fp1/nozzle1/volume_total"]["value"] != total_before
            return values if moved and values["fp1/state"]["value"] != 8 else None

        values = _wait(done, "the new totalizer after dispensing")
        assert values["fp1/nozzle1/volume_total"]["value"] == pytest.approx(total_before + 2.00)  # type: ignore[index,operator]
        assert values["fp1/last/volume"]["value"] == 2.00  # type: ignore[index]
        assert values["fp1/last/amount"]["value"] == 1578  # 2.00 L × 789 fen/L  # type: ignore[index]
        assert values["fp1/volume"]["unit"] == "L" and values["fp1/amount"]["unit"] == "fen"  # type: ignore[index]
        assert all(v["quality"] == "good" for v in values.values())  # type: ignore[index]
    except BaseException as exc:
        failure = exc
        for port in (edge_metrics, ingest_metrics):   # what the services counted, for the report
            with contextlib.suppress(httpx.HTTPError):
                lines = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text.splitlines()
                (tmp_path / f"metrics-{port}.log").write_text(
                    "\n".join(line for line in lines if line.startswith("forecourt_") and "_created" not in line))
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGINT)
        codes = {name: _exit_code(proc) for name, proc in procs.items()}
        logs = {name: (tmp_path / f"{name}.log").read_text(errors="replace")[-2000:] for name in procs}
        logs |= {p.name: p.read_text()[-3000:] for p in tmp_path.glob("metrics-*.log")}
    report = json.dumps({"codes": codes, "logs": logs}, ensure_ascii=False, indent=1)
    if failure is not None:
        raise AssertionError(f"{failure}\n{report}") from failure
    assert all(code in (0, 130) for code in codes.values()), report


def _exit_code(proc: subprocess.Popen[bytes]) -> int | str:
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return "hung after SIGINT"


async def _dispense_two_litres(port: int) -> None:
    """What a customer and a POS do: lift nozzle 1 of fuelling point 1, authorise a 2.00 L preset."""
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    await client.connect()
    try:
        assert not (await client.write_coil(101, True)).isError()                      # lift FP1 nozzle 1
        # preset type 1 (volume), 200 × 0.01 L, any nozzle, then command 1 (authorise)
        assert not (await client.write_registers(191, [1, 0, 200, 0])).isError()
        assert not (await client.write_register(190, 1)).isError()
        result = await client.read_holding_registers(196, count=1)
        assert result.registers == [0], "the dispenser refused the authorisation"
    finally:
        client.close()
