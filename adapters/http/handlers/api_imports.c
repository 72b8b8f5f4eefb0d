/*
 * api_imports — /api/imports: contact files uploaded and imported by a job
 * (adapters/import/imp_job.h), its progress, and its per-row errors.
 *
 * POST /api/imports is a streaming route: each chunk of the body is
 * appended to DATA_DIR/imports/<id>.upload as it arrives (never held in
 * memory), and when the body is complete a thread runs the import (dry run
 * or commit) and the answer is 202 with the id. Options are query
 * parameters, the body being the file: mode=dry_run|commit (dry_run by
 * default), source=NAME, delimiter=C, format=csv|xlsx, and map=COLUMN:FIELD
 * (repeatable). A sidecar <id>.tenant names the import's tenant, so that
 * at start (api_imports_new) every commit whose events say it is unfinished
 * is resumed.
 *
 * GET /api/imports/:id answers the running job's progress (rows done,
 * rows/s, ETA from the bytes left) or, for an import of an earlier run,
 * what its events say. GET /api/imports/:id/errors.csv answers the rows of
 * the report that were not applied (duplicate, invalid, suppressed,
 * failed), already escaped by RFC 4180 and against formula injection,
 * streamed: the report is read 64 KiB at a time on libuv's thread pool
 * (uv_fs_read) and the next read waits for the connection to drain, so a
 * report of any size costs one buffer.
 *
 * Thread: handlers on the API loop; jobs on their own threads, sharing the
 * registry under its lock. api_imports_free cancels running jobs (they stop
 * between rows without recording an end: the next start resumes them) and
 * joins them, before the writer stops.
 */
#include "adapters/http/handlers/api_internal.h"
#include "adapters/import/imp_job.h"
#include "core/common/pv_time.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The report is read in pieces of 64 KiB: as the HTTP server's own read
 * buffer. */
#define API_IMPORT_ERRORS_READ (64u << 10)
#define API_IMPORT_ID_LEN 32

typedef struct imp_http_job {
  struct imp_http_job *next;
  api_imports *owner;
  char id[API_IMPORT_ID_LEN + 1];
  char tenant[AUTH_ID_MAX];
  char actor[AUTH_ID_MAX + 8];
  char source[64];
  char upload[PATH_MAX + 64], report[PATH_MAX + 64];
  imp_override ov[IMP_MAX_COLUMNS];
  size_t ov_count;
  pv_buf ov_strs;
  char delimiter;
  char format[8]; /* "csv" or "xlsx" */
  bool dry_run, resume;
  /* the upload */
  FILE *f;
  uint64_t bytes;
  /* the run (registry lock) */
  pthread_t thread;
  bool thread_started, running;
  imp_progress prog;
  pv_error err;
  int rc;
} imp_http_job;

struct api_imports {
  api *a;
  char dir[PATH_MAX];
  pthread_mutex_t lock;
  imp_http_job *jobs;
  _Atomic bool cancel;
};

/* ---- jobs ------------------------------------------------------------------ */

static void job_progress(const imp_progress *p, void *arg) {
  imp_http_job *j = arg;
  pthread_mutex_lock(&j->owner->lock);
  j->prog = *p;
  pthread_mutex_unlock(&j->owner->lock);
}

static void *job_main(void *arg) {
  imp_http_job *j = arg;
  api *a = j->owner->a;
  imp_job_opts o = {.tenant = j->tenant, .actor = j->actor, .import_id = j->id,
                    .path = j->upload, .format = j->format[0] ? j->format : "csv", .delimiter = j->delimiter,
                    .overrides = j->ov, .override_count = j->ov_count,
                    .source = j->source[0] ? j->source : NULL, .dry_run = j->dry_run,
                    .report_path = j->report, .spool_dir = j->owner->dir,
                    .on_progress = job_progress, .progress_arg = j,
                    .cancel = &j->owner->cancel};
  imp_progress p;
  pv_error err = PV_ERROR_INIT;
  int rc = j->resume ? imp_job_resume(a->log, a->writer, j->tenant, j->actor, j->id, &o, &p, &err)
                     : imp_job_run(a->log, a->writer, &o, &p, &err);
  pthread_mutex_lock(&j->owner->lock);
  j->prog = p;
  j->rc = rc;
  j->err = err;
  j->running = false;
  pthread_mutex_unlock(&j->owner->lock);
  return NULL;
}

