/*
 * The segments read model (schema/050): segments, lists, saved filters,
 * list members, and the members of every active segment.
 *
 * A batch is folded in two steps.
 *  1. Definitions, in log order: one statement per segment / list / filter
 *     event (they are rare), list members from the event's id array.
 *     Contact, account, list-member and suppression events only record
 *     what changed in a temporary table (pg_temp.seg_changed).
 *  2. Membership, once per batch: first contact_facts (schema/051, the
 *     narrow segmentation copy the filters read) is refreshed for every
 *     contact the batch touched (changed contacts, contacts of changed
 *     accounts and suppressions). Then a segment created, changed or
 *     refreshed is evaluated in full (DELETE its members, INSERT ... SELECT
 *     the compiled filter); every other active segment re-evaluates only
 *     the records the batch touched (plus list members added or removed,
 *     for filters on list membership), so a contact update costs one
 *     indexed probe per active segment, never a full re-query. Then the
 *     segment's counts are recomputed from its members.
 * Step 2 reads the contacts, accounts and suppressions read models, which
 * other projections write, maybe in another lane: the engine folds this
 * one only up to their checkpoints (proj_def.after), so a change is never
 * evaluated against a row that does not have it yet. Where the engine does
 * not run them (another process does), the fold checks their checkpoints
 * itself and answers PV_EBUSY (retried by the engine) until they pass.
 *
 * The compiled filters name rm_segments.* (contact_facts, list and segment
 * membership): during a rebuild of this projection they read the live
 * schema, whose facts are current.
 */
#include "projections/proj_folds.h"

#include "core/catalog.h"
#include "core/common/pv_time.h"
#include "core/seg_filter.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static bool type_eq(const evt_envelope *e, const char *t) {
  return e->type.len == strlen(t) && memcmp(e->type.ptr, t, e->type.len) == 0;
}
static bool type_prefix(const evt_envelope *e, const char *p) {
  size_t n = strlen(p);
  return e->type.len > n && memcmp(e->type.ptr, p, n) == 0;
}

static int exec(pg_conn *c, const char *sql, int n, const char *const *v, pv_error *err) {
  return pg_exec(c, sql, n, v, NULL, err);
}

/* The entity id of e's stream "kind-<id>" as a string (cut to cap). */
static void stream_id(const evt_envelope *e, char *out, size_t cap) {
  mp_slice id = proj_stream_id(e->stream);
  size_t n = id.len < cap ? id.len : cap - 1;
  memcpy(out, id.ptr, n);
  out[n] = '\0';
}

/* A filter text from the log: itself when it is a JSON object, else a
 * filter matching nothing (the HTTP layer never writes another). */
static const char *filter_or_none(cJSON *d, const char *key) {
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(d, key);
  if (!cJSON_IsString(f)) return NULL;
  cJSON *parsed = cJSON_Parse(f->valuestring);
  bool ok = cJSON_IsObject(parsed);
  cJSON_Delete(parsed);
  return ok ? f->valuestring : "{\"op\":\"or\",\"conditions\":[]}";
}

/* 1 when some active segment's filter reads list membership, else 0; or
 * a PV_E* code. Asked once per batch: *cache starts at -1. */
static int lists_used(pg_conn *c, int *cache, pv_error *err) {
  if (*cache >= 0) return *cache;
  PGresult *res = NULL;
  int rc = pg_exec(c,
                   "SELECT EXISTS (SELECT 1 FROM segments WHERE is_active AND NOT deleted AND"
                   " filter::text LIKE '%.lists\"%')",
                   0, NULL, &res, err);
  if (rc) return rc;
  *cache = PQgetvalue(res, 0, 0)[0] == 't';
  PQclear(res);
  return *cache;
}

