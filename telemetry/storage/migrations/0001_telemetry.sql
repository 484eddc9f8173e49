-- Telemetry: metric registry, points (time series), latest values, source status, dead letters.
CREATE SCHEMA IF NOT EXISTS telemetry;

CREATE TABLE telemetry.metrics (
    metric_id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    grp         text NOT NULL,                 -- Sparkplug group: the operating company
    station     text NOT NULL,                 -- Sparkplug edge node id
    device      text NOT NULL DEFAULT '',      -- '' for node-level metrics
    name        text NOT NULL,                 -- e.g. fp1/volume
    datatype    text NOT NULL,                 -- Sparkplug datatype name
    unit        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (station, device, name)
);

-- One row per metric and source time; the key makes replays and redeliveries idempotent.
CREATE TABLE telemetry.points (
    metric_id   integer NOT NULL,
    ts          timestamptz NOT NULL,          -- taken at the source
    value       double precision,              -- numbers; booleans as 0/1
    value_text  text,                          -- strings
    quality     text NOT NULL DEFAULT 'good' CHECK (quality IN ('good', 'uncertain', 'bad')),
    reason      text,
    historical  boolean NOT NULL DEFAULT false,  -- store-and-forwarded
    PRIMARY KEY (metric_id, ts)
);

CREATE TABLE telemetry.latest (
    metric_id   integer PRIMARY KEY REFERENCES telemetry.metrics,
    ts          timestamptz NOT NULL,
    value       double precision,
    value_text  text,
    quality     text NOT NULL,
    reason      text,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Is each edge node (device = '') and device online, and is its data current?
CREATE TABLE telemetry.sources (
    station     text NOT NULL,
    device      text NOT NULL DEFAULT '',
    grp         text NOT NULL,
    online      boolean NOT NULL,
    stale       boolean NOT NULL,
    reason      text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station, device)
);

-- What could not be decoded is kept, not lost: topic, time and the raw bytes.
CREATE TABLE telemetry.dead_letters (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    payload     bytea NOT NULL,
    error       text NOT NULL
);
CREATE INDEX dead_letters_received ON telemetry.dead_letters (received_at DESC);
