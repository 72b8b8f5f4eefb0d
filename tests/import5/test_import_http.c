/*
 * The import routes end to end over loopback (issue #5 §5): an upload as
 * data_ops, a dry run then a commit with the same report, progress by GET,
 * the errors CSV download, bad options, and a 50 MB upload streamed to disk
 * with bounded memory.
 */
#include "adapters/import/imp_job.h"
#include "tests/api/api_test_util.h"

#include <stdatomic.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ASan's quarantine keeps freed memory: peak RSS says nothing there. */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

static const char *const CSV =
    "Email;Given Name;Last Name;Job Title;Company;Website\r\n"
    "ann@acme.com;Ann;A;CTO;Acme;acme.com\r\n"
    "ANN@acme.com ;Ann;A;;;\r\n"
    "=cmd|' /C calc'!A0;X;Y;;;\r\n"
    "bo@beta.io;Bo;\"B, \"\"jr\"\"\";;Beta;https://beta.io\r\n";

static char *import_id(test_response *r) {
  cJSON *j = apit_json(r);
  cJSON *id = cJSON_GetObjectItem(j, "id");
  ASSERT(cJSON_IsString(id));
  char *out = strdup(id->valuestring);
  cJSON_Delete(j);
  return out;
}

/* Polls GET /api/imports/ID until it is no longer running; returns the JSON. */
static cJSON *wait_done(apit *t, const char *tok, const char *id) {
  char path[128];
  snprintf(path, sizeof path, "/api/imports/%s", id);
  for (int i = 0; i < 3000; i++) {
    test_response r;
    int st = apit_req(t, "GET", path, tok, NULL, NULL, &r);
    if (st != 200) fprintf(stderr, "# %d %.*s\n", st, (int)r.body.len, r.body.data);
    ASSERT_EQ(st, 200);
    cJSON *j = apit_json(&r);
    test_response_release(&r);
    const char *state = cJSON_GetObjectItem(j, "state")->valuestring;
    if (strcmp(state, "running") != 0) return j;
    cJSON_Delete(j);
    usleep(10000);
  }
  test__fail(__FILE__, __LINE__, "import %s did not finish", id);
  return NULL;
}

static char *read_report(const char *id) {
  char path[512];
  snprintf(path, sizeof path, "%s/data/imports/%s.report.csv", test_tmpdir(), id);
  FILE *f = fopen(path, "rb");
  ASSERT(f != NULL);
  pv_buf b = PV_BUF_INIT;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) pv_buf_add(&b, chunk, n);
  fclose(f);
  return pv_buf_detach(&b, NULL);
}

static void start(apit *t, char uid[USERS_ID_MAX]) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/data", test_tmpdir());
  ASSERT_OK(mkdir(dir, 0700));
  apit_opts o = {.data_dir = dir};
  apit_start(t, &o);
  apit_add_user(t, "ops@example.com", "data_ops", NULL, uid);
}

static void upload_dry_run_commit_errors(void) {
  apit t;
  char uid[USERS_ID_MAX];
  start(&t, uid);
  char *tok = apit_token(&t, uid);
  const char *hdr = "Content-Type: text/csv\r\n";
  test_response r;
  ASSERT_EQ(apit_req(&t, "POST", "/api/imports?mode=dry_run&map=Given+Name:first_name", tok, hdr,
                     CSV, &r), 202);
  char *dry = import_id(&r);
  test_response_release(&r);
  cJSON *j = wait_done(&t, tok, dry);
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "state")->valuestring, "done");
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "mode")->valuestring, "dry_run");
  cJSON *counts = cJSON_GetObjectItem(j, "counts");
  ASSERT_EQ(cJSON_GetObjectItem(counts, "created")->valueint, 2);
  ASSERT_EQ(cJSON_GetObjectItem(counts, "duplicate")->valueint, 1);
  ASSERT_EQ(cJSON_GetObjectItem(counts, "invalid")->valueint, 1);
  cJSON_Delete(j);

  ASSERT_EQ(apit_req(&t, "POST", "/api/imports?mode=commit&map=Given%20Name%3Afirst_name", tok,
                     hdr, CSV, &r), 202);
  char *commit = import_id(&r);
  test_response_release(&r);
  j = wait_done(&t, tok, commit);
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "state")->valuestring, "done");
  ASSERT_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "counts"), "created")->valueint, 2);
  cJSON_Delete(j);
  /* the same state, the same decisions: the reports are equal */
  char *rd = read_report(dry), *rc = read_report(commit);
  ASSERT_STR_EQ(rd, rc);
  ASSERT(strstr(rc, "first_name") != NULL); /* the override mapped "Given Name" */
  free(rd);
  free(rc);

  char path[128];
  snprintf(path, sizeof path, "/api/imports/%s/errors.csv", commit);
  ASSERT_EQ(apit_req(&t, "GET", path, tok, NULL, NULL, &r), 200);
  pv_buf_add(&r.body, "", 1);
  ASSERT(strstr(r.head.data, "text/csv") != NULL);
  ASSERT_STR_EQ(r.body.data, "row,status,contact_id,fields,account,field,reason\r\n"
                             "2,duplicate,,,,,same email or id as row 1\r\n"
                             "3,invalid,,,,/email,\"invalid email address \"\"=cmd|' /C "
                             "calc'!A0\"\": no \"\"@\"\"\"\r\n");
  test_response_release(&r);

  ASSERT_EQ(apit_req(&t, "GET", "/api/imports/nope", tok, NULL, NULL, &r), 404);
  test_response_release(&r);
  ASSERT_EQ(apit_req(&t, "POST", "/api/imports?mode=maybe", tok, hdr, CSV, &r), 400);
  test_response_release(&r);
  ASSERT_EQ(apit_req(&t, "POST", "/api/imports?map=Email", tok, hdr, CSV, &r), 400);
  test_response_release(&r);
  /* a header with nothing to identify a contact: the job fails, says why */
  ASSERT_EQ(apit_req(&t, "POST", "/api/imports", tok, hdr, "Name\r\nAnn\r\n", &r), 202);
  char *bad = import_id(&r);
  test_response_release(&r);
  j = wait_done(&t, tok, bad);
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "state")->valuestring, "failed");
  ASSERT(strstr(cJSON_GetObjectItem(j, "error")->valuestring, "identifies") != NULL);
  cJSON_Delete(j);
  free(bad);
  free(dry);
  free(commit);
  free(tok);
  apit_stop(&t);
}

