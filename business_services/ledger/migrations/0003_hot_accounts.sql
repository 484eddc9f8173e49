-- Hot accounts (docs/ledger.md "Hot accounts"): an account many writers move at once (a station's stored-value
-- clearing account, credited by every card payment; the company's points and marketing accounts) keeps its
-- balance in stripes, one row per (account, stripe): a writer moves the stripe of its connection
-- (pg_backend_pid() % stripes), so concurrent writers do not queue for one row lock that each holds through
-- its commit. Only an account that may go negative is striped (model.Account refuses the rest), so a floor is
-- still checked by the CHECK on one row. The balance is exact at every commit: the account row's balance plus
-- its stripes' (business.ledger_balances). A striped account's postings have no seq or balance_after (its
-- balance has no single order of moves): its statement runs the balance in entry order (views.statement).
CREATE TABLE business.ledger_stripes (
    account           text NOT NULL REFERENCES business.ledger_accounts (code),
    stripe            smallint NOT NULL,
    balance           bigint NOT NULL,           -- in the account's normal direction, as ledger_accounts.balance
    postings          bigint NOT NULL,
    PRIMARY KEY (account, stripe)
);

-- every account's balance and number of postings: read balances here (or through ledger/views.py), never
-- from ledger_accounts.balance alone
CREATE VIEW business.ledger_balances AS
SELECT a.code, a.balance + coalesce(s.balance, 0) AS balance, a.postings + coalesce(s.postings, 0) AS postings,
       s.account IS NOT NULL AS striped
FROM business.ledger_accounts a
LEFT JOIN (SELECT account, sum(balance)::bigint AS balance, sum(postings)::bigint AS postings
           FROM business.ledger_stripes GROUP BY account) s ON s.account = a.code;

DROP FUNCTION business.ledger_post(text, text, text, text, text, timestamptz, text[], text[], text[], text[],
                                   text[], boolean[], bigint[], bigint[]);

-- As 0002's, and an account with p_stripes > 1 moves its stripe instead of its row.
CREATE FUNCTION business.ledger_post(
    p_key text, p_kind text, p_station text, p_reference text, p_memo text, p_occurred_at timestamptz,
    p_codes text[], p_names text[], p_kinds text[], p_units text[], p_stations text[], p_floorless boolean[],
    p_stripes integer[], p_amounts bigint[], p_changes bigint[]) RETURNS bigint LANGUAGE plpgsql AS $$
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
        IF p_stripes[i] > 1 THEN
            INSERT INTO business.ledger_accounts (code, name, kind, unit, station, may_go_negative)
                VALUES (p_codes[i], p_names[i], p_kinds[i], p_units[i], p_stations[i], p_floorless[i])
                ON CONFLICT (code) DO NOTHING;
            PERFORM FROM business.ledger_accounts WHERE code = p_codes[i] AND kind = p_kinds[i] AND unit = p_units[i];
            IF NOT FOUND THEN
                RAISE EXCEPTION 'ledger account % exists with another kind or unit than %/%', p_codes[i],
                    p_kinds[i], p_units[i];
            END IF;
            INSERT INTO business.ledger_stripes AS s (account, stripe, balance, postings)
                VALUES (p_codes[i], pg_backend_pid() % p_stripes[i], p_changes[i], 1)
                ON CONFLICT (account, stripe) DO UPDATE SET balance = s.balance + excluded.balance,
                                                            postings = s.postings + 1;
            INSERT INTO business.ledger_postings (entry_id, account, amount, unit, posted_at)
                VALUES (v_entry, p_codes[i], p_amounts[i], p_units[i], clock_timestamp());
            CONTINUE;
        END IF;
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
