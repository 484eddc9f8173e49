-- The fleets open API (docs/fleet-open-api.md): who speaks for an enterprise, what they may read, how fast, and
-- the signed webhooks of its vehicles' fuellings. A partner's API key is a row of business.access_api_keys (its
-- permission fleet:portal) bound here to one enterprise with its scopes; an enterprise's own users (role
-- fleet_client) are bound the same way.
CREATE TABLE business.fleet_api_keys (
    key_id      bigint PRIMARY KEY REFERENCES business.access_api_keys (id),
    prefix      text NOT NULL UNIQUE,                 -- the key's, how a request's key finds its binding
    enterprise  text NOT NULL REFERENCES business.fleet_enterprises (code),
    scopes      text[] NOT NULL CHECK (cardinality(scopes) > 0),
    per_minute  integer NOT NULL DEFAULT 60 CHECK (per_minute BETWEEN 1 AND 6000),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fleet_api_keys_by_enterprise ON business.fleet_api_keys (enterprise);

CREATE TABLE business.fleet_portal_users (
    user_id     bigint PRIMARY KEY REFERENCES business.access_users (id),
    enterprise  text NOT NULL REFERENCES business.fleet_enterprises (code),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- a token bucket per caller of the open API, shared by every API process (control_api/rate_limit.py)
CREATE TABLE business.fleet_api_buckets (
    caller      text PRIMARY KEY,                     -- apikey:<prefix> or user:<id>
    tokens      double precision NOT NULL,
    at          timestamptz NOT NULL
);

-- a receiver of an enterprise's events; the secret signs each delivery (shown once to whoever made it);
-- delivered_seq: the last business.fleet_payments.seq delivered, so every later sale is sent, in order, once acked
CREATE TABLE business.fleet_webhooks (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    enterprise     text NOT NULL REFERENCES business.fleet_enterprises (code),
    url            text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 500),
    secret         text NOT NULL,
    events         text[] NOT NULL DEFAULT '{fuelling.completed}',
    active         boolean NOT NULL DEFAULT true,
    delivered_seq  bigint NOT NULL,
    failures       integer NOT NULL DEFAULT 0,        -- in a row; sets the back-off
    retry_at       timestamptz NOT NULL DEFAULT now(),
    last_error     text NOT NULL DEFAULT '',
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fleet_webhooks_due ON business.fleet_webhooks (retry_at) WHERE active;

-- each attempt to deliver an event (the page shows them; event_id is the receiver's dedupe key)
CREATE TABLE business.fleet_webhook_deliveries (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id    bigint NOT NULL REFERENCES business.fleet_webhooks (id),
    event_id      text NOT NULL,
    seq           bigint NOT NULL,
    status        integer,                            -- the receiver's HTTP status; NULL: no answer
    error         text NOT NULL DEFAULT '',
    attempted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fleet_webhook_deliveries_by_webhook ON business.fleet_webhook_deliveries (webhook_id, id DESC);
