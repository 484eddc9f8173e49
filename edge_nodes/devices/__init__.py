"""Device kinds of a station file; importing this package registers the built-in ones (``base.register``)."""

from edge_nodes.devices import camera, modbus, ocpp, opcua, tls

__all__ = ["camera", "modbus", "ocpp", "opcua", "tls"]
