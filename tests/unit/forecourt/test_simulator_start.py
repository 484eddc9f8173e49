"""A simulator run on its own that cannot listen ends in one line and exit code 1 (``simulators/running.py``)."""

import asyncio
import socket

import pytest

from simulators.running import until_terminated


async def test_a_busy_port_ends_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        async def serve() -> None:
            server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", port)
            server.close()

        with pytest.raises(SystemExit) as stopped:
            await until_terminated(serve())
    err = capsys.readouterr().err
    assert stopped.value.code == 1
    assert f"127.0.0.1', {port}" in err and "--port" in err and len(err.strip().splitlines()) == 1
