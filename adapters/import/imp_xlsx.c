/*
 * imp_xlsx — XLSX rows: libzip inflates the workbook's members as they are
 * read and expat (a push parser) reads their XML, so the sheet is never
 * held whole; only the shared strings table is (Excel stores each distinct
 * text once there, so it is at most the size of the distinct texts).
 *
 * The sheet read is the workbook's first: xl/workbook.xml's first <sheet>,
 * resolved through xl/_rels/workbook.xml.rels (else xl/worksheets/sheet1.xml).
 * Cells: shared strings (t="s"), inline strings, formula strings (t="str"),
 * booleans (TRUE/FALSE) and numbers as written (a phone stored as a number
 * comes as its digits). Empty rows are skipped, as libcsv skips empty lines.
 */
#include "adapters/import/imp_reader.h"

#include "core/common/pv_buf.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

/* 64 KiB reads from the inflater: arbitrary, as the CSV reader's chunk. */
#define IMP_XLSX_CHUNK (64 * 1024)
/* As IMP_MAX_COLUMNS; cells beyond are dropped. */
#define IMP_XLSX_MAX_CELLS 256

typedef struct xlsx {
  const imp_read_opts *o;
  zip_t *z;
  XML_Parser parser; /* the member being read */
  /* shared strings */
  pv_buf sst;
  size_t *sst_off;
  size_t sst_count, sst_cap;
  /* parse state */
  bool in_text; /* inside <t> or <v> */
  int depth_si;
  bool in_rph;  /* inside a phonetic run, whose text is not the cell's */
  pv_buf text;
  /* the sheet's current row */
  pv_buf cells;
  size_t off[IMP_XLSX_MAX_CELLS], lens[IMP_XLSX_MAX_CELLS];
  bool set[IMP_XLSX_MAX_CELLS];
  size_t ncells;
  long col;        /* the current cell's column, -1 none */
  char type[16];   /* its t attribute */
  bool has_value;
  /* rels: the first sheet's target */
  char first_rid[64];
  char sheet_path[512];
  int rc; /* on_row's stop code, or a parse error */
  uint64_t bytes_done, bytes_total;
} xlsx;

static const char *attr(const XML_Char **atts, const char *name) {
  for (size_t i = 0; atts[i]; i += 2)
    if (strcmp(atts[i], name) == 0) return atts[i + 1];
  return NULL;
}

/* Element names without their namespace prefix ("x:row" → "row"). */
static const char *local(const char *name) {
  const char *colon = strrchr(name, ':');
  return colon ? colon + 1 : name;
}

static void on_text(void *ud, const XML_Char *s, int len) {
  xlsx *x = ud;
  if (x->in_text && !x->in_rph) pv_buf_add(&x->text, s, (size_t)len);
}

/* Runs a member's XML through a parser with the given handlers. */
static int parse_member(xlsx *x, const char *name, XML_StartElementHandler start,
                        XML_EndElementHandler end, bool count_bytes, pv_error *err) {
  zip_file_t *f = zip_fopen(x->z, name, 0);
  if (!f) return PV_ENOTFOUND;
  XML_Parser p = XML_ParserCreate(NULL);
  XML_SetUserData(p, x);
  XML_SetElementHandler(p, start, end);
  XML_SetCharacterDataHandler(p, on_text);
  x->parser = p;
  char *buf = pv_xmalloc(IMP_XLSX_CHUNK);
  int rc = 0;
  for (;;) {
    zip_int64_t n = zip_fread(f, buf, IMP_XLSX_CHUNK);
    if (n < 0) {
      rc = pv_error_set(err, PV_EINVAL, NULL, "the workbook member %s does not inflate", name);
      break;
    }
    if (XML_Parse(p, buf, (int)n, n == 0) == XML_STATUS_ERROR) {
      rc = x->rc ? x->rc
                 : pv_error_set(err, PV_EINVAL, NULL, "%s is not XML: %s at line %lu", name,
                                XML_ErrorString(XML_GetErrorCode(p)),
                                (unsigned long)XML_GetCurrentLineNumber(p));
      break;
    }
    if (count_bytes) {
      x->bytes_done += (uint64_t)n;
      if (x->o->on_bytes) x->o->on_bytes(x->o->arg, x->bytes_done, x->bytes_total);
    }
    if (n == 0) break;
  }
  free(buf);
  XML_ParserFree(p);
  zip_fclose(f);
  return rc;
}


