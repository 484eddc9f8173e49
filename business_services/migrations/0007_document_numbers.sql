-- Document numbers (business_services/numbers.py): one counter per station, kind and station-local day.
CREATE TABLE business.document_counters (
    station  text NOT NULL,
    kind     text NOT NULL,          -- the number's letter: O order, P payment, R refund, S shift
    day      date NOT NULL,
    last     integer NOT NULL,
    PRIMARY KEY (station, kind, day)
);
