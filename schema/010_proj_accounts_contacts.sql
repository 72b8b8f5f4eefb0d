-- 010_proj_accounts_contacts: the accounts and contacts read models
-- (projections/proj_directory.c, docs/read-models.md).
--
-- Each read model is one schema (rm_accounts, rm_contacts) so a rebuild
-- swaps it by renaming. The folds are PL/pgSQL functions in rm_lib, called
-- once per batch with the batch's events as one jsonb array; they use
-- unqualified table names, resolved through the search_path the engine
-- sets (the live schema, or a rebuild's shadow). rm_lib holds no tables.
--
-- A field's value lives in `fields` (jsonb: field -> value as the event
-- carried it) and its provenance in `provenance` (field -> {source,
-- priority, observed_at}); the typed columns the filters, sorts and
-- indexes use are generated from `fields`.

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE SCHEMA rm_lib;
CREATE SCHEMA rm_accounts;
CREATE SCHEMA rm_contacts;

CREATE TABLE rm_accounts.accounts (
  tenant               text        NOT NULL,
  id                   text        NOT NULL,
  fields               jsonb       NOT NULL DEFAULT '{}',
  custom_fields        jsonb       NOT NULL DEFAULT '{}',
  provenance           jsonb       NOT NULL DEFAULT '{}',
  alternate_domains    text[]      NOT NULL DEFAULT '{}',
  name                 text        GENERATED ALWAYS AS (fields->>'name') STORED,
  domain               text        GENERATED ALWAYS AS (fields->>'domain') STORED,
  industry             text        GENERATED ALWAYS AS (fields->>'industry') STORED,
  parent_id            text        GENERATED ALWAYS AS (fields->>'parent_id') STORED,
  search               text        GENERATED ALWAYS AS
                         (lower(coalesce(fields->>'name', '') || ' ' ||
                                coalesce(fields->>'domain', ''))) STORED,
  deleted              boolean     NOT NULL DEFAULT false,
  contact_count        bigint      NOT NULL DEFAULT 0,
  rollup_contact_count bigint      NOT NULL DEFAULT 0,
  version              bigint      NOT NULL,
  created_position     bigint      NOT NULL,
  updated_position     bigint      NOT NULL,
  created_at           timestamptz NOT NULL,
  updated_at           timestamptz NOT NULL,
  PRIMARY KEY (tenant, id)
);
-- The list's sorts (keyset: key then id) and filters.
CREATE INDEX accounts_name ON rm_accounts.accounts (tenant, (coalesce(name, '')), id);
CREATE INDEX accounts_domain ON rm_accounts.accounts (tenant, domain);
CREATE INDEX accounts_alt_domains ON rm_accounts.accounts USING gin (alternate_domains);
CREATE INDEX accounts_created ON rm_accounts.accounts (tenant, created_position, id);
CREATE INDEX accounts_updated ON rm_accounts.accounts (tenant, updated_position, id);
CREATE INDEX accounts_parent ON rm_accounts.accounts (tenant, parent_id, id);
CREATE INDEX accounts_industry ON rm_accounts.accounts (tenant, industry, id);
CREATE INDEX accounts_search ON rm_accounts.accounts USING gin (search gin_trgm_ops);

