"""``forecourt`` as a user runs it (a subprocess): an unusable database or a busy port ends in one line
naming the setting or flag to change, exit code 1, no traceback, never a password."""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.integration

FORECOURT = Path(sys.executable).parent / "forecourt"
ROOT = Path(__file__).parents[3]


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORECOURT_")}
    env["FORECOURT_DATA_DIR"] = str(tmp_path / "data")
    env.update(settings)
    return env


def _forecourt(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run([str(FORECOURT), *args], env=env, capture_output=True, text=True, timeout=60, check=False,
                          cwd=ROOT)
    assert "Traceback" not in done.stderr, done.stderr
    assert "never awaited" not in done.stderr, done.stderr
    problem = [line for line in done.stderr.splitlines() if not line.startswith("[")]   # progress lines: [1/2] …
    assert len(problem) <= 2, done.stderr
    return done.returncode, done.stderr


def _server(postgres_server: str) -> tuple[str, int]:
    parts = urlsplit(postgres_server)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


@pytest.mark.parametrize(("user", "database", "says"), [
    ("nobody:s3cret", "postgres", 'role "nobody" does not exist'),
    ("postgres", "no_such_database", 'database "no_such_database" does not exist'),
])
def test_db_migrate_names_the_database_setting(user: str, database: str, says: str, postgres_server: str,
                                               tmp_path: Path) -> None:
    host, port = _server(postgres_server)
    url = f"postgresql://{user}@{host}:{port}/{database}"
    code, err = _forecourt(["db", "migrate"], _env(tmp_path, FORECOURT_DATABASE_URL=url))
    assert code == 1
    assert "FORECOURT_DATABASE_URL" in err and says in err
    assert "s3cret" not in err


@pytest.mark.parametrize("command", [["db", "migrate"], ["ingest"]])
def test_a_database_nobody_listens_for_is_named(command: list[str], tmp_path: Path) -> None:
    url = f"postgresql://forecourt:s3cret@127.0.0.1:{_closed_port()}/forecourt"
    env = _env(tmp_path, FORECOURT_DATABASE_URL=url, FORECOURT_MQTT_URL="mqtt://127.0.0.1:1",
               FORECOURT_INGEST_METRICS_PORT=str(_closed_port()))
    code, err = _forecourt(command, env)
    assert code == 1
    assert "FORECOURT_DATABASE_URL" in err and "refused" in err
    assert "s3cret" not in err


@pytest.mark.parametrize(("command", "setting", "names"), [
    (["api", "--port", "{port}"], {}, "--port or FORECOURT_API_PORT"),
    (["api"], {"FORECOURT_API_PORT": "{port}"}, "--port or FORECOURT_API_PORT"),
    (["ingest"], {"FORECOURT_INGEST_METRICS_PORT": "{port}"}, "--metrics-port or FORECOURT_INGEST_METRICS_PORT"),
    (["business", "--metrics-port", "{port}"], {}, "--metrics-port or FORECOURT_BUSINESS_METRICS_PORT"),
    (["sim", "dispenser", "--port", "{port}"], {}, "--port"),
    (["edge", "--station", "config/stations/demo.yaml"], {"FORECOURT_EDGE_METRICS_PORT": "{port}"},
     "--metrics-port or FORECOURT_EDGE_METRICS_PORT"),
    (["demo", "--api-port", "{port}"], {}, "--api-port or FORECOURT_API_PORT"),
])
def test_a_busy_port_is_named_with_the_setting_that_chooses_it(
        command: list[str], setting: dict[str, str], names: str, busy_port: int, tmp_path: Path) -> None:
    args = [a.format(port=busy_port) for a in command]
    env = _env(tmp_path, FORECOURT_DATABASE_URL="postgresql://x@127.0.0.1:1/x", FORECOURT_MQTT_URL="mqtt://127.0.0.1:1",
               **{k: v.format(port=busy_port) for k, v in setting.items()})
    code, err = _forecourt(args, env)
    assert code == 1
    assert f"127.0.0.1:{busy_port}" in err and names in err


async def test_the_dispenser_simulator_names_a_port_it_cannot_listen_on(busy_port: int) -> None:
    from forecourt.simulate import DEMO_DISPENSER
    from simulators.clock import SimClock
    from simulators.dispenser.model import DispenserModel
    from simulators.dispenser.server import DispenserServer

    clock = SimClock()
    server = DispenserServer(DispenserModel(DEMO_DISPENSER, start=clock.now()), clock, port=busy_port)
    with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{busy_port}"):
        await server.start()
    await server.stop()