static void job_free(imp_http_job *j) {
  if (j->f) fclose(j->f);
  pv_buf_release(&j->ov_strs);
  free(j);
}

static imp_http_job *job_new(api_imports *im, const char *tenant, const char *actor,
                             const char *id) {
  imp_http_job *j = pv_xcalloc(1, sizeof *j);
  j->owner = im;
  snprintf(j->id, sizeof j->id, "%s", id);
  snprintf(j->tenant, sizeof j->tenant, "%s", tenant);
  snprintf(j->actor, sizeof j->actor, "%s", actor);
  snprintf(j->upload, sizeof j->upload, "%s/%s.upload", im->dir, id);
  snprintf(j->report, sizeof j->report, "%s/%s.report.csv", im->dir, id);
  pv_buf_init(&j->ov_strs, 64);
  return j;
}

/* Starts the job's thread and lists it. Returns: 0 or PV_EINTERNAL. */
static int job_start(imp_http_job *j) {
  api_imports *im = j->owner;
  pthread_mutex_lock(&im->lock);
  j->running = true;
  j->next = im->jobs;
  im->jobs = j;
  j->thread_started = pthread_create(&j->thread, NULL, job_main, j) == 0;
  if (!j->thread_started) j->running = false;
  pthread_mutex_unlock(&im->lock);
  return j->thread_started ? 0 : PV_EINTERNAL;
}

/* ---- life cycle ------------------------------------------------------------- */

/* Resumes every commit of DATA_DIR/imports whose events say unfinished. */
static void resume_all(api_imports *im) {
  DIR *d = opendir(im->dir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t n = strlen(de->d_name);
    if (n <= 7 || strcmp(de->d_name + n - 7, ".tenant") != 0 || n - 7 > API_IMPORT_ID_LEN)
      continue;
    char id[API_IMPORT_ID_LEN + 1], path[PATH_MAX + 300], tenant[AUTH_ID_MAX] = "";
    snprintf(id, sizeof id, "%.*s", (int)(n - 7), de->d_name);
    snprintf(path, sizeof path, "%s/%s", im->dir, de->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    bool ok = fgets(tenant, sizeof tenant, f) != NULL;
    fclose(f);
    if (!ok) continue;
    tenant[strcspn(tenant, "\n")] = '\0';
    imp_job_info info;
    pv_error err = PV_ERROR_INIT;
    if (imp_job_status(im->a->log, tenant, id, &info, &err) || info.finished || info.dry_run)
      continue;
    imp_http_job *j = job_new(im, tenant, "system:resume", id);
    j->resume = true;
    if (job_start(j)) fprintf(stderr, "pivotal: could not resume import %s\n", id);
    else fprintf(stderr, "pivotal: resuming import %s\n", id);
  }
  closedir(d);
}

int api_imports_new(api *a, const char *data_dir, api_imports **out, pv_error *err) {
  api_imports *im = pv_xcalloc(1, sizeof *im);
  im->a = a;
  snprintf(im->dir, sizeof im->dir, "%s/imports", data_dir);
  if (mkdir(im->dir, 0700) != 0 && errno != EEXIST) {
    pv_error_set(err, PV_EIO, NULL, "could not create \"%s\"", im->dir);
    free(im);
    return PV_EIO;
  }
  pthread_mutex_init(&im->lock, NULL);
  *out = im;
  resume_all(im);
  return 0;
}

void api_imports_free(api_imports *im) {
  if (!im) return;
  atomic_store(&im->cancel, true);
  for (imp_http_job *j = im->jobs, *next; j; j = next) {
    next = j->next;
    if (j->thread_started) pthread_join(j->thread, NULL);
    job_free(j);
  }
  pthread_mutex_destroy(&im->lock);
  free(im);
}

/* ---- POST /api/imports ------------------------------------------------------- */

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes [s, s+n) ('+' is a space) into out. */
static void query_decode(const char *s, size_t n, pv_buf *out) {
  pv_buf_reset(out);
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '+') c = ' ';
    else if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    }
    pv_buf_add(out, &c, 1);
  }
}

