"""What the MQTT layer says when something is wrong: the broker by host:port, never the password."""

import asyncio
import logging

import pytest

from protocol_adapters.mqtt.client import keep_sessions
from telemetry.contracts.broker import BrokerAddress, url_without_password


@pytest.mark.parametrize("url", ["mqtt://edge:s3cret@broker.example:abc", "mqtt://edge:s3cret@broker.example:99999",
                                 "mqtts://edge:s3cret@broker.example:0"])
def test_a_bad_port_is_a_clear_error_without_the_password(url: str) -> None:
    with pytest.raises(ValueError, match="a port from 1 to 65535") as caught:
        BrokerAddress.from_url(url)
    assert "s3cret" not in str(caught.value) and "broker.example" in str(caught.value)


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://app:p%40ss@db.example:5432/forecourt", "postgresql://app:***@db.example:5432/forecourt"),
    ("mqtt://edge:s3cret@broker.example:1883", "mqtt://edge:***@broker.example:1883"),
    ("postgresql://app@db.example/forecourt", "postgresql://app@db.example/forecourt"),
])
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert url_without_password(url) == shown


class _Subscriber:
    def __init__(self, broker: BrokerAddress) -> None:
        self.broker = broker
        self.tries = 0

    async def session(self) -> None:
        self.tries += 1
        raise ConnectionRefusedError(111, "Connection refused")


async def test_the_reconnect_line_names_the_broker_but_not_the_password(caplog: pytest.LogCaptureFixture) -> None:
    subscriber = _Subscriber(BrokerAddress.from_url("mqtt://ingest:s3cret@mqtt.example.cn:1884"))
    logger = logging.getLogger("test.reconnect")
    with caplog.at_level(logging.WARNING, logger="test.reconnect"):
        task = asyncio.create_task(keep_sessions(subscriber.session, lambda: None, logger))
        while subscriber.tries < 1:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert "MQTT session with mqtt://mqtt.example.cn:1884 ended" in caplog.text
    assert "s3cret" not in caplog.text and "ingest" not in caplog.text
