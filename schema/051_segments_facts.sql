-- 051_segments_facts: the segmentation table. Filters over the contacts
-- read model scanned its whole 685 MB (1M contacts, jsonb and provenance
-- inline): 340 ms for a bare count on the shared 2-core machine
-- (tests/bench/bench_segments.c). contact_facts is a narrow, typed copy of
-- what filters read most, with the suppression flags precomputed, kept by
-- the segments projection (projections/proj_segments.c) for every contact
-- a batch touches: ~220 MB, half the time, and the emailable / callable
-- counts without a join. Filters on other contact fields join the full
-- row by key (PostgreSQL drops that join when a filter does not need it).
-- Only live contacts (not deleted, not merged) have a row.

CREATE TABLE rm_segments.contact_facts (
  tenant           text        NOT NULL,
  id               text        NOT NULL,
  email            text,
  email_domain     text,
  first_name       text,
  last_name        text,
  title            text,
  seniority        text,
  department       text,
  country          text,
  phone            text,
  account_id       text,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  email_suppressed boolean     NOT NULL,
  phone_suppressed boolean     NOT NULL,
  custom_fields    jsonb       NOT NULL,
  PRIMARY KEY (tenant, id)
);
CREATE INDEX contact_facts_seniority ON rm_segments.contact_facts (tenant, seniority);
CREATE INDEX contact_facts_department ON rm_segments.contact_facts (tenant, department);
CREATE INDEX contact_facts_country ON rm_segments.contact_facts (tenant, country);
CREATE INDEX contact_facts_email ON rm_segments.contact_facts (tenant, email);
CREATE INDEX contact_facts_domain ON rm_segments.contact_facts (tenant, email_domain);
CREATE INDEX contact_facts_account ON rm_segments.contact_facts (tenant, account_id);
CREATE INDEX contact_facts_created ON rm_segments.contact_facts (tenant, created_at);
-- contains / starts_with / ends_with compile to lower(x) LIKE lower($n)
CREATE INDEX contact_facts_title_trgm ON rm_segments.contact_facts
  USING gin (lower(title) gin_trgm_ops);

-- Brings the facts of contacts ids of tenant t up to date with the contacts
-- and suppressions read models: upserts the live ones, deletes the rest.
-- Unqualified contact_facts: the projection's search_path (the live schema
-- or a rebuild's shadow); plpgsql, whose body is not resolved at CREATE.
CREATE FUNCTION seg_lib.refresh_facts(t text, ids text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM contact_facts f WHERE f.tenant = t AND f.id = ANY (ids) AND NOT EXISTS (
    SELECT 1 FROM rm_contacts.contacts c WHERE c.tenant = t AND c.id = f.id
       AND NOT c.deleted AND c.merged_into IS NULL);
  INSERT INTO contact_facts (tenant, id, email, email_domain, first_name, last_name, title,
                             seniority, department, country, phone, account_id, created_at,
                             updated_at, email_suppressed, phone_suppressed, custom_fields)
  SELECT c.tenant, c.id, c.email, c.email_domain, c.first_name, c.last_name,
         c.fields->>'title', c.seniority, c.department, c.fields->>'country',
         c.fields->>'phone', c.account_id, c.created_at, c.updated_at,
         EXISTS (SELECT 1 FROM rm_suppressions.current s WHERE s.tenant = c.tenant
                    AND s.channel = 'email' AND s.value = c.email AND s.client_id = ''),
         EXISTS (SELECT 1 FROM rm_suppressions.current s WHERE s.tenant = c.tenant
                    AND s.channel = 'phone' AND s.value = (c.fields->>'phone')
                    AND s.client_id = ''),
         c.custom_fields
    FROM rm_contacts.contacts c
   WHERE c.tenant = t AND c.id = ANY (ids) AND NOT c.deleted AND c.merged_into IS NULL
  ON CONFLICT (tenant, id) DO UPDATE SET
    email = excluded.email, email_domain = excluded.email_domain,
    first_name = excluded.first_name, last_name = excluded.last_name, title = excluded.title,
    seniority = excluded.seniority, department = excluded.department,
    country = excluded.country, phone = excluded.phone, account_id = excluded.account_id,
    created_at = excluded.created_at, updated_at = excluded.updated_at,
    email_suppressed = excluded.email_suppressed, phone_suppressed = excluded.phone_suppressed,
    custom_fields = excluded.custom_fields;
END
$$;

-- A value as a number, NULL when it is not one: JSON numbers directly,
-- strings only when they read as a number. (The catalogue spells the same
-- CASE out inline: a function call per row cost 270 ms over 1M rows where
-- the planner would not inline it.)
CREATE FUNCTION seg_lib.jnum(v jsonb) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE jsonb_typeof(v)
    WHEN 'number' THEN (v #>> '{}')::numeric
    WHEN 'string' THEN seg_lib.num(v #>> '{}') END
$$;