/* The query's options into j. Returns: 0 or PV_EINVAL (err names it). */
static int parse_options(imp_http_job *j, const char *query, pv_error *err) {
  pv_buf key = PV_BUF_INIT, val = PV_BUF_INIT;
  size_t ov_off[IMP_MAX_COLUMNS * 2];
  int rc = 0;
  for (const char *p = query; *p && rc == 0;) {
    size_t len = strcspn(p, "&");
    const char *eq = memchr(p, '=', len);
    size_t klen = eq ? (size_t)(eq - p) : len;
    query_decode(p, klen, &key);
    query_decode(eq ? eq + 1 : p + len, eq ? len - klen - 1 : 0, &val);
    if (strcmp(key.data, "mode") == 0) {
      if (strcmp(val.data, "dry_run") && strcmp(val.data, "commit"))
        rc = pv_error_set(err, PV_EINVAL, "/mode", "mode is \"dry_run\" or \"commit\"");
      j->dry_run = strcmp(val.data, "dry_run") == 0;
    } else if (strcmp(key.data, "source") == 0) {
      rc = surv_source_check(val.data, "/source", err);
      snprintf(j->source, sizeof j->source, "%s", val.data);
    } else if (strcmp(key.data, "delimiter") == 0) {
      if (val.len != 1 || strchr(",;\t|", val.data[0]) == NULL)
        rc = pv_error_set(err, PV_EINVAL, "/delimiter", "delimiter is one of , ; | or a tab");
      j->delimiter = val.data[0];
    } else if (strcmp(key.data, "format") == 0) {
      if (strcmp(val.data, "csv") != 0 && strcmp(val.data, "xlsx") != 0)
        rc = pv_error_set(err, PV_EINVAL, "/format", "format \"%.32s\" is not supported",
                          val.data);
      snprintf(j->format, sizeof j->format, "%s", val.data);
    } else if (strcmp(key.data, "map") == 0) {
      char *colon = strrchr(val.data, ':');
      if (!colon || colon == val.data || j->ov_count == IMP_MAX_COLUMNS) {
        rc = pv_error_set(err, PV_EINVAL, "/map", "map is COLUMN:FIELD");
      } else {
        *colon = '\0';
        ov_off[2 * j->ov_count] = j->ov_strs.len;
        pv_buf_add(&j->ov_strs, val.data, strlen(val.data) + 1);
        ov_off[2 * j->ov_count + 1] = j->ov_strs.len;
        pv_buf_add(&j->ov_strs, colon + 1, strlen(colon + 1) + 1);
        j->ov_count++;
      }
    } else {
      rc = pv_error_set(err, PV_EINVAL, NULL, "unknown option \"%.64s\"", key.data);
    }
    p += len;
    if (*p == '&') p++;
  }
  for (size_t i = 0; i < j->ov_count; i++) {
    j->ov[i].column = j->ov_strs.data + ov_off[2 * i];
    j->ov[i].target = j->ov_strs.data + ov_off[2 * i + 1];
  }
  pv_buf_release(&key);
  pv_buf_release(&val);
  return rc;
}

