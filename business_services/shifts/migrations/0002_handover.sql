-- Handover (business_services/shifts): what a shift took, its nozzle readings, and its frozen report.
-- Takings are kept from payment.captured / payment.refunded, one row per document (a repeat changes nothing),
-- in the shift the event names; the close locks the shift FOR UPDATE, so none lands in a closing shift.
ALTER TABLE business.shifts
    ADD COLUMN definition      text,              -- 早班/中班/晚班 from the station's shift definitions
    ADD COLUMN override_reason text,              -- a manager closed it with unpaid orders
    ADD COLUMN report          jsonb,             -- the handover report, frozen at close
    ADD CONSTRAINT shifts_closed_report CHECK ((status = 'closed') = (report IS NOT NULL));

CREATE TABLE business.shift_takings (
    kind        text NOT NULL CHECK (kind IN ('captured', 'refunded')),
    document_no text NOT NULL,                    -- payment_no or refund_no
    shift_no    text NOT NULL,
    method      text NOT NULL,
    amount_fen  bigint NOT NULL CHECK (amount_fen > 0),
    at          timestamptz NOT NULL,
    PRIMARY KEY (kind, document_no)
);
CREATE INDEX shift_takings_by_shift ON business.shift_takings (shift_no);

CREATE TABLE business.shift_nozzles (
    shift_no       text NOT NULL REFERENCES business.shifts,
    pump           text NOT NULL,
    fuelling_point integer NOT NULL,
    nozzle         integer NOT NULL,
    start_l        numeric(16, 2),
    start_source   text CHECK (start_source IN ('pump', 'hand')),   -- the last fuelling's totalizer, or entered
    end_l          numeric(16, 2),
    PRIMARY KEY (shift_no, pump, fuelling_point, nozzle),
    CHECK ((start_l IS NULL) = (start_source IS NULL))
);
