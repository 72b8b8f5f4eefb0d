-- 050_proj_segments: segments (dynamic audiences), their members, static
-- lists and their members, saved filters (projections/proj_segments.c,
-- docs/segments.md). One schema, rm_segments, swapped by a rebuild; the
-- helpers the filter compiler's SQL calls live in seg_lib (no tables).

CREATE SCHEMA seg_lib;

CREATE TYPE seg_lib.visibility_scope AS ENUM ('private', 'team', 'global');
-- domain_set: a list made from a domain set (branch dsets8's conversion).
CREATE TYPE seg_lib.source_type AS ENUM ('segment', 'manual_upload', 'selection', 'filter',
                                         'domain_set');

-- A custom field's text as a number, NULL when it is not one (a filter
-- must never fail on a stored value). The exponent is bounded so that the
-- cast cannot overflow numeric.
CREATE FUNCTION seg_lib.num(t text) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN t ~ '^\s*-?[0-9]{1,30}(\.[0-9]{1,30})?([eE][-+]?[0-9]{1,3})?\s*$'
              THEN t::numeric END
$$;

-- A custom field's text as a timestamp, NULL when it is not one. STABLE:
-- a date without a zone is read in the session's TimeZone.
CREATE FUNCTION seg_lib.ts(t text) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF t IS NULL OR t !~ '^\d{4}-\d{2}-\d{2}' THEN RETURN NULL; END IF;
  RETURN t::timestamptz;
EXCEPTION WHEN others THEN
  RETURN NULL;
END
$$;

CREATE SCHEMA rm_segments;

-- Who may read a row (enforced by every query of the API):
--   private: owner only; team: users whose team (their role, see
--   docs/segments.md) equals `team`; global: every staff user.
CREATE TABLE rm_segments.segments (
  tenant              text                     NOT NULL,
  id                  text                     NOT NULL,
  entity_type         text                     NOT NULL,  -- 'contact' | 'account'
  name                text                     NOT NULL,
  filter              jsonb                    NOT NULL,
  tags                text[]                   NOT NULL DEFAULT '{}',
  visibility          seg_lib.visibility_scope NOT NULL,
  team                text                     NOT NULL,
  owner               text                     NOT NULL,  -- user id
  is_active           boolean                  NOT NULL,
  deleted             boolean                  NOT NULL DEFAULT false,
  record_count_cache  bigint                   NOT NULL DEFAULT 0,
  emailable_count     bigint                   NOT NULL DEFAULT 0,
  callable_count      bigint                   NOT NULL DEFAULT 0,
  last_refreshed_at   timestamptz,
  version             bigint                   NOT NULL,
  created_position    bigint                   NOT NULL,
  updated_position    bigint                   NOT NULL,
  created_at          timestamptz              NOT NULL,
  updated_at          timestamptz              NOT NULL,
  PRIMARY KEY (tenant, id)
);
CREATE INDEX segments_list ON rm_segments.segments (tenant, created_position, id);

-- The members of each active segment, kept by the projection: a full
-- evaluation when the segment is created, changed or refreshed, and the
-- changed records only when contacts, accounts, lists or suppressions change.
CREATE TABLE rm_segments.members (
  tenant     text NOT NULL,
  segment_id text NOT NULL,
  entity_id  text NOT NULL,
  PRIMARY KEY (tenant, segment_id, entity_id)
);
CREATE INDEX members_entity ON rm_segments.members (tenant, entity_id);

CREATE TABLE rm_segments.lists (
  tenant            text                     NOT NULL,
  id                text                     NOT NULL,
  entity_type       text                     NOT NULL,  -- 'contact' | 'account'
  name              text                     NOT NULL,
  tags              text[]                   NOT NULL DEFAULT '{}',
  visibility        seg_lib.visibility_scope NOT NULL,
  team              text                     NOT NULL,
  owner             text                     NOT NULL,
  source_type       seg_lib.source_type      NOT NULL,
  source_ref        text,
  filter            jsonb,                   -- the snapshot's filter (segment, filter)
  snapshot_position bigint,                  -- contacts/accounts checkpoint it was taken at
  snapshot_ts       timestamptz,
  member_count      bigint                   NOT NULL DEFAULT 0,
  deleted           boolean                  NOT NULL DEFAULT false,
  version           bigint                   NOT NULL,
  created_position  bigint                   NOT NULL,
  updated_position  bigint                   NOT NULL,
  created_at        timestamptz              NOT NULL,
  updated_at        timestamptz              NOT NULL,
  PRIMARY KEY (tenant, id)
);
CREATE INDEX lists_list ON rm_segments.lists (tenant, created_position, id);

CREATE TABLE rm_segments.list_members (
  tenant    text   NOT NULL,
  list_id   text   NOT NULL,
  record_id text   NOT NULL,
  position  bigint NOT NULL,  -- the event that added it
  PRIMARY KEY (tenant, list_id, record_id)
);
CREATE INDEX list_members_record ON rm_segments.list_members (tenant, record_id);

CREATE TABLE rm_segments.filters (
  tenant      text                     NOT NULL,
  id          text                     NOT NULL,
  name        text                     NOT NULL,
  entity_type text                     NOT NULL,
  filter      jsonb                    NOT NULL,
  visibility  seg_lib.visibility_scope NOT NULL,
  team        text                     NOT NULL,
  owner       text                     NOT NULL,
  deleted     boolean                  NOT NULL DEFAULT false,
  position    bigint                   NOT NULL,
  created_at  timestamptz              NOT NULL,
  PRIMARY KEY (tenant, id)
);
CREATE INDEX filters_list ON rm_segments.filters (tenant, position, id);
