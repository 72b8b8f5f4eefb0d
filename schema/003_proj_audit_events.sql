-- 003_proj_audit_events: the audit_events read model (projections/
-- proj_audit_events.c): every event of the log, payload as jsonb, for the
-- audit trail and an entity's or a user's timeline.

CREATE SCHEMA rm_audit_events;

CREATE TABLE rm_audit_events.events (
  position       bigint      PRIMARY KEY,
  ts             timestamptz NOT NULL,
  tenant         text        NOT NULL,
  stream         text        NOT NULL,
  stream_version bigint      NOT NULL,
  type           text        NOT NULL,
  type_version   integer     NOT NULL,
  actor          text        NOT NULL,
  correlation    text        NOT NULL,
  payload        jsonb       NOT NULL
);

-- An entity's timeline, and what one user did, in log order.
CREATE INDEX events_stream ON rm_audit_events.events (tenant, stream, position);
CREATE INDEX events_actor ON rm_audit_events.events (tenant, actor, position);

-- No checkpoint row here: the engine makes it at 0 the first time it runs
-- this projection (and a rebuild's swap sets it).
