-- Settlement of fleets' credit sales (docs/fleets.md "Statements, receivables and the bank"): monthly statements
-- of an enterprise's credit sales (fleet_payments / fleet_refunds .statement_no), their confirmation and disputes,
-- the bank's incoming transfers (银企直连, each recorded once by the bank's serial), their matches to statements
-- (the ledger's fleet_settlement_entry) and the dunning notices of overdue statements.
CREATE TABLE business.fleet_statements (
    statement_no   text PRIMARY KEY CHECK (statement_no ~ '^FS[0-9]{6}-[0-9]{8}$'),   -- FS<enterprise>-<cut date>
    enterprise     text NOT NULL REFERENCES business.fleet_enterprises (code),
    period_from    date,                             -- local dates: [period_from, period_to); NULL: from the start
    period_to      date NOT NULL,                    -- the cut (statement_day, China time)
    sales_fen      bigint NOT NULL CHECK (sales_fen >= 0),
    refunds_fen    bigint NOT NULL CHECK (refunds_fen >= 0),
    total_fen      bigint NOT NULL,                  -- sales less refunds: what the enterprise owes by it
    sales          integer NOT NULL CHECK (sales >= 0),
    due_on         date NOT NULL,                    -- period_to + credit_days
    paid_fen       bigint NOT NULL DEFAULT 0 CHECK (paid_fen >= 0),
    state          text NOT NULL DEFAULT 'issued' CHECK (state IN ('issued', 'confirmed', 'disputed')),
    confirmed_by   text,
    confirmed_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (enterprise, period_to),
    CHECK (paid_fen <= GREATEST(total_fen, 0))
);
CREATE INDEX fleet_statements_open ON business.fleet_statements (enterprise, due_on) WHERE paid_fen < total_fen;

-- a dispute of a whole statement (payment_no NULL) or of one of its sales, and its resolution
CREATE TABLE business.fleet_statement_disputes (
    id             bigserial PRIMARY KEY,
    statement_no   text NOT NULL REFERENCES business.fleet_statements (statement_no),
    station        text,
    payment_no     text,
    reason         text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    raised_by      text NOT NULL,
    raised_at      timestamptz NOT NULL DEFAULT now(),
    resolution     text,
    resolved_by    text,
    resolved_at    timestamptz,
    CHECK ((station IS NULL) = (payment_no IS NULL)),
    CHECK ((resolution IS NULL) = (resolved_at IS NULL))
);
CREATE INDEX fleet_statement_disputes_by_statement ON business.fleet_statement_disputes (statement_no, id);

-- the enterprises' paying accounts: a transfer from one of them for the exact amount of one open statement pays it
CREATE TABLE business.fleet_payer_accounts (
    account_no     text PRIMARY KEY CHECK (account_no ~ '^[0-9]{8,32}$'),
    enterprise     text NOT NULL REFERENCES business.fleet_enterprises (code),
    learned_from   text NOT NULL,                    -- a user, or the transfer whose match taught it
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- transfers into head office's account as the bank reported them (notification or poll), once each
CREATE TABLE business.bank_transfers (
    transfer_no    text PRIMARY KEY,                 -- the bank's serial (交易流水号)
    account_no     text NOT NULL,                    -- ours
    payer_account  text NOT NULL,
    payer_name     text NOT NULL,
    amount_fen     bigint NOT NULL CHECK (amount_fen > 0),
    memo           text NOT NULL DEFAULT '',         -- 附言
    booked_at      timestamptz NOT NULL,
    received_via   text NOT NULL CHECK (received_via IN ('notification', 'poll')),
    received_at    timestamptz NOT NULL DEFAULT now(),
    matched_fen    bigint NOT NULL DEFAULT 0 CHECK (matched_fen >= 0 AND matched_fen <= amount_fen),
    seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE
);
CREATE INDEX bank_transfers_unmatched ON business.bank_transfers (seq) WHERE matched_fen < amount_fen;

-- a transfer (or part of it) matched to a statement: the ledger's fleet.settled:<settlement_no>
CREATE TABLE business.fleet_settlements (
    settlement_no  text PRIMARY KEY,                 -- <transfer_no>:<statement_no>
    transfer_no    text NOT NULL REFERENCES business.bank_transfers (transfer_no),
    statement_no   text NOT NULL REFERENCES business.fleet_statements (statement_no),
    enterprise     text NOT NULL REFERENCES business.fleet_enterprises (code),
    amount_fen     bigint NOT NULL CHECK (amount_fen > 0),
    how            text NOT NULL CHECK (how IN ('memo', 'payer', 'manual')),
    settled_by     text NOT NULL,
    settled_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (transfer_no, statement_no)
);
CREATE INDEX fleet_settlements_by_statement ON business.fleet_settlements (statement_no);

-- dunning (催款): one notice per overdue statement and level (the days overdue it was sent at)
CREATE TABLE business.fleet_dunning_notices (
    id              bigserial PRIMARY KEY,
    statement_no    text NOT NULL REFERENCES business.fleet_statements (statement_no),
    enterprise      text NOT NULL REFERENCES business.fleet_enterprises (code),
    level           smallint NOT NULL CHECK (level > 0),      -- 1: at 1 day overdue, 2: 15 days, 3: 30 days
    overdue_days    integer NOT NULL,
    outstanding_fen bigint NOT NULL,
    contact_name    text NOT NULL DEFAULT '',
    contact_phone   text NOT NULL DEFAULT '',
    text            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (statement_no, level)
);
