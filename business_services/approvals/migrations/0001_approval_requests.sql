-- Approval requests (business_services/approvals): one row per request; a pending row past expires_at
-- counts as expired in every query (model.state), so no job has to run for expiry to hold.
CREATE TABLE business.approval_requests (
    id               uuid PRIMARY KEY,
    kind             text NOT NULL,                     -- e.g. price.change (a registered ApprovalKind)
    station          text,                              -- the station it concerns (NULL: company-wide)
    summary          text NOT NULL,
    payload          jsonb NOT NULL,
    requested_by     text NOT NULL,
    requested_by_id  bigint,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'cancelled')),
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    decided_by       text,
    decided_at       timestamptz,
    comment          text
);
CREATE INDEX approval_requests_pending ON business.approval_requests (kind, station, created_at)
    WHERE status = 'pending';
CREATE INDEX approval_requests_requester ON business.approval_requests (requested_by, created_at DESC);