static void upload_fail(http_request *req, imp_http_job *j, pv_error *err) {
  if (j->f) {
    fclose(j->f);
    j->f = NULL;
  }
  unlink(j->upload);
  job_free(j);
  http_respond_error(req, err);
}

static void on_chunk(http_request *req, const char *data, size_t len, void *ctx) {
  imp_http_job *j = ctx;
  if (!j->f) return; /* already answered */
  if (fwrite(data, 1, len, j->f) != len) {
    pv_error err = PV_ERROR_INIT;
    pv_error_set(&err, PV_EIO, NULL, "could not store the upload");
    fclose(j->f);
    j->f = NULL;
    unlink(j->upload);
    http_respond_error(req, &err);
    return;
  }
  j->bytes += len;
}

static void on_end(http_request *req, int status, void *ctx) {
  imp_http_job *j = ctx;
  pv_error err = PV_ERROR_INIT;
  if (!j->f) { /* answered by on_chunk */
    job_free(j);
    return;
  }
  if (status) {
    pv_error_set(&err, status, NULL, "the upload did not complete");
    upload_fail(req, j, &err);
    return;
  }
  bool ok = fflush(j->f) == 0 && fsync(fileno(j->f)) == 0;
  ok = fclose(j->f) == 0 && ok;
  j->f = NULL;
  char side[PATH_MAX + 64];
  snprintf(side, sizeof side, "%s/%s.tenant", j->owner->dir, j->id);
  FILE *t = ok ? fopen(side, "w") : NULL;
  ok = t && fprintf(t, "%s\n", j->tenant) > 0;
  if (t) ok = fclose(t) == 0 && ok;
  if (!ok) {
    pv_error_set(&err, PV_EIO, NULL, "could not store the upload");
    upload_fail(req, j, &err);
    return;
  }
  uint64_t bytes = j->bytes;
  bool dry = j->dry_run;
  char id[API_IMPORT_ID_LEN + 1];
  snprintf(id, sizeof id, "%s", j->id);
  if (job_start(j)) { /* listed: freed with the registry */
    pv_error_set(&err, PV_EINTERNAL, NULL, "could not start the import");
    http_respond_error(req, &err);
    return;
  }
  cJSON *body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "id", id);
  cJSON_AddStringToObject(body, "mode", dry ? "dry_run" : "commit");
  cJSON_AddStringToObject(body, "state", "running");
  cJSON_AddNumberToObject(body, "bytes", (double)bytes);
  char loc[96];
  snprintf(loc, sizeof loc, "/api/imports/%s", id);
  http_response_header(req, "Location", loc);
  api_respond_json(req, 202, body);
}

void api_imports_create(http_request *req) {
  api *a = http_request_app(req);
  const api_principal *ap = api_principal_of(req);
  pv_error err = PV_ERROR_INIT;
  if (!a->imports) {
    pv_error_set(&err, PV_EUNAVAILABLE, NULL, "imports are not configured on this server");
    pv_error_hint(&err, "Start the server with a data directory.");
    http_respond_error(req, &err);
    return;
  }
  uint8_t b[API_IMPORT_ID_LEN / 2];
  char id[API_IMPORT_ID_LEN + 1];
  randombytes_buf(b, sizeof b);
  sodium_bin2hex(id, sizeof id, b, sizeof b);
  imp_http_job *j = job_new(a->imports, ap->p.tenant, ap->actor, id);
  j->dry_run = true;
  if (parse_options(j, http_request_query(req), &err)) {
    job_free(j);
    http_respond_error(req, &err);
    return;
  }
  j->f = fopen(j->upload, "wb");
  if (!j->f) {
    pv_error_set(&err, PV_EIO, NULL, "could not store the upload");
    job_free(j);
    http_respond_error(req, &err);
    return;
  }
  http_request_stream(req, on_chunk, on_end, j);
}

/* ---- GET ----------------------------------------------------------------------- */

