-- 055_rebuild_clone_names: the shadow schema of a rebuild (projections/
-- proj_rebuild.c) is a faithful copy of the live read model's tables.
--
-- Before, each table was cloned with CREATE TABLE (LIKE ... INCLUDING ALL),
-- which names the copied indexes anew (contacts_tenant_coalesce_id_idx for
-- contacts_email) and drops the table's storage parameters (fillfactor,
-- autovacuum settings). After the swap the live read model carried those
-- names, and a later migration naming an index (054's DROP INDEX
-- rm_segments.contact_facts_title_trgm) failed on a database that had
-- been rebuilt. Here every index keeps its name and options: constraints
-- backed by an index (primary keys, unique, exclusion) are re-added under
-- their names, other indexes re-created from pg_get_indexdef, and the
-- table's reloptions copied.
--
-- Identifiers go through format('%I'); the definitions come from the
-- catalogue's own deparsers.

CREATE FUNCTION pivotal.clone_read_model(live text, shadow text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  t record;
  i record;
  tables integer := 0;
  live_on text;
BEGIN
  EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', shadow);
  EXECUTE format('CREATE SCHEMA %I', shadow);
  FOR t IN SELECT c.oid, c.relname, c.reloptions
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = live AND c.relkind = 'r' ORDER BY c.relname LOOP
    EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING ALL EXCLUDING INDEXES)',
                   shadow, t.relname, live, t.relname);
    IF t.reloptions IS NOT NULL THEN
      EXECUTE format('ALTER TABLE %I.%I SET (%s)', shadow, t.relname,
                     array_to_string(t.reloptions, ', '));
    END IF;
    FOR i IN SELECT conname, pg_get_constraintdef(oid) def FROM pg_constraint
              WHERE conrelid = t.oid AND contype IN ('p', 'u', 'x') ORDER BY conname LOOP
      EXECUTE format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', shadow, t.relname, i.conname,
                     i.def);
    END LOOP;
    -- pg_get_indexdef qualifies the table as quote_ident does: "... ON
    -- schema.table USING ..."
    live_on := format(' ON %I.%I USING ', live, t.relname);
    FOR i IN SELECT pg_get_indexdef(x.indexrelid) def FROM pg_index x
              WHERE x.indrelid = t.oid
                AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid
                                   AND k.conrelid = t.oid)
              ORDER BY x.indexrelid LOOP
      IF strpos(i.def, live_on) = 0 THEN
        RAISE EXCEPTION 'cannot clone index of %.%: %', live, t.relname, i.def;
      END IF;
      EXECUTE replace(i.def, live_on, format(' ON %I.%I USING ', shadow, t.relname));
    END LOOP;
    tables := tables + 1;
  END LOOP;
  RETURN tables;
END
$$;
