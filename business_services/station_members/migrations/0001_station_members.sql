-- The station server's copy of head office's member list (telemetry/contracts/members.py), for looking members
-- up and taking stored-value payments while head office is unreachable (docs/offline-members.md).
-- One row per listed key (a member, a card, a blocked plate) holding its newest change: a change with a lower
-- seq than the row's never overwrites it, so pages applied twice or out of order keep the newest. A key no
-- longer listed keeps its row with item NULL (a tombstone), so an older change cannot bring it back.
CREATE TABLE business.station_member_list (
    kind          text NOT NULL CHECK (kind IN ('member', 'card', 'blocked_plate')),
    key           text NOT NULL,                 -- member_no, card_no or plate
    seq           bigint NOT NULL,
    item          jsonb,                         -- NULL: no longer listed
    member_no     text,                          -- a member's own number, a card's member
    phone_digest  text,                          -- members: the keyed hash of the phone (phone_digest)
    qr_token      text,                          -- members: what the member's QR code carries
    plates        text[] NOT NULL DEFAULT '{}',  -- members and cards: the vehicles
    at            timestamptz NOT NULL,          -- when head office made the change
    PRIMARY KEY (kind, key)
);
CREATE INDEX station_member_list_phone ON business.station_member_list (phone_digest) WHERE phone_digest IS NOT NULL;
CREATE INDEX station_member_list_qr ON business.station_member_list (qr_token) WHERE qr_token IS NOT NULL;
CREATE INDEX station_member_list_member ON business.station_member_list (member_no) WHERE member_no IS NOT NULL;
CREATE INDEX station_member_list_plates ON business.station_member_list USING gin (plates);

-- How far this station server holds the list (its next ``after``), and when it last pulled.
CREATE TABLE business.station_member_list_held (
    station       text PRIMARY KEY,
    held_seq      bigint NOT NULL DEFAULT 0,
    pulled_at     timestamptz
);

-- Card payments this station took (stored value, points), online or offline. A row is written before head
-- office is asked ('asked'), so a crash after head office answered can ask again with the same key; an
-- offline payment is written 'taken' with offline = true under the card's row lock, which is what keeps two
-- offline payments of one card within its daily limit at this station.
CREATE TABLE business.station_card_payments (
    payment_no    text PRIMARY KEY,
    station       text NOT NULL,
    method        text NOT NULL,                 -- stored_value | points
    card_no       text,
    member_no     text,
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    points_spent  bigint,
    state         text NOT NULL CHECK (state IN ('asked', 'taken', 'refused')),
    offline       boolean NOT NULL DEFAULT false,
    balance_fen   bigint,                        -- the card's balance after it (head office's word; offline: about)
    message       text NOT NULL DEFAULT '',
    day           date NOT NULL,                 -- the station's business day (Asia/Shanghai)
    at            timestamptz NOT NULL
);
CREATE INDEX station_card_payments_offline ON business.station_card_payments (card_no, station, day)
    WHERE offline AND state = 'taken';

-- Receipts: the member an order was sold to, and what head office quoted for its points.
CREATE TABLE business.station_member_receipts (
    order_no      text PRIMARY KEY,
    member_no     text NOT NULL,
    points_quoted bigint,                        -- NULL: head office was unreachable (积分以总部入账为准)
    points_balance bigint,
    at            timestamptz NOT NULL
);
