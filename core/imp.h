/*
 * imp — the pure part of a contact import (issue #5 §5): header mapping,
 * one row → the writer commands that apply it, the row's decide function,
 * the in-file duplicate check, and the row's outcome as the events show it.
 *
 * A row becomes at most two writer commands, submitted in this order:
 *   1. an account upsert by the row's website/domain (with its company name)
 *      when the row has one: acct_upsert_decide;
 *   2. the contact upsert: imp_row_decide, which first checks the row's
 *      email and phone against the suppressions (supp_check_w) and writes
 *      nothing for a suppressed row, else runs contact_upsert_decide. The
 *      contact links to the account owning its email's domain.
 * Idempotency keys are "imp:<import id>:<row>" and "...:a" for the account,
 * so a resubmitted row is answered from the log, never applied twice; the
 * row is zero-padded to 10 digits so that an import's keys are appended in
 * order to the index (fewer dirty pages per commit than scattered keys).
 *
 * Dry run and commit share everything but the writer_ctx's storage: the
 * import job runs the same commands either through the writer (commit) or
 * through a writer_sim (dry run, core/writer.h), and reads each row's
 * outcome from the events the command appended or would append
 * (imp_outcome_event). So the dry run's report is the commit's report as
 * long as the log does not change between the two.
 *
 * Thread: any; nothing here has global state.
 */
#ifndef PV_IMP_H
#define PV_IMP_H

#include "core/accounts.h"
#include "core/common/pv_buf.h"
#include "core/contacts.h"
#include "core/writer.h"

#include <stdbool.h>
#include <stdint.h>

/* What a column can hold: XX(NAME, "name"). */
#define IMP_TARGET_MAP(XX)                                                     \
  XX(EMAIL, "email")                                                           \
  XX(FIRST_NAME, "first_name")                                                 \
  XX(LAST_NAME, "last_name")                                                   \
  XX(TITLE, "title")                                                           \
  XX(PHONE, "phone")                                                           \
  XX(COUNTRY, "country")                                                       \
  XX(CITY, "city")                                                             \
  XX(LINKEDIN_URL, "linkedin_url")                                             \
  XX(COMPANY, "company")                                                       \
  XX(DOMAIN, "domain")                                                         \
  XX(EXTERNAL_ID, "external_id")

typedef enum imp_target {
  IMP_IGNORE = -1, /* mapped to "ignore", or an unknown header */
#define IMP__XX(name, str) IMP_T_##name,
  IMP_TARGET_MAP(IMP__XX)
#undef IMP__XX
  IMP_TARGET_COUNT
} imp_target;

const char *imp_target_name(imp_target t);
/* The target by name ("email", ...; "ignore" = IMP_IGNORE), or -2. */
int imp_target_by_name(const char *name);
/* The target a header names by the alias table (case, spaces, "-", "_" and
 * "." ignored: "E-mail", "Email Address", "First Name"), or IMP_IGNORE. */
imp_target imp_target_by_header(const char *header);

/* 256 columns: arbitrary; a contact sheet has a few dozen. */
#define IMP_MAX_COLUMNS 256
#define IMP_HEADER_MAX 128

typedef struct imp_override {
  const char *column; /* a header as in the file (case-insensitive) */
  const char *target; /* a target name or "ignore" */
} imp_override;

typedef struct imp_map {
  size_t columns;
  imp_target target[IMP_MAX_COLUMNS];
  char header[IMP_MAX_COLUMNS][IMP_HEADER_MAX + 1];
  size_t unknown_count; /* headers neither aliased nor overridden */
} imp_map;

/*
 * Maps a header row: each override first, then the alias table; a target
 * claimed by an earlier column leaves later ones unmapped (reported as
 * unknown). Returns: 0, PV_EINVAL (too many columns, an override naming
 * no column or no target — err->field "/mapping/<column>" —, or no column
 * that identifies a contact: email, external_id or phone).
 */
int imp_map_build(imp_map *m, const char *const *headers, size_t n, const imp_override *ov,
                  size_t ov_count, pv_error *err);

/* How the rows are observed. */
typedef struct imp_opts {
  const char *import_id; /* 1..64 bytes of [A-Za-z0-9_-] */
  const char *source;    /* surv source name; "import" by default */
  int64_t observed_at_us;
} imp_opts;

/* One row's commands. Initialise with imp_row_init, release with
 * imp_row_release. It owns copies of the cells. */
