-- The alarm engine (telemetry/alarms/): rules, one evaluation row per (station, rule, source), the alarm
-- occurrences, their journal (every ISA-18.2 transition with who and when) and the outbox of alarm.* events.
CREATE SCHEMA IF NOT EXISTS alarms;

-- Rules: from config/alarm-rules.yaml (origin 'config', refreshed at each engine start) and from the back
-- office (origin 'back-office': a rule edited through the API is never overwritten by the file again).
CREATE TABLE alarms.rules (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code          text NOT NULL,                       -- e.g. tank.height.low
    station       text NOT NULL DEFAULT '',            -- '' every station
    device        text NOT NULL DEFAULT '*',           -- glob on the device code ('' the edge node itself)
    metric        text NOT NULL DEFAULT '*',           -- glob on the metric name, e.g. tank*/height
    kind          text NOT NULL CHECK (kind IN ('high', 'high_high', 'low', 'low_low', 'rate', 'discrete',
                                                'comm_loss', 'bad_quality', 'condition')),
    limit_value   double precision,
    deadband      double precision NOT NULL DEFAULT 0 CHECK (deadband >= 0),
    on_delay_s    double precision NOT NULL DEFAULT 0 CHECK (on_delay_s >= 0),
    off_delay_s   double precision NOT NULL DEFAULT 0 CHECK (off_delay_s >= 0),
    window_s      double precision NOT NULL DEFAULT 60 CHECK (window_s > 0),   -- rate of change: per this window
    match_values  text[] NOT NULL DEFAULT '{}',        -- discrete: the values (or names in a list) that alarm
    mask          bigint NOT NULL DEFAULT 0,           -- discrete: bits of an integer that alarm
    priority      text NOT NULL CHECK (priority IN ('urgent', 'high', 'medium', 'low', 'journal')),
    area          text NOT NULL DEFAULT '',
    message       text NOT NULL DEFAULT '',
    unit          text NOT NULL DEFAULT '',
    during        text[] NOT NULL DEFAULT '{}',        -- suppressed by design during: delivery
    enabled       boolean NOT NULL DEFAULT true,
    origin        text NOT NULL DEFAULT 'back-office' CHECK (origin IN ('config', 'back-office')),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (code, station)
);

-- One row of evaluation state per (station, rule, source): transitions are written under this row's lock, so
-- two workers never make two occurrences of one condition.
CREATE TABLE alarms.conditions (
    station        text NOT NULL,
    rule_id        bigint NOT NULL REFERENCES alarms.rules ON DELETE CASCADE,
    source         text NOT NULL,                      -- device/metric, or the device for comm_loss
    state          text NOT NULL DEFAULT 'normal',
    active         boolean NOT NULL DEFAULT false,     -- the condition, after its on/off delays
    violating      boolean NOT NULL DEFAULT false,     -- the last sample, before the delays
    pending_since  timestamptz,                        -- violating since (on-delay running)
    clear_since    timestamptz,                        -- clear since (off-delay running)
    ref_value      double precision,                   -- rate of change: the window's first sample
    ref_ts         timestamptz,
    last_ts        timestamptz,
    alarm_id       uuid,                               -- the open occurrence, if any
    seq            integer NOT NULL DEFAULT 0,
    shelved_until  timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station, rule_id, source)
);

-- Alarm occurrences: one per raise of a condition, as the console lists them (head office keeps the stations'
-- here too, copied from their alarm.* events).
CREATE TABLE alarms.alarms (
    alarm_id         uuid PRIMARY KEY,
    station          text NOT NULL,
    rule             text NOT NULL,
    rule_id          bigint,
    source           text NOT NULL,
    area             text NOT NULL DEFAULT '',
    priority         text NOT NULL,
    kind             text NOT NULL,
    state            text NOT NULL,
    active           boolean NOT NULL,
    value            double precision,
    limit_value      double precision,
    unit             text NOT NULL DEFAULT '',
    message          text NOT NULL DEFAULT '',
    raised_at        timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    shelved_until    timestamptz,
    returned_at      timestamptz,
    closed_at        timestamptz,                      -- back to normal: no longer in the active list
    seq              integer NOT NULL,
    owner            text NOT NULL DEFAULT 'here' CHECK (owner IN ('here', 'station'))   -- station: a copy
);
CREATE INDEX alarms_open ON alarms.alarms (station, priority) WHERE closed_at IS NULL;
CREATE INDEX alarms_raised ON alarms.alarms (raised_at DESC);

CREATE TABLE alarms.journal (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alarm_id    uuid NOT NULL,
    seq         integer NOT NULL,
    event_type  text NOT NULL,
    station     text NOT NULL,
    rule        text NOT NULL,
    source      text NOT NULL,
    priority    text NOT NULL,
    state_from  text NOT NULL,
    state_to    text NOT NULL,
    active      boolean NOT NULL,
    at          timestamptz NOT NULL,
    by_user     text NOT NULL DEFAULT '',
    comment     text NOT NULL DEFAULT '',
    value       double precision,
    UNIQUE (alarm_id, seq)
);
CREATE INDEX journal_at ON alarms.journal (at DESC);
CREATE INDEX journal_station_at ON alarms.journal (station, at DESC);

-- The transactional outbox of alarm.* events (telemetry/alarms/publisher.py publishes and marks them).
CREATE TABLE alarms.outbox (
    seq          bigserial PRIMARY KEY,
    event_id     text NOT NULL UNIQUE,
    topic        text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX alarms_outbox_unpublished ON alarms.outbox (seq) WHERE published_at IS NULL;

-- Conditions other planes raise and clear over SQL (telemetry/alarms/external.py): e.g. wet stock's
-- reconciliation over tolerance. The engine watches them like telemetry, with rules of kind 'condition'.
CREATE TABLE alarms.external_conditions (
    station     text NOT NULL,
    rule        text NOT NULL,                          -- the rule's code
    source      text NOT NULL,
    active      boolean NOT NULL,
    value       double precision,
    limit_value double precision,
    message     text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station, rule, source)
);
