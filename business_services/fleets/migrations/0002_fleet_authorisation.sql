-- Authorisation before fuelling (business_services/fleets/authorisation.py, docs/fleets.md "Cards and
-- authorisation"): an answer is kept whole so a retried ask (same auth_no) answers exactly as the first time;
-- wrong PINs are counted and lock the card's PIN at five; an offline sale head office could not cover or that
-- went past the card's limits is flagged on its payment.
ALTER TABLE business.fleet_authorisations
    ADD COLUMN code   text NOT NULL DEFAULT 'ok',   -- limits.Decision.code (or pin, unknown_card …)
    ADD COLUMN reason text NOT NULL DEFAULT '';     -- what the cashier read: the refusal, or which limit set the preset
CREATE INDEX fleet_authorisations_open_by_enterprise ON business.fleet_authorisations (enterprise)
    WHERE state = 'reserved';
CREATE INDEX fleet_authorisations_expiring ON business.fleet_authorisations (expires_at) WHERE state = 'reserved';

ALTER TABLE business.fleet_cards
    ADD COLUMN pin_failures smallint NOT NULL DEFAULT 0 CHECK (pin_failures >= 0);

ALTER TABLE business.fleet_payments
    ADD COLUMN flag text NOT NULL DEFAULT '';       -- an offline sale recorded anyway: why it is flagged
