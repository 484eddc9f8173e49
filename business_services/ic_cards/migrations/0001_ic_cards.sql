-- IC cards (business_services/ic_cards, docs/ic-cards.md).
-- Station server: its grey locks. One row per lock on a chip (card, counter); one lock per fuelling's order
-- and per payment, so a fuelling is debited once whatever is replayed. A lock leaves 'due' only for
-- 'debited' (the chip said so: its TAC) or 'released'.
CREATE TABLE business.ic_grey_locks (
    card_no          text NOT NULL,
    counter          integer NOT NULL CHECK (counter BETWEEN 1 AND 65535),
    station          text NOT NULL,
    reader           text NOT NULL,                 -- where the card is (was) for this lock
    insertion        bigint NOT NULL,               -- the reader's insertion count when it was seen there
    pump             text NOT NULL,                 -- the dispenser, or the POS terminal
    fuelling_point   integer NOT NULL,              -- 0 at a POS
    locked_at        timestamptz NOT NULL,
    state            text NOT NULL CHECK (state IN ('locked', 'due', 'debited', 'released')),
    order_no         text UNIQUE,
    payment_no       text UNIQUE,
    amount_fen       bigint CHECK (amount_fen >= 0),
    tac              text,
    settled_at       timestamptz,
    reported         text,                          -- the last grey_recorded sent up: 'locked' or 'due'
    PRIMARY KEY (card_no, counter),
    CHECK ((state IN ('debited', 'released')) = (settled_at IS NOT NULL)),
    CHECK (state = 'locked' OR amount_fen IS NOT NULL OR state = 'released')
);
CREATE INDEX ic_grey_locks_open ON business.ic_grey_locks (station, pump, fuelling_point) WHERE state = 'locked';

-- Head office: the grey list (records stations sent up, settled when the debit arrives), the loads (圈存)
-- and the chip's purse as last read.
CREATE TABLE business.ic_grey_list (
    card_no          text NOT NULL,
    counter          integer NOT NULL,
    station          text NOT NULL,                 -- where it went grey
    pump             text NOT NULL,
    fuelling_point   integer NOT NULL,
    locked_at        timestamptz NOT NULL,
    order_no         text,
    payment_no       text,
    amount_fen       bigint,
    state            text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'settled')),
    settled_by       text,                          -- the station that debited it
    settled_fen      bigint,
    settled_tac      text,
    settled_at       timestamptz,
    received_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (card_no, counter)
);

CREATE TABLE business.ic_loads (
    load_no          text PRIMARY KEY,
    card_no          text NOT NULL,
    station          text NOT NULL,
    counter          integer NOT NULL,              -- the chip counter the load is written under
    amount_fen       bigint NOT NULL CHECK (amount_fen > 0),
    at               timestamptz NOT NULL,
    state            text NOT NULL CHECK (state IN ('authorised', 'written', 'reversed')),
    tac              text,
    requested_by     text NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE TABLE business.ic_purse_reads (
    card_no          text PRIMARY KEY,
    station          text NOT NULL,
    balance_fen      bigint NOT NULL,
    counter          integer NOT NULL,
    grey             boolean NOT NULL,
    read_at          timestamptz NOT NULL
);

-- Station server: the loads it is writing to chips, until head office has the chip's answer (written or not).
CREATE TABLE business.ic_station_loads (
    load_no          text PRIMARY KEY,
    card_no          text NOT NULL,
    counter          integer NOT NULL,
    amount_fen       bigint NOT NULL,
    at               timestamptz NOT NULL,
    mac              text NOT NULL,
    state            text NOT NULL CHECK (state IN ('writing', 'written', 'reversed'))
);
CREATE INDEX ic_station_loads_open ON business.ic_station_loads (card_no) WHERE state = 'writing';
