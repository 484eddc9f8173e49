-- Head office's copy of each station server's shifts (business_services/station_shifts, docs/reconciliation.md).
-- The station owns its shifts; head office keeps what shift.opened / shift.closed said, never edits it, and
-- checks the closed shift's takings against the payments and refunds it received for that shift.
CREATE TABLE business.station_shifts (
    station           text NOT NULL,
    shift_no          text NOT NULL,
    definition        text,                       -- 早班/中班/晚班 (only shift.opened carries it)
    opened_by         text NOT NULL,
    opened_at         timestamptz NOT NULL,
    closed_by         text,
    closed_at         timestamptz,
    -- the station's report at close (NULL while open)
    order_count       integer,
    sales_fen         bigint,
    volume_l          numeric(14, 2),
    takings           jsonb,                      -- [{method, captured_fen, refunded_fen}]
    cash_expected_fen bigint,
    cash_counted_fen  bigint,
    over_short_fen    bigint,
    unpaid_orders     jsonb,                      -- order numbers carried into the next shift
    override_reason   text,
    -- the last verdict of the reconciliation (model.Verdict) and its per-method gaps
    status            text NOT NULL DEFAULT 'unchecked' CHECK (status IN
                          ('unchecked', 'awaiting_close', 'missing_close', 'matched', 'difference', 'late_documents')),
    gaps              jsonb NOT NULL DEFAULT '[]',
    checked_at        timestamptz,
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station, shift_no)
);
CREATE INDEX station_shifts_newest ON business.station_shifts (opened_at DESC, station DESC, shift_no DESC);
CREATE INDEX station_shifts_open_questions ON business.station_shifts (station, shift_no) WHERE status <> 'matched';

-- What head office received per shift: one row per document (payment or refund number), so a repeat adds
-- nothing. net_fen is positive for a payment, negative for a refund.
CREATE TABLE business.station_shift_documents (
    station           text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('payment', 'refund')),
    document_no       text NOT NULL,
    shift_no          text NOT NULL,
    method            text NOT NULL,
    net_fen           bigint NOT NULL CHECK (net_fen <> 0),
    occurred_at       timestamptz NOT NULL,       -- at the station
    received_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station, kind, document_no)
);
CREATE INDEX station_shift_documents_by_shift ON business.station_shift_documents (station, shift_no, method);

-- Each change of verdict (or of its gaps), with its time: the shift's reconciliation history.
CREATE TABLE business.station_shift_verdicts (
    id                bigserial PRIMARY KEY,
    station           text NOT NULL,
    shift_no          text NOT NULL,
    status            text NOT NULL,
    gaps              jsonb NOT NULL,
    decided_at        timestamptz NOT NULL,
    FOREIGN KEY (station, shift_no) REFERENCES business.station_shifts (station, shift_no)
);
CREATE INDEX station_shift_verdicts_by_shift ON business.station_shift_verdicts (station, shift_no, id);
