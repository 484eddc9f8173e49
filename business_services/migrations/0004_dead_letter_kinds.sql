-- Dead letters say what kind of failure kept each event out, and which station it came from and claimed.
-- invalid: broke a contract rule (topic, size, envelope, id, type) before any handler ran;
-- security: the payload claims another station than the topic the broker authorised (a forged event);
-- handler: a well-formed envelope whose data its handler could not record.
ALTER TABLE business.event_dead_letters
    ADD COLUMN kind text NOT NULL DEFAULT 'invalid' CHECK (kind IN ('invalid', 'security', 'handler')),
    ADD COLUMN topic_station text,       -- the station level of the topic, when it parsed
    ADD COLUMN claimed_station text;     -- data.station in the payload, when it differs (security)
CREATE INDEX event_dead_letters_kind_time ON business.event_dead_letters (kind, received_at DESC);
