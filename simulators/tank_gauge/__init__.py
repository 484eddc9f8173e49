"""Automatic tank gauge simulator: Veeder-Root TLS serial protocol over TCP and a serial line.

``model`` holds the physics of each tank (chart, temperature correction to 20 °C, sales,
deliveries, leaks, leak tests, alarms); ``console`` answers TLS commands from it; ``server``
serves them on TCP and on a pseudo-terminal; ``faults`` injects line and probe faults. The
codec modules (``codec``, ``commands``, ``reports``, ``records``) are pure and also meant for the
edge adapter that reads a real console. Wire format: docs/protocols/tank-gauge-tls.md.
"""

from simulators.tank_gauge.config import TankAlarmLimits, TankConfig, TankGaugeConfig
from simulators.tank_gauge.server import TankGaugeServer, run

__all__ = ["TankAlarmLimits", "TankConfig", "TankGaugeConfig", "TankGaugeServer", "run"]
