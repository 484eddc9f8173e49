-- People and access (business_services/access/model.py holds the rules).
-- The organisation tree: company → region → station. A station is master data of the stations context:
-- referenced here by its code, without a foreign key.
CREATE TABLE business.access_org_units (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('company', 'region', 'station')),
    code       text NOT NULL UNIQUE,
    name       text NOT NULL,
    parent_id  bigint REFERENCES business.access_org_units (id),
    CHECK ((kind = 'company') = (parent_id IS NULL))
);

CREATE TABLE business.access_users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username        text NOT NULL UNIQUE,
    display_name    text NOT NULL,
    phone           text,                           -- personal data: masked on output unless pii:read
    password_hash   text NOT NULL,                  -- argon2 (pwdlib)
    disabled        boolean NOT NULL DEFAULT false,
    failed_count    integer NOT NULL DEFAULT 0,
    last_failed_at  timestamptz,
    locked_until    timestamptz,
    token_version   integer NOT NULL DEFAULT 0,     -- raised by a password change or reset
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE business.access_user_roles (
    user_id  bigint NOT NULL REFERENCES business.access_users (id) ON DELETE CASCADE,
    role     text NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE business.access_user_units (            -- the user's station scope, as org units
    user_id  bigint NOT NULL REFERENCES business.access_users (id) ON DELETE CASCADE,
    unit_id  bigint NOT NULL REFERENCES business.access_org_units (id),
    PRIMARY KEY (user_id, unit_id)
);

-- The stations each user reaches; '*' for every station (a user given the company).
CREATE VIEW business.access_user_stations AS
WITH RECURSIVE reach (user_id, unit_id, kind, code) AS (
    SELECT uu.user_id, u.id, u.kind, u.code
      FROM business.access_user_units uu JOIN business.access_org_units u ON u.id = uu.unit_id
    UNION
    SELECT r.user_id, c.id, c.kind, c.code
      FROM reach r JOIN business.access_org_units c ON c.parent_id = r.unit_id
)
SELECT DISTINCT user_id, CASE WHEN kind = 'company' THEN '*' ELSE code END AS station
  FROM reach WHERE kind IN ('company', 'station');

CREATE TABLE business.access_api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prefix       text NOT NULL UNIQUE,               -- shown in lists; the key itself is shown once
    digest       bytea NOT NULL,                     -- SHA-256 of the key
    partner      text NOT NULL,
    permissions  text[] NOT NULL,
    stations     text[],                             -- NULL: every station
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

CREATE TABLE business.access_login_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    username    text NOT NULL,                       -- as typed (may name no user)
    user_id     bigint,
    source      text NOT NULL,                       -- the client's address
    user_agent  text NOT NULL DEFAULT '',
    result      text NOT NULL CHECK (result IN ('ok', 'wrong_password', 'unknown_user', 'locked', 'disabled'))
);
CREATE INDEX access_login_log_at ON business.access_login_log (at DESC);

-- Idempotency-Key: the first answer to a POST, replayed to its retries (control_api/idempotency.py).
CREATE TABLE business.api_idempotency (
    caller        text NOT NULL,
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    status        integer,                           -- NULL while the first request is still running
    body          jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
);
