"""Fuel dispenser simulator: fuelling-point physics behind a Modbus TCP register map.

- ``config.DispenserConfig``: the dispenser part of a station YAML (FPs, nozzles, grades, prices).
- ``model.DispenserModel``: pure physics and the IFSF state machine, stepped by ``advance(dt)``.
- ``registers``: the register map v1 (docs/protocols/dispenser-modbus.md) as pure functions.
- ``server.DispenserServer`` / ``server.run``: Modbus TCP on 127.0.0.1; ``faults``: link faults.

Run alone: ``python -m simulators.dispenser --port 5020 [--config dispenser.yaml] [--speed 10]``.
"""
