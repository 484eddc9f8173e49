-- Stored-value cards at head office (business_services/cards, docs/cards.md). A card's money is the ledger
-- account card:<card_no>; these tables hold what the card is, what it may buy, and the documents (recharges,
-- payments, refunds) whose ledger entries move its money, each once by its number.
CREATE TABLE business.card_types (
    code               text PRIMARY KEY,
    name               text NOT NULL,
    scope              text NOT NULL CHECK (scope IN ('station', 'chain')),
    station            text,                          -- a single-station type's station
    named              boolean NOT NULL,
    medium             text NOT NULL CHECK (medium IN ('physical', 'electronic')),
    kind               text NOT NULL CHECK (kind IN ('stored_value', 'ic')),
    prefix             text NOT NULL UNIQUE CHECK (prefix ~ '^[1-9][0-9]{3,9}$'),
    length             smallint NOT NULL CHECK (length IN (16, 19)),
    next_serial        bigint NOT NULL DEFAULT 1,     -- the next number issue takes
    daily_limit_fen    bigint,
    litres_per_fill    integer,
    fills_per_day      integer,
    offline_limit_fen  bigint NOT NULL DEFAULT 0,
    offline_daily_fen  bigint NOT NULL DEFAULT 0,
    created_by         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((scope = 'station') = (station IS NOT NULL))
);

CREATE TABLE business.cards (
    card_no            text PRIMARY KEY CHECK (card_no ~ '^[0-9]{16}([0-9]{3})?$'),
    id                 bigint GENERATED ALWAYS AS IDENTITY UNIQUE,   -- names a card on screens that mask its number
    card_type          text NOT NULL REFERENCES business.card_types (code),
    station            text NOT NULL,                 -- where it was issued: whose users manage it
    status             text NOT NULL CHECK (status IN ('active', 'frozen', 'lost', 'closed')),
    frozen_for         text CHECK (frozen_for IN ('manual', 'overdraft')),
    member_no          text CHECK (member_no ~ '^M[0-9]{8,12}$'),
    main_card_no       text REFERENCES business.cards (card_no),
    linked_card_no     text REFERENCES business.cards (card_no),   -- a physical card bound to an electronic one
    replaced_by        text REFERENCES business.cards (card_no),
    plates             text[] NOT NULL DEFAULT '{}',
    grades             integer[] NOT NULL DEFAULT '{}',
    stations           text[] NOT NULL DEFAULT '{}',
    daily_limit_fen    bigint,
    litres_per_fill    integer,
    fills_per_day      integer,
    overdraft_fen      bigint NOT NULL DEFAULT 0 CHECK (overdraft_fen >= 0),   -- owed for offline sales
    batch_no           text,
    issued_by          text NOT NULL,
    issued_at          timestamptz NOT NULL DEFAULT now(),
    closed_at          timestamptz,
    CHECK (main_card_no IS DISTINCT FROM card_no)
);
CREATE INDEX cards_by_member ON business.cards (member_no) WHERE member_no IS NOT NULL;
CREATE INDEX cards_by_main ON business.cards (main_card_no) WHERE main_card_no IS NOT NULL;
CREATE INDEX cards_by_issue ON business.cards (issued_at DESC, card_no DESC);

CREATE TABLE business.card_recharge_offers (
    id                 bigserial PRIMARY KEY,
    name               text NOT NULL,
    min_paid_fen       bigint NOT NULL CHECK (min_paid_fen > 0),
    bonus_fen          bigint NOT NULL CHECK (bonus_fen > 0),
    starts_on          date NOT NULL,
    ends_on            date NOT NULL CHECK (ends_on >= starts_on),
    stations           text[] NOT NULL DEFAULT '{}',
    card_types         text[] NOT NULL DEFAULT '{}',
    active             boolean NOT NULL DEFAULT true,
    created_by         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE business.card_recharges (
    recharge_no        text PRIMARY KEY,
    card_no            text NOT NULL REFERENCES business.cards (card_no),
    station            text NOT NULL,
    method             text NOT NULL,
    shift_no           text,
    paid_fen           bigint NOT NULL CHECK (paid_fen > 0),
    bonus_fen          bigint NOT NULL CHECK (bonus_fen >= 0),
    offer_id           bigint REFERENCES business.card_recharge_offers (id),
    recharged_by       text NOT NULL,
    recharged_at       timestamptz NOT NULL
);
CREATE INDEX card_recharges_by_card ON business.card_recharges (card_no, recharged_at DESC);

CREATE TABLE business.card_payments (
    station            text NOT NULL,
    payment_no         text NOT NULL,
    card_no            text NOT NULL REFERENCES business.cards (card_no),
    amount_fen         bigint NOT NULL CHECK (amount_fen > 0),
    overdraft_fen      bigint NOT NULL DEFAULT 0,     -- of an offline sale the card could not cover
    grade              integer,
    volume_l           numeric(10, 2),
    plate              text,
    offline            boolean NOT NULL,
    refunded_fen       bigint NOT NULL DEFAULT 0 CHECK (refunded_fen >= 0 AND refunded_fen <= amount_fen),
    paid_at            timestamptz NOT NULL,
    PRIMARY KEY (station, payment_no)
);
CREATE INDEX card_payments_by_card ON business.card_payments (card_no, paid_at DESC);

CREATE TABLE business.card_refunds (
    station            text NOT NULL,
    refund_no          text NOT NULL,
    payment_no         text NOT NULL,
    card_no            text NOT NULL REFERENCES business.cards (card_no),
    amount_fen         bigint NOT NULL CHECK (amount_fen > 0),
    refunded_at        timestamptz NOT NULL,
    PRIMARY KEY (station, refund_no)
);
