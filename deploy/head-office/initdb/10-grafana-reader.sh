#!/bin/sh
# Runs once, when the TimescaleDB volume is new (docker-entrypoint-initdb.d): Grafana's read-only login
# (docs/grafana.md, "A read-only database role"). The schemas are made here so that the default privileges
# can name them; Forecourt's migrations create them with IF NOT EXISTS and own everything inside.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v owner="$POSTGRES_USER" -v reader_password="$GRAFANA_READER_PASSWORD" <<'SQL'
CREATE SCHEMA IF NOT EXISTS telemetry;
CREATE SCHEMA IF NOT EXISTS business;
CREATE ROLE grafana_reader LOGIN PASSWORD :'reader_password';
GRANT USAGE ON SCHEMA telemetry, business TO grafana_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA telemetry, business GRANT SELECT ON TABLES TO grafana_reader;
SQL
