-- Notifications (business_services/notifications): who is told about which alarm, how, and what was sent.
-- docs/notifications.md.

-- People (and on-call groups) to notify. phone and wechat_openid are personal data: masked in views unless the
-- reader holds pii:read, never logged at INFO.
CREATE TABLE business.notification_contacts (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    phone           text CHECK (phone ~ '^1[3-9][0-9]{9}$'),
    wechat_openid   text CHECK (length(wechat_openid) BETWEEN 1 AND 64),
    groups          text[] NOT NULL DEFAULT '{}',
    enabled         boolean NOT NULL DEFAULT true,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The routing table: which alarms (rule pattern, lowest priority, station, area; NULL = any) go where, in
-- steps: step 0 when raised, then each escalation after_minutes after the raise while unacknowledged.
CREATE TABLE business.notification_routes (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    rule            text,
    min_priority    text NOT NULL DEFAULT 'low'
                    CHECK (min_priority IN ('urgent', 'high', 'medium', 'low')),
    station         text,
    area            text,
    steps           jsonb NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text NOT NULL DEFAULT ''
);

-- What escalation needs to know of each alarm, kept from its alarm.* events (the newest seq wins).
CREATE TABLE business.notification_alarms (
    alarm_id        uuid PRIMARY KEY,
    station         text NOT NULL,
    rule            text NOT NULL,
    source          text NOT NULL,
    area            text NOT NULL DEFAULT '',
    priority        text NOT NULL,
    kind            text NOT NULL,
    message         text NOT NULL DEFAULT '',
    value           double precision,
    "limit"         double precision,
    unit            text NOT NULL DEFAULT '',
    raised_at       timestamptz NOT NULL,
    state           text NOT NULL,
    active          boolean NOT NULL,
    last_seq        integer NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per (alarm, route, step): when it is due and whether it ran. The primary key makes a redelivered
-- alarm.raised schedule nothing twice.
CREATE TABLE business.notification_steps (
    alarm_id        uuid NOT NULL REFERENCES business.notification_alarms,
    route_id        bigint NOT NULL,
    step            integer NOT NULL CHECK (step >= 0),
    due_at          timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'done', 'cancelled')),
    outcome         text NOT NULL DEFAULT '',
    done_at         timestamptz,
    PRIMARY KEY (alarm_id, route_id, step)
);
CREATE INDEX notification_steps_due ON business.notification_steps (due_at) WHERE status = 'waiting';

-- One message to one recipient: exactly one row per (alarm, route, step, recipient), retried with back-off.
CREATE TABLE business.notification_deliveries (
    id              bigserial PRIMARY KEY,
    alarm_id        uuid NOT NULL REFERENCES business.notification_alarms,
    route_id        bigint NOT NULL,
    step            integer NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('sms', 'wechat', 'webhook')),
    recipient       text NOT NULL,          -- contact:<id> or the webhook's URL
    address         text NOT NULL,          -- phone, openid or URL (personal data for sms/wechat)
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    due_at          timestamptz NOT NULL DEFAULT now(),
    last_error      text NOT NULL DEFAULT '',
    provider_id     text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (alarm_id, route_id, step, recipient)
);
CREATE INDEX notification_deliveries_due ON business.notification_deliveries (due_at) WHERE status = 'pending';
