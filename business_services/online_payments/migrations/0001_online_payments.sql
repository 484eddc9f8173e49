-- Online payments (business_services/online_payments), owned by head office: one row per provider order
-- (payment_no is the provider's out_trade_no, so a retried charge finds its row and never makes a second
-- order), each callback once by the provider's notification id, and refunds. refunded_fen counts refunds
-- made or in progress; the checks make an over-refund impossible whatever the code above does.
CREATE TABLE business.online_payments (
    payment_no      text PRIMARY KEY,
    station         text NOT NULL,
    method          text NOT NULL CHECK (method IN ('wechat', 'alipay')),
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    description     text NOT NULL,
    scanned         boolean NOT NULL,            -- the customer's payment code was scanned (付款码)
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'succeeded', 'failed')),
    provider_ref    text,
    qr_code_url     text,
    message         text NOT NULL DEFAULT '',
    captured_fen    bigint NOT NULL DEFAULT 0,
    refunded_fen    bigint NOT NULL DEFAULT 0 CHECK (refunded_fen >= 0 AND refunded_fen <= captured_fen),
    created_at      timestamptz NOT NULL DEFAULT now(),
    settled_at      timestamptz,
    CHECK ((state = 'succeeded') = (captured_fen = amount_fen AND captured_fen > 0)),
    CHECK (state = 'succeeded' OR captured_fen = 0)
);
CREATE INDEX online_payments_pending ON business.online_payments (created_at) WHERE state = 'pending';

CREATE TABLE business.online_payment_callbacks (
    provider        text NOT NULL,
    notification_id text NOT NULL,
    payment_no      text NOT NULL,
    state           text NOT NULL,
    amount_fen      bigint NOT NULL,
    duplicates      integer NOT NULL DEFAULT 0,  -- the same notification delivered again
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, notification_id)
);

CREATE TABLE business.online_refunds (
    refund_no       text PRIMARY KEY,
    payment_no      text NOT NULL REFERENCES business.online_payments,
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    reason          text NOT NULL DEFAULT '',
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'succeeded', 'failed')),
    provider_ref    text,
    message         text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);