typedef struct imp_row {
  uint64_t row; /* 1 = the first data row */
  pv_buf cells; /* the mapped cells, NUL-terminated, at offsets */
  size_t off[IMP_TARGET_COUNT];
  bool has[IMP_TARGET_COUNT];
  contact_ext_id ext;
  bool has_account;
  char account_domain[NORM_DOMAIN_MAX + 1]; /* the normalized domain */
  acct_write_arg account;
  contact_upsert_arg contact;
  bool suppressed; /* out of imp_row_decide */
  char supp_channel[8];
  char idem_contact[EVT_MAX_IDEMPOTENCY + 1];
  char idem_account[EVT_MAX_IDEMPOTENCY + 1];
} imp_row;

void imp_row_init(imp_row *r);
void imp_row_release(imp_row *r);

/*
 * Fills r from a row's cells (cells[i] of column i, NULL/"" = empty) and
 * normalizes it (contact_upsert_prepare, on the caller's thread).
 * Returns: 0, PV_EINVAL (the row is invalid: err->field names the column's
 * target, "/email", and the message says why; invalid UTF-8 included) or
 * PV_ENOTFOUND (no identifying value in the row).
 */
int imp_row_prepare(imp_row *r, const imp_map *m, const imp_opts *o, uint64_t row,
                    const char *const *cells, const size_t *lens, size_t n, pv_error *err);

/* The writer decide function of a row's contact command; arg: imp_row. */
int imp_row_decide(writer_ctx *ctx, void *arg, pv_error *err);

/* ---- duplicates within a file ----------------------------------------- */

/* A set of the identifiers seen so far (normalized email, external id):
 * 24 bytes a key (two 64-bit hashes and the row). */
typedef struct imp_seen imp_seen;
imp_seen *imp_seen_new(void);
void imp_seen_free(imp_seen *s);
/* Records r's identifiers; returns the earlier row holding one of them
 * (0 = none: the row is the first with all of them). */
uint64_t imp_seen_check(imp_seen *s, const imp_row *r);
/* True when an earlier row of the file made the same account observation
 * (normalized domain and company name): its account command is then left
 * out, as it would change nothing (most rows of a contact file repeat
 * their company). Records it otherwise. */
bool imp_seen_account(imp_seen *s, const imp_row *r);

/* ---- outcomes --------------------------------------------------------- */

#define IMP_STATUS_MAP(XX)                                                     \
  XX(CREATED, "created")                                                       \
  XX(UPDATED, "updated")                                                       \
  XX(UNCHANGED, "unchanged")                                                   \
  XX(DUPLICATE, "duplicate")                                                   \
  XX(INVALID, "invalid")                                                       \
  XX(SUPPRESSED, "suppressed")                                                 \
  XX(FAILED, "failed")

typedef enum imp_status {
#define IMP__XX(name, str) IMP_S_##name,
  IMP_STATUS_MAP(IMP__XX)
#undef IMP__XX
  IMP_STATUS_COUNT
} imp_status;

const char *imp_status_name(imp_status s);

/* One row's outcome, as the report lists it. */
typedef struct imp_outcome {
  uint64_t row;
  imp_status status;
  char contact_id[ENTITY_ID_LEN + 1];
  char fields[256];  /* changed contact fields, space-separated */
  char account[16];  /* "", "created" or "updated" */
  char field[128];   /* invalid/failed: the JSON pointer */
  char reason[512];  /* invalid/failed/suppressed/duplicate: why */
} imp_outcome;

void imp_outcome_init(imp_outcome *o, uint64_t row);
/* A log_visit_fn over the events of a row's commands (arg: imp_outcome):
 * account.* and contact.created/updated set the account and status with
 * the changed fields. */
int imp_outcome_event(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len);
/* Sets the outcome of a command that failed, or of a row that never got
 * one (invalid, duplicate). */
void imp_outcome_error(imp_outcome *o, imp_status s, const pv_error *err);

/* Appends o as a CSV record (row,status,contact_id,fields,account,field,
 * reason) with RFC 4180 quoting; imp_report_header the header line. */
void imp_report_header(pv_buf *out);
void imp_report_line(pv_buf *out, const imp_outcome *o);
/* One CSV cell: quoted when it holds a comma, quote, CR or LF; a leading
 * =, +, -, @, tab or CR is prefixed with ' (OWASP's CSV injection rule). */
void imp_csv_cell(pv_buf *out, const char *s);

#endif
