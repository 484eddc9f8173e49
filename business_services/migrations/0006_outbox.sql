-- The transactional outbox: events a unit of work emitted, written in its transaction and published to MQTT
-- after the commit (business_services/outbox.py); a row is marked published only after the broker's PUBACK.
CREATE TABLE business.outbox (
    seq          bigserial PRIMARY KEY,
    event_id     text NOT NULL UNIQUE,
    topic        text NOT NULL,
    payload      jsonb NOT NULL,          -- the whole CloudEvent
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON business.outbox (seq) WHERE published_at IS NULL;
