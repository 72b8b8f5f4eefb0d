-- 054_segments_title_lowercase: contact_facts.title holds the job title
-- lowercased. The title is matched, never shown, from this table (the
-- contacts read model keeps it as entered), and "title contains" was the
-- slowest of bench segments' ten previews: lower(title) LIKE ran lower()
-- on each of 1M rows (p99 191.7 ms on the quiet 2-core machine). The
-- filter compiler lowercases a title's values once instead (LTEXT in
-- core/seg_fields.def), as for emails and domains, where dropping the
-- per-row lower() took an ends_with over 1M rows from 195 to 77 ms. So
-- title comparisons ignore case, equals included.

--
-- The trigram index on lower(title) goes, and none replaces it on title:
-- for a common word (the bench's "market", one title in five) the planner
-- chose a bitmap scan of it over the sequential scan, 247 ms against 194 ms
-- on the bench's data (EXPLAIN ANALYZE), and every contact_facts write paid
-- for the GIN entries. A contains over 1M titles is one parallel scan
-- either way, for a rare word too.

UPDATE rm_segments.contact_facts SET title = lower(title) WHERE title <> lower(title);

DROP INDEX rm_segments.contact_facts_title_trgm;

-- As 052's, with the title lowercased.
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
         lower(c.fields->>'title'), c.seniority, c.department, c.fields->>'country',
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
