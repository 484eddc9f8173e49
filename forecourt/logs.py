"""Logging of a forecourt process: our lines at FORECOURT_LOG_LEVEL, libraries kept quiet.

* ``ocpp`` logs every frame at INFO, card ids (personal data) included: WARNING unless the level is DEBUG.
* ``pymodbus`` appends a hex dump of the last 20 frames to each ERROR (≈ 30 lines when a dispenser loses
  power): only the first line is kept; our own "device unavailable" line says the rest.
* the others (``QUIET_LOGGERS``) log at WARNING.
"""

from __future__ import annotations

import logging

QUIET_LOGGERS = ("amqtt", "transitions", "asyncua", "pymodbus", "uvicorn.error", "websockets")
PERSONAL_DATA_LOGGERS = ("ocpp",      # frames carry id tags (card numbers)
                         "httpx")     # its INFO lines carry URLs: a member lookup's ?phone= (station → head office)


class FirstLineOnly(logging.Filter):
    """Cut a record to its first line (pymodbus's frame dump follows the message on new lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "\n" in text:
            record.msg, record.args = text.split("\n", 1)[0], ()
        return True


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in PERSONAL_DATA_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    frames = logging.getLogger("pymodbus.logging")   # pymodbus's one logger
    if level != "DEBUG" and not any(isinstance(f, FirstLineOnly) for f in frames.filters):
        frames.addFilter(FirstLineOnly())
