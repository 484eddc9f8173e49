"""OCPP 1.6J / 2.0.1 central system (CSMS) at the edge node: the station's EV chargers connect to it.

``codec`` (meter values and their range checks, timestamps, status words), ``auth`` (the id-token
list), ``security`` (charger authentication, security profiles 0–2), ``sessions`` (transactions,
their duplicate rules and their id tag's status) and ``state`` (live charger state as readings) are pure;
``core`` makes the central system's decisions; ``charge_points`` holds the ``ocpp`` handlers of one
connection; ``server.CentralSystem`` is the websocket server and the only module with I/O.
See docs/how-to/ocpp-central-system.md.
"""

from protocol_adapters.ocpp.auth import AuthListError, AuthorizationCache, TokenStatus
from protocol_adapters.ocpp.codec import MeterSample, OcppVersion
from protocol_adapters.ocpp.server import CentralSystem
from protocol_adapters.ocpp.sessions import ChargingSession

__all__ = [
    "AuthListError",
    "AuthorizationCache",
    "CentralSystem",
    "ChargingSession",
    "MeterSample",
    "OcppVersion",
    "TokenStatus",
]
