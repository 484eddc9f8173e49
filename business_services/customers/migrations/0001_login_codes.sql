-- The customer H5's login by SMS verification code (business_services/customers; docs/h5.md). One row per code
-- sent: never the code itself, only its salted SHA-256 digest; valid CODE_MINUTES (5) and for MAX_ATTEMPTS (5)
-- wrong guesses; used once. The rows of the last hour are also the per-phone rate limit (one a minute, five an
-- hour). The phone is personal data: rows older than a day are deleted by the job forget_old_login_codes.
CREATE TABLE business.customer_login_codes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_group   text NOT NULL,
    phone           text NOT NULL CHECK (phone ~ '^1[3-9][0-9]{9}$'),
    salt            bytea NOT NULL CHECK (length(salt) = 16),
    digest          bytea NOT NULL CHECK (length(digest) = 32),
    sent_at         timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    used_at         timestamptz,
    CHECK (expires_at > sent_at)
);
CREATE INDEX customer_login_codes_by_phone ON business.customer_login_codes (company_group, phone, sent_at DESC);
