-- The one double-entry ledger (ARCHITECTURE.md "Money"), owned by head office: business_services/ledger.
-- An entry's postings sum to zero per unit (checked at commit by a deferred constraint trigger, whatever
-- code wrote them); entries and postings are never updated or deleted (a correction is a new entry);
-- balances move in the same transaction, in the account's normal direction, and an account that may not
-- go negative cannot (CHECK).
CREATE TABLE business.ledger_accounts (
    code              text PRIMARY KEY,          -- e.g. drawer:demo-01:<shift_no>, clearing:wechat, sales:demo-01
    name              text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('asset', 'liability', 'revenue', 'expense', 'equity')),
    unit              text NOT NULL CHECK (unit IN ('fen', 'point')),
    station           text,
    may_go_negative   boolean NOT NULL,
    balance           bigint NOT NULL DEFAULT 0, -- debit − credit for assets and expenses, credit − debit otherwise
    opened_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (may_go_negative OR balance >= 0)
);
CREATE INDEX ledger_accounts_by_station ON business.ledger_accounts (station, code);

CREATE TABLE business.ledger_entries (
    id                bigserial PRIMARY KEY,
    idempotency_key   text NOT NULL UNIQUE,      -- e.g. payment.captured:demo-01:<payment_no>
    kind              text NOT NULL,
    station           text,
    reference         text NOT NULL,             -- the document it records (a payment or refund number …)
    memo              text NOT NULL DEFAULT '',
    occurred_at       timestamptz NOT NULL,      -- when it happened (at the station)
    recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_by_station ON business.ledger_entries (station, occurred_at DESC);

CREATE TABLE business.ledger_postings (
    entry_id          bigint NOT NULL REFERENCES business.ledger_entries (id),
    account           text NOT NULL REFERENCES business.ledger_accounts (code),
    amount            bigint NOT NULL CHECK (amount <> 0),   -- debit > 0, credit < 0
    unit              text NOT NULL CHECK (unit IN ('fen', 'point')),
    PRIMARY KEY (entry_id, account)
);
CREATE INDEX ledger_postings_by_account ON business.ledger_postings (account, entry_id DESC);

CREATE FUNCTION business.ledger_entry_balances() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    off record;
BEGIN
    SELECT unit, sum(amount) AS total INTO off FROM business.ledger_postings
        WHERE entry_id = NEW.entry_id GROUP BY unit HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger entry % does not balance: % % left over', NEW.entry_id, off.total, off.unit
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_entry_balances AFTER INSERT ON business.ledger_postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION business.ledger_entry_balances();

CREATE FUNCTION business.ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: post a correcting entry instead' USING ERRCODE = 'check_violation';
END $$;

CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON business.ledger_entries
    FOR EACH ROW EXECUTE FUNCTION business.ledger_is_append_only();
CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON business.ledger_postings
    FOR EACH ROW EXECUTE FUNCTION business.ledger_is_append_only();
