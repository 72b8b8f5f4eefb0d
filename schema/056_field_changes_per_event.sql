-- 056_field_changes_per_event: the audit trail of field changes holds ONE
-- ROW PER EVENT, its changes as one jsonb array (issue 5's import
-- benchmark).
--
-- rm_field_changes.changes (schema/011) had one row per changed field: a
-- 100k-contact import wrote 1.34M rows, and maintaining the index
-- (tenant, entity, entity_id, position, seq) over random entity ids was
-- most of the fold's cost (a plain COPY of those rows: 15.2 s with every
-- index, 6.0 s without that one, 3.6 s with none). One row per event is
-- ~8x fewer rows and index entries.
--
-- rm_field_changes.events: the event's envelope columns as before
-- (tenant, entity, entity_id, actor, ts, event_type), source (the
-- payload's; nothing reads it but the history it tells), and changes: an
-- array of objects in seq order, one per change including the
-- pseudo-fields (seq from 1001), with the keys
--   seq, field, old, new, source, priority, observed_at
-- holding what the old table's columns held (source already the change's
-- or else the payload's). A key whose column would be SQL NULL is left
-- out; a JSON null old or new value is the key with null. An event without
-- changes has no row.
--
-- rm_lib.field_changes() expands the rows into exactly the old table's
-- columns, in its order; the API's audit routes and the tests read it. It
-- is LANGUAGE sql with a string body, inlined by the planner (so the
-- callers' conditions on tenant, entity, entity_id, actor and position
-- reach the indexes) and bound to no table: `pivotal rebuild
-- field_changes` swaps the schema under it (a view inside rm_field_changes
-- would not survive the swap: pivotal.clone_read_model clones tables).
-- ch->'old' tells a missing key (SQL NULL) from a JSON null; jsonb_to_
-- recordset would not (it reads both as SQL NULL).
--
-- rm_lib.fold_field_changes (schema/011) still inserts the old shape into
-- a table named `changes` on its search_path: tests/proj/test_proj_trail.c
-- keeps it as the reference, folding into a scratch table of that shape.

CREATE TABLE rm_field_changes.events (
  position   bigint      PRIMARY KEY,
  tenant     text        NOT NULL,
  entity     text        NOT NULL,
  entity_id  text        NOT NULL,
  source     text,
  actor      text        NOT NULL,
  ts         timestamptz NOT NULL,
  event_type text        NOT NULL,
  changes    jsonb       NOT NULL
);
CREATE INDEX events_entity ON rm_field_changes.events (tenant, entity, entity_id, position);
CREATE INDEX events_actor ON rm_field_changes.events (tenant, actor, position);

-- The existing rows, grouped by event. The payload's source is not kept
-- by the old rows: a pseudo-field row has it, else the source every row of
-- the event shares, else NULL.
INSERT INTO rm_field_changes.events
       (position, tenant, entity, entity_id, source, actor, ts, event_type, changes)
SELECT position, min(tenant), min(entity), min(entity_id),
       coalesce((array_agg(source ORDER BY seq) FILTER (WHERE seq > 1000))[1],
                CASE WHEN count(DISTINCT source) = 1 AND count(source) = count(*)
                     THEN min(source) END),
       min(actor), min(ts), min(event_type),
       jsonb_agg(jsonb_build_object('seq', seq, 'field', field)
                 || CASE WHEN old_value IS NULL THEN '{}'
                         ELSE jsonb_build_object('old', old_value) END
                 || CASE WHEN new_value IS NULL THEN '{}'
                         ELSE jsonb_build_object('new', new_value) END
                 || CASE WHEN source IS NULL THEN '{}'
                         ELSE jsonb_build_object('source', source) END
                 || CASE WHEN priority IS NULL THEN '{}'
                         ELSE jsonb_build_object('priority', priority) END
                 || CASE WHEN observed_at IS NULL THEN '{}'
                         ELSE jsonb_build_object('observed_at', observed_at) END
                 ORDER BY seq)
  FROM rm_field_changes.changes
 GROUP BY position;

DROP TABLE rm_field_changes.changes;

CREATE FUNCTION rm_lib.field_changes()
RETURNS TABLE ("position" bigint, seq integer, tenant text, entity text, entity_id text,
               field text, old_value jsonb, new_value jsonb, source text, priority integer,
               observed_at text, actor text, ts timestamptz, event_type text)
LANGUAGE sql STABLE AS $$
  SELECT e.position, (c.ch->>'seq')::integer, e.tenant, e.entity, e.entity_id,
         c.ch->>'field', c.ch->'old', c.ch->'new', c.ch->>'source',
         (c.ch->>'priority')::integer, c.ch->>'observed_at', e.actor, e.ts, e.event_type
    FROM rm_field_changes.events e
   CROSS JOIN LATERAL jsonb_array_elements(e.changes) c(ch)
$$;
