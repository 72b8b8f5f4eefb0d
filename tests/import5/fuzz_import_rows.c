/*
 * Fuzz target import_rows: a contact file as an upload brings it, through
 * everything an import does before the writer. The bytes are written to a
 * temp file and read as CSV (as XLSX when they start with "PK", a zip);
 * the first row maps the header (imp_map_build), every other row is turned
 * into its commands (imp_row_prepare: UTF-8, normalization) and checked for
 * duplicates (imp_seen_check, imp_seen_account), and the outcome of an
 * invalid row is written as a report line (imp_report_line). Any crash,
 * sanitizer report or leak fails; bad input must come back as an error.
 */
#include "adapters/import/imp_reader.h"
#include "core/imp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz {
  imp_map map;
  bool mapped;
  imp_seen *seen;
  imp_row row;
  uint64_t n;
  pv_buf line;
} fz;

static int on_row(void *arg, const char *const *cells, const size_t *lens, size_t n) {
  fz *f = arg;
  pv_error err = PV_ERROR_INIT;
  if (!f->mapped) {
    imp_override ov[] = {{"x", "city"}};
    if (imp_map_build(&f->map, cells, n, ov, n && strcmp(cells[0], "x") == 0 ? 1 : 0, &err))
      return PV_EINVAL;
    f->mapped = true;
    return 0;
  }
  imp_opts o = {.import_id = "fuzz", .source = "import", .observed_at_us = 1};
  imp_outcome out;
  imp_outcome_init(&out, ++f->n);
  if (imp_row_prepare(&f->row, &f->map, &o, f->n, cells, lens, n, &err) == 0) {
    imp_seen_check(f->seen, &f->row);
    imp_seen_account(f->seen, &f->row);
  } else {
    imp_outcome_error(&out, IMP_S_INVALID, &err);
  }
  pv_buf_reset(&f->line);
  imp_report_line(&f->line, &out);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[] = "/tmp/pivotal-fuzz-import-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 0;
  bool ok = write(fd, data, size) == (ssize_t)size;
  close(fd);
  if (ok) {
    fz f = {.seen = imp_seen_new()};
    imp_row_init(&f.row);
    pv_buf_init(&f.line, 256);
    imp_read_opts o = {.format = size >= 2 && data[0] == 'P' && data[1] == 'K' ? "xlsx" : "csv",
                       .on_row = on_row, .arg = &f};
    pv_error err = PV_ERROR_INIT;
    char d;
    imp_read_file(path, &o, &d, &err);
    imp_row_release(&f.row);
    imp_seen_free(f.seen);
    pv_buf_release(&f.line);
  }
  unlink(path);
  return 0;
}
