-- 052_segments_custom_typed: the custom number and date filters read typed
-- copies of the custom fields kept in contact_facts, and the seg_lib
-- helpers the compiled filters call are PARALLEL SAFE.
--
-- Why (tests/bench/bench_segments.c's data: 1M contacts, a quarter with a
-- numeric custom "budget"; counts of the preview's shape in psql on the
-- shared 2-core machine, medians of 7; each group measured together):
--   budget > 150000 (62,604 matches), on contact_facts with 052 applied,
--   three rounds:
--     CASE jsonb_typeof(custom_fields->k) ... seg_lib.num(..) END, with
--     seg_lib.num PARALLEL UNSAFE (the default for a function), which
--     keeps the whole preview statement in one process:    303-355 ms
--     the same with seg_lib.num PARALLEL SAFE:              217-245 ms
--     (custom_numbers->k)::numeric over the copy below:     173-203 ms
--     (custom_numbers->k)::float8: no faster                    208 ms
--   and earlier, on copies of the table with and without the column: the
--   parallel CASE 185 ms, the copy 130 ms, float8 134 ms, a plain text
--   equality 100 ms. (In the bench's preview, serial, it was 440 ms.)
--   a custom date > '2026-01-01' (a date added to a quarter):
--     seg_lib.ts(custom_fields->>k) (plpgsql, whose EXCEPTION block
--     is a subtransaction per row and cannot run in parallel):   1050 ms
--     (custom_dates->>k)::timestamptz over the copy below:        253 ms
--     a plain text equality, for scale:                           160 ms
--   and later, at a lighter load: the ISO text cast 156 ms, epoch
--   seconds through to_timestamp(float8) 147 ms, equality 116 ms: not
--   worth float8's rounding of microseconds.
-- In the bench itself the preview's p50 went from ~2.1x the seniority
-- filter's to about the same (docs/segments.md has the runs). The copies
-- add 4.7% to the table at one custom number in four contacts (234 -> 245
-- MB; a plain equality over the two tables: 101.8 against 100.9 ms). A
-- copy is NULL when the contact has no such value, so the 75% without one
-- cost nothing (-> is strict and never called).
--
-- Meaning is kept: custom_numbers holds exactly the values
-- seg_lib.jnum reads as a number (JSON numbers, strings that read as one),
-- custom_dates exactly those seg_lib.ts reads as a time. One difference:
-- a date written without a zone is read in the TimeZone of the session
-- that refreshes the facts (the segments projection's connection), not
-- the query's; both use the server's default unless someone sets one.

ALTER FUNCTION seg_lib.num(text) PARALLEL SAFE;
ALTER FUNCTION seg_lib.jnum(jsonb) PARALLEL SAFE;

-- The custom values that read as numbers, as JSON numbers; NULL when none
-- (and for a custom_fields that is not an object, which jsonb_each would
-- refuse: a refresh must never fail on a stored value).
CREATE FUNCTION seg_lib.custom_numbers(cf jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT jsonb_object_agg(e.key, x.n)
    FROM jsonb_each(CASE WHEN jsonb_typeof(cf) = 'object' THEN cf END) e,
         LATERAL (SELECT seg_lib.jnum(e.value) n) x
   WHERE x.n IS NOT NULL
$$;

-- The custom values that read as a time, as JSON strings in ISO 8601 with
-- the offset (to_jsonb's form, read back by ::timestamptz under any
-- DateStyle); NULL when none. STABLE: seg_lib.ts reads zoneless dates in
-- the session's TimeZone.
CREATE FUNCTION seg_lib.custom_dates(cf jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_object_agg(e.key, to_jsonb(x.t))
    FROM jsonb_each(CASE WHEN jsonb_typeof(cf) = 'object' THEN cf END) e,
         LATERAL (SELECT seg_lib.ts(e.value #>> '{}') t) x
   WHERE x.t IS NOT NULL
$$;

ALTER TABLE rm_segments.contact_facts ADD COLUMN custom_numbers jsonb,
  ADD COLUMN custom_dates jsonb;

UPDATE rm_segments.contact_facts
   SET custom_numbers = seg_lib.custom_numbers(custom_fields),
       custom_dates = seg_lib.custom_dates(custom_fields)
 WHERE custom_fields <> '{}';

-- As 051's, with the two copies.
CREATE OR REPLACE FUNCTION seg_lib.refresh_facts(t text, ids text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM contact_facts f WHERE f.tenant = t AND f.id = ANY (ids) AND NOT EXISTS (
    SELECT 1 FROM rm_contacts.contacts c WHERE c.tenant = t AND c.id = f.id
       AND NOT c.deleted AND c.merged_into IS NULL);
  INSERT INTO contact_facts (tenant, id, email, email_domain, first_name, last_name, title,
                             seniority, department, country, phone, account_id, created_at,
                             updated_at, email_suppressed, phone_suppressed, custom_fields,
                             custom_numbers, custom_dates)
  SELECT c.tenant, c.id, c.email, c.email_domain, c.first_name, c.last_name,
         c.fields->>'title', c.seniority, c.department, c.fields->>'country',
         c.fields->>'phone', c.account_id, c.created_at, c.updated_at,
         EXISTS (SELECT 1 FROM rm_suppressions.current s WHERE s.tenant = c.tenant
                    AND s.channel = 'email' AND s.value = c.email AND s.client_id = ''),
         EXISTS (SELECT 1 FROM rm_suppressions.current s WHERE s.tenant = c.tenant
                    AND s.channel = 'phone' AND s.value = (c.fields->>'phone')
                    AND s.client_id = ''),
         c.custom_fields,
         CASE WHEN c.custom_fields <> '{}' THEN seg_lib.custom_numbers(c.custom_fields) END,
         CASE WHEN c.custom_fields <> '{}' THEN seg_lib.custom_dates(c.custom_fields) END
    FROM rm_contacts.contacts c
   WHERE c.tenant = t AND c.id = ANY (ids) AND NOT c.deleted AND c.merged_into IS NULL
  ON CONFLICT (tenant, id) DO UPDATE SET
    email = excluded.email, email_domain = excluded.email_domain,
    first_name = excluded.first_name, last_name = excluded.last_name, title = excluded.title,
    seniority = excluded.seniority, department = excluded.department,
    country = excluded.country, phone = excluded.phone, account_id = excluded.account_id,
    created_at = excluded.created_at, updated_at = excluded.updated_at,
    email_suppressed = excluded.email_suppressed, phone_suppressed = excluded.phone_suppressed,
    custom_fields = excluded.custom_fields, custom_numbers = excluded.custom_numbers,
    custom_dates = excluded.custom_dates;
END
$$;
