/* imp_csv — CSV rows by libcsv; the file is read in chunks. See imp_reader.h. */
#include "adapters/import/imp_reader.h"

#include "core/common/pv_buf.h"

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* 256 KiB reads: arbitrary; large enough that read() calls cost nothing
 * next to parsing, small enough to stay in L2. */
#define IMP_CSV_CHUNK (256 * 1024)
/* 256 columns, as IMP_MAX_COLUMNS: more cells in a row are dropped. */
#define IMP_CSV_MAX_CELLS 256

const char *imp_format_of(const char *path) {
  size_t n = strlen(path);
  return n > 5 && strcasecmp(path + n - 5, ".xlsx") == 0 ? "xlsx" : "csv";
}

char imp_csv_detect(const char *line, size_t len) {
  static const char cands[] = {',', ';', '\t', '|'};
  size_t counts[4] = {0};
  bool quoted = false;
  for (size_t i = 0; i < len; i++) {
    if (line[i] == '"') quoted = !quoted;
    else if (!quoted && (line[i] == '\n' || line[i] == '\r')) break;
    else if (!quoted)
      for (size_t k = 0; k < 4; k++)
        if (line[i] == cands[k]) counts[k]++;
  }
  size_t best = 0;
  for (size_t k = 1; k < 4; k++)
    if (counts[k] > counts[best]) best = k;
  return counts[best] ? cands[best] : ',';
}

typedef struct csv_state {
  const imp_read_opts *o;
  pv_buf cells; /* the row's cells, NUL-separated */
  size_t off[IMP_CSV_MAX_CELLS], lens[IMP_CSV_MAX_CELLS];
  size_t n;
  int rc; /* on_row's stop code */
} csv_state;

static void on_field(void *s, size_t len, void *data) {
  csv_state *st = data;
  if (st->rc || st->n == IMP_CSV_MAX_CELLS) return;
  st->off[st->n] = st->cells.len;
  st->lens[st->n] = len;
  pv_buf_add(&st->cells, s ? s : "", s ? len : 0);
  pv_buf_add(&st->cells, "", 1);
  st->n++;
}

static void on_record(int c, void *data) {
  (void)c;
  csv_state *st = data;
  if (st->rc) return;
  const char *cells[IMP_CSV_MAX_CELLS];
  for (size_t i = 0; i < st->n; i++) cells[i] = st->cells.data + st->off[i];
  st->rc = st->o->on_row(st->o->arg, cells, st->lens, st->n);
  st->n = 0;
  pv_buf_reset(&st->cells);
}

static int read_csv(const char *path, const imp_read_opts *o, char *delimiter_used,
                    pv_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return pv_error_set(err, PV_EIO, NULL, "could not open \"%s\"", path);
  struct stat sb;
  uint64_t total = fstat(fileno(f), &sb) == 0 ? (uint64_t)sb.st_size : 0;
  struct csv_parser p;
  csv_state st = {.o = o};
  pv_buf_init(&st.cells, 1024);
  char *buf = pv_xmalloc(IMP_CSV_CHUNK);
  int rc = 0;
  if (csv_init(&p, CSV_APPEND_NULL) != 0) {
    rc = pv_error_set(err, PV_EINTERNAL, NULL, "could not start the CSV parser");
    goto free_buf;
  }
  uint64_t done = 0;
  bool first = true;
  for (;;) {
    size_t n = fread(buf, 1, IMP_CSV_CHUNK, f);
    if (n == 0) break;
    const char *data = buf;
    if (first) {
      if (n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) data += 3, n -= 3;
      char d = o->delimiter ? o->delimiter : imp_csv_detect(data, n);
      csv_set_delim(&p, (unsigned char)d);
      if (delimiter_used) *delimiter_used = d;
      first = false;
    }
    if (csv_parse(&p, data, n, on_field, on_record, &st) != n) {
      rc = pv_error_set(err, PV_EINVAL, NULL, "the file is not CSV: %s",
                        csv_strerror(csv_error(&p)));
      goto free_parser;
    }
    if (st.rc) goto stopped;
    done += (uint64_t)(n + (data != buf ? 3 : 0));
    if (o->on_bytes) o->on_bytes(o->arg, done, total);
  }
  if (ferror(f)) {
    rc = pv_error_set(err, PV_EIO, NULL, "could not read \"%s\"", path);
    goto free_parser;
  }
  csv_fini(&p, on_field, on_record, &st);
stopped:
  if (st.rc) rc = err->code ? st.rc : pv_error_set(err, st.rc, NULL, "the import stopped");
free_parser:
  csv_free(&p);
free_buf:
  free(buf);
  pv_buf_release(&st.cells);
  fclose(f);
  return rc;
}

int imp_read_file(const char *path, const imp_read_opts *o, char *delimiter_used,
                  pv_error *err) {
  const char *format = o->format ? o->format : imp_format_of(path);
  if (strcmp(format, "xlsx") == 0) {
    if (delimiter_used) *delimiter_used = ',';
    return imp_xlsx_read(path, o, err);
  }
  if (strcmp(format, "csv") != 0)
    return pv_error_set(err, PV_EINVAL, "/format", "unknown format \"%.32s\"", format);
  return read_csv(path, o, delimiter_used, err);
}
