"""A session that ends after the broker went away prints no "Future exception was never retrieved"
(``forecourt/runner.py``); other unread errors are still reported."""

import asyncio
import gc
import logging
from pathlib import Path

import aiomqtt
import pytest

from forecourt.local import LocalBroker
from forecourt.runner import run_until_stopped

pytestmark = pytest.mark.integration


async def test_a_dropped_session_leaves_no_unread_future_report(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    gc.collect()    # earlier tests' garbage (their loops had no such handler) is not this test's report
    caplog.clear()
    broker = LocalBroker(tmp_path)
    address = await broker.start()

    async def session_busy_elsewhere_when_the_broker_goes() -> None:
        client = aiomqtt.Client(**address.client_kwargs())
        async with client:
            await broker.stop()
            for _ in range(100):    # until paho notices the closed socket
                if client._disconnected.done():
                    break
                await asyncio.sleep(0.05)
            assert client._disconnected.done()
        del client
        gc.collect()
        await asyncio.sleep(0)

    with caplog.at_level(logging.ERROR):
        await run_until_stopped(session_busy_elsewhere_when_the_broker_goes())
    assert "never retrieved" not in caplog.text


async def test_other_unread_errors_are_still_reported(caplog: pytest.LogCaptureFixture) -> None:
    async def leaves_an_unread_error() -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_exception(ValueError("nobody read me"))
        del future
        gc.collect()
        await asyncio.sleep(0)

    with caplog.at_level(logging.ERROR):
        await run_until_stopped(leaves_an_unread_error())
    assert "never retrieved" in caplog.text and "nobody read me" in caplog.text
