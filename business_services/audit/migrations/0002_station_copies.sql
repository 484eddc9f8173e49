-- Station servers' audit chains at head office (business_services/audit/shipping.py sends them up, handlers.py
-- keeps them): each station's records as that station hashed them, verified per station like the own chain.
CREATE TABLE business.audit_station_copies (
    origin       text NOT NULL,                      -- the station whose server recorded it
    seq          bigint NOT NULL,
    at           timestamptz NOT NULL,
    actor        text NOT NULL,
    actor_id     bigint,
    source       text NOT NULL,
    station      text,
    action       text NOT NULL,
    target       text NOT NULL,
    before       jsonb,
    after        jsonb,
    prev_hash    bytea NOT NULL,
    hash         bytea NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (origin, seq)
);
CREATE INDEX audit_station_copies_at ON business.audit_station_copies (at DESC);

-- On a station server: how far its chain has been handed to the outbox (one row).
CREATE TABLE business.audit_shipping (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_seq   bigint NOT NULL
);
