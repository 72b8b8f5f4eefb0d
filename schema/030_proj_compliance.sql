-- 030_proj_compliance: the read models of issue 7 (projections/
-- proj_suppressions.c, proj_leads.c, proj_orders.c, proj_lead_downloads.c):
-- suppressions (current state and history), leads (QA state per lead),
-- orders (with their linked campaigns) and lead downloads. One schema per
-- projection, as rebuild clones a projection's tables from its schema.
-- An empty client_id means "none" (a global suppression, a lead without an
-- order), so that primary keys need no NULL handling.

CREATE SCHEMA rm_suppressions;

-- What is suppressed now: one row per (value, scope).
CREATE TABLE rm_suppressions.current (
  tenant    text        NOT NULL,
  channel   text        NOT NULL,
  value     text        NOT NULL,  -- normalized
  client_id text        NOT NULL,  -- '' = global (tenant-wide)
  raw       text        NOT NULL,  -- as entered ('' when unknown)
  reason    text        NOT NULL,
  source    text        NOT NULL,
  at        timestamptz NOT NULL,  -- when it was asked for
  actor     text        NOT NULL,
  position  bigint      NOT NULL,  -- the suppression.added event
  PRIMARY KEY (tenant, channel, value, client_id)
);
-- The list pages newest first by position (keyset).
CREATE UNIQUE INDEX current_by_position ON rm_suppressions.current (tenant, position);

-- Every addition and removal, in log order.
CREATE TABLE rm_suppressions.history (
  position  bigint      PRIMARY KEY,
  tenant    text        NOT NULL,
  channel   text        NOT NULL,
  value     text        NOT NULL,
  client_id text        NOT NULL,
  action    text        NOT NULL,  -- 'added' | 'removed'
  reason    text        NOT NULL,
  source    text        NOT NULL,  -- '' for a removal
  at        timestamptz NOT NULL,
  actor     text        NOT NULL
);
CREATE INDEX history_value ON rm_suppressions.history (tenant, channel, value, position);

CREATE SCHEMA rm_leads;

CREATE TABLE rm_leads.leads (
  tenant            text        NOT NULL,
  lead_id           text        NOT NULL,
  contact_id        text        NOT NULL,
  campaign_id       text        NOT NULL,
  order_id          text        NOT NULL,  -- '' = none
  client_id         text        NOT NULL,  -- the order's client, '' = none
  email             text        NOT NULL,  -- normalized, '' = none
  email_domain      text        NOT NULL,
  phone             text        NOT NULL,
  status            text        NOT NULL,
  reviewer          text        NOT NULL DEFAULT '',
  flags             text[]      NOT NULL DEFAULT '{}',
  reject_reason     text        NOT NULL DEFAULT '',
  answers           jsonb       NOT NULL DEFAULT '{}',
  created_at        timestamptz NOT NULL,
  review_started_at timestamptz,
  approved_at       timestamptz,
  rejected_at       timestamptz,
  reopened_at       timestamptz,
  published_at      timestamptz,
  updated_at        timestamptz NOT NULL,
  version           bigint      NOT NULL,  -- of the lead's stream
  position          bigint      NOT NULL,  -- its last event
  PRIMARY KEY (tenant, lead_id)
);
CREATE INDEX leads_status ON rm_leads.leads (tenant, status, created_at);
CREATE INDEX leads_order ON rm_leads.leads (tenant, order_id, status);
CREATE INDEX leads_campaign ON rm_leads.leads (tenant, campaign_id);
CREATE INDEX leads_reviewer ON rm_leads.leads (tenant, reviewer);

CREATE SCHEMA rm_orders;

CREATE TABLE rm_orders.orders (
  tenant      text        NOT NULL,
  order_id    text        NOT NULL,
  client_id   text        NOT NULL,
  name        text        NOT NULL,
  type        text        NOT NULL,
  status      text        NOT NULL,
  audience    jsonb       NOT NULL,
  assets      jsonb       NOT NULL,
  goals       jsonb       NOT NULL,
  lead_target bigint      NOT NULL,
  start_date  date        NOT NULL,
  end_date    date        NOT NULL,
  pacing      text        NOT NULL,
  domain_cap  integer     NOT NULL,
  created_by  text        NOT NULL,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  version     bigint      NOT NULL,
  position    bigint      NOT NULL,
  PRIMARY KEY (tenant, order_id)
);
CREATE INDEX orders_client ON rm_orders.orders (tenant, client_id, order_id);

CREATE TABLE rm_orders.order_campaigns (
  tenant      text        NOT NULL,
  order_id    text        NOT NULL,
  campaign_id text        NOT NULL,
  linked_at   timestamptz NOT NULL,
  PRIMARY KEY (tenant, order_id, campaign_id)
);

CREATE SCHEMA rm_lead_downloads;

CREATE TABLE rm_lead_downloads.downloads (
  tenant        text        NOT NULL,
  download_id   text        NOT NULL,
  order_id      text        NOT NULL,
  client_id     text        NOT NULL,
  actor         text        NOT NULL,
  at            timestamptz NOT NULL,
  lead_count    bigint      NOT NULL,
  lead_ids      jsonb       NOT NULL,  -- sorted
  manifest_hash text        NOT NULL,  -- hex BLAKE2b-256 over the sorted ids
  position      bigint      NOT NULL,
  PRIMARY KEY (tenant, download_id)
);
CREATE INDEX downloads_order ON rm_lead_downloads.downloads (tenant, order_id, at);
