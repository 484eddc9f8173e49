-- Excel exports: one row per export job, its progress, and the finished file (business_services/exports).
CREATE TABLE business.export_jobs (
    id          uuid PRIMARY KEY,
    owner       text NOT NULL,                       -- the user who asked; only they may fetch the file
    request_id  text,                                -- the client's id of the request: a retried POST finds its job
    kind        text NOT NULL,                       -- e.g. audit
    filters     jsonb NOT NULL,
    scope       text[],                              -- the owner's stations when asked (NULL: all)
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    done        integer NOT NULL DEFAULT 0,
    total       integer,
    file        bytea,
    error       text,
    created     timestamptz NOT NULL DEFAULT now(),
    updated     timestamptz NOT NULL DEFAULT now(),   -- a running job touches it; a stale one was interrupted
    UNIQUE (owner, request_id)
);
CREATE INDEX export_jobs_created ON business.export_jobs (created);
