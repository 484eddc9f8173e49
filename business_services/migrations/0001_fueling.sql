-- Business plane: fuelling transactions (the station's money) and the events already handled.
CREATE SCHEMA IF NOT EXISTS business;

-- Every event a business consumer has handled, so a redelivery is a no-op.
CREATE TABLE business.handled_events (
    event_id    text PRIMARY KEY,
    event_type  text NOT NULL,
    handled_at  timestamptz NOT NULL DEFAULT now()
);

-- Events that could not be read: kept with their topic and bytes, never silently lost.
CREATE TABLE business.event_dead_letters (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    payload     bytea NOT NULL,
    error       text NOT NULL
);

-- One row per fuelling, as the pump reported it. The natural key makes a replay harmless.
CREATE TABLE business.fueling_transactions (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id            text NOT NULL UNIQUE,
    station             text NOT NULL,
    pump                text NOT NULL,               -- device code, e.g. disp-01
    fuelling_point      smallint NOT NULL,
    nozzle              smallint NOT NULL,
    grade               integer NOT NULL,
    transaction_no      bigint NOT NULL,             -- the pump's own number
    volume_l            numeric(12, 2) NOT NULL,
    amount_fen          bigint NOT NULL,
    price_fen_per_l     integer NOT NULL,
    totalizer_before_l  numeric(16, 2) NOT NULL,
    totalizer_after_l   numeric(16, 2) NOT NULL,
    started_at          timestamptz NOT NULL,
    ended_at            timestamptz NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (station, pump, fuelling_point, transaction_no, started_at),
    CHECK (volume_l >= 0 AND amount_fen >= 0 AND totalizer_after_l >= totalizer_before_l)
);
CREATE INDEX fueling_transactions_station_time ON business.fueling_transactions (station, ended_at DESC);