/* 40,000 invalid rows: an errors download of ~3 MB, many times the
 * server's write backlog, read by a client that stalls once midway; every
 * line arrives, in order, after the header. */
static void errors_csv_streams_a_big_report(void) {
  apit t;
  char uid[USERS_ID_MAX];
  start(&t, uid);
  char *tok = apit_token(&t, uid);
  const int rows = 40000;
  pv_buf csv = PV_BUF_INIT;
  pv_buf_addf(&csv, "Email,First Name\r\n");
  for (int i = 0; i < rows; i++) pv_buf_addf(&csv, "not-an-address-%d,N\r\n", i);
  test_response r;
  ASSERT_EQ(apit_req(&t, "POST", "/api/imports?mode=commit", tok, "Content-Type: text/csv\r\n",
                     csv.data, &r), 202);
  pv_buf_release(&csv);
  char *id = import_id(&r);
  test_response_release(&r);
  cJSON *j = wait_done(&t, tok, id);
  ASSERT_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "counts"), "invalid")->valueint, rows);
  cJSON_Delete(j);

  test_client c;
  test_connect(&c, t.port);
  pv_buf req = PV_BUF_INIT;
  pv_buf_addf(&req, "GET /api/imports/%s/errors.csv HTTP/1.1\r\nHost: x\r\n"
                    "Authorization: Bearer %s\r\n\r\n", id, tok);
  test_send(&c, req.data, req.len);
  pv_buf_release(&req);
  usleep(200000); /* the server fills its backlog and waits */
  ASSERT_EQ(test_read_response(&c, &r), 0);
  test_close(&c);
  ASSERT_EQ(r.status, 200);
  char disp[128], want[128];
  snprintf(want, sizeof want, "attachment; filename=\"import-%s-errors.csv\"", id);
  ASSERT_STR_EQ(test_header(&r, "content-disposition", disp, sizeof disp), want);
  ASSERT(r.body.len > (2u << 20));
  pv_buf_add(&r.body, "", 1);
  const char *p = r.body.data;
  ASSERT(strncmp(p, "row,status,contact_id,fields,account,field,reason\r\n", 51) == 0);
  p = strstr(p, "\r\n") + 2;
  for (int i = 0; i < rows; i++) {
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "%d,invalid,", i + 1);
    if (strncmp(p, prefix, (size_t)n) != 0) test__fail(__FILE__, __LINE__, "line %d: %.40s", i, p);
    p = strstr(p, "\r\n");
    ASSERT(p != NULL);
    p += 2;
  }
  ASSERT_EQ(*p, '\0');
  test_response_release(&r);
  free(id);
  free(tok);
  apit_stop(&t);
}

