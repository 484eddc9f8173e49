-- Fleet cards travel on the member list too (telemetry/contracts/members.py::ListedFleetCard): head office lists
-- each change of a fleet card (business_services/fleets/cards.py::listed) for the stations (docs/fleets.md).
ALTER TABLE business.member_list_changes DROP CONSTRAINT member_list_changes_kind_check;
ALTER TABLE business.member_list_changes ADD CONSTRAINT member_list_changes_kind_check
    CHECK (kind IN ('member', 'card', 'fleet_card', 'blocked_plate'));
