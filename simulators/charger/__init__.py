"""EV charger simulator: AC 7 kW / DC 60-120 kW charge points speaking OCPP 1.6J or 2.0.1.

The charger is the websocket client of a CSMS. ``model`` holds the physics (energy register, EV
battery, taper, sessions, faults) stepped on a ``SimClock``; ``ocpp16`` / ``ocpp201`` turn its
events into OCPP messages and answer CSMS calls; ``server.ChargerSimulator`` owns the link,
the outbox that survives disconnects, the driver controls and the fault switches.
See docs/protocols/charger-ocpp.md.
"""

from simulators.charger.config import ChargerConfig, ConnectorConfig, EvProfile
from simulators.charger.events import ConnectorStatus, ErrorCode, StopReason
from simulators.charger.model import ChargerError, ChargerModel
from simulators.charger.server import ChargerSimulator, run

__all__ = [
    "ChargerConfig",
    "ChargerError",
    "ChargerModel",
    "ChargerSimulator",
    "ConnectorConfig",
    "ConnectorStatus",
    "ErrorCode",
    "EvProfile",
    "StopReason",
    "run",
]