static int fold_definition(pg_conn *c, const evt_envelope *e, cJSON *d, const char *tenant,
                           const char *id, const char *payload, int *lists_cache,
                           pv_error *err) {
  char pos[24], ver[24], ts[40];
  snprintf(pos, sizeof pos, "%" PRIu64, e->position);
  snprintf(ver, sizeof ver, "%" PRIu64, e->stream_version);
  pv_format_rfc3339_us(e->ts_us, ts);
  const char *v[] = {tenant, id, payload, pos, ver, ts, NULL};
  if (type_eq(e, "segment.created")) {
    v[6] = filter_or_none(d, "filter");
    return exec(c,
                "INSERT INTO segments (tenant, id, entity_type, name, filter, tags, visibility,"
                " team, owner, is_active, version, created_position, updated_position,"
                " created_at, updated_at) SELECT $1, $2, d->>'entity_type', d->>'name',"
                " $7::jsonb, ARRAY(SELECT jsonb_array_elements_text(d->'tags')),"
                " (d->>'visibility')::seg_lib.visibility_scope, d->>'team', d->>'owner',"
                " (d->>'is_active')::boolean, $5::bigint, $4::bigint, $4::bigint,"
                " $6::timestamptz, $6::timestamptz FROM (SELECT $3::jsonb d) x"
                " ON CONFLICT DO NOTHING",
                7, v, err);
  }
  if (type_eq(e, "segment.updated")) {
    v[6] = filter_or_none(d, "filter");
    return exec(c,
                "UPDATE segments SET name = coalesce(d->>'name', name),"
                " filter = coalesce($7::jsonb, filter),"
                " tags = CASE WHEN d ? 'tags' THEN ARRAY(SELECT jsonb_array_elements_text("
                "d->'tags')) ELSE tags END,"
                " visibility = coalesce((d->>'visibility')::seg_lib.visibility_scope,"
                " visibility), is_active = coalesce((d->>'is_active')::boolean, is_active),"
                " version = $5::bigint, updated_position = $4::bigint,"
                " updated_at = $6::timestamptz FROM (SELECT $3::jsonb d) x"
                " WHERE tenant = $1 AND id = $2",
                7, v, err);
  }
  if (type_eq(e, "segment.deleted")) {
    int rc = exec(c, "UPDATE segments SET deleted = true, version = $5::bigint,"
                     " updated_position = $4::bigint, updated_at = $6::timestamptz"
                     " WHERE tenant = $1 AND id = $2 AND $3::text IS NOT NULL", 6, v, err);
    return rc ? rc : exec(c, "DELETE FROM members WHERE tenant = $1 AND segment_id = $2", 2, v,
                          err);
  }
  if (type_eq(e, "segment.refresh_requested"))
    return exec(c, "UPDATE segments SET version = $3::bigint WHERE tenant = $1 AND id = $2",
                3, (const char *[]){tenant, id, ver}, err);
  if (type_eq(e, "list.created")) {
    /* lenient on purpose: another writer of list.created (branch dsets8's
     * domain-set conversion) must not wedge this projection with a value
     * the enums refuse; unknown values fall back to the defaults */
    v[6] = filter_or_none(d, "filter");
    return exec(c,
                "INSERT INTO lists (tenant, id, entity_type, name, tags, visibility, team, owner,"
                " source_type, source_ref, filter, snapshot_position, snapshot_ts, version,"
                " created_position, updated_position, created_at, updated_at)"
                " SELECT $1, $2, coalesce(d->>'entity_type', 'contact'), coalesce(d->>'name',"
                " $2), ARRAY(SELECT jsonb_array_elements_text(coalesce(d->'tags', '[]'))),"
                " CASE WHEN d->>'visibility' IN ('private', 'team', 'global') THEN"
                " (d->>'visibility')::seg_lib.visibility_scope ELSE 'private' END,"
                " coalesce(d->>'team', ''), coalesce(d->>'owner', ''),"
                " CASE WHEN d->>'source_type' IN ('segment', 'manual_upload', 'selection',"
                " 'filter', 'domain_set') THEN (d->>'source_type')::seg_lib.source_type ELSE"
                " 'selection' END, d->>'source_ref', $7::jsonb,"
                " (d->>'snapshot_position')::bigint,"
                " CASE WHEN d ? 'snapshot_ts' THEN to_timestamp((d->>'snapshot_ts')::float8"
                " / 1e6) END, $5::bigint, $4::bigint, $4::bigint, $6::timestamptz,"
                " $6::timestamptz FROM (SELECT $3::jsonb d) x ON CONFLICT DO NOTHING",
                7, v, err);
  }
  if (type_eq(e, "list.updated"))
    return exec(c,
                "UPDATE lists SET name = coalesce(d->>'name', name),"
                " tags = CASE WHEN d ? 'tags' THEN ARRAY(SELECT jsonb_array_elements_text("
                "d->'tags')) ELSE tags END,"
                " visibility = coalesce((d->>'visibility')::seg_lib.visibility_scope,"
                " visibility), version = $5::bigint, updated_position = $4::bigint,"
                " updated_at = $6::timestamptz FROM (SELECT $3::jsonb d) x"
                " WHERE tenant = $1 AND id = $2",
                6, v, err);
  if (type_eq(e, "list.members_added") || type_eq(e, "list.members_removed")) {
    /* the count moves by the rows the statement really added or removed
     * (ids already in, or not in, the list change nothing) */
    bool add = type_eq(e, "list.members_added");
    int rc = exec(c,
                  add ? "WITH ch AS (INSERT INTO list_members (tenant, list_id, record_id,"
                        " position) SELECT $1, $2, x, $4::bigint FROM"
                        " jsonb_array_elements_text($3::jsonb->'record_ids') x ON CONFLICT DO"
                        " NOTHING RETURNING 1) UPDATE lists SET member_count = member_count +"
                        " (SELECT count(*) FROM ch), version = $5::bigint, updated_position ="
                        " $4::bigint, updated_at = $6::timestamptz WHERE tenant = $1 AND id = $2"
                      : "WITH ch AS (DELETE FROM list_members WHERE tenant = $1 AND list_id = $2"
                        " AND record_id IN (SELECT jsonb_array_elements_text($3::jsonb->"
                        "'record_ids')) RETURNING 1) UPDATE lists SET member_count = member_count"
                        " - (SELECT count(*) FROM ch), version = $5::bigint, updated_position ="
                        " $4::bigint, updated_at = $6::timestamptz WHERE tenant = $1 AND id = $2",
                  6, v, err);
    /* list membership is a filter field: its records are re-evaluated, when
     * some active segment reads it */
    int used = rc ? 0 : lists_used(c, lists_cache, err);
    if (used < 0) rc = used;
    if (used > 0)
      rc = exec(c,
                "INSERT INTO pg_temp.seg_changed SELECT $1, 'record', x FROM"
                " jsonb_array_elements_text($2::jsonb->'record_ids') x",
                2, (const char *[]){tenant, payload}, err);
    return rc;
  }
  if (type_eq(e, "list.deleted")) {
    int rc = exec(c,
                  "INSERT INTO pg_temp.seg_changed SELECT tenant, 'record', record_id FROM"
                  " list_members WHERE tenant = $1 AND list_id = $2",
                  2, v, err);
    if (!rc) rc = exec(c, "DELETE FROM list_members WHERE tenant = $1 AND list_id = $2", 2, v,
                       err);
    if (!rc)
      rc = exec(c, "UPDATE lists SET deleted = true, member_count = 0, version = $5::bigint,"
                   " updated_position = $4::bigint, updated_at = $6::timestamptz WHERE"
                   " tenant = $1 AND id = $2 AND $3::text IS NOT NULL", 6, v, err);
    return rc;
  }
  if (type_eq(e, "filter.saved")) {
    v[6] = filter_or_none(d, "filter");
    return exec(c,
                "INSERT INTO filters (tenant, id, name, entity_type, filter, visibility, team,"
                " owner, position, created_at) SELECT $1, $2, d->>'name', d->>'entity_type',"
                " $7::jsonb, (d->>'visibility')::seg_lib.visibility_scope, d->>'team',"
                " d->>'owner', $4::bigint, $6::timestamptz FROM (SELECT $3::jsonb d) x"
                " WHERE $5::text IS NOT NULL ON CONFLICT DO NOTHING",
                7, v, err);
  }
  if (type_eq(e, "filter.deleted"))
    return exec(c, "UPDATE filters SET deleted = true WHERE tenant = $1 AND id = $2", 2, v,
                err);
  return 0;
}