-- Which account each contact counts for (the rollups' input): live is
-- false while the contact is deleted or merged into another.
CREATE TABLE rm_accounts.contact_links (
  tenant     text    NOT NULL,
  contact_id text    NOT NULL,
  account_id text,
  deleted    boolean NOT NULL DEFAULT false,
  merged     boolean NOT NULL DEFAULT false,
  PRIMARY KEY (tenant, contact_id)
);
CREATE INDEX contact_links_account ON rm_accounts.contact_links (tenant, account_id);

CREATE TABLE rm_contacts.contacts (
  tenant           text        NOT NULL,
  id               text        NOT NULL,
  fields           jsonb       NOT NULL DEFAULT '{}',
  custom_fields    jsonb       NOT NULL DEFAULT '{}',
  provenance       jsonb       NOT NULL DEFAULT '{}',
  emails           text[]      NOT NULL DEFAULT '{}',
  external_ids     text[]      NOT NULL DEFAULT '{}',
  phones           text[]      NOT NULL DEFAULT '{}',
  email            text        GENERATED ALWAYS AS (fields->>'email') STORED,
  email_domain     text        GENERATED ALWAYS AS
                     (nullif(split_part(fields->>'email', '@', 2), '')) STORED,
  first_name       text        GENERATED ALWAYS AS (fields->>'first_name') STORED,
  last_name        text        GENERATED ALWAYS AS (fields->>'last_name') STORED,
  seniority        text        GENERATED ALWAYS AS (fields->>'seniority') STORED,
  department       text        GENERATED ALWAYS AS (fields->>'department') STORED,
  account_id       text        GENERATED ALWAYS AS (fields->>'account_id') STORED,
  search           text        GENERATED ALWAYS AS
                     (lower(coalesce(fields->>'first_name', '') || ' ' ||
                            coalesce(fields->>'last_name', '') || ' ' ||
                            coalesce(fields->>'email', ''))) STORED,
  deleted          boolean     NOT NULL DEFAULT false,
  merged_into      text,
  version          bigint      NOT NULL,
  created_position bigint      NOT NULL,
  updated_position bigint      NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  PRIMARY KEY (tenant, id)
);
CREATE INDEX contacts_email ON rm_contacts.contacts (tenant, (coalesce(email, '')), id);
CREATE INDEX contacts_last_name ON rm_contacts.contacts (tenant, (coalesce(last_name, '')), id);
CREATE INDEX contacts_first_name ON rm_contacts.contacts (tenant, (coalesce(first_name, '')), id);
CREATE INDEX contacts_created ON rm_contacts.contacts (tenant, created_position, id);
CREATE INDEX contacts_updated ON rm_contacts.contacts (tenant, updated_position, id);
CREATE INDEX contacts_account ON rm_contacts.contacts (tenant, account_id, id);
CREATE INDEX contacts_domain ON rm_contacts.contacts (tenant, email_domain);
CREATE INDEX contacts_seniority ON rm_contacts.contacts (tenant, seniority);
CREATE INDEX contacts_department ON rm_contacts.contacts (tenant, department);
CREATE INDEX contacts_emails ON rm_contacts.contacts USING gin (emails);
CREATE INDEX contacts_search ON rm_contacts.contacts USING gin (search gin_trgm_ops);

-- ---- shared helpers ------------------------------------------------------

-- µs since the epoch as RFC 3339 UTC text, whatever the session's TimeZone
-- (a rebuild must give the same text as the live fold).
CREATE FUNCTION rm_lib.us_text(us jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN us IS NULL OR jsonb_typeof(us) <> 'number' THEN NULL
    ELSE to_jsonb(to_char(to_timestamp((us)::text::float8 / 1e6) AT TIME ZONE 'UTC',
                          'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) END
$$;

-- The provenance of a change's new value, or NULL when it has none.
CREATE FUNCTION rm_lib.change_prov(ch jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN ch ? 'source' THEN jsonb_build_object(
    'source', ch->'source', 'priority', ch->'priority',
    'observed_at', rm_lib.us_text(ch->'observed_at')) END
$$;

-- Applies a `changes` array to (fields, custom_fields, provenance): a
-- "custom_fields.NAME" field goes to custom_fields under NAME; a nil new
-- value removes the field; provenance is keyed by the change's field name.
CREATE FUNCTION rm_lib.apply_changes(changes jsonb, INOUT f jsonb, INOUT cf jsonb,
                                     INOUT prov jsonb) LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  ch jsonb;
  name text;
  p jsonb;
BEGIN
  FOR ch IN SELECT value FROM jsonb_array_elements(coalesce(changes, '[]')) LOOP
    name := ch->>'field';
    IF name LIKE 'custom\_fields.%' THEN
      IF jsonb_typeof(ch->'new') IS DISTINCT FROM 'null' AND ch ? 'new' THEN
        cf := cf || jsonb_build_object(substr(name, 15), ch->'new');
      ELSE
        cf := cf - substr(name, 15);
      END IF;
    ELSIF jsonb_typeof(ch->'new') IS DISTINCT FROM 'null' AND ch ? 'new' THEN
      f := f || jsonb_build_object(name, ch->'new');
    ELSE
      f := f - name;
    END IF;
    p := rm_lib.change_prov(ch);
    IF p IS NULL THEN prov := prov - name;
    ELSE prov := prov || jsonb_build_object(name, p);
    END IF;
  END LOOP;
END
$$;

-- The entity id of a stream "account-<id>" / "contact-<id>".
CREATE FUNCTION rm_lib.stream_id(stream text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT substr(stream, strpos(stream, '-') + 1)
$$;

-- Identifier values of one kind in an identifiers array ({kind, value}).
CREATE FUNCTION rm_lib.idents(arr jsonb, k text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(array_agg(e->>'value'), '{}')
    FROM jsonb_array_elements(coalesce(arr, '[]')) e WHERE e->>'kind' = k
$$;

-- a with the elements of b appended that it does not hold yet.
CREATE FUNCTION rm_lib.arr_add(a text[], b text[]) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT a || coalesce((SELECT array_agg(x ORDER BY o) FROM unnest(b) WITH ORDINALITY u(x, o)
                        WHERE NOT x = ANY(a)), '{}')
$$;

CREATE FUNCTION rm_lib.arr_remove(a text[], b text[]) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce((SELECT array_agg(x ORDER BY o) FROM unnest(a) WITH ORDINALITY u(x, o)
                   WHERE NOT x = ANY(b)), '{}')
$$;

-- ---- accounts --------------------------------------------------------------

-- Adds `direct` to an account's contact_count and `rollup` to its
-- rollup_contact_count and every ancestor's. The write side refuses cycles
-- and chains deeper than ACCT_MAX_DEPTH (32); the walk stops at 64 anyway.
CREATE FUNCTION rm_lib.acct_bump(t text, aid text, direct bigint, rollup bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  cur text := aid;
  nxt text;
  depth int := 0;
BEGIN
  IF aid IS NULL OR (direct = 0 AND rollup = 0) THEN RETURN; END IF;
  UPDATE accounts SET contact_count = contact_count + direct,
                      rollup_contact_count = rollup_contact_count + rollup
   WHERE tenant = t AND id = cur RETURNING parent_id INTO nxt;
  WHILE nxt IS NOT NULL AND depth < 64 AND rollup <> 0 LOOP
    cur := nxt;
    nxt := NULL;
    UPDATE accounts SET rollup_contact_count = rollup_contact_count + rollup
     WHERE tenant = t AND id = cur RETURNING parent_id INTO nxt;
    depth := depth + 1;
  END LOOP;
END
$$;

-- A contact event as the accounts read model sees it: where the contact
-- counts before and after; the difference moves one count.
CREATE FUNCTION rm_lib.acct_contact_event(t text, ev jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  d jsonb := ev->'d';
  cid text := rm_lib.stream_id(ev->>'s');
  acct text;
  del boolean;
  mrg boolean;
  before_acct text;
  before_live boolean;
  ch jsonb;
BEGIN
  -- scalar variables, not %ROWTYPE: a rebuild swaps the tables under a
  -- session that compiled this function
  SELECT account_id, deleted, merged INTO acct, del, mrg
    FROM contact_links WHERE tenant = t AND contact_id = cid;
  IF NOT FOUND THEN
    acct := NULL; del := false; mrg := false;
    INSERT INTO contact_links (tenant, contact_id) VALUES (t, cid);
  END IF;
  before_acct := acct;
  before_live := NOT del AND NOT mrg;
  CASE ev->>'y'
    WHEN 'contact.created', 'contact.updated', 'contact.merged', 'contact.merge_undone' THEN
      FOR ch IN SELECT value FROM jsonb_array_elements(coalesce(d->'changes', '[]')) LOOP
        IF ch->>'field' = 'account_id' THEN acct := ch->>'new'; END IF;
      END LOOP;
    WHEN 'contact.deleted' THEN del := true;
    WHEN 'contact.restored' THEN del := false;
    WHEN 'contact.merged_into' THEN mrg := true;
    WHEN 'contact.unmerged' THEN mrg := false;
    ELSE RETURN;
  END CASE;
  IF before_acct IS NOT DISTINCT FROM acct AND before_live = (NOT del AND NOT mrg) THEN
    RETURN;
  END IF;
  UPDATE contact_links SET account_id = acct, deleted = del, merged = mrg
   WHERE tenant = t AND contact_id = cid;
  IF before_live THEN PERFORM rm_lib.acct_bump(t, before_acct, -1, -1); END IF;
  IF NOT del AND NOT mrg THEN PERFORM rm_lib.acct_bump(t, acct, 1, 1); END IF;
END
$$;

CREATE FUNCTION rm_lib.fold_accounts(batch jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  ev jsonb;
  d jsonb;
  t text;
  aid text;
  f jsonb;
  cf jsonb;
  prov jsonb;
  alts text[];
  del boolean;
  rollup bigint;
  old_parent text;
  new_parent text;
  pos bigint;
  ts timestamptz;
BEGIN
  FOR ev IN SELECT value FROM jsonb_array_elements(batch) LOOP
    t := ev->>'t';
    d := ev->'d';
    pos := (ev->>'p')::bigint;
    ts := (ev->>'ts')::timestamptz;
    IF ev->>'y' LIKE 'contact.%' THEN
      PERFORM rm_lib.acct_contact_event(t, ev);
      CONTINUE;
    END IF;
    aid := rm_lib.stream_id(ev->>'s');
    SELECT a.fields, a.custom_fields, a.provenance, a.alternate_domains, a.deleted,
           a.rollup_contact_count
      INTO f, cf, prov, alts, del, rollup
      FROM accounts a WHERE tenant = t AND id = aid;
    IF NOT FOUND THEN
      IF ev->>'y' <> 'account.created' THEN CONTINUE; END IF;
      -- contacts that linked before the row existed count from here
      SELECT count(*) INTO rollup FROM contact_links
       WHERE tenant = t AND account_id = aid AND NOT deleted AND NOT merged;
      INSERT INTO accounts (tenant, id, version, created_position, updated_position,
                            created_at, updated_at, contact_count, rollup_contact_count)
      VALUES (t, aid, 0, pos, pos, ts, ts, rollup, rollup);
      f := '{}'; cf := '{}'; prov := '{}'; alts := '{}'; del := false;
    END IF;
    old_parent := f->>'parent_id';
    CASE ev->>'y'
      WHEN 'account.created', 'account.updated' THEN
        SELECT r.f, r.cf, r.prov INTO f, cf, prov
          FROM rm_lib.apply_changes(d->'changes', f, cf, prov) r;
        alts := rm_lib.arr_remove(
          rm_lib.arr_add(alts,
            ARRAY(SELECT jsonb_array_elements_text(coalesce(d->'alternate_domains_added', '[]')))),
          ARRAY(SELECT jsonb_array_elements_text(coalesce(d->'alternate_domains_removed', '[]'))));
      WHEN 'account.deleted' THEN del := true;
      WHEN 'account.restored' THEN del := false;
      ELSE CONTINUE;
    END CASE;
    UPDATE accounts SET fields = f, custom_fields = cf, provenance = prov,
                        alternate_domains = alts, deleted = del, version = (ev->>'v')::bigint,
                        updated_position = pos, updated_at = ts
     WHERE tenant = t AND id = aid;
    new_parent := f->>'parent_id';
    IF old_parent IS DISTINCT FROM new_parent THEN
      -- re-parenting moves the whole subtree's count
      PERFORM rm_lib.acct_bump(t, old_parent, 0, -rollup);
      PERFORM rm_lib.acct_bump(t, new_parent, 0, rollup);
    END IF;
  END LOOP;
END
$$;

-- ---- contacts ----------------------------------------------------------------

CREATE FUNCTION rm_lib.fold_contacts(batch jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  ev jsonb;
  d jsonb;
  t text;
  cid text;
  f jsonb;
  cf jsonb;
  prov jsonb;
  em text[];
  ext text[];
  ph text[];
  del boolean;
  winner text;
  pos bigint;
  ts timestamptz;
BEGIN
  FOR ev IN SELECT value FROM jsonb_array_elements(batch) LOOP
    t := ev->>'t';
    d := ev->'d';
    pos := (ev->>'p')::bigint;
    ts := (ev->>'ts')::timestamptz;
    cid := rm_lib.stream_id(ev->>'s');
    SELECT c.fields, c.custom_fields, c.provenance, c.emails, c.external_ids, c.phones,
           c.deleted, c.merged_into
      INTO f, cf, prov, em, ext, ph, del, winner
      FROM contacts c WHERE tenant = t AND id = cid;
    IF NOT FOUND THEN
      IF ev->>'y' <> 'contact.created' THEN CONTINUE; END IF;
      INSERT INTO contacts (tenant, id, version, created_position, updated_position,
                            created_at, updated_at)
      VALUES (t, cid, 0, pos, pos, ts, ts);
      f := '{}'; cf := '{}'; prov := '{}'; em := '{}'; ext := '{}'; ph := '{}';
      del := false; winner := NULL;
    END IF;
    CASE ev->>'y'
      WHEN 'contact.created', 'contact.updated', 'contact.merged' THEN
        SELECT r.f, r.cf, r.prov INTO f, cf, prov
          FROM rm_lib.apply_changes(d->'changes', f, cf, prov) r;
        em := rm_lib.arr_add(em, rm_lib.idents(d->'identifiers_added', 'email'));
        ext := rm_lib.arr_add(ext, rm_lib.idents(d->'identifiers_added', 'ext'));
        ph := rm_lib.arr_add(ph, rm_lib.idents(d->'identifiers_added', 'phone'));
      WHEN 'contact.merge_undone' THEN
        SELECT r.f, r.cf, r.prov INTO f, cf, prov
          FROM rm_lib.apply_changes(d->'changes', f, cf, prov) r;
        em := rm_lib.arr_remove(em, rm_lib.idents(d->'identifiers_removed', 'email'));
        ext := rm_lib.arr_remove(ext, rm_lib.idents(d->'identifiers_removed', 'ext'));
        ph := rm_lib.arr_remove(ph, rm_lib.idents(d->'identifiers_removed', 'phone'));
      WHEN 'contact.merged_into' THEN winner := d->>'winner_id';
      WHEN 'contact.unmerged' THEN winner := NULL;
      WHEN 'contact.deleted' THEN del := true;
      WHEN 'contact.restored' THEN del := false;
      ELSE CONTINUE;
    END CASE;
    UPDATE contacts SET fields = f, custom_fields = cf, provenance = prov, emails = em,
                        external_ids = ext, phones = ph, deleted = del, merged_into = winner,
                        version = (ev->>'v')::bigint, updated_position = pos, updated_at = ts
     WHERE tenant = t AND id = cid;
  END LOOP;
END
$$;
