-- 002_proj_event_counts: the event_counts read model (projections/
-- proj_event_counts.c): events per (tenant, type). One schema per
-- projection, so that `pivotal rebuild` swaps a read model by renaming.

CREATE SCHEMA rm_event_counts;

CREATE TABLE rm_event_counts.counts (
  tenant text   NOT NULL,
  type   text   NOT NULL,
  n      bigint NOT NULL,
  PRIMARY KEY (tenant, type)
);

-- No checkpoint row here: the engine makes it at 0 the first time it runs
-- this projection (and a rebuild's swap sets it).
