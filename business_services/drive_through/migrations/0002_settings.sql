-- Each member's drive-through choice, kept at head office and carried to the stations on the member list
-- (ListedMember.drive_through, drive_through_card_no). No row: off.
CREATE TABLE business.drive_through_settings (
    member_no   text PRIMARY KEY CHECK (member_no ~ '^M[0-9]{8,12}$'),
    method      text NOT NULL CHECK (method IN ('off', 'stored_value', 'fleet_credit', 'agreement')),
    card_no     text,
    CHECK (method <> 'stored_value' OR card_no IS NOT NULL),
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL
);
