/*
 * Bulk jobs selected by a filter over the read models (suite 'pg'): a real
 * PostgreSQL with the projections folding the log (tests/read5's harness),
 * the api over loopback. The count the client saw must match the
 * selection; the job then runs as one selected by ids.
 */
#include "tests/pg/pg_testdb.h"
#include "tests/read5/read5_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double jnum(const cJSON *j, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!cJSON_IsNumber(v)) test__fail(__FILE__, __LINE__, "no number \"%s\"", key);
  return v->valuedouble;
}

static int post(r5 *x, const char *path, const char *body, cJSON **out) {
  test_response r;
  int st = apit_req(&x->pg.t, "POST", path, x->tok_data_ops, NULL, body, &r);
  *out = r.body.len ? apit_json(&r) : NULL;
  test_response_release(&r);
  return st;
}

static const char *field_of(const cJSON *p) {
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(p, "field");
  return cJSON_IsString(f) ? f->valuestring : "";
}

typedef struct type_count {
  const char *type;
  size_t n;
} type_count;

static int count_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t len) {
  type_count *c = arg;
  (void)raw, (void)len;
  if (mp_slice_eq(e->type, c->type)) c->n++;
  return 0;
}

static size_t count_events(r5 *x, const char *type) {
  type_count c = {type, 0};
  uint64_t next = 1;
  while (next <= log_head(x->pg.t.log))
    ASSERT_OK(log_scan(x->pg.t.log, next, 100000, 64u << 20, count_visit, &c, &next));
  return c.n;
}

static void test_bulk_by_filter(void) {
  r5 x;
  r5_start(&x);
  r5_seed(&x, "pick", "filter.io", 300, NULL);
  r5_seed(&x, "keep", "other.io", 40, NULL);
  r5_sync(&x);
  cJSON *p;
  /* the count the client saw is checked: the selection changed */
  ASSERT_EQ(post(&x, "/api/contacts/bulk",
                 "{\"action\":\"delete\",\"filter\":{\"domain\":\"filter.io\"},"
                 "\"expected_count\":299}",
                 &p),
            412);
  ASSERT_STR_EQ(field_of(p), "/expected_count");
  cJSON_Delete(p);
  ASSERT_EQ(post(&x, "/api/contacts/bulk",
                 "{\"action\":\"delete\",\"filter\":{\"colour\":\"red\"},\"expected_count\":1}",
                 &p),
            400);
  ASSERT_STR_EQ(field_of(p), "/filter/colour");
  cJSON_Delete(p);
  ASSERT_EQ(post(&x, "/api/contacts/bulk",
                 "{\"action\":\"delete\",\"filter\":{\"domain\":\"filter.io\"}}", &p),
            400);
  ASSERT_STR_EQ(field_of(p), "/expected_count");
  cJSON_Delete(p);

  ASSERT_EQ(post(&x, "/api/contacts/bulk",
                 "{\"action\":\"delete\",\"filter\":{\"domain\":\"FILTER.io\"},"
                 "\"expected_count\":300}",
                 &p),
            202);
  ASSERT_EQ((int)jnum(p, "total"), 300);
  char path[96];
  snprintf(path, sizeof path, "/api/jobs/%s",
           cJSON_GetObjectItemCaseSensitive(p, "job_id")->valuestring);
  cJSON_Delete(p);
  cJSON *job = NULL;
  for (int i = 0; i < 5000; i++) {
    ASSERT_EQ(r5_get(&x, path, x.tok_data_ops, &job), 200);
    if (strcmp(cJSON_GetObjectItemCaseSensitive(job, "status")->valuestring, "running")) break;
    cJSON_Delete(job);
    job = NULL;
    usleep(2000);
  }
  ASSERT(job != NULL);
  ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(job, "status")->valuestring, "finished");
  ASSERT_EQ((int)jnum(job, "done"), 300);
  cJSON_Delete(job);
  ASSERT_EQ(count_events(&x, "contact.deleted"), 300);

  /* restore them by the deleted ones of the domain */
  r5_sync(&x);
  ASSERT_EQ(post(&x, "/api/contacts/bulk",
                 "{\"action\":\"restore\",\"filter\":{\"domain\":\"filter.io\",\"deleted\":"
                 "\"true\"},\"expected_count\":300}",
                 &p),
            202);
  cJSON_Delete(p);
  r5_stop(&x);
}

PG_TEST_MAIN(TEST(test_bulk_by_filter))
