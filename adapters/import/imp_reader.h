/*
 * imp_reader — contact files as rows, streaming: CSV by libcsv (a push
 * parser: any chunk size, quotes, embedded newlines, CRLF) and XLSX by
 * libzip (a member is inflated as it is read) and expat (a push XML
 * parser), so neither is ever held whole in memory; XLSX keeps only its
 * shared strings table. Debian has no maintained XLSX reader library
 * (xlsxio is not packaged; libxlsxwriter only writes), and libzip + expat
 * are the two kept libraries such a reader is built on.
 *
 * Thread: one thread per reader. Ownership: the cells handed to on_row are
 * valid during the call only.
 */
#ifndef PV_IMP_READER_H
#define PV_IMP_READER_H

#include "core/common/pv_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Called for each row (the header included); return 0 to go on, or a
 * PV_E* code to stop reading with it. */
typedef int (*imp_row_fn)(void *arg, const char *const *cells, const size_t *lens, size_t n);

/* Called between chunks with the bytes read so far (for a progress bar). */
typedef void (*imp_bytes_fn)(void *arg, uint64_t done, uint64_t total);

typedef struct imp_read_opts {
  const char *format; /* "csv" or "xlsx"; NULL = by the file's extension */
  char delimiter;     /* CSV: 0 = detect from the header line (, ; tab |) */
  imp_row_fn on_row;
  imp_bytes_fn on_bytes; /* may be NULL */
  void *arg;
} imp_read_opts;

/* The format a path names ("xlsx" for *.xlsx, else "csv"). */
const char *imp_format_of(const char *path);

/* The delimiter of a CSV header line: the most frequent of , ; tab | outside
 * quotes (',' when none). */
char imp_csv_detect(const char *line, size_t len);

/*
 * Reads the file's rows in order. A UTF-8 BOM is skipped.
 * Returns: 0, PV_EIO (cannot read the file), PV_EINVAL (not a CSV libcsv
 * accepts, not an XLSX workbook, or another format), or
 * on_row's code.
 */
int imp_read_file(const char *path, const imp_read_opts *o, char *delimiter_used,
                  pv_error *err);

/* The XLSX half of imp_read_file (imp_xlsx.c). */
int imp_xlsx_read(const char *path, const imp_read_opts *o, pv_error *err);

#endif
