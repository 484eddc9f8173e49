-- 每次确认 (issue 20 item 5; docs/vision.md "Drive-through payment", docs/h5.md): a member may choose to confirm each
-- drive-through order on the customer H5 before it is paid. The choice is kept at head office with the method
-- and carried to the stations on the member list (ListedMember.drive_through_confirm).
ALTER TABLE business.drive_through_settings ADD COLUMN confirm boolean NOT NULL DEFAULT false;

-- At the station: the attachment remembers the choice it was made under; its order then waits 'awaiting' (until
-- expires_at, the confirmation window) for head office's answer: confirmed → due (paid as any), declined or
-- unanswered → cashier.
ALTER TABLE business.drive_through_attachments ADD COLUMN confirm boolean NOT NULL DEFAULT false;
ALTER TABLE business.drive_through_attachments DROP CONSTRAINT drive_through_attachments_state_check;
ALTER TABLE business.drive_through_attachments ADD CONSTRAINT drive_through_attachments_state_check
    CHECK (state IN ('attached', 'due', 'awaiting', 'paid', 'cashier', 'undone', 'expired'));
CREATE INDEX drive_through_awaiting ON business.drive_through_attachments (station) WHERE state = 'awaiting';

-- At head office: each order awaiting its member's confirmation, once per recognition (a redelivered
-- drive_through.awaiting is one row), and the member's answer. The notice's link carries a random token whose
-- SHA-256 is link_digest (a new one each time the notice is sent); it opens this confirmation only, until
-- expires_at or the answer.
CREATE TABLE business.drive_through_confirmations (
    recognition_id  text PRIMARY KEY,
    station         text NOT NULL,
    fuelling_point  integer NOT NULL,
    order_no        text NOT NULL,
    member_no       text NOT NULL,
    plate           text NOT NULL,
    method          text NOT NULL,
    card_no         text,
    grade           integer NOT NULL,
    volume_l        numeric(16, 2) NOT NULL,
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    fuelled_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    state           text NOT NULL DEFAULT 'awaiting' CHECK (state IN ('awaiting', 'confirmed', 'declined')),
    decided_at      timestamptz,
    link_digest     bytea UNIQUE,
    received_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'awaiting') = (decided_at IS NULL))
);
CREATE INDEX drive_through_confirmations_by_member ON business.drive_through_confirmations (member_no, fuelled_at DESC);

-- The notices pushed to members (WeChat template message to the bound openid, else SMS): one per (kind,
-- reference) however often the event behind it is redelivered — 'awaiting' per recognition, 'paid' per payment.
-- Sent by the job drive_through.push with retries (attempts, next try deferred as a new job).
CREATE TABLE business.drive_through_pushes (
    key             text PRIMARY KEY,             -- '<kind>/<recognition id or payment no>'
    kind            text NOT NULL CHECK (kind IN ('awaiting', 'paid')),
    member_no       text NOT NULL,
    station         text NOT NULL,
    reference       text NOT NULL,
    amount_fen      bigint NOT NULL,
    card_no         text,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'dropped')),
    channel         text CHECK (channel IN ('wechat', 'sms')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    provider_id     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    claimed_at      timestamptz,
    sent_at         timestamptz
);
CREATE INDEX drive_through_pushes_pending ON business.drive_through_pushes (created_at) WHERE state IN ('pending', 'sending');
