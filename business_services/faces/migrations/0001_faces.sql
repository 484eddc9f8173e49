-- The face gallery (business_services/faces, docs/vision.md "Faces"). One row per enrolled face: the embedding
-- (not the photo, unless FORECOURT_FACES_KEEP_PHOTOS), the embedder that made it, and the person's consent
-- (who gave it, when, how, which consent text). Deleting a person deletes their rows: nothing else holds face data.
-- The server here has no pgvector, so the embedding is a float array and the API keeps an in-memory index
-- rebuilt from this table (vision/faces/index.py).
CREATE TABLE business.face_enrolments (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person                text NOT NULL,                       -- the member number
    embedding             real[] NOT NULL,
    embedder              text NOT NULL,
    photo                 bytea,                               -- only when the installation keeps photos
    consent_by            text NOT NULL,                       -- who consented (the person, or their guardian)
    consent_at            timestamptz NOT NULL,
    consent_method        text NOT NULL CHECK (consent_method IN ('terminal', 'app', 'paper', 'counter')),
    consent_text_version  text NOT NULL,
    idempotency_key       text NOT NULL UNIQUE,
    enrolled_by           text NOT NULL,
    enrolled_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX face_enrolments_person ON business.face_enrolments (person);
