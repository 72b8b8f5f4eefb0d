-- 001_core: the `pivotal` schema and what the projection engine needs
-- before any read model exists.

CREATE SCHEMA IF NOT EXISTS pivotal;

-- One row per projection: the last log position folded into its read
-- model, written in the same transaction as the rows it covers and moved
-- only by a fenced UPDATE (... WHERE name = $1 AND position = $old).
CREATE TABLE pivotal.proj_checkpoint (
  name       text PRIMARY KEY,
  position   bigint NOT NULL,
  updated_at timestamptz
);
