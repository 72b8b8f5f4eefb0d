/*
 * Contact import (issue #5 §5): header mapping, messy CSV, dry run equals
 * commit row by row, duplicates, invalid and suppressed rows, crashes in
 * the middle of an import (SIGKILL) resumed without a duplicate or a lost
 * row, a 50 MB file read with bounded memory, and the report's CSV
 * escaping. Everything runs on a real LMDB log and writer.
 */
#include "adapters/import/imp_job.h"
#include "adapters/import/imp_reader.h"
#include "core/suppressions.h"
#include "tests/bench/gen_contacts.h"
#include "tests/harness/test.h"

#include <xlsxwriter.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ASan's quarantine keeps freed memory: peak RSS says nothing there. */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

static char *path_in(const char *name) {
  static char buf[4][512];
  static int k;
  char *p = buf[k++ % 4];
  snprintf(p, 512, "%s/%s", test_tmpdir(), name);
  return p;
}

static void write_file(const char *path, const char *data) {
  FILE *f = fopen(path, "wb");
  ASSERT(f != NULL);
  fputs(data, f);
  fclose(f);
}

static char *read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  ASSERT(f != NULL);
  pv_buf b = PV_BUF_INIT;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) pv_buf_add(&b, chunk, n);
  fclose(f);
  return pv_buf_detach(&b, NULL);
}

typedef struct env {
  log_t *log;
  writer_t *w;
} env;

static void env_open(env *e) {
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(log_open(&e->log, path_in("log"), NULL, &err));
  writer_options wo = {.max_batch_us = IMP_JOB_WRITER_BATCH_US};
  ASSERT_OK(writer_start(&e->w, e->log, &wo, &err));
}

static void env_close(env *e) {
  writer_stop(e->w);
  log_close(e->log);
}

/* Rows are observed at T0 + the import's number (its id's last digit), so
 * a later file's values are the more recent observations. */
#define T0 1700000000000000

static int run_import(env *e, const char *id, const char *file, bool dry, const imp_override *ov,
                      size_t nov, imp_progress *p, pv_error *err) {
  char report[512];
  snprintf(report, sizeof report, "%s/%s.report.csv", test_tmpdir(), id);
  imp_job_opts o = {.tenant = "acme", .actor = "test", .import_id = id, .path = file,
                    .overrides = ov, .override_count = nov, .dry_run = dry,
                    .report_path = report, .spool_dir = test_tmpdir(),
                    .observed_at_us = T0 + (id[0] == 'a' ? 0 : 1000000), .progress_every = 50};
  int rc = imp_job_run(e->log, e->w, &o, p, err);
  if (rc) fprintf(stderr, "# import %s: %s (%s)\n", id, err->message, err->field);
  return rc;
}

static char *report_of(const char *id) {
  char report[512];
  snprintf(report, sizeof report, "%s/%s.report.csv", test_tmpdir(), id);
  return read_all(report);
}

/* ---- mapping -------------------------------------------------------------- */

