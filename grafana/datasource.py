"""The PostgreSQL/TimescaleDB datasource as Grafana's HTTP API wants it, from a ``postgresql://`` URL (pure).

The same datasource (uid, name, type, settings) is in provisioning/datasources/forecourt.yaml for a
Grafana that loads files at start; ``forecourt grafana sync`` pushes this one through the API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from grafana.model import DATASOURCE_NAME, DATASOURCE_TYPE, DATASOURCE_UID

#: TLS modes Grafana's PostgreSQL datasource accepts
SSL_MODES = ("disable", "require", "verify-ca", "verify-full")
#: ``false``: ``$__timeGroup`` is ``floor(extract(epoch …))``, which plain PostgreSQL and TimescaleDB both run
JSON_DATA: dict[str, Any] = {"postgresVersion": 1500, "timescaledb": False, "timeInterval": "10s",
                             "maxOpenConns": 10, "maxIdleConns": 2, "connMaxLifetime": 14400}


class DatasourceError(ValueError):
    """The database URL cannot become a Grafana datasource; the message says why (never the password)."""


def datasource_from_url(url: str) -> dict[str, Any]:
    """``postgresql://user:password@host:5432/db?sslmode=require`` → the body of POST /api/datasources.

    ``sslmode`` ``prefer``/``allow`` (libpq's defaults) have no Grafana equivalent and become
    ``disable``; give ``require`` or stricter for a database on another machine.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise DatasourceError("the database URL must look like postgresql://user:password@host:5432/dbname")
    try:
        port = parts.port or 5432
    except ValueError as exc:
        raise DatasourceError("the database URL has a port that is not a number") from exc
    database = unquote(parts.path.lstrip("/"))
    if not parts.username or not database:
        raise DatasourceError("the database URL must name a user and a database: postgresql://user@host/dbname")
    sslmode = parse_qs(parts.query).get("sslmode", ["disable"])[0]
    if sslmode in ("prefer", "allow"):
        sslmode = "disable"
    if sslmode not in SSL_MODES:
        raise DatasourceError(f"sslmode {sslmode!r} is not one Grafana knows: {', '.join(SSL_MODES)}")
    body: dict[str, Any] = {
        "uid": DATASOURCE_UID, "name": DATASOURCE_NAME, "type": DATASOURCE_TYPE, "access": "proxy",
        "url": f"{parts.hostname or 'localhost'}:{port}", "user": unquote(parts.username), "database": database,
        "isDefault": False, "jsonData": {**JSON_DATA, "database": database, "sslmode": sslmode},
        "secureJsonData": {"password": unquote(parts.password or "")},
    }
    return body
