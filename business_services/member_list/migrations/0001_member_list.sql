-- The member list's change feed at head office (telemetry/contracts/members.py): every change of a listed
-- member, card or blocked plate, in one sequence. Stations pull it after the last seq they hold
-- (member_list_stations records how far each has pulled). Older changes of the same key are superseded by
-- a newer one; compaction keeps only the newest per key (business_services/member_list/repository.py).
CREATE TABLE business.member_list_changes (
    seq        bigserial PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('member', 'card', 'blocked_plate')),
    key        text NOT NULL,
    item       jsonb,                         -- NULL: no longer listed
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX member_list_changes_by_key ON business.member_list_changes (kind, key, seq DESC);

CREATE TABLE business.member_list_stations (
    station    text PRIMARY KEY,
    held_seq   bigint NOT NULL,               -- the highest seq the station said it holds (its next "after")
    pulled_at  timestamptz NOT NULL DEFAULT now()
);
