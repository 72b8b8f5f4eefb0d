-- 053_set_based_folds: the contacts and accounts folds (schema/010) made
-- set-based, so that a 1M-contact import becomes visible at the speed of a
-- few statements per batch instead of five or six per event (issue 5 §8;
-- tests/bench/bench_import.c measures each projection's rate).
--
-- Every contacts event changes only its own contact's row, so events on
-- different contacts commute: a batch is folded in rounds, round k taking
-- the k-th event of each contact (in log order), each round ONE
-- INSERT ... ON CONFLICT DO UPDATE computing the new row from the current
-- one exactly as the per-event loop did. An import's batch is one round.
-- Past 8 rounds (fold_rounds; a burst of events on a few contacts) the
-- remaining events go through the per-event loop, kept below as
-- fold_*_each (the bodies of 010, unchanged; tests/proj fold both ways and
-- compare).
--
-- Accounts read contact events for the counts and rollups. A contact event
-- moves at most one count from one account to another, bumping each
-- account and its ancestors; the rounds gather the moves of a round, sum
-- them per account and walk the hierarchy once per affected account.
-- Account events commute with contact events except where the hierarchy
-- changes under them: an account created with or moved to a parent, or
-- created while some account names it as parent (its rollup counts only
-- its direct contacts at creation). Such an event is a barrier: it is
-- folded alone by the per-event loop, and the set-based rounds fold the
-- runs of events between barriers. An import of contacts and their
-- (parentless) accounts has no barrier.
--
-- Unqualified table names, as in 010: the engine's search_path picks the
-- live schema or a rebuild's shadow.

-- ---- the per-event loops of 010, unchanged (the reference, and the path
-- past the rounds' cap) --------------------------------------------------

CREATE FUNCTION rm_lib.fold_accounts_each(batch jsonb) RETURNS void LANGUAGE plpgsql AS $$
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
  fresh boolean;
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
    fresh := NOT FOUND;
    IF fresh THEN
      IF ev->>'y' <> 'account.created' THEN CONTINUE; END IF;
      -- contacts that linked before the row existed count from here
      SELECT count(*) INTO rollup FROM contact_links
       WHERE tenant = t AND account_id = aid AND NOT deleted AND NOT merged;
      f := '{}'; cf := '{}'; prov := '{}'; alts := '{}'; del := false;
    END IF;
    old_parent := f->>'parent_id';
    CASE ev->>'y'
      WHEN 'account.created', 'account.updated' THEN
        -- the digest of the changes (proj_directory.c): field -> new value,
        -- null when removed; no stored value is a top-level null, so
        -- stripping nulls removes exactly the removed fields
        f := jsonb_strip_nulls(f || (ev->'x'->'f'));
        cf := jsonb_strip_nulls(cf || (ev->'x'->'c'));
        prov := jsonb_strip_nulls(prov || (ev->'x'->'p'));
        alts := rm_lib.arr_remove(
          rm_lib.arr_add(alts,
            ARRAY(SELECT jsonb_array_elements_text(coalesce(d->'alternate_domains_added', '[]')))),
          ARRAY(SELECT jsonb_array_elements_text(coalesce(d->'alternate_domains_removed', '[]'))));
      WHEN 'account.deleted' THEN del := true;
      WHEN 'account.restored' THEN del := false;
      ELSE CONTINUE;
    END CASE;
    IF fresh THEN
      INSERT INTO accounts (tenant, id, fields, custom_fields, provenance, alternate_domains,
                            deleted, contact_count, rollup_contact_count, version,
                            created_position, updated_position, created_at, updated_at)
      VALUES (t, aid, f, cf, prov, alts, del, rollup, rollup, (ev->>'v')::bigint, pos, pos,
              ts, ts);
    ELSE
      UPDATE accounts SET fields = f, custom_fields = cf, provenance = prov,
                          alternate_domains = alts, deleted = del,
                          version = (ev->>'v')::bigint, updated_position = pos, updated_at = ts
       WHERE tenant = t AND id = aid;
    END IF;
    new_parent := f->>'parent_id';
    IF old_parent IS DISTINCT FROM new_parent THEN
      -- re-parenting moves the whole subtree's count
      PERFORM rm_lib.acct_bump(t, old_parent, 0, -rollup);
      PERFORM rm_lib.acct_bump(t, new_parent, 0, rollup);
    END IF;
  END LOOP;
END
$$;

CREATE FUNCTION rm_lib.fold_contacts_each(batch jsonb) RETURNS void LANGUAGE plpgsql AS $$
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
  fresh boolean;
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
    fresh := NOT FOUND;
    IF fresh THEN
      IF ev->>'y' <> 'contact.created' THEN CONTINUE; END IF;
      f := '{}'; cf := '{}'; prov := '{}'; em := '{}'; ext := '{}'; ph := '{}';
      del := false; winner := NULL;
    END IF;
    CASE ev->>'y'
      WHEN 'contact.created', 'contact.updated', 'contact.merged' THEN
        -- the digest of the changes (proj_directory.c): field -> new value,
        -- null when removed; no stored value is a top-level null, so
        -- stripping nulls removes exactly the removed fields
        f := jsonb_strip_nulls(f || (ev->'x'->'f'));
        cf := jsonb_strip_nulls(cf || (ev->'x'->'c'));
        prov := jsonb_strip_nulls(prov || (ev->'x'->'p'));
        em := rm_lib.arr_add(em, rm_lib.idents(d->'identifiers_added', 'email'));
        ext := rm_lib.arr_add(ext, rm_lib.idents(d->'identifiers_added', 'ext'));
        ph := rm_lib.arr_add(ph, rm_lib.idents(d->'identifiers_added', 'phone'));
      WHEN 'contact.merge_undone' THEN
        -- the digest of the changes (proj_directory.c): field -> new value,
        -- null when removed; no stored value is a top-level null, so
        -- stripping nulls removes exactly the removed fields
        f := jsonb_strip_nulls(f || (ev->'x'->'f'));
        cf := jsonb_strip_nulls(cf || (ev->'x'->'c'));
        prov := jsonb_strip_nulls(prov || (ev->'x'->'p'));
        em := rm_lib.arr_remove(em, rm_lib.idents(d->'identifiers_removed', 'email'));
        ext := rm_lib.arr_remove(ext, rm_lib.idents(d->'identifiers_removed', 'ext'));
        ph := rm_lib.arr_remove(ph, rm_lib.idents(d->'identifiers_removed', 'phone'));
      WHEN 'contact.merged_into' THEN winner := d->>'winner_id';
      WHEN 'contact.unmerged' THEN winner := NULL;
      WHEN 'contact.deleted' THEN del := true;
      WHEN 'contact.restored' THEN del := false;
      ELSE CONTINUE;
    END CASE;
    -- one write per event: a new row is inserted whole (each row version
    -- costs every index, the trigram GIN most)
    IF fresh THEN
      INSERT INTO contacts (tenant, id, fields, custom_fields, provenance, emails, external_ids,
                            phones, deleted, merged_into, version, created_position,
                            updated_position, created_at, updated_at)
      VALUES (t, cid, f, cf, prov, em, ext, ph, del, winner, (ev->>'v')::bigint, pos, pos, ts, ts);
    ELSE
      UPDATE contacts SET fields = f, custom_fields = cf, provenance = prov, emails = em,
                          external_ids = ext, phones = ph, deleted = del, merged_into = winner,
                          version = (ev->>'v')::bigint, updated_position = pos, updated_at = ts
       WHERE tenant = t AND id = cid;
    END IF;
  END LOOP;
END
$$;

-- ---- rounds ------------------------------------------------------------------

-- Folds batch through apply (called with arrays holding at most one event
-- per stream, in log order) and each (the per-event loop), rounds as
-- described above. Arbitrary cap: 8 rounds; a batch needing more is a
-- burst on a few streams, where the per-event loop costs about the same.
CREATE FUNCTION rm_lib.fold_rounds(batch jsonb, apply text, each text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  max_rounds CONSTANT int := 8;
  m bigint;
  part jsonb;
BEGIN
  SELECT max(n) INTO m FROM (
    SELECT count(*) n FROM jsonb_array_elements(batch) ev GROUP BY ev->>'t', ev->>'s') x;
  IF m IS NULL THEN RETURN; END IF;
  IF m = 1 THEN
    EXECUTE format('SELECT rm_lib.%I($1)', apply) USING batch;
    RETURN;
  END IF;
  FOR k IN 1 .. least(m, max_rounds + 1) LOOP
    SELECT jsonb_agg(ev ORDER BY p) INTO part FROM (
      SELECT ev, (ev->>'p')::bigint p,
             row_number() OVER (PARTITION BY ev->>'t', ev->>'s' ORDER BY (ev->>'p')::bigint) r
        FROM jsonb_array_elements(batch) ev) x
     WHERE CASE WHEN k <= max_rounds THEN r = k ELSE r > max_rounds END;
    IF part IS NULL THEN CONTINUE; END IF;
    IF k <= max_rounds THEN
      EXECUTE format('SELECT rm_lib.%I($1)', apply) USING part;
    ELSE
      EXECUTE format('SELECT rm_lib.%I($1)', each) USING part;
    END IF;
  END LOOP;
END
$$;

-- ---- contacts ----------------------------------------------------------------

-- One round: evs holds at most one event per contact. The new row is the
-- per-event loop's (fold_contacts_each), computed from the current row;
-- events on a missing contact other than contact.created change nothing.
CREATE FUNCTION rm_lib.contacts_apply(evs jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO contacts (tenant, id, fields, custom_fields, provenance, emails, external_ids,
                        phones, deleted, merged_into, version, created_position,
                        updated_position, created_at, updated_at)
  SELECT e.t, e.cid,
         CASE WHEN e.fld THEN jsonb_strip_nulls(coalesce(c.fields, '{}') || (e.ev->'x'->'f'))
              ELSE c.fields END,
         CASE WHEN e.fld THEN jsonb_strip_nulls(coalesce(c.custom_fields, '{}') || (e.ev->'x'->'c'))
              ELSE c.custom_fields END,
         CASE WHEN e.fld THEN jsonb_strip_nulls(coalesce(c.provenance, '{}') || (e.ev->'x'->'p'))
              ELSE c.provenance END,
         -- arr_add onto nothing is the added list itself
         CASE WHEN e.adds AND c.id IS NULL THEN i.em
              WHEN e.adds THEN rm_lib.arr_add(c.emails, i.em)
              WHEN e.y = 'contact.merge_undone' THEN rm_lib.arr_remove(c.emails, i.em)
              ELSE c.emails END,
         CASE WHEN e.adds AND c.id IS NULL THEN i.ext
              WHEN e.adds THEN rm_lib.arr_add(c.external_ids, i.ext)
              WHEN e.y = 'contact.merge_undone' THEN rm_lib.arr_remove(c.external_ids, i.ext)
              ELSE c.external_ids END,
         CASE WHEN e.adds AND c.id IS NULL THEN i.ph
              WHEN e.adds THEN rm_lib.arr_add(c.phones, i.ph)
              WHEN e.y = 'contact.merge_undone' THEN rm_lib.arr_remove(c.phones, i.ph)
              ELSE c.phones END,
         CASE e.y WHEN 'contact.deleted' THEN true WHEN 'contact.restored' THEN false
                  ELSE coalesce(c.deleted, false) END,
         CASE e.y WHEN 'contact.merged_into' THEN e.ev->'d'->>'winner_id'
                  WHEN 'contact.unmerged' THEN NULL ELSE c.merged_into END,
         (e.ev->>'v')::bigint, e.p, e.p, e.ts, e.ts
    FROM (SELECT ev, ev->>'t' t, rm_lib.stream_id(ev->>'s') cid, ev->>'y' y,
                 (ev->>'p')::bigint p, (ev->>'ts')::timestamptz ts,
                 ev->>'y' IN ('contact.created', 'contact.updated', 'contact.merged',
                              'contact.merge_undone') fld,
                 ev->>'y' IN ('contact.created', 'contact.updated', 'contact.merged') adds
            FROM jsonb_array_elements(evs) ev
           WHERE ev->>'y' IN ('contact.created', 'contact.updated', 'contact.merged',
                              'contact.merge_undone', 'contact.merged_into', 'contact.unmerged',
                              'contact.deleted', 'contact.restored')) e
    LEFT JOIN contacts c ON c.tenant = e.t AND c.id = e.cid
    -- rm_lib.idents of the three kinds in one walk: the identifiers the
    -- event adds (merge_undone: removes)
   CROSS JOIN LATERAL (
     SELECT coalesce(array_agg(x->>'value') FILTER (WHERE x->>'kind' = 'email'), '{}') em,
            coalesce(array_agg(x->>'value') FILTER (WHERE x->>'kind' = 'ext'), '{}') ext,
            coalesce(array_agg(x->>'value') FILTER (WHERE x->>'kind' = 'phone'), '{}') ph
       FROM jsonb_array_elements(coalesce(
              CASE WHEN e.y = 'contact.merge_undone' THEN e.ev->'d'->'identifiers_removed'
                   ELSE e.ev->'d'->'identifiers_added' END, '[]')) x) i
   WHERE c.id IS NOT NULL OR e.y = 'contact.created'
  ON CONFLICT (tenant, id) DO UPDATE SET
    fields = excluded.fields, custom_fields = excluded.custom_fields,
    provenance = excluded.provenance, emails = excluded.emails,
    external_ids = excluded.external_ids, phones = excluded.phones, deleted = excluded.deleted,
    merged_into = excluded.merged_into, version = excluded.version,
    updated_position = excluded.updated_position, updated_at = excluded.updated_at;
END
$$;

CREATE OR REPLACE FUNCTION rm_lib.fold_contacts(batch jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM rm_lib.fold_rounds(batch, 'contacts_apply', 'fold_contacts_each');
END
$$;

-- ---- accounts ----------------------------------------------------------------

-- One round of a run without barriers: evs holds at most one event per
-- stream. First the contact events' links, and the moves they make summed
-- per account; then the account events (a new row counts the live
-- contacts linked to it, this round's included, as the per-event loop
-- would by the end of the run); then the moves onto accounts that existed
-- before, walked up the hierarchy once (acct_bump's walk: through
-- existing rows, at most 64 ancestors). A new account has no parent and
-- no child here (else it is a barrier): its count is complete.
CREATE FUNCTION rm_lib.accounts_apply(evs jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  mt text[];   -- the moves: tenant, account, net count
  ma text[];
  mn bigint[];
  nt text[];   -- the accounts this round created
  na text[];
BEGIN
  WITH e AS (
    SELECT ev->>'t' t, rm_lib.stream_id(ev->>'s') cid, ev->>'y' y, ev->'x'->'f' f
      FROM jsonb_array_elements(evs) ev
     WHERE ev->>'y' IN ('contact.created', 'contact.updated', 'contact.merged',
                        'contact.merge_undone', 'contact.merged_into', 'contact.unmerged',
                        'contact.deleted', 'contact.restored')
  ), s AS (
    SELECT e.t, e.cid, l.contact_id IS NULL fresh, l.account_id b_acct,
           NOT coalesce(l.deleted, false) AND NOT coalesce(l.merged, false) b_live,
           CASE WHEN e.y IN ('contact.created', 'contact.updated', 'contact.merged',
                             'contact.merge_undone') AND e.f ? 'account_id'
                THEN e.f->>'account_id' ELSE l.account_id END a_acct,
           CASE e.y WHEN 'contact.deleted' THEN true WHEN 'contact.restored' THEN false
                    ELSE coalesce(l.deleted, false) END a_del,
           CASE e.y WHEN 'contact.merged_into' THEN true WHEN 'contact.unmerged' THEN false
                    ELSE coalesce(l.merged, false) END a_mrg
      FROM e LEFT JOIN contact_links l ON l.tenant = e.t AND l.contact_id = e.cid
  ), c AS (
    SELECT s.*, NOT a_del AND NOT a_mrg a_live,
           b_acct IS DISTINCT FROM a_acct OR b_live <> (NOT a_del AND NOT a_mrg) moved
      FROM s
  ), links AS (
    INSERT INTO contact_links (tenant, contact_id, account_id, deleted, merged)
    SELECT t, cid, a_acct, a_del, a_mrg FROM c WHERE fresh OR moved
    ON CONFLICT (tenant, contact_id) DO UPDATE SET
      account_id = excluded.account_id, deleted = excluded.deleted, merged = excluded.merged
  ), d AS (
    SELECT t, acct, sum(n) n FROM (
      SELECT t, b_acct acct, -1 n FROM c WHERE moved AND b_live AND b_acct IS NOT NULL
      UNION ALL
      SELECT t, a_acct, 1 FROM c WHERE moved AND a_live AND a_acct IS NOT NULL) x
     GROUP BY t, acct HAVING sum(n) <> 0
  )
  SELECT array_agg(t), array_agg(acct), array_agg(n) INTO mt, ma, mn FROM d;

  WITH ins AS (
    INSERT INTO accounts (tenant, id, fields, custom_fields, provenance, alternate_domains, deleted,
                          contact_count, rollup_contact_count, version, created_position,
                          updated_position, created_at, updated_at)
    SELECT e.t, e.aid,
           CASE WHEN e.fld THEN jsonb_strip_nulls(coalesce(a.fields, '{}') || (e.ev->'x'->'f'))
                ELSE a.fields END,
           CASE WHEN e.fld THEN jsonb_strip_nulls(coalesce(a.custom_fields, '{}') || (e.ev->'x'->'c'))
                ELSE a.custom_fields END,
           CASE WHEN e.fld THEN jsonb_strip_nulls(coalesce(a.provenance, '{}') || (e.ev->'x'->'p'))
                ELSE a.provenance END,
           CASE WHEN e.fld THEN rm_lib.arr_remove(
                  rm_lib.arr_add(coalesce(a.alternate_domains, '{}'),
                    ARRAY(SELECT jsonb_array_elements_text(
                            coalesce(e.ev->'d'->'alternate_domains_added', '[]')))),
                  ARRAY(SELECT jsonb_array_elements_text(
                          coalesce(e.ev->'d'->'alternate_domains_removed', '[]'))))
                ELSE a.alternate_domains END,
           CASE e.y WHEN 'account.deleted' THEN true WHEN 'account.restored' THEN false
                    ELSE coalesce(a.deleted, false) END,
           n.n, n.n, (e.ev->>'v')::bigint, e.p, e.p, e.ts, e.ts
      FROM (SELECT ev, ev->>'t' t, rm_lib.stream_id(ev->>'s') aid, ev->>'y' y,
                   (ev->>'p')::bigint p, (ev->>'ts')::timestamptz ts,
                   ev->>'y' IN ('account.created', 'account.updated') fld
              FROM jsonb_array_elements(evs) ev
             WHERE ev->>'y' IN ('account.created', 'account.updated', 'account.deleted',
                                'account.restored')) e
      LEFT JOIN accounts a ON a.tenant = e.t AND a.id = e.aid
     CROSS JOIN LATERAL (SELECT CASE WHEN a.id IS NOT NULL THEN 0 ELSE
                           (SELECT count(*) FROM contact_links l
                             WHERE l.tenant = e.t AND l.account_id = e.aid
                               AND NOT l.deleted AND NOT l.merged) END n) n
     WHERE a.id IS NOT NULL OR e.y = 'account.created'
    ON CONFLICT (tenant, id) DO UPDATE SET
      fields = excluded.fields, custom_fields = excluded.custom_fields,
      provenance = excluded.provenance, alternate_domains = excluded.alternate_domains,
      deleted = excluded.deleted, version = excluded.version,
      updated_position = excluded.updated_position, updated_at = excluded.updated_at
    -- a new row has created_position = updated_position (the event's)
    RETURNING tenant, id, created_position = updated_position AS fresh
  )
  SELECT array_agg(tenant) FILTER (WHERE fresh), array_agg(id) FILTER (WHERE fresh)
    INTO nt, na FROM ins;

  IF mt IS NULL THEN RETURN; END IF;
  WITH RECURSIVE d AS (
    SELECT m.t, m.acct, m.n FROM unnest(mt, ma, mn) m(t, acct, n)
     WHERE NOT EXISTS (SELECT 1 FROM unnest(nt, na) f(t, id) WHERE f.t = m.t AND f.id = m.acct)
  ), up (t, id, n, depth) AS (
    SELECT t, acct, n, 0 FROM d
    UNION ALL
    SELECT up.t, a.parent_id, up.n, up.depth + 1
      FROM up JOIN accounts a ON a.tenant = up.t AND a.id = up.id
     WHERE a.parent_id IS NOT NULL AND up.depth < 64
  )
  UPDATE accounts a
     SET contact_count = a.contact_count + u.direct,
         rollup_contact_count = a.rollup_contact_count + u.rollup
    FROM (SELECT t, id, coalesce(sum(n) FILTER (WHERE depth = 0), 0) direct, sum(n) rollup
            FROM up GROUP BY t, id) u
   WHERE a.tenant = u.t AND a.id = u.id;
END
$$;

CREATE FUNCTION rm_lib.accounts_rounds(evs jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM rm_lib.fold_rounds(evs, 'accounts_apply', 'fold_accounts_each');
END
$$;

CREATE OR REPLACE FUNCTION rm_lib.fold_accounts(batch jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  bars bigint[];
  lo bigint := 0;
  b bigint;
  part jsonb;
BEGIN
  -- the barriers (see the top of this file), in log order
  WITH e AS (
    SELECT ev, (ev->>'p')::bigint p, ev->>'t' t, rm_lib.stream_id(ev->>'s') aid, ev->>'y' y
      FROM jsonb_array_elements(batch) ev WHERE ev->>'y' LIKE 'account.%'
  ), named AS (
    SELECT DISTINCT t, ev->'x'->'f'->>'parent_id' pid FROM e WHERE ev->'x'->'f' ? 'parent_id'
  )
  SELECT array_agg(p ORDER BY p) INTO bars FROM e
   WHERE ev->'x'->'f' ? 'parent_id'
      OR (y = 'account.created'
          AND (EXISTS (SELECT 1 FROM named n WHERE n.t = e.t AND n.pid = e.aid)
               OR EXISTS (SELECT 1 FROM accounts a WHERE a.tenant = e.t AND a.parent_id = e.aid)));
  IF bars IS NULL THEN
    PERFORM rm_lib.accounts_rounds(batch);
    RETURN;
  END IF;
  FOREACH b IN ARRAY bars || ARRAY[NULL::bigint] LOOP
    SELECT jsonb_agg(ev ORDER BY (ev->>'p')::bigint) INTO part FROM jsonb_array_elements(batch) ev
     WHERE (ev->>'p')::bigint > lo AND (b IS NULL OR (ev->>'p')::bigint < b);
    IF part IS NOT NULL THEN PERFORM rm_lib.accounts_rounds(part); END IF;
    EXIT WHEN b IS NULL;
    SELECT jsonb_agg(ev) INTO part FROM jsonb_array_elements(batch) ev
     WHERE (ev->>'p')::bigint = b;
    PERFORM rm_lib.fold_accounts_each(part);
    lo := b;
  END LOOP;
END
$$;