static cJSON *counts_json(const uint64_t *counts) {
  cJSON *c = cJSON_CreateObject();
  for (int s = 0; s < IMP_STATUS_COUNT; s++)
    cJSON_AddNumberToObject(c, imp_status_name((imp_status)s), (double)counts[s]);
  return c;
}

void api_imports_get(http_request *req) {
  api *a = http_request_app(req);
  const api_principal *ap = api_principal_of(req);
  const char *id = http_request_param(req, "id");
  pv_error err = PV_ERROR_INIT;
  cJSON *body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "id", id);
  bool live = false;
  if (a->imports) {
    pthread_mutex_lock(&a->imports->lock);
    for (imp_http_job *j = a->imports->jobs; j; j = j->next) {
      if (strcmp(j->id, id) != 0 || strcmp(j->tenant, ap->p.tenant) != 0) continue;
      if (!j->running && j->rc) { /* it may have failed before recording its start */
        live = true;
        cJSON_AddStringToObject(body, "state", "failed");
        cJSON_AddStringToObject(body, "mode", j->dry_run ? "dry_run" : "commit");
        cJSON_AddNumberToObject(body, "rows_done", (double)j->prog.rows_done);
        cJSON_AddItemToObject(body, "counts", counts_json(j->prog.counts));
        cJSON_AddStringToObject(body, "error", j->err.message);
      }
      if (!j->running) continue;
      live = true;
      cJSON_AddStringToObject(body, "state", "running");
      cJSON_AddStringToObject(body, "mode", j->dry_run ? "dry_run" : "commit");
      cJSON_AddNumberToObject(body, "rows_done", (double)j->prog.rows_done);
      cJSON_AddNumberToObject(body, "rows_per_s", j->prog.rows_per_s);
      if (j->prog.eta_s >= 0) cJSON_AddNumberToObject(body, "eta_s", j->prog.eta_s);
      else cJSON_AddNullToObject(body, "eta_s");
      cJSON_AddItemToObject(body, "counts", counts_json(j->prog.counts));
    }
    pthread_mutex_unlock(&a->imports->lock);
  }
  if (!live) {
    imp_job_info info;
    int rc = imp_job_status(a->log, ap->p.tenant, id, &info, &err);
    if (rc) {
      cJSON_Delete(body);
      http_respond_error(req, &err);
      return;
    }
    cJSON_AddStringToObject(body, "state",
                            info.finished ? (info.failed ? "failed" : "done") : "interrupted");
    cJSON_AddStringToObject(body, "mode", info.dry_run ? "dry_run" : "commit");
    cJSON_AddNumberToObject(body, "rows_done", (double)info.rows);
    cJSON_AddItemToObject(body, "counts", counts_json(info.counts));
    if (info.failed) cJSON_AddStringToObject(body, "error", info.error);
  }
  api_respond_json(req, 200, body);
}

/* The report's lines whose status is not applied (column 2). */
static bool is_error_line(const char *line) {
  const char *comma = strchr(line, ',');
  if (!comma) return false;
  return strncmp(comma + 1, "duplicate,", 10) == 0 || strncmp(comma + 1, "invalid,", 8) == 0 ||
         strncmp(comma + 1, "suppressed,", 11) == 0 || strncmp(comma + 1, "failed,", 7) == 0;
}

/* The errors download of one request. Its records are one line each:
 * imp_csv_cell quotes CR and LF inside a cell, so a record ends at a CRLF
 * outside quotes. */
typedef struct errors_stream {
  http_request *req;
  uv_loop_t *loop;
  uv_fs_t fs;
  uv_file fd;
  int64_t offset;
  bool quoted, past_header;
  pv_buf rec, out;
  char buf[API_IMPORT_ERRORS_READ];
} errors_stream;

static void errors_read(errors_stream *es);

static void errors_close(errors_stream *es) {
  uv_fs_t c;
  uv_fs_close(es->loop, &c, es->fd, NULL);
  uv_fs_req_cleanup(&c);
  pv_buf_release(&es->rec);
  pv_buf_release(&es->out);
  free(es);
}

