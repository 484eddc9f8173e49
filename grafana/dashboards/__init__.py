"""The Forecourt dashboards, one module each (titles in Chinese for people, descriptions in English)."""

from __future__ import annotations

from grafana.dashboards import fleet, gas, quality, station, tank
from grafana.model import Dashboard

#: every dashboard, in the order they are listed in Grafana's folder
DASHBOARDS: tuple[Dashboard, ...] = (station.DASHBOARD, tank.DASHBOARD, quality.DASHBOARD, fleet.DASHBOARD,
                                     gas.DASHBOARD)