/* Waits for the read models the filters and contact_facts read to pass
 * `position`. */
static int upstream_ready(pg_conn *c, uint64_t position, pv_error *err) {
  char pos[24];
  snprintf(pos, sizeof pos, "%" PRIu64, position);
  const char *v[] = {pos};
  PGresult *res = NULL;
  int rc = pg_exec(c,
                   "SELECT count(*) FROM pivotal.proj_checkpoint WHERE name IN ('contacts',"
                   " 'accounts', 'suppressions') AND position >= $1::bigint",
                   1, v, &res, err);
  if (rc) return rc;
  bool ready = atoi(PQgetvalue(res, 0, 0)) == 3;
  PQclear(res);
  if (!ready)
    return pv_error_set(err, PV_EBUSY, NULL, "the contacts, accounts and suppressions read "
                        "models have not reached position %" PRIu64 " yet", position);
  return 0;
}

/* Evaluates one segment: in full, or for the batch's changed records. */
static int evaluate(pg_conn *c, const char *tenant, const char *seg_id, const char *entity_text,
                    const char *filter_text, bool full, pv_error *err) {
  seg_entity ent;
  if (seg_entity_parse(entity_text, &ent)) return 0;
  cJSON *filter = cJSON_Parse(filter_text);
  seg_sql q;
  seg_sql_init(&q, 2);
  pv_error ferr = PV_ERROR_INIT;
  int rc = 0;
  if (seg_compile(filter, ent, "/filter", &q, &ferr)) {
    /* a filter the catalogue no longer accepts matches nothing */
    pv_buf_reset(&q.where);
    pv_buf_addstr(&q.where, "FALSE");
    for (size_t i = 0; i < q.nparams; i++) free(q.params[i]);
    q.nparams = 0;
  }
  cJSON_Delete(filter);
  size_t np = q.nparams + 2;
  const char **v = pv_xcalloc(np, sizeof *v);
  v[0] = tenant;
  for (size_t i = 0; i < q.nparams; i++) v[i + 1] = q.params[i];
  v[np - 1] = seg_id;
  const char *idx = seg_id_sql(ent);
  pv_buf del = PV_BUF_INIT, ins = PV_BUF_INIT;
  pv_buf_addf(&del, "DELETE FROM members WHERE tenant = $1 AND segment_id = $%zu", np);
  pv_buf_addf(&ins, "INSERT INTO members (tenant, segment_id, entity_id) SELECT $1, $%zu, %s %s"
              "(%s)", np, idx, seg_from_sql(ent), q.where.data);
  if (!full) {
    /* list changes matter only to a filter on list membership */
    const char *e = ent == SEG_ACCOUNT ? "account" : "contact";
    bool lists = strstr(filter_text, ".lists\"") != NULL;
    pv_buf_addf(&del, " AND entity_id IN (SELECT id FROM pg_temp.seg_ids WHERE tenant = $1 AND"
                " entity IN ('%s', '%s%s'))", e, lists ? "list_" : "", e);
    pv_buf_addf(&ins, " AND %s IN (SELECT id FROM pg_temp.seg_ids WHERE tenant = $1 AND"
                " entity IN ('%s', '%s%s'))", idx, e, lists ? "list_" : "", e);
  }
  pv_buf_addstr(&ins, " ON CONFLICT DO NOTHING");
  /* the DELETE names only $1 and the last parameter: the filter's are
   * typed by a cast in a CTE so that PostgreSQL accepts them unused */
  pv_buf del2 = PV_BUF_INIT;
  pv_buf_addstr(&del2, "WITH p AS (SELECT 1");
  for (size_t i = 2; i < np; i++) pv_buf_addf(&del2, ", $%zu::text", i);
  pv_buf_addf(&del2, ") %s", del.data);
  rc = pg_exec(c, del2.data, (int)np, v, NULL, err);
  if (!rc) rc = pg_exec(c, ins.data, (int)np, v, NULL, err);
  if (!rc) {
    pv_buf cnt = PV_BUF_INIT;
    const seg_field *em = seg_field_find("contact.emailable");
    const seg_field *ca = seg_field_find("contact.callable");
    if (ent == SEG_CONTACT)
      pv_buf_addf(&cnt,
                  "UPDATE segments s SET record_count_cache = x.n, emailable_count = x.e,"
                  " callable_count = x.k%s FROM (SELECT count(*) n, count(*) FILTER (WHERE %s)"
                  " e, count(*) FILTER (WHERE %s) k FROM members m JOIN contact_facts f"
                  " ON f.tenant = m.tenant AND f.id = m.entity_id WHERE m.tenant = $1 AND"
                  " m.segment_id = $2) x WHERE s.tenant = $1 AND s.id = $2",
                  full ? ", last_refreshed_at = now()" : "", em->sql, ca->sql);
    else
      pv_buf_addf(&cnt,
                  "UPDATE segments s SET record_count_cache = (SELECT count(*) FROM members m"
                  " WHERE m.tenant = $1 AND m.segment_id = $2)%s WHERE s.tenant = $1 AND"
                  " s.id = $2", full ? ", last_refreshed_at = now()" : "");
    rc = pg_exec(c, cnt.data, 2, (const char *[]){tenant, seg_id}, NULL, err);
    pv_buf_release(&cnt);
  }
  pv_buf_release(&del);
  pv_buf_release(&del2);
  pv_buf_release(&ins);
  free(v);
  seg_sql_release(&q);
  return rc;
}

