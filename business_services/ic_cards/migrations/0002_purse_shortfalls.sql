-- Head office: an IC debit the purse mirror could not cover (the chip held value the mirror never had, e.g. a
-- card loaded before this system). The station's sale still posts; the shortfall waits here for the
-- reconciliation (docs/ic-cards.md).
CREATE TABLE business.ic_purse_shortfalls (
    idempotency_key  text PRIMARY KEY,
    card_no          text NOT NULL,
    station          text NOT NULL,
    reference        text NOT NULL,
    amount_fen       bigint NOT NULL,
    at               timestamptz NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