/* ---- shared strings ---- */

static void sst_start(void *ud, const XML_Char *name, const XML_Char **atts) {
  (void)atts;
  xlsx *x = ud;
  const char *n = local(name);
  if (strcmp(n, "si") == 0) {
    x->depth_si = 1;
    pv_buf_reset(&x->text);
  } else if (x->depth_si && strcmp(n, "rPh") == 0) {
    x->in_rph = true;
  } else if (x->depth_si && strcmp(n, "t") == 0) {
    x->in_text = true;
  }
}

static void sst_end(void *ud, const XML_Char *name) {
  xlsx *x = ud;
  const char *n = local(name);
  if (strcmp(n, "t") == 0) x->in_text = false;
  else if (strcmp(n, "rPh") == 0) x->in_rph = false;
  else if (strcmp(n, "si") == 0) {
    x->depth_si = 0;
    if (x->sst_count == x->sst_cap) {
      x->sst_cap = x->sst_cap ? x->sst_cap * 2 : 1024;
      x->sst_off = pv_xrealloc(x->sst_off, x->sst_cap * sizeof *x->sst_off);
    }
    x->sst_off[x->sst_count++] = x->sst.len;
    pv_buf_add(&x->sst, x->text.data, x->text.len);
    pv_buf_add(&x->sst, "", 1);
  }
}

/* ---- which sheet ---- */

static void wb_start(void *ud, const XML_Char *name, const XML_Char **atts) {
  xlsx *x = ud;
  if (strcmp(local(name), "sheet") != 0 || x->first_rid[0]) return;
  const char *rid = attr(atts, "r:id");
  if (rid) snprintf(x->first_rid, sizeof x->first_rid, "%s", rid);
}

static void rels_start(void *ud, const XML_Char *name, const XML_Char **atts) {
  xlsx *x = ud;
  if (strcmp(local(name), "Relationship") != 0 || !x->first_rid[0]) return;
  const char *id = attr(atts, "Id"), *target = attr(atts, "Target");
  if (!id || !target || strcmp(id, x->first_rid) != 0) return;
  if (target[0] == '/') snprintf(x->sheet_path, sizeof x->sheet_path, "%s", target + 1);
  else snprintf(x->sheet_path, sizeof x->sheet_path, "xl/%s", target);
}

static void no_end(void *ud, const XML_Char *name) { (void)ud, (void)name; }

/* ---- the sheet ---- */

/* "BC12" → 54 (0-based column), or -1. */
static long column_of(const char *ref) {
  long col = 0;
  size_t i = 0;
  for (; ref[i] >= 'A' && ref[i] <= 'Z'; i++) col = col * 26 + (ref[i] - 'A' + 1);
  return i ? col - 1 : -1;
}

static void sheet_start(void *ud, const XML_Char *name, const XML_Char **atts) {
  xlsx *x = ud;
  const char *n = local(name);
  if (strcmp(n, "row") == 0) {
    x->ncells = 0;
    pv_buf_reset(&x->cells);
    memset(x->set, 0, sizeof x->set);
  } else if (strcmp(n, "c") == 0) {
    const char *r = attr(atts, "r"), *t = attr(atts, "t");
    x->col = r ? column_of(r) : (long)x->ncells;
    snprintf(x->type, sizeof x->type, "%s", t ? t : "n");
    x->has_value = false;
    pv_buf_reset(&x->text);
  } else if (strcmp(n, "v") == 0 || strcmp(n, "t") == 0) {
    x->in_text = true;
    x->has_value = true;
  }
}