static int membership(pg_conn *c, const char *full_json, pv_error *err) {
  int rc = exec(c,
                "INSERT INTO pg_temp.seg_ids SELECT DISTINCT x.tenant, x.entity, x.id FROM ("
                " SELECT tenant, 'contact' entity, id FROM pg_temp.seg_changed WHERE kind ="
                " 'contact'"
                " UNION ALL SELECT tenant, 'account', id FROM pg_temp.seg_changed WHERE kind ="
                " 'account'"
                " UNION ALL SELECT tenant, 'list_contact', id FROM pg_temp.seg_changed WHERE"
                " kind = 'record'"
                " UNION ALL SELECT tenant, 'list_account', id FROM pg_temp.seg_changed WHERE"
                " kind = 'record'"
                " UNION ALL SELECT c.tenant, 'contact', c.id FROM pg_temp.seg_changed ch JOIN"
                " rm_contacts.contacts c ON c.tenant = ch.tenant AND c.account_id = ch.id"
                " WHERE ch.kind = 'account'"
                " UNION ALL SELECT c.tenant, 'contact', c.id FROM pg_temp.seg_changed ch JOIN"
                " rm_contacts.contacts c ON c.tenant = ch.tenant AND c.email = ch.id"
                " WHERE ch.kind = 'supp_email'"
                " UNION ALL SELECT c.tenant, 'contact', c.id FROM pg_temp.seg_changed ch JOIN"
                " rm_contacts.contacts c ON c.tenant = ch.tenant AND (c.fields->>'phone') ="
                " ch.id WHERE ch.kind = 'supp_phone') x",
                0, NULL, err);
  if (rc) return rc;
  /* the segmentation copy first: the filters below read it */
  rc = exec(c,
            "SELECT seg_lib.refresh_facts(tenant, array_agg(id)) FROM pg_temp.seg_ids WHERE"
            " entity = 'contact' GROUP BY tenant",
            0, NULL, err);
  if (rc) return rc;
  PGresult *res = NULL;
  const char *v[] = {full_json};
  rc = pg_exec(c,
               "SELECT s.tenant, s.id, s.entity_type, s.filter::text, (s.tenant, s.id) IN"
               " (SELECT x->>0, x->>1 FROM jsonb_array_elements($1::jsonb) x) FROM segments s"
               " WHERE s.is_active AND NOT s.deleted AND ((s.tenant, s.id) IN (SELECT x->>0,"
               " x->>1 FROM jsonb_array_elements($1::jsonb) x) OR EXISTS (SELECT 1 FROM"
               " pg_temp.seg_ids i WHERE i.tenant = s.tenant AND (i.entity = s.entity_type OR"
               " (i.entity = 'list_' || s.entity_type AND s.filter::text LIKE '%.lists\"%'))))"
               " ORDER BY s.tenant, s.id",
               1, v, &res, err);
  if (rc) return rc;
  for (int i = 0; i < PQntuples(res) && rc == 0; i++)
    rc = evaluate(c, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                  PQgetvalue(res, i, 3), PQgetvalue(res, i, 4)[0] == 't', err);
  PQclear(res);
  return rc;
}

