"""Grafana dashboards as code and the tool that pushes them to a Grafana server."""
