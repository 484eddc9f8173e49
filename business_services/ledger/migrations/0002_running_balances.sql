-- Each posting records where it left its account: its place in the account's history (seq: 1, 2, 3 … per
-- account, in the order the balance moved) and the balance right after it (balance_after), written by
-- repository.post in the same statement that moves the balance while it holds the account's row lock. A
-- statement then reads running balances, and the opening balance of any period, without summing history;
-- and the order is the one the balance really moved in (entry ids are taken before a writer waits for the
-- row, so two concurrent entries' ids can be in the other order). posted_at is the clock at that moment
-- (increasing along an account's seq). Rows posted before this migration get them from entry-id order.
ALTER TABLE business.ledger_accounts ADD COLUMN postings bigint NOT NULL DEFAULT 0;  -- the last posting's seq
ALTER TABLE business.ledger_postings ADD COLUMN seq bigint, ADD COLUMN balance_after bigint,
    ADD COLUMN posted_at timestamptz;

ALTER TABLE business.ledger_postings DISABLE TRIGGER ledger_postings_append_only;
UPDATE business.ledger_postings p SET seq = n.seq, balance_after = n.balance_after, posted_at = n.recorded_at
FROM (SELECT p.entry_id, p.account, e.recorded_at,
             row_number() OVER w AS seq,
             sum(CASE WHEN a.kind IN ('asset', 'expense') THEN p.amount ELSE -p.amount END) OVER w AS balance_after
      FROM business.ledger_postings p
      JOIN business.ledger_accounts a ON a.code = p.account
      JOIN business.ledger_entries e ON e.id = p.entry_id
      WINDOW w AS (PARTITION BY p.account ORDER BY p.entry_id)) n
WHERE p.entry_id = n.entry_id AND p.account = n.account;
ALTER TABLE business.ledger_postings ENABLE TRIGGER ledger_postings_append_only;
UPDATE business.ledger_accounts a SET postings = (SELECT count(*) FROM business.ledger_postings p
                                                  WHERE p.account = a.code);

DROP INDEX business.ledger_postings_by_account;
CREATE UNIQUE INDEX ledger_postings_by_account_seq ON business.ledger_postings (account, seq)
    INCLUDE (balance_after, posted_at);

-- One entry, posted in one call (repository.post): the entry row (nothing more when its idempotency key is
-- posted already: NULL), then for each account in the order given — the caller's one lock order for every
-- writer (accounts that may not go negative first, so a refused entry never waits for a busy company
-- account; then by code) — the balance moved (the account opened at 0 by its first posting) and the posting
-- with its seq and balance after. An account that may not go negative makes the call fail with the CHECK's
-- check_violation: the caller's transaction rolls back and nothing of the entry stays.
CREATE FUNCTION business.ledger_post(
    p_key text, p_kind text, p_station text, p_reference text, p_memo text, p_occurred_at timestamptz,
    p_codes text[], p_names text[], p_kinds text[], p_units text[], p_stations text[], p_floorless boolean[],
    p_amounts bigint[], p_changes bigint[]) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_entry bigint;
    v_balance bigint;
    v_seq bigint;
BEGIN
    INSERT INTO business.ledger_entries (idempotency_key, kind, station, reference, memo, occurred_at)
        VALUES (p_key, p_kind, p_station, p_reference, p_memo, p_occurred_at)
        ON CONFLICT (idempotency_key) DO NOTHING RETURNING id INTO v_entry;
    IF v_entry IS NULL THEN
        RETURN NULL;
    END IF;
    FOR i IN 1 .. array_length(p_codes, 1) LOOP
        UPDATE business.ledger_accounts SET balance = balance + p_changes[i], postings = postings + 1
            WHERE code = p_codes[i] AND kind = p_kinds[i] AND unit = p_units[i]
            RETURNING balance, postings INTO v_balance, v_seq;
        IF NOT FOUND THEN
            INSERT INTO business.ledger_accounts (code, name, kind, unit, station, may_go_negative)
                VALUES (p_codes[i], p_names[i], p_kinds[i], p_units[i], p_stations[i], p_floorless[i])
                ON CONFLICT (code) DO NOTHING;
            UPDATE business.ledger_accounts SET balance = balance + p_changes[i], postings = postings + 1
                WHERE code = p_codes[i] AND kind = p_kinds[i] AND unit = p_units[i]
                RETURNING balance, postings INTO v_balance, v_seq;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'ledger account % exists with another kind or unit than %/%', p_codes[i],
                    p_kinds[i], p_units[i];
            END IF;
        END IF;
        INSERT INTO business.ledger_postings (entry_id, account, amount, unit, seq, balance_after, posted_at)
            VALUES (v_entry, p_codes[i], p_amounts[i], p_units[i], v_seq, v_balance, clock_timestamp());
    END LOOP;
    RETURN v_entry;
END $$;
