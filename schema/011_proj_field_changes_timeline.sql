-- 011_proj_field_changes_timeline: the audit trail of field changes and
-- the activity timeline of accounts and contacts (projections/
-- proj_directory.c, docs/read-models.md). Folds in rm_lib as in 010.
--
-- Payloads reach the folds through cat_payload_json, which redacts every
-- field flagged SECRET in schema/events.def: no secret is ever stored here.

CREATE SCHEMA rm_field_changes;
CREATE SCHEMA rm_timeline;

-- One row per field change. entity is "account", "contact" or
-- "custom_field"; pseudo-fields record what is not a field: deleted,
-- merged_into, identifiers, alternate_domains, definition.
CREATE TABLE rm_field_changes.changes (
  position    bigint      NOT NULL,
  seq         integer     NOT NULL,
  tenant      text        NOT NULL,
  entity      text        NOT NULL,
  entity_id   text        NOT NULL,
  field       text        NOT NULL,
  old_value   jsonb,
  new_value   jsonb,
  source      text,
  priority    integer,
  observed_at text,
  actor       text        NOT NULL,
  ts          timestamptz NOT NULL,
  event_type  text        NOT NULL,
  PRIMARY KEY (position, seq)
);
CREATE INDEX changes_entity ON rm_field_changes.changes (tenant, entity, entity_id, position, seq);
CREATE INDEX changes_actor ON rm_field_changes.changes (tenant, actor, position, seq);

-- One row per event an entity's history shows.
CREATE TABLE rm_timeline.entries (
  tenant     text        NOT NULL,
  entity     text        NOT NULL,
  entity_id  text        NOT NULL,
  position   bigint      NOT NULL,
  ts         timestamptz NOT NULL,
  kind       text        NOT NULL,
  event_type text        NOT NULL,
  actor      text        NOT NULL,
  detail     jsonb       NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant, entity, entity_id, position)
);

-- The changes one event makes, as rows (seq: the change's place in the
-- event; pseudo-fields from 1001).
CREATE FUNCTION rm_lib.event_changes(ev jsonb)
RETURNS TABLE (seq integer, field text, old_value jsonb, new_value jsonb, source text,
               priority integer, observed_at text)
LANGUAGE sql IMMUTABLE AS $$
  SELECT o::integer, ch->>'field', ch->'old', ch->'new', ch->>'source',
         (ch->>'priority')::integer, rm_lib.us_text(ch->'observed_at') #>> '{}'
    FROM jsonb_array_elements(coalesce(ev->'d'->'changes', '[]')) WITH ORDINALITY c(ch, o)
  UNION ALL
  SELECT 1001, 'deleted', to_jsonb(ev->>'y' LIKE '%.restored'), to_jsonb(ev->>'y' LIKE '%.deleted'),
         NULL, NULL, NULL
   WHERE ev->>'y' IN ('account.deleted', 'account.restored', 'contact.deleted', 'contact.restored')
  UNION ALL
  SELECT 1002, 'merged_into',
         CASE WHEN ev->>'y' = 'contact.unmerged' THEN ev->'d'->'winner_id' ELSE 'null' END,
         CASE WHEN ev->>'y' = 'contact.merged_into' THEN ev->'d'->'winner_id' ELSE 'null' END,
         NULL, NULL, NULL
   WHERE ev->>'y' IN ('contact.merged_into', 'contact.unmerged')
  UNION ALL
  SELECT 1003, 'identifiers', 'null', ev->'d'->'identifiers_added', NULL, NULL, NULL
   WHERE jsonb_array_length(coalesce(ev->'d'->'identifiers_added', '[]')) > 0
  UNION ALL
  SELECT 1004, 'identifiers', ev->'d'->'identifiers_removed', 'null', NULL, NULL, NULL
   WHERE jsonb_array_length(coalesce(ev->'d'->'identifiers_removed', '[]')) > 0
  UNION ALL
  SELECT 1005, 'alternate_domains', 'null', ev->'d'->'alternate_domains_added', NULL, NULL, NULL
   WHERE jsonb_array_length(coalesce(ev->'d'->'alternate_domains_added', '[]')) > 0
  UNION ALL
  SELECT 1006, 'alternate_domains', ev->'d'->'alternate_domains_removed', 'null', NULL, NULL, NULL
   WHERE jsonb_array_length(coalesce(ev->'d'->'alternate_domains_removed', '[]')) > 0
  UNION ALL
  SELECT 1007, 'definition', 'null', (ev->'d') - 'entity' - 'name', NULL, NULL, NULL
   WHERE ev->>'y' = 'custom_field.defined'
$$;

CREATE FUNCTION rm_lib.fold_field_changes(batch jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO changes (position, seq, tenant, entity, entity_id, field, old_value, new_value,
                       source, priority, observed_at, actor, ts, event_type)
  SELECT (ev->>'p')::bigint, x.seq, ev->>'t',
         CASE WHEN ev->>'y' = 'custom_field.defined' THEN 'custom_field'
              ELSE split_part(ev->>'s', '-', 1) END,
         CASE WHEN ev->>'y' = 'custom_field.defined'
              THEN (ev->'d'->>'entity') || '.' || (ev->'d'->>'name')
              ELSE rm_lib.stream_id(ev->>'s') END,
         x.field, x.old_value, x.new_value,
         coalesce(x.source, ev->'d'->>'source'), x.priority, x.observed_at,
         ev->>'a', (ev->>'ts')::timestamptz, ev->>'y'
    FROM jsonb_array_elements(batch) e(ev)
   CROSS JOIN LATERAL rm_lib.event_changes(ev) x;
END
$$;

-- The timeline entry of one event: (entity, entity id, kind, detail).
CREATE FUNCTION rm_lib.timeline_entry(ev jsonb)
RETURNS TABLE (entity text, entity_id text, kind text, detail jsonb)
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN ev->>'y' = 'note.added' THEN split_part(ev->'d'->>'subject', '-', 1)
              ELSE split_part(ev->>'s', '-', 1) END,
         CASE WHEN ev->>'y' = 'note.added' THEN rm_lib.stream_id(ev->'d'->>'subject')
              ELSE rm_lib.stream_id(ev->>'s') END,
         CASE ev->>'y'
           WHEN 'note.added' THEN 'note'
           WHEN 'contact.merged' THEN 'merged'
           WHEN 'contact.merged_into' THEN 'merged_into'
           WHEN 'contact.merge_undone' THEN 'unmerged'
           WHEN 'contact.unmerged' THEN 'unmerged'
           ELSE split_part(ev->>'y', '.', 2) END,
         jsonb_strip_nulls(jsonb_build_object(
           'source', ev->'d'->'source',
           'fields', (SELECT jsonb_agg(ch->'field')
                        FROM jsonb_array_elements(coalesce(ev->'d'->'changes', '[]')) c(ch)),
           'other_id', coalesce(ev->'d'->'loser_id', ev->'d'->'winner_id'),
           'text', CASE WHEN ev->>'y' = 'note.added' THEN ev->'d'->'text' END))
$$;

CREATE FUNCTION rm_lib.fold_timeline(batch jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO entries (tenant, entity, entity_id, position, ts, kind, event_type, actor, detail)
  SELECT ev->>'t', x.entity, x.entity_id, (ev->>'p')::bigint, (ev->>'ts')::timestamptz,
         x.kind, ev->>'y', ev->>'a', x.detail
    FROM jsonb_array_elements(batch) e(ev)
   CROSS JOIN LATERAL rm_lib.timeline_entry(ev) x
   WHERE ev->>'y' <> 'custom_field.defined'
     AND x.entity <> '' AND x.entity_id <> '';
END
$$;
