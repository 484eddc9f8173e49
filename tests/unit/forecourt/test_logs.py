"""Library logs: OCPP frames (card ids) stay out of INFO; a pymodbus error is one line, not a hex dump."""

import logging
from collections.abc import Iterator

import pytest
from pymodbus.logging import Log

from forecourt.logs import FirstLineOnly, configure_logging


@pytest.fixture(autouse=True)
def restore_loggers() -> Iterator[None]:
    names = ("ocpp", "pymodbus", "pymodbus.logging")
    saved = {n: (logging.getLogger(n).level, list(logging.getLogger(n).filters)) for n in names}
    yield
    for n, (level, filters) in saved.items():
        logging.getLogger(n).setLevel(level)
        logging.getLogger(n).filters[:] = filters


def test_ocpp_frames_are_not_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging("INFO")
    with caplog.at_level(logging.INFO):
        logging.getLogger("ocpp").info("charger-01: receive message [2,\"1\",\"Authorize\",{\"idTag\":\"CARD-4711\"}]")
        logging.getLogger("ocpp").warning("charger-01: no handler for DataTransfer")
    assert "CARD-4711" not in caplog.text
    assert "no handler for DataTransfer" in caplog.text


def test_ocpp_frames_are_logged_when_debugging(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging("DEBUG")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("ocpp").info("charger-01: receive message CARD-4711")
    assert "CARD-4711" in caplog.text


def test_a_pymodbus_error_is_one_line_without_the_frame_dump(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging("INFO")
    for _ in range(25):    # what a poll loop leaves behind before the dispenser loses power
        Log.transport_dump(Log.SEND_DATA, b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x0a", b"")
    with caplog.at_level(logging.INFO):
        Log.error("No response received after {} retries, continue with next request", 3)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("pymodbus")]
    assert lines == ["No response received after 3 retries, continue with next request"]
    assert ">>>>>" not in caplog.text


def test_configuring_twice_adds_one_filter() -> None:
    configure_logging("INFO")
    configure_logging("INFO")
    assert sum(isinstance(f, FirstLineOnly) for f in logging.getLogger("pymodbus.logging").filters) == 1
