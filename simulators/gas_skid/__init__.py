"""CNG/LNG gas skid simulator: compressor, cascade, dispensers and an LNG tank behind OPC UA.

``model.GasSkidModel`` is the pure physics (stepped by ``advance(dt)``); ``server.GasSkidServer``
publishes it as a browsable OPC UA address space (``urn:forecourt:gas-skid``) with methods and
writable setpoints; ``faults.GasSkidFaults`` injects trips, stuck sensors, vacuum loss and
outages. The protocol is documented in ``docs/protocols/gas-skid-opcua.md``.
"""