static void sheet_end(void *ud, const XML_Char *name) {
  xlsx *x = ud;
  const char *n = local(name);
  if (strcmp(n, "v") == 0 || strcmp(n, "t") == 0) {
    x->in_text = false;
  } else if (strcmp(n, "c") == 0) {
    if (!x->has_value || x->col < 0 || x->col >= IMP_XLSX_MAX_CELLS) return;
    const char *val = x->text.data;
    size_t len = x->text.len;
    pv_buf_add(&x->text, "", 1);
    if (strcmp(x->type, "s") == 0) {
      unsigned long idx = strtoul(x->text.data, NULL, 10);
      if (idx >= x->sst_count) return;
      val = x->sst.data + x->sst_off[idx];
      len = strlen(val);
    } else if (strcmp(x->type, "b") == 0) {
      val = x->text.data[0] == '1' ? "TRUE" : "FALSE";
      len = strlen(val);
    }
    size_t c = (size_t)x->col;
    x->off[c] = x->cells.len;
    x->lens[c] = len;
    x->set[c] = true;
    pv_buf_add(&x->cells, val, len);
    pv_buf_add(&x->cells, "", 1);
    if (c + 1 > x->ncells) x->ncells = c + 1;
  } else if (strcmp(n, "row") == 0 && x->ncells && !x->rc) {
    const char *cells[IMP_XLSX_MAX_CELLS];
    size_t lens[IMP_XLSX_MAX_CELLS];
    for (size_t i = 0; i < x->ncells; i++) {
      cells[i] = x->set[i] ? x->cells.data + x->off[i] : "";
      lens[i] = x->set[i] ? x->lens[i] : 0;
    }
    x->rc = x->o->on_row(x->o->arg, cells, lens, x->ncells);
    if (x->rc) XML_StopParser(x->parser, XML_FALSE);
  }
}

int imp_xlsx_read(const char *path, const imp_read_opts *o, pv_error *err) {
  xlsx x = {.o = o};
  int zerr = 0;
  x.z = zip_open(path, ZIP_RDONLY, &zerr);
  if (!x.z)
    return pv_error_set(err, zerr == ZIP_ER_OPEN || zerr == ZIP_ER_NOENT ? PV_EIO : PV_EINVAL,
                        NULL, "\"%s\" is not an XLSX workbook (zip error %d)", path, zerr);
  pv_buf_init(&x.sst, 4096);
  pv_buf_init(&x.text, 256);
  pv_buf_init(&x.cells, 1024);
  int rc = parse_member(&x, "xl/sharedStrings.xml", sst_start, sst_end, false, err);
  if (rc == PV_ENOTFOUND) rc = 0; /* a workbook without text */
  if (rc == 0 && parse_member(&x, "xl/workbook.xml", wb_start, no_end, false, err) == 0 &&
      x.first_rid[0])
    parse_member(&x, "xl/_rels/workbook.xml.rels", rels_start, no_end, false, err);
  if (!x.sheet_path[0]) snprintf(x.sheet_path, sizeof x.sheet_path, "xl/worksheets/sheet1.xml");
  zip_stat_t st;
  if (rc == 0 && zip_stat(x.z, x.sheet_path, 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE))
    x.bytes_total = st.size;
  if (rc == 0) {
    rc = parse_member(&x, x.sheet_path, sheet_start, sheet_end, true, err);
    if (rc == PV_ENOTFOUND)
      rc = pv_error_set(err, PV_EINVAL, NULL, "the workbook has no sheet %s", x.sheet_path);
  }
  if (rc == 0 && x.rc) rc = err->code ? x.rc : pv_error_set(err, x.rc, NULL, "the import stopped");
  zip_discard(x.z);
  free(x.sst_off);
  pv_buf_release(&x.sst);
  pv_buf_release(&x.text);
  pv_buf_release(&x.cells);
  return rc;
}