static void map_aliases_and_overrides(void) {
  const char *h[] = {"\357\273\277E-mail", "Email Address", "First Name", "surname",
                     "Job Title", "Company", "Website", "Phone", "Shoe size"};
  imp_map m;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(imp_map_build(&m, h, 9, NULL, 0, &err));
  ASSERT_EQ(m.target[0], IMP_T_EMAIL);
  ASSERT_EQ(m.target[1], IMP_IGNORE); /* email is taken: reported unknown */
  ASSERT_EQ(m.target[2], IMP_T_FIRST_NAME);
  ASSERT_EQ(m.target[3], IMP_T_LAST_NAME);
  ASSERT_EQ(m.target[4], IMP_T_TITLE);
  ASSERT_EQ(m.target[5], IMP_T_COMPANY);
  ASSERT_EQ(m.target[6], IMP_T_DOMAIN);
  ASSERT_EQ(m.target[7], IMP_T_PHONE);
  ASSERT_EQ(m.target[8], IMP_IGNORE);
  ASSERT_EQ(m.unknown_count, 2);
  ASSERT_STR_EQ(m.header[0], "E-mail");

  imp_override ov[] = {{"email address", "email"}, {"E-MAIL", "ignore"}, {"shoe size", "city"}};
  ASSERT_OK(imp_map_build(&m, h, 9, ov, 3, &err));
  ASSERT_EQ(m.target[0], IMP_IGNORE);
  ASSERT_EQ(m.target[1], IMP_T_EMAIL);
  ASSERT_EQ(m.target[8], IMP_T_CITY);
  ASSERT_EQ(m.unknown_count, 0);

  imp_override bad_field[] = {{"Shoe size", "shoe"}};
  ASSERT_ERR(imp_map_build(&m, h, 9, bad_field, 1, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/mapping/Shoe size");
  imp_override bad_col[] = {{"Hat", "city"}};
  ASSERT_ERR(imp_map_build(&m, h, 9, bad_col, 1, &err), PV_EINVAL);
  const char *none[] = {"First Name", "Company"};
  ASSERT_ERR(imp_map_build(&m, none, 2, NULL, 0, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/mapping");
}

/* ---- CSV -------------------------------------------------------------------- */

typedef struct rows {
  pv_buf text; /* cells joined by | and rows by \n */
  size_t count;
} rows;

static int collect(void *arg, const char *const *cells, const size_t *lens, size_t n) {
  rows *r = arg;
  for (size_t i = 0; i < n; i++) {
    if (i) pv_buf_add(&r->text, "|", 1);
    pv_buf_add(&r->text, cells[i], lens[i]);
  }
  pv_buf_add(&r->text, "\n", 1);
  r->count++;
  return 0;
}

static void csv_messy(void) {
  const char *path = path_in("messy.csv");
  write_file(path, "\xEF\xBB\xBF" "Email;Name;Note\r\n"
                   "a@x.com;\"Doe; Jane\";\"says \"\"hi\"\"\"\r\n"
                   "b@x.com;Bob;\"two\r\nlines\"\r\n"
                   "\r\n"
                   "c@x.com;;\n"
                   "d@x.com;Dee;no newline at the end");
  rows r = {PV_BUF_INIT, 0};
  imp_read_opts o = {.on_row = collect, .arg = &r};
  char d = 0;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(imp_read_file(path, &o, &d, &err));
  ASSERT_EQ(d, ';');
  ASSERT_EQ(r.count, 5);
  ASSERT_STR_EQ(r.text.data, "Email|Name|Note\n"
                             "a@x.com|Doe; Jane|says \"hi\"\n"
                             "b@x.com|Bob|two\r\nlines\n"
                             "c@x.com||\n"
                             "d@x.com|Dee|no newline at the end\n");
  ASSERT_EQ(imp_csv_detect("a,b;c,d", 7), ',');
  ASSERT_EQ(imp_csv_detect("a\tb\tc", 5), '\t');
  ASSERT_EQ(imp_csv_detect("\"a;b;c\",d", 9), ',');
  ASSERT_EQ(imp_csv_detect("email", 5), ',');

  write_file(path, "Email\n\"unclosed\n");
  o.delimiter = ',';
  ASSERT_OK(imp_read_file(path, &o, &d, &err)); /* libcsv ends the field at EOF */
  ASSERT_ERR(imp_read_file(path_in("absent.csv"), &o, &d, &err), PV_EIO);
  o.format = "xls";
  ASSERT_ERR(imp_read_file(path, &o, &d, &err), PV_EINVAL);
  pv_buf_release(&r.text);
}

/* ---- dry run equals commit ------------------------------------------------ */

static const char *const FILE_A = "Email,First Name,Last Name,Phone,Country,Company,Website\r\n"
                                  "ann@acme.com,Ann,Old,,US,Acme,acme.com\r\n"
                                  "bo@beta.io,Bo,B,,GB,Beta,beta.io\r\n";

/* Every outcome: created (with an account), updated (which fields),
 * unchanged, duplicates by case/spaces, invalid email, invalid UTF-8, no
 * identifier, suppressed by email and by phone, an external id. */
static const char *const FILE_B =
    "E-mail,First Name,Last Name,Phone,Country,Company,Website,External ID\r\n"
    "ann@acme.com,Ann,Newer,,US,Acme,acme.com,\r\n"
    "bo@beta.io,Bo,B,,GB,Beta,beta.io,\r\n"
    "cy@gamma.org,Cy,C,+1 415 555 0100,US,Gamma,https://www.gamma.org/,crm-1\r\n"
    " CY@Gamma.org ,Cyrus,C,,US,,,\r\n"
    "not-an-email,X,Y,,,,,\r\n"
    "dee@delta.de,D\xff\xfe,E,,DE,,,\r\n"
    ",,,,,,,\r\n"
    "blocked@x.com,Blo,Cked,,,,,\r\n"
    "eve@x.com,Eve,E,(415) 555-0199,US,,,\r\n"
    ",Ext,Only,,,,,crm-1\r\n"
    "fay@x.com,\"Fay, \"\"the\"\" one\",F,,,,,\r\n";

static void add_suppression(env *e, const char *channel, const char *value) {
  supp_add a = {.by = {ACTOR_ROLE_ADMIN, NULL}, .channel = channel, .value = value,
                .default_region = "US", .reason = "asked", .source = "test"};
  writer_cmd cmd = {.tenant = "acme", .actor = "test"};
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(supp_add_bind(&a, &cmd, &err));
  ASSERT_OK(writer_run(e->w, &cmd));
}

static void dry_run_equals_commit(void) {
  env e;
  env_open(&e);
  pv_error err = PV_ERROR_INIT;
  imp_progress p;
  write_file(path_in("a.csv"), FILE_A);
  write_file(path_in("b.csv"), FILE_B);
  ASSERT_OK(run_import(&e, "a", path_in("a.csv"), false, NULL, 0, &p, &err));
  ASSERT_EQ(p.counts[IMP_S_CREATED], 2);
  add_suppression(&e, "email", "Blocked@X.com");
  add_suppression(&e, "phone", "+14155550199");

  uint64_t head = log_head(e.log);
  ASSERT_OK(run_import(&e, "b-dry", path_in("b.csv"), true, NULL, 0, &p, &err));
  /* a dry run appends only its own import.started and import.finished */
  ASSERT_U64_EQ(log_head(e.log), head + 2);
  ASSERT_OK(run_import(&e, "b-commit", path_in("b.csv"), false, NULL, 0, &p, &err));
  char *dry = report_of("b-dry"), *commit = report_of("b-commit");
  ASSERT_STR_EQ(dry, commit);

  const char *rows_expected[] = {
      "1,updated,", "2,updated,", "3,created,", "4,duplicate,,,,,same email or id as row 3",
      "5,invalid,,,,/email,", "6,invalid,,,,/first_name,\"column \"\"First Name\"\" is not valid UTF-8\"",
      "7,invalid,,,,/email,\"the row has no email, external id or phone\"",
      "8,suppressed,,,,,the email is suppressed", "9,suppressed,,,,,the phone is suppressed",
      "10,duplicate,,,,,same email or id as row 3", "11,created,"};
  for (size_t i = 0; i < sizeof rows_expected / sizeof rows_expected[0]; i++) {
    char line[64];
    snprintf(line, sizeof line, "\r\n%s", rows_expected[i]);
    if (!strstr(commit, line)) fprintf(stderr, "missing %s in\n%s", rows_expected[i], commit);
    ASSERT(strstr(commit, line) != NULL);
  }
  /* a newer observation of the same value moves its provenance: updated */
  ASSERT(strstr(commit, "email first_name last_name country account_id,,,\r\n2,") != NULL);
  ASSERT(strstr(commit, "created,") && strstr(commit, ",created,,\r\n4,")); /* Gamma's account */
  ASSERT_EQ(p.counts[IMP_S_CREATED], 2);
  ASSERT_EQ(p.counts[IMP_S_UPDATED], 2);
  ASSERT_EQ(p.counts[IMP_S_UNCHANGED], 0);
  ASSERT_EQ(p.counts[IMP_S_DUPLICATE], 2);
  ASSERT_EQ(p.counts[IMP_S_INVALID], 3);
  ASSERT_EQ(p.counts[IMP_S_SUPPRESSED], 2);

  /* the same id again is refused; the same file observed at the same time
   * again changes nothing */
  ASSERT_ERR(run_import(&e, "b-commit", path_in("b.csv"), false, NULL, 0, &p, &err), PV_EEXISTS);
  ASSERT_OK(run_import(&e, "b-again", path_in("b.csv"), false, NULL, 0, &p, &err));
  ASSERT_EQ(p.counts[IMP_S_UNCHANGED], 4);
  free(dry);
  free(commit);
  env_close(&e);
}

static void overrides_and_bad_header(void) {
  env e;
  env_open(&e);
  pv_error err = PV_ERROR_INIT;
  imp_progress p;
  write_file(path_in("o.csv"), "Courriel;Vorname;Stadt\nx@y.de;Xaver;Köln\n");
  ASSERT_ERR(run_import(&e, "o1", path_in("o.csv"), false, NULL, 0, &p, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/mapping");
  imp_override ov[] = {{"courriel", "email"}, {"vorname", "first_name"}, {"stadt", "city"}};
  ASSERT_OK(run_import(&e, "o2", path_in("o.csv"), false, ov, 3, &p, &err));
  ASSERT_EQ(p.counts[IMP_S_CREATED], 1);
  char *r = report_of("o2");
  ASSERT(strstr(r, "1,created,") && strstr(r, "email first_name city"));
  free(r);
  env_close(&e);
}

/* ---- crash and resume ---------------------------------------------------- */

#define CRASH_ROWS 3000

static void write_generated(const char *path, uint64_t count) {
  FILE *f = fopen(path, "wb");
  ASSERT(f != NULL);
  gen_contacts_cfg cfg = {.seed = 7, .companies = 300};
  gen_contacts_csv_header(f);
  for (uint64_t i = 0; i < count; i++) {
    gen_contact c;
    /* every tenth row repeats an earlier person: duplicates in the file */
    gen_contact_row(&cfg, i % 10 == 9 ? i - 5 : i, &c);
    gen_contacts_csv_row(f, &c);
  }
  fclose(f);
}

/* In a child: start (first) or resume the import, then exit 0. */
static pid_t spawn_import(bool first) {
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid) return pid;
  env e;
  env_open(&e);
  pv_error err = PV_ERROR_INIT;
  imp_progress p;
  char report[512];
  snprintf(report, sizeof report, "%s/crash.report.csv", test_tmpdir());
  imp_job_opts o = {.tenant = "acme", .actor = "test", .import_id = "crash",
                    .path = path_in("gen.csv"), .report_path = report,
                    .observed_at_us = 1700000000000000, .progress_every = 100};
  int rc = first ? imp_job_run(e.log, e.w, &o, &p, &err)
                 : imp_job_resume(e.log, e.w, "acme", "test", "crash", &o, &p, &err);
  env_close(&e);
  if (rc) fprintf(stderr, "import: %s\n", err.message);
  _exit(rc ? 3 : 0);
}

typedef struct tally {
  size_t created, finished;
  pv_buf emails; /* every contact.created stream, one a line */
} tally;

static int count_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t len) {
  tally *t = arg;
  if (mp_slice_eq(e->type, "contact.created")) {
    t->created++;
    pv_buf_add(&t->emails, e->stream.ptr, e->stream.len);
    pv_buf_add(&t->emails, "\n", 1);
  }
  if (mp_slice_eq(e->type, "import.finished")) t->finished++;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void crash_mid_import_resumes(void) {
  write_generated(path_in("gen.csv"), CRASH_ROWS);
  srand(12345);
  bool first = true, done = false;
  int killed = 0;
  for (int round = 0; round < 8 && !done; round++) {
    pid_t pid = spawn_import(first);
    /* kill at a random point: 20..250 ms into the run */
    usleep((useconds_t)(20000 + rand() % 230000));
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st)) {
      ASSERT_EQ(WEXITSTATUS(st), 0); /* it finished before the kill */
      done = true;
    } else {
      killed++;
    }
    /* the first run may die before import.started: start it again */
    env e;
    env_open(&e);
    log_reader *rd;
    ASSERT_OK(log_read_begin(e.log, &rd));
    uint64_t v = 0;
    ASSERT_OK(log_reader_stream_version(rd, "acme", "import-crash", &v));
    log_read_end(rd);
    /* the kill may land after import.finished, before the child exits */
    imp_job_info info;
    pv_error ierr = PV_ERROR_INIT;
    if (v > 0 && imp_job_status(e.log, "acme", "crash", &info, &ierr) == 0 && info.finished)
      done = true;
    env_close(&e);
    if (v > 0) first = false;
  }
  fprintf(stderr, "# killed %d times\n", killed);
  if (!done) {
    pid_t pid = spawn_import(first);
    int st;
    waitpid(pid, &st, 0);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }

  env e;
  env_open(&e);
  tally t = {0, 0, PV_BUF_INIT};
  uint64_t next = 1;
  while (next <= log_head(e.log)) {
    pv_error err = PV_ERROR_INIT;
    (void)err;
    ASSERT_OK(log_scan(e.log, next, 100000, 64 << 20, count_visit, &t, &next));
  }
  /* exactly one contact per distinct person: 3000 rows, 300 repeats */
  ASSERT_EQ(t.created, CRASH_ROWS - CRASH_ROWS / 10);
  ASSERT_EQ(t.finished, 1);
  char **lines = pv_xcalloc(t.created, sizeof *lines);
  char *s = t.emails.data;
  for (size_t i = 0; i < t.created; i++) {
    lines[i] = s;
    s = strchr(s, '\n');
    *s++ = '\0';
  }
  qsort(lines, t.created, sizeof *lines, cmp_str);
  for (size_t i = 1; i < t.created; i++) ASSERT(strcmp(lines[i - 1], lines[i]) != 0);
  free(lines);
  /* the report accounts for every row once, in order */
  char *rep = report_of("crash");
  uint64_t expect = 1;
  for (char *line = strstr(rep, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
    ASSERT_U64_EQ(strtoull(line + 2, NULL, 10), expect);
    expect++;
  }
  ASSERT_U64_EQ(expect - 1, CRASH_ROWS);
  free(rep);
  pv_buf_release(&t.emails);
  env_close(&e);
}

/* ---- a 50 MB file, bounded memory ---------------------------------------- */

static void big_file_bounded_memory(void) {
  const char *path = path_in("big.csv");
  FILE *f = fopen(path, "wb");
  ASSERT(f != NULL);
  fputs("Email,Notes\r\n", f);
  /* 5,000 rows of 10 KB each in a column the import ignores */
  char *notes = pv_xmalloc(10001);
  memset(notes, 'n', 10000);
  notes[10000] = '\0';
  for (int i = 0; i < 5000; i++) fprintf(f, "p%d@big.example,\"%s\"\r\n", i, notes);
  fclose(f);
  free(notes);
  struct stat sb;
  ASSERT_OK(stat(path, &sb));
  ASSERT(sb.st_size > 50 * 1000 * 1000);

  env e;
  env_open(&e);
  struct rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  pv_error err = PV_ERROR_INIT;
  imp_progress p;
  ASSERT_OK(run_import(&e, "big", path, false, NULL, 0, &p, &err));
  getrusage(RUSAGE_SELF, &after);
  ASSERT_EQ(p.counts[IMP_S_CREATED], 5000);
  /* the file is 50 MB; the import's peak grows by far less (not checked
   * under ASan, whose quarantine keeps freed memory by design) */
#ifndef TEST_ASAN
  ASSERT((after.ru_maxrss - before.ru_maxrss) * 1024 < 20 * 1000 * 1000);
#else
  (void)before, (void)after;
#endif
  env_close(&e);
}

/* ---- the report's CSV ------------------------------------------------------ */

static void report_csv_escaping(void) {
  pv_buf b = PV_BUF_INIT;
  imp_csv_cell(&b, "plain");
  pv_buf_add(&b, "|", 1);
  imp_csv_cell(&b, "a,b");
  pv_buf_add(&b, "|", 1);
  imp_csv_cell(&b, "say \"hi\"\r\nbye");
  pv_buf_add(&b, "|", 1);
  imp_csv_cell(&b, "=HYPERLINK(\"x\")");
  pv_buf_add(&b, "|", 1);
  imp_csv_cell(&b, "+1 415");
  pv_buf_add(&b, "|", 1);
  imp_csv_cell(&b, "@SUM(A1)");
  ASSERT_STR_EQ(b.data, "plain|\"a,b\"|\"say \"\"hi\"\"\r\nbye\"|\"'=HYPERLINK(\"\"x\"\")\"|"
                        "\"'+1 415\"|\"'@SUM(A1)\"");
  pv_buf_release(&b);
}

/* ---- XLSX ------------------------------------------------------------------ */

/* A workbook as libxlsxwriter writes it: shared strings (or inline strings
 * in constant_memory mode), a phone stored as a number, a gap in the
 * columns, a bold header, and a second sheet that is not read. */
static void write_workbook(const char *path, bool constant_memory) {
  lxw_workbook_options opt = {.constant_memory = constant_memory};
  lxw_workbook *wb = workbook_new_opt(path, &opt);
  ASSERT(wb != NULL);
  lxw_worksheet *ws = workbook_add_worksheet(wb, "Contacts");
  lxw_format *bold = workbook_add_format(wb);
  format_set_bold(bold);
  const char *head[] = {"E-mail", "First Name", "Last Name", "Phone", "Country", "", "Company"};
  for (int c = 0; c < 7; c++)
    if (head[c][0]) worksheet_write_string(ws, 0, (lxw_col_t)c, head[c], bold);
  worksheet_write_string(ws, 1, 0, "zoe@acme.com", NULL);
  worksheet_write_string(ws, 1, 1, "Zoë", NULL);
  worksheet_write_string(ws, 1, 2, "Ångström", NULL);
  worksheet_write_number(ws, 1, 3, 4155550123, NULL);
  worksheet_write_string(ws, 1, 4, "US", NULL);
  worksheet_write_string(ws, 1, 6, "Acme & Co <R&D>", NULL);
  /* row 3 left empty: skipped */
  worksheet_write_string(ws, 3, 0, "bad@", NULL);
  worksheet_write_string(ws, 4, 0, "yan@acme.com", NULL);
  worksheet_write_string(ws, 4, 1, "Yan", NULL);
  lxw_worksheet *other = workbook_add_worksheet(wb, "Notes");
  worksheet_write_string(other, 0, 0, "not@read.com", NULL);
  ASSERT_EQ(workbook_close(wb), LXW_NO_ERROR);
}

static void xlsx_import(void) {
  for (int cm = 0; cm < 2; cm++) {
    const char *path = path_in(cm ? "inline.xlsx" : "shared.xlsx");
    write_workbook(path, cm == 1);
    rows r = {PV_BUF_INIT, 0};
    imp_read_opts o = {.on_row = collect, .arg = &r};
    pv_error err = PV_ERROR_INIT;
    ASSERT_OK(imp_read_file(path, &o, NULL, &err));
    ASSERT_EQ(r.count, 4);
    ASSERT_STR_EQ(r.text.data, "E-mail|First Name|Last Name|Phone|Country||Company\n"
                               "zoe@acme.com|Zoë|Ångström|4155550123|US||Acme & Co <R&D>\n"
                               "bad@\n"
                               "yan@acme.com|Yan\n");
    pv_buf_release(&r.text);
  }
  env e;
  env_open(&e);
  pv_error err = PV_ERROR_INIT;
  imp_progress p;
  ASSERT_OK(run_import(&e, "x1", path_in("shared.xlsx"), true, NULL, 0, &p, &err));
  ASSERT_OK(run_import(&e, "x2", path_in("shared.xlsx"), false, NULL, 0, &p, &err));
  ASSERT_EQ(p.counts[IMP_S_CREATED], 2);
  ASSERT_EQ(p.counts[IMP_S_INVALID], 1);
  char *dry = report_of("x1"), *commit = report_of("x2");
  ASSERT_STR_EQ(dry, commit);
  ASSERT(strstr(commit, "1,created,") && strstr(commit, "phone phone_valid phone_type"));
  free(dry);
  free(commit);
  /* not a workbook */
  write_file(path_in("fake.xlsx"), "Email\nx@y.com\n");
  ASSERT_ERR(run_import(&e, "x3", path_in("fake.xlsx"), false, NULL, 0, &p, &err), PV_EINVAL);
  env_close(&e);
}

TEST_MAIN(TEST(map_aliases_and_overrides), TEST(csv_messy), TEST(xlsx_import), TEST(dry_run_equals_commit),
          TEST(overrides_and_bad_header), TEST(crash_mid_import_resumes),
          TEST(big_file_bounded_memory), TEST(report_csv_escaping))