static void upload_50mb_bounded_memory(void) {
  apit t;
  char uid[USERS_ID_MAX];
  start(&t, uid);
  char *tok = apit_token(&t, uid);
  /* 5,000 rows of 10 KB: 50 MB, sent in 64 KiB writes */
  const size_t rows = 5000, note = 10000;
  const char *header = "Email,Notes\r\n";
  size_t row_len = strlen("p0000@big.example,") + note + 2;
  size_t total = strlen(header) + rows * row_len;
  struct rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  test_client c;
  test_connect(&c, t.port);
  pv_buf head = PV_BUF_INIT;
  pv_buf_addf(&head, "POST /api/imports?mode=commit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Authorization: Bearer %s\r\nContent-Type: text/csv\r\n"
                     "Content-Length: %zu\r\n\r\n%s", tok, total, header);
  test_send(&c, head.data, head.len);
  pv_buf_release(&head);
  char *line = pv_xmalloc(row_len + 1);
  pv_buf chunk = PV_BUF_INIT;
  for (size_t i = 0; i < rows; i++) {
    snprintf(line, row_len + 1, "p%04zu@big.example,", i);
    memset(line + strlen(line), 'n', note);
    memcpy(line + row_len - 2, "\r\n", 2);
    pv_buf_add(&chunk, line, row_len);
    if (chunk.len >= 65536 || i + 1 == rows) {
      test_send(&c, chunk.data, chunk.len);
      pv_buf_reset(&chunk);
    }
  }
  free(line);
  pv_buf_release(&chunk);
  test_response r;
  ASSERT_EQ(test_read_response(&c, &r), 0);
  ASSERT_EQ(r.status, 202);
  test_close(&c);
  char *id = import_id(&r);
  test_response_release(&r);
  cJSON *j = wait_done(&t, tok, id);
  getrusage(RUSAGE_SELF, &after);
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "state")->valuestring, "done");
  ASSERT_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "counts"), "created")->valueint, 5000);
  cJSON_Delete(j);
  /* the body is 50 MB; the server's peak grows by far less (not checked
   * under ASan, whose quarantine keeps freed memory by design) */
#ifndef TEST_ASAN
  ASSERT((after.ru_maxrss - before.ru_maxrss) * 1024 < 20 * 1000 * 1000);
#else
  (void)before, (void)after;
#endif
  free(id);
  free(tok);
  apit_stop(&t);
}

/* ---- an import the server resumes at start ---- */

static _Atomic bool stop_flag;

static void stop_early(const imp_progress *p, void *arg) {
  (void)arg;
  if (p->rows_done >= 2000) atomic_store(&stop_flag, true);
}

static void server_resumes_unfinished_import(void) {
  /* an import of 5,000 rows stopped after ~2,000, as a shutdown leaves it */
  char data[512], imports[600], upload[700], side[700], report[700];
  snprintf(data, sizeof data, "%s/data", test_tmpdir());
  snprintf(imports, sizeof imports, "%s/imports", data);
  snprintf(upload, sizeof upload, "%s/resume1.upload", imports);
  snprintf(side, sizeof side, "%s/resume1.tenant", imports);
  snprintf(report, sizeof report, "%s/resume1.report.csv", imports);
  ASSERT_OK(mkdir(data, 0700));
  ASSERT_OK(mkdir(imports, 0700));
  FILE *f = fopen(upload, "wb");
  ASSERT(f != NULL);
  fputs("Email,First Name\r\n", f);
  for (int i = 0; i < 5000; i++) fprintf(f, "r%d@resume.example,R%d\r\n", i, i);
  fclose(f);
  f = fopen(side, "w");
  ASSERT(f != NULL);
  fputs("default\n", f);
  fclose(f);
  {
    log_t *log;
    writer_t *w;
    pv_error err = PV_ERROR_INIT;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/log", test_tmpdir());
    ASSERT_OK(log_open(&log, dir, NULL, &err));
    ASSERT_OK(writer_start(&w, log, NULL, &err));
    imp_job_opts o = {.tenant = "default", .actor = "test", .import_id = "resume1",
                      .path = upload, .format = "csv", .report_path = report,
                      .progress_every = 1000, .on_progress = stop_early, .cancel = &stop_flag};
    imp_progress p;
    ASSERT_ERR(imp_job_run(log, w, &o, &p, &err), PV_ESHUTDOWN);
    ASSERT(p.rows_done < 5000);
    writer_stop(w);
    log_close(log);
  }
  apit t;
  apit_opts ao = {.data_dir = data};
  char uid[USERS_ID_MAX];
  apit_start(&t, &ao); /* resumes it */
  apit_add_user(&t, "ops@example.com", "data_ops", NULL, uid);
  char *tok = apit_token(&t, uid);
  cJSON *j = wait_done(&t, tok, "resume1");
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "state")->valuestring, "done");
  ASSERT_EQ(cJSON_GetObjectItem(j, "rows_done")->valueint, 5000);
  ASSERT_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "counts"), "created")->valueint, 5000);
  cJSON_Delete(j);
  char *rep = read_report("resume1");
  size_t lines = 0;
  for (char *p = rep; (p = strstr(p, "\r\n")); p += 2) lines++;
  ASSERT_EQ(lines, 5001); /* the header and each row once */
  free(rep);
  free(tok);
  apit_stop(&t);
}

TEST_MAIN(TEST(upload_dry_run_commit_errors), TEST(errors_csv_streams_a_big_report),
          TEST(upload_50mb_bounded_memory),
          TEST(server_resumes_unfinished_import))
