-- 051_segments_indexes: indexes on the contacts read model (branch read5's
-- tables; rebuild copies them with LIKE ... INCLUDING ALL) for the filter
-- fields tests/bench/bench_segments.c showed scanning the whole table:
-- title "contains" (trigram), country, exact email, created within N days.
-- Figures in docs/segments.md.

CREATE INDEX contacts_seg_title_trgm ON rm_contacts.contacts
  USING gin ((fields->>'title') gin_trgm_ops);
CREATE INDEX contacts_seg_country ON rm_contacts.contacts (tenant, (fields->>'country'));
CREATE INDEX contacts_seg_email ON rm_contacts.contacts (tenant, email);
CREATE INDEX contacts_seg_created ON rm_contacts.contacts (tenant, created_at);