static void errors_writable(http_request *req, int status, void *ctx) {
  errors_stream *es = ctx;
  if (status) {
    http_respond_end(req);
    errors_close(es);
    return;
  }
  errors_read(es);
}

static void errors_on_read(uv_fs_t *r) {
  errors_stream *es = r->data;
  ssize_t n = r->result;
  uv_fs_req_cleanup(r);
  if (n <= 0) {
    /* a read error cuts the body, so it cannot pass for the whole list */
    if (n < 0) http_respond_abort(es->req);
    else http_respond_end(es->req);
    errors_close(es);
    return;
  }
  es->offset += n;
  pv_buf_reset(&es->out);
  for (ssize_t i = 0; i < n; i++) {
    char ch = es->buf[i];
    pv_buf_add(&es->rec, &ch, 1);
    if (ch == '"') es->quoted = !es->quoted;
    if (ch == '\n' && !es->quoted) {
      if (es->past_header && is_error_line(es->rec.data))
        pv_buf_add(&es->out, es->rec.data, es->rec.len);
      es->past_header = true;
      pv_buf_reset(&es->rec);
    }
  }
  int rc = http_respond_chunk(es->req, es->out.data, es->out.len);
  if (rc == PV_EIO) {
    http_respond_end(es->req);
    errors_close(es);
  } else if (rc == 0) {
    errors_read(es);
  } /* PV_EBUSY: errors_writable reads on */
}

static void errors_read(errors_stream *es) {
  uv_buf_t b = uv_buf_init(es->buf, sizeof es->buf);
  es->fs.data = es;
  if (uv_fs_read(es->loop, &es->fs, es->fd, &b, 1, es->offset, errors_on_read) < 0) {
    http_respond_abort(es->req);
    errors_close(es);
  }
}

void api_imports_errors(http_request *req) {
  api *a = http_request_app(req);
  const api_principal *ap = api_principal_of(req);
  const char *id = http_request_param(req, "id");
  pv_error err = PV_ERROR_INIT;
  imp_job_info info;
  if (!a->imports) {
    pv_error_set(&err, PV_EUNAVAILABLE, NULL, "imports are not configured on this server");
    http_respond_error(req, &err);
    return;
  }
  if (imp_job_status(a->log, ap->p.tenant, id, &info, &err)) {
    http_respond_error(req, &err);
    return;
  }
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s.report.csv", a->imports->dir, id);
  uv_loop_t *loop = http_request_loop(req);
  uv_fs_t open_req;
  /* a local file's open does not wait on the network: synchronous */
  int fd = uv_fs_open(loop, &open_req, path, UV_FS_O_RDONLY, 0, NULL);
  uv_fs_req_cleanup(&open_req);
  if (fd < 0) {
    pv_error_set(&err, PV_ENOTFOUND, NULL, "import %s has no report on this server", id);
    http_respond_error(req, &err);
    return;
  }
  errors_stream *es = pv_xcalloc(1, sizeof *es);
  es->req = req;
  es->loop = loop;
  es->fd = fd;
  pv_buf_init(&es->rec, 0);
  pv_buf_init(&es->out, 0);
  char disp[96];
  snprintf(disp, sizeof disp, "attachment; filename=\"import-%s-errors.csv\"", id);
  http_response_header(req, "Content-Disposition", disp);
  http_respond_start(req, 200, "text/csv; charset=utf-8", errors_writable, es);
  static const char header[] = "row,status,contact_id,fields,account,field,reason\r\n";
  int rc = http_respond_chunk(req, header, sizeof header - 1);
  if (rc == PV_EIO) {
    http_respond_end(req);
    errors_close(es);
  } else if (rc == 0) {
    errors_read(es);
  } /* PV_EBUSY: errors_writable reads on */
}