static void add_json_text(pv_buf *out, const char *s, size_t n) {
  cJSON *j = cJSON_CreateString("");
  char *tmp = pv_xstrndup(s, n);
  cJSON_SetValuestring(j, tmp);
  char *txt = cJSON_PrintUnformatted(j);
  pv_buf_addstr(out, txt);
  free(txt);
  free(tmp);
  cJSON_Delete(j);
}

int proj_segments_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  if (n == 0) return 0;
  int lists_cache = -1;
  int rc = exec(c,
                "CREATE TEMP TABLE IF NOT EXISTS seg_changed (tenant text, kind text, id text)"
                " ON COMMIT DELETE ROWS", 0, NULL, err);
  if (rc == 0)
    rc = exec(c,
              "CREATE TEMP TABLE IF NOT EXISTS seg_ids (tenant text, entity text, id text)"
              " ON COMMIT DELETE ROWS", 0, NULL, err);
  if (rc) return rc;
  pv_buf changed = PV_BUF_INIT, full = PV_BUF_INIT, payload = PV_BUF_INIT;
  pv_buf_addch(&changed, '[');
  pv_buf_addch(&full, '[');
  bool any_changed = false, any_full = false;
  size_t nchanged = 0; /* elements in `changed` (list events set any_changed without one) */
  for (size_t i = 0; i < n && rc == 0; i++) {
    const evt_envelope *e = &events[i];
    char tenant[EVT_MAX_TENANT + 1], id[EVT_MAX_STREAM + 1];
    snprintf(tenant, sizeof tenant, "%.*s", (int)e->tenant.len, e->tenant.ptr);
    stream_id(e, id, sizeof id);
    const char *kind = NULL, *key = id;
    const cJSON *val = NULL;
    cJSON *d = NULL;
    /* a contact or account event only names what changed: its payload,
     * most of an import's batch, is not read */
    if (type_prefix(e, "contact.")) {
      kind = "contact";
    } else if (type_prefix(e, "account.")) {
      kind = "account";
    } else {
      pv_buf_reset(&payload);
      rc = cat_payload_json(cat_find(e->type.ptr, e->type.len, e->type_version), e->payload,
                            e->payload_len, &payload);
      if (rc) {
        pv_error_set(err, rc, "/payload", "the payload of position %" PRIu64 " is not valid",
                     e->position);
        break;
      }
      d = cJSON_Parse(payload.data);
      if (type_prefix(e, "suppression.")) {
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(d, "channel");
        val = cJSON_GetObjectItemCaseSensitive(d, "value");
        if (cJSON_IsString(ch) && cJSON_IsString(val)) {
          kind = strcmp(ch->valuestring, "email") == 0 ? "supp_email" : "supp_phone";
          key = val->valuestring;
        }
      } else {
        rc = fold_definition(c, e, d, tenant, id, payload.data, &lists_cache, err);
        if (type_eq(e, "segment.created") || type_eq(e, "segment.updated") ||
            type_eq(e, "segment.refresh_requested")) {
          pv_buf_addstr(&full, any_full ? ",[" : "[");
          add_json_text(&full, tenant, strlen(tenant));
          pv_buf_addch(&full, ',');
          add_json_text(&full, id, strlen(id));
          pv_buf_addch(&full, ']');
          any_full = true;
        }
        if (type_prefix(e, "list.members") || type_eq(e, "list.deleted")) any_changed = true;
      }
    }
    if (kind) {
      pv_buf_addstr(&changed, nchanged++ ? ",[" : "[");
      add_json_text(&changed, tenant, strlen(tenant));
      pv_buf_addf(&changed, ",\"%s\",", kind);
      add_json_text(&changed, key, strlen(key));
      pv_buf_addch(&changed, ']');
      any_changed = true;
    }
    cJSON_Delete(d);
  }
  pv_buf_addch(&changed, ']');
  pv_buf_addch(&full, ']');
  if (rc == 0 && (any_changed || any_full)) rc = upstream_ready(c, events[n - 1].position, err);
  if (rc == 0 && any_changed)
    rc = exec(c,
              "INSERT INTO pg_temp.seg_changed SELECT x->>0, x->>1, x->>2 FROM"
              " jsonb_array_elements($1::jsonb) x",
              1, (const char *[]){changed.data}, err);
  if (rc == 0 && (any_changed || any_full)) rc = membership(c, full.data, err);
  pv_buf_release(&changed);
  pv_buf_release(&full);
  pv_buf_release(&payload);
  return rc;
}
