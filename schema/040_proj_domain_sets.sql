-- 040_proj_domain_sets: the domain_sets read model (projections/
-- proj_domain_sets.c, issue 8): domain sets, their items with the current
-- run's match, and their audience links. GET /api/domain-sets/:id and
-- /items read here; the report is counted from the items, so an item
-- included or excluded shows at once.

CREATE SCHEMA rm_domain_sets;

CREATE TABLE rm_domain_sets.sets (
  tenant         text        NOT NULL,
  set_id         text        NOT NULL,
  name           text        NOT NULL,
  file_name      text,
  format         text        NOT NULL,
  size_bytes     bigint      NOT NULL,
  rows           bigint      NOT NULL,
  header         boolean     NOT NULL,
  item_count     bigint      NOT NULL,
  duplicates     bigint      NOT NULL,
  client_id      text,
  status         text        NOT NULL,
  run            bigint      NOT NULL,
  error          text,
  report         jsonb,
  index_position bigint,
  archived       boolean     NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  PRIMARY KEY (tenant, set_id)
);

CREATE TABLE rm_domain_sets.items (
  tenant               text    NOT NULL,
  set_id               text    NOT NULL,
  n                    integer NOT NULL,
  row_number           integer NOT NULL,
  original             text    NOT NULL,
  repaired             text    NOT NULL,
  repairs              text[]  NOT NULL,
  valid                boolean NOT NULL,
  invalid_reason       text    NOT NULL,
  domain               text    NOT NULL,
  registrable          text    NOT NULL,
  account_name         text    NOT NULL,
  notes                text    NOT NULL,
  dup_count            integer NOT NULL,
  excluded             boolean NOT NULL DEFAULT false,
  exclude_reason       text,
  match                text    NOT NULL DEFAULT 'none',
  rule                 text    NOT NULL DEFAULT 'none',
  account_id           text,
  confidence           numeric(3,2) NOT NULL DEFAULT 0,
  contacts             integer NOT NULL DEFAULT 0,
  runner_up_account_id text,
  runner_up_confidence numeric(3,2),
  PRIMARY KEY (tenant, set_id, n)
);

-- ?match= filters with keyset pagination on n.
CREATE INDEX items_match ON rm_domain_sets.items (tenant, set_id, match, n);

CREATE TABLE rm_domain_sets.links (
  tenant      text NOT NULL,
  set_id      text NOT NULL,
  target_type text NOT NULL,
  target_id   text NOT NULL,
  linked_at   timestamptz NOT NULL,
  PRIMARY KEY (tenant, set_id, target_type, target_id)
);

CREATE TABLE rm_domain_sets.stubs (
  tenant     text    NOT NULL,
  set_id     text    NOT NULL,
  n          integer NOT NULL,
  account_id text    NOT NULL,
  PRIMARY KEY (tenant, set_id, n)
);
