-- The audit chain: one row per sensitive action, each carrying the hash of the one before it
-- (business_services/audit/model.py says what is hashed). Rows are only ever appended.
CREATE TABLE business.audit_log (
    seq        bigint PRIMARY KEY,                   -- 1, 2, 3 … without gaps: a deleted row shows
    at         timestamptz NOT NULL,
    actor      text NOT NULL,                        -- user name, 'edge:<station>', 'system'
    actor_id   bigint,                               -- the user's id when a user acted
    source     text NOT NULL,                        -- where from: an IP address, a station, a process
    station    text,                                 -- the station the action concerns, if any
    action     text NOT NULL,                        -- e.g. auth.login, price.change, command.authorise
    target     text NOT NULL,                        -- what was acted on, e.g. user:12, demo-01/disp-01
    before     jsonb,
    after      jsonb,
    prev_hash  bytea NOT NULL,
    hash       bytea NOT NULL UNIQUE
);
CREATE INDEX audit_log_at ON business.audit_log (at DESC);
CREATE INDEX audit_log_actor_at ON business.audit_log (actor, at DESC);
CREATE INDEX audit_log_station_at ON business.audit_log (station, at DESC);
CREATE INDEX audit_log_action_at ON business.audit_log (action, at DESC);
