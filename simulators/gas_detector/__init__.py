"""Combustible-gas (% LEL) detectors on one RS-485 line, spoken to over Modbus RTU.

Several detectors share a line; each is a Modbus unit id. The line is a pseudo-terminal
(the simulator holds the master end, clients open the slave path like a serial port) and,
for convenience, RTU-over-TCP. See ``docs/protocols/gas-detector-modbus-rtu.md``.

- ``config``: the station-YAML part describing the line and its detectors.
- ``model``: detector physics (baseline noise, leak events, sensor lag, alarms, faults).
- ``registers``: the register map, pure encoding and write decoding.
- ``faults``: line faults (offline, slow, bad CRC, exception codes, garbage) and a facade
  that also reaches the sensor faults of the model.
- ``bus``: the RTU responder (frames in, replies out) shared by both transports.
- ``server``: the pty and TCP transports, the stepping task, ``run()``.
"""

from simulators.gas_detector.config import DetectorConfig, GasDetectorLineConfig, SerialLineConfig
from simulators.gas_detector.model import DetectorModel, DetectorStatus, SettingRejected
from simulators.gas_detector.server import DEFAULT_RTU_TCP_PORT, GasDetectorServer, run

__all__ = [
    "DEFAULT_RTU_TCP_PORT",
    "DetectorConfig",
    "DetectorModel",
    "DetectorStatus",
    "GasDetectorLineConfig",
    "GasDetectorServer",
    "SerialLineConfig",
    "SettingRejected",
    "run",
]
