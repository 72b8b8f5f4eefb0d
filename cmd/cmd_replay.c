/*
 * pivotal replay — the audit replay tool: reads the event log itself, not
 * the read models. Four modes:
 *   (default)          the log, whole or one stream, as JSON lines or a table
 *   --history          one entity's field-level changes (core/history.h)
 *   --as-of T|P        one entity's state at a time or position, as JSON
 *   --verify           the hash chain, from the first event to the head
 *
 * Rules it keeps: the log is opened read-only (LMDB lets this process read
 * while `pivotal serve` writes); every read transaction is bounded (log_scan
 * and stream chunks of REPLAY_CHUNK_EVENTS), never one long snapshot that
 * would pin the writer's old pages; output is written event by event, never
 * collected whole. A run reads up to the head it saw at the start, so its
 * output is one consistent prefix of the log even while the server appends
 * (--verify walks on to the end, as log_verify does).
 */
#include "cmd/cmd_pg.h"
#include "cmd/commands.h"
#include "core/common/pv_time.h"
#include "core/catalog.h"
#include "core/history.h"
#include "core/log.h"
#include "core/mp_json.h"

#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Events per read transaction. Arbitrary; matches log_verify's 10k in
 * spirit but smaller because output (a pipe, a terminal) is written while
 * the snapshot is open. */
#define REPLAY_CHUNK_EVENTS 1000
/* Bytes per whole-log scan transaction: 4 MiB is 16 of the largest events. */
#define REPLAY_CHUNK_BYTES ((size_t)4 << 20)

typedef enum replay_format { FORMAT_JSON, FORMAT_TABLE } replay_format;

typedef struct replay_opts {
  const char *data_dir;
  const char *tenant;
  bool tenant_set;
  const char *stream;
  const char **types;
  size_t type_count;
  const char *actor;
  bool since_set, until_set;
  int64_t since_us, until_us;
  uint64_t from, to;
  bool history, verify;
  const char *as_of;
  replay_format format;
} replay_opts;

/* One run's output state, shared by the visitors. */
typedef struct replay_run {
  const replay_opts *o;
  pv_buf line;
  bool header_done;
  uint64_t last_position;    /* the head seen at the start */
  uint64_t last_version;     /* stream mode: the stream's version at the start */
  uint64_t next_version;     /* stream mode: first version not yet visited */
  size_t chunk_visited;      /* stream mode: events in this read transaction */
  hist_state state;          /* --history, --as-of */
  bool as_of_position;       /* --as-of: a position (else a time) */
  uint64_t as_of_pos;
  int64_t as_of_us;
  bool as_of_done;
  pv_error *err;
} replay_run;

static void usage(FILE *out) {
  fprintf(out,
          "usage: pivotal replay [OPTIONS]\n"
          "       pivotal replay --stream ID --history [OPTIONS]\n"
          "       pivotal replay --stream ID --as-of TIME|POSITION\n"
          "       pivotal replay --verify\n"
          "\n"
          "Reads the event log of the data directory read-only (it works while\n"
          "`pivotal serve` runs) and prints its events, one entity's field-level\n"
          "history or state, or checks the hash chain.\n"
          "\n"
          "options:\n"
          "  --data-dir DIR      data directory (else PIVOTAL_DATA_DIR, else ./var);\n"
          "                      the log is DIR/log\n"
          "  --stream ID         only this entity's stream\n"
          "  --tenant T          the stream's tenant (default \"default\"); without\n"
          "                      --stream, only this tenant's events\n"
          "  --format json|table JSON lines, or an aligned table (default: table on\n"
          "                      a terminal, json otherwise)\n"
          "  --type T            only events of type T (repeatable)\n"
          "  --actor A           only events issued by A\n"
          "  --since TIME        only events at or after TIME\n"
          "  --until TIME        only events at or before TIME\n"
          "  --from POS          only events at or after log position POS\n"
          "  --to POS            only events at or before log position POS\n"
          "  --history           with --stream: each field change (field, old value,\n"
          "                      new value, actor, time, position, event type); the\n"
          "                      filters choose which events' changes are printed\n"
          "  --as-of TIME|POS    with --stream: the entity's state after the last\n"
          "                      event at or before POS, or stamped at or before\n"
          "                      TIME, as JSON\n"
          "  --verify            walk the hash chain: print the event count and head\n"
          "                      hash and exit 0, or the first bad position and exit 1\n"
          "  -h, --help          this text\n"
          "\n"
          "TIME is RFC 3339 (2024-05-01T12:00:00Z, 2024-05-01T14:00:00.5+02:00) or\n"
          "unix seconds (1714564800, 1714564800.25, @1714564800). For --as-of a\n"
          "plain integer is a log position; write unix seconds as @SECONDS.\n"
          "\n"
          "exit status: 0 success, 1 failure (a corrupt chain for --verify), 2 usage.\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "error: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  usage(stderr);
  return 2;
}

/* ---- parsing ---------------------------------------------------------- */

static bool parse_u64(const char *s, uint64_t *out) {
  if (!*s || !isdigit((unsigned char)*s)) return false;
  uint64_t v = 0;
  for (; *s; s++) {
    if (!isdigit((unsigned char)*s)) return false;
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

static bool parse_time(const char *s, int64_t *out_us) {
  return pv_parse_rfc3339_us(s, out_us) || pv_parse_unix_us(s, out_us);
}

/* ---- output helpers ---------------------------------------------------- */

static void add_time(pv_buf *out, int64_t ts_us) {
  int64_t secs = ts_us / 1000000, us = ts_us % 1000000;
  if (us < 0) {
    us += 1000000;
    secs--;
  }
  time_t t = (time_t)secs;
  struct tm tm;
  char text[40];
  if (!gmtime_r(&t, &tm) || !strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm)) {
    pv_buf_addf(out, "@%" PRId64, ts_us);
    return;
  }
  pv_buf_addf(out, "%s.%06dZ", text, (int)us);
}

static void add_json_time(pv_buf *out, int64_t ts_us) {
  pv_buf_addch(out, '"');
  add_time(out, ts_us);
  pv_buf_addch(out, '"');
}

static void add_hex(pv_buf *out, const uint8_t *bin, size_t len) {
  char hex[2 * EVT_HASH_BYTES + 1];
  if (len > EVT_HASH_BYTES) len = EVT_HASH_BYTES;
  sodium_bin2hex(hex, sizeof hex, bin, len);
  pv_buf_addstr(out, hex);
}

static void add_slice(pv_buf *out, mp_slice s) { mpj_append_str(out, s.ptr, s.len); }

/* Pads a table cell to width (bytes; a longer value pushes the row). */
static void add_cell(pv_buf *out, const char *s, size_t len, int width) {
  pv_buf_add(out, s, len);
  for (int i = (int)len; i < width; i++) pv_buf_addch(out, ' ');
  pv_buf_addstr(out, "  ");
}

static void add_cell_time(pv_buf *out, int64_t ts_us) {
  size_t at = out->len;
  add_time(out, ts_us);
  for (size_t i = out->len - at; i < 27; i++) pv_buf_addch(out, ' ');
  pv_buf_addstr(out, "  ");
}

static int write_line(replay_run *run) {
  pv_buf_addch(&run->line, '\n');
  size_t len = run->line.len;
  size_t n = fwrite(run->line.data, 1, len, stdout);
  pv_buf_reset(&run->line);
  if (n != len)
    return pv_error_set(run->err, PV_EIO, NULL, "could not write the output");
  return 0;
}

static int payload_error(replay_run *run, const evt_envelope *e) {
  pv_error_set(run->err, PV_ECORRUPT, NULL, "payload of position %" PRIu64 " does not decode",
               e->position);
  pv_error_hint(run->err, "Run `pivotal replay --verify` to check the log.");
  return PV_ECORRUPT;
}

/* ---- filters ----------------------------------------------------------- */

static bool matches(const replay_opts *o, const evt_envelope *e) {
  if (o->tenant_set && !mp_slice_eq(e->tenant, o->tenant)) return false;
  if (o->stream && !mp_slice_eq(e->stream, o->stream)) return false;
  if (e->position < o->from || e->position > o->to) return false;
  if (o->since_set && e->ts_us < o->since_us) return false;
  if (o->until_set && e->ts_us > o->until_us) return false;
  if (o->actor && !mp_slice_eq(e->actor, o->actor)) return false;
  if (o->type_count) {
    size_t i = 0;
    while (i < o->type_count && !mp_slice_eq(e->type, o->types[i])) i++;
    if (i == o->type_count) return false;
  }
  return true;
}

/* ---- event listing ----------------------------------------------------- */

/* An event's payload as JSON, secret fields redacted. */
static int append_payload(pv_buf *b, const evt_envelope *e) {
  return cat_payload_json(cat_find(e->type.ptr, e->type.len, e->type_version), e->payload,
                          e->payload_len, b);
}

static int print_event(replay_run *run, const evt_envelope *e) {
  pv_buf *b = &run->line;
  if (run->o->format == FORMAT_TABLE) {
    if (!run->header_done) {
      pv_buf_addf(b, "%8s  %-27s  %-24s  %4s  %-22s  %-16s  %s", "POSITION", "TIME", "STREAM",
                  "VER", "TYPE", "ACTOR", "PAYLOAD");
      run->header_done = true;
      int rc = write_line(run);
      if (rc) return rc;
    }
    pv_buf_addf(b, "%8" PRIu64 "  ", e->position);
    add_cell_time(b, e->ts_us);
    add_cell(b, e->stream.ptr, e->stream.len, 24);
    pv_buf_addf(b, "%4" PRIu64 "  ", e->stream_version);
    add_cell(b, e->type.ptr, e->type.len, 22);
    add_cell(b, e->actor.ptr, e->actor.len, 16);
    if (append_payload(b, e)) return payload_error(run, e);
    return write_line(run);
  }
  pv_buf_addf(b, "{\"position\":%" PRIu64 ",\"ts\":", e->position);
  add_json_time(b, e->ts_us);
  pv_buf_addf(b, ",\"ts_us\":%" PRId64 ",\"tenant\":", e->ts_us);
  add_slice(b, e->tenant);
  pv_buf_addstr(b, ",\"stream\":");
  add_slice(b, e->stream);
  pv_buf_addf(b, ",\"stream_version\":%" PRIu64 ",\"type\":", e->stream_version);
  add_slice(b, e->type);
  pv_buf_addf(b, ",\"type_version\":%" PRIu32 ",\"actor\":", e->type_version);
  add_slice(b, e->actor);
  pv_buf_addstr(b, ",\"correlation\":");
  add_slice(b, e->correlation);
  pv_buf_addstr(b, ",\"idempotency\":");
  add_slice(b, e->idempotency);
  pv_buf_addstr(b, ",\"prev_hash\":\"");
  add_hex(b, e->prev_hash, EVT_HASH_BYTES);
  pv_buf_addstr(b, "\",\"hash\":\"");
  add_hex(b, e->hash, EVT_HASH_BYTES);
  pv_buf_addstr(b, "\",\"payload\":");
  if (append_payload(b, e)) return payload_error(run, e);
  pv_buf_addch(b, '}');
  return write_line(run);
}

static int visit_log(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len) {
  replay_run *run = arg;
  if (e->position > run->last_position) return 1;
  return matches(run->o, e) ? print_event(run, e) : 0;
}

/* ---- field-level history ------------------------------------------------ */

/* A field's value in a history line; secret fields show "[redacted]". */
static void add_value(pv_buf *b, mp_slice field, const uint8_t *value, size_t len) {
  if (value && cat_name_is_secret(field.ptr, field.len)) pv_buf_addstr(b, "\"[redacted]\"");
  else if (!value || mpj_append(b, value, len) != 0) pv_buf_addstr(b, "null");
}


static int print_change(void *arg, const evt_envelope *e, const hist_change *c) {
  replay_run *run = arg;
  pv_buf *b = &run->line;
  if (run->o->format == FORMAT_TABLE) {
    if (!run->header_done) {
      pv_buf_addf(b, "%8s  %-27s  %-16s  %-22s  %-16s  %s", "POSITION", "TIME", "ACTOR", "TYPE",
                  "FIELD", "OLD → NEW");
      run->header_done = true;
      int rc = write_line(run);
      if (rc) return rc;
    }
    pv_buf_addf(b, "%8" PRIu64 "  ", e->position);
    add_cell_time(b, e->ts_us);
    add_cell(b, e->actor.ptr, e->actor.len, 16);
    add_cell(b, e->type.ptr, e->type.len, 22);
    add_cell(b, c->field.ptr, c->field.len, 16);
    if (c->old_value) add_value(b, c->field, c->old_value, c->old_len);
    else pv_buf_addstr(b, "(none)");
    pv_buf_addstr(b, " → ");
    if (c->new_value) add_value(b, c->field, c->new_value, c->new_len);
    else pv_buf_addstr(b, "(removed)");
    return write_line(run);
  }
  pv_buf_addf(b, "{\"position\":%" PRIu64 ",\"ts\":", e->position);
  add_json_time(b, e->ts_us);
  pv_buf_addf(b, ",\"stream_version\":%" PRIu64 ",\"type\":", e->stream_version);
  add_slice(b, e->type);
  pv_buf_addstr(b, ",\"actor\":");
  add_slice(b, e->actor);
  pv_buf_addstr(b, ",\"field\":");
  add_slice(b, c->field);
  pv_buf_addstr(b, ",\"old\":");
  add_value(b, c->field, c->old_value, c->old_len);
  pv_buf_addstr(b, ",\"new\":");
  add_value(b, c->field, c->new_value, c->new_len);
  pv_buf_addch(b, '}');
  return write_line(run);
}

/* One event of the stream in --history, --as-of or listing mode. */
static int visit_stream_event(replay_run *run, const evt_envelope *e) {
  const replay_opts *o = run->o;
  if (o->history)
    return hist_apply(&run->state, e, matches(o, e) ? print_change : NULL, run, run->err);
  if (o->as_of) {
    if (run->as_of_position ? e->position > run->as_of_pos : e->ts_us > run->as_of_us) {
      run->as_of_done = true;
      return 1;
    }
    return hist_apply(&run->state, e, NULL, NULL, run->err);
  }
  return matches(o, e) ? print_event(run, e) : 0;
}

static int visit_stream(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len) {
  replay_run *run = arg;
  if (e->stream_version > run->last_version) return 1;
  int rc = visit_stream_event(run, e);
  if (rc) return rc;
  run->next_version = e->stream_version + 1;
  return ++run->chunk_visited >= REPLAY_CHUNK_EVENTS || run->as_of_done ? 1 : 0;
}

static void print_as_of(replay_run *run) {
  pv_buf *b = &run->line;
  pv_buf_addstr(b, "{\"tenant\":");
  mpj_append_str(b, run->o->tenant, strlen(run->o->tenant));
  pv_buf_addstr(b, ",\"stream\":");
  mpj_append_str(b, run->o->stream, strlen(run->o->stream));
  pv_buf_addf(b, ",\"version\":%" PRIu64 ",\"last_position\":%" PRIu64 ",\"last_ts\":",
              run->state.version, run->state.last_position);
  if (run->state.version) add_json_time(b, run->state.last_ts_us);
  else pv_buf_addstr(b, "null");
  pv_buf_addstr(b, ",\"fields\":");
  hist_state_json(&run->state, b);
  pv_buf_addch(b, '}');
}

/* ---- the walks ------------------------------------------------------- */

static int walk_log(log_t *log, replay_run *run) {
  uint64_t next = run->o->from ? run->o->from : 1;
  while (next <= run->last_position) {
    uint64_t from = next;
    int rc = log_scan(log, from, REPLAY_CHUNK_EVENTS, REPLAY_CHUNK_BYTES, visit_log, run, &next);
    if (rc == PV_ECORRUPT && !run->err->code) {
      pv_error_set(run->err, rc, NULL, "position %" PRIu64 " does not decode", next);
      pv_error_hint(run->err, "Run `pivotal replay --verify` to check the log.");
    }
    if (rc) return rc;
    if (next == from) break;
  }
  return 0;
}

static int walk_stream(log_t *log, replay_run *run) {
  const replay_opts *o = run->o;
  log_reader *rd;
  int rc = log_read_begin(log, &rd);
  if (rc) return pv_error_set(run->err, rc, NULL, "could not read the event log");
  rc = log_reader_stream_version(rd, o->tenant, o->stream, &run->last_version);
  log_read_end(rd);
  if (rc) return pv_error_set(run->err, rc, NULL, "could not read stream \"%s\"", o->stream);
  if (run->last_version == 0) {
    pv_error_set(run->err, PV_ENOTFOUND, NULL, "stream \"%s\" not found in tenant \"%s\"",
                 o->stream, o->tenant);
    pv_error_hint(run->err, "Streams are per tenant; check --tenant (default \"default\").");
    return PV_ENOTFOUND;
  }
  run->next_version = 1;
  while (run->next_version <= run->last_version && !run->as_of_done) {
    uint64_t from = run->next_version;
    if ((rc = log_read_begin(log, &rd)))
      return pv_error_set(run->err, rc, NULL, "could not read the event log");
    run->chunk_visited = 0;
    rc = log_read_stream(rd, o->tenant, o->stream, from, visit_stream, run);
    log_read_end(rd);
    if (rc) {
      if (!run->err->code) {
        pv_error_set(run->err, rc, NULL, "could not read stream \"%s\" from version %" PRIu64,
                     o->stream, from);
        pv_error_hint(run->err, "Run `pivotal replay --verify` to check the log.");
      }
      return rc;
    }
    if (run->next_version == from) break;
  }
  return 0;
}

static int verify(log_t *log, const replay_opts *o, pv_error *err) {
  uint64_t count = 0, bad = 0;
  uint8_t head_hash[EVT_HASH_BYTES];
  pv_buf out = PV_BUF_INIT;
  int rc = log_verify(log, &count, head_hash, &bad, err);
  if (rc == 0) {
    if (o->format == FORMAT_JSON) {
      pv_buf_addf(&out, "{\"ok\":true,\"count\":%" PRIu64 ",\"head_hash\":\"", count);
      add_hex(&out, head_hash, EVT_HASH_BYTES);
      pv_buf_addstr(&out, "\"}\n");
    } else {
      pv_buf_addf(&out, "ok: %" PRIu64 " events, head hash ", count);
      add_hex(&out, head_hash, EVT_HASH_BYTES);
      pv_buf_addch(&out, '\n');
    }
  } else if (rc == PV_ECORRUPT && o->format == FORMAT_JSON) {
    pv_buf_addf(&out, "{\"ok\":false,\"bad_position\":%" PRIu64 ",\"error\":", bad);
    mpj_append_str(&out, err->message, strlen(err->message));
    pv_buf_addstr(&out, ",\"detail\":");
    mpj_append_str(&out, err->detail, strlen(err->detail));
    pv_buf_addstr(&out, "}\n");
  }
  if (rc == PV_ECORRUPT && !err->hint[0])
    pv_error_hint(err, "The events before position %" PRIu64 " verify. Restore the log from a "
                       "backup or a replica; do not write to this copy.", bad);
  fwrite(out.data, 1, out.len, stdout);
  pv_buf_release(&out);
  return rc;
}

/* ---- main ------------------------------------------------------------- */

enum {
  OPT_DATA_DIR = 256, OPT_STREAM, OPT_TENANT, OPT_FORMAT, OPT_TYPE, OPT_ACTOR, OPT_SINCE,
  OPT_UNTIL, OPT_FROM, OPT_TO, OPT_HISTORY, OPT_AS_OF, OPT_VERIFY
};

/* Parses the options into *o. Returns 0, -1 after printing the help, or 2
 * after printing the usage. */
static int parse_options(int argc, char **argv, replay_opts *o) {
  static const struct option options[] = {
      {"data-dir", required_argument, NULL, OPT_DATA_DIR},
      {"stream", required_argument, NULL, OPT_STREAM},
      {"tenant", required_argument, NULL, OPT_TENANT},
      {"format", required_argument, NULL, OPT_FORMAT},
      {"type", required_argument, NULL, OPT_TYPE},
      {"actor", required_argument, NULL, OPT_ACTOR},
      {"since", required_argument, NULL, OPT_SINCE},
      {"until", required_argument, NULL, OPT_UNTIL},
      {"from", required_argument, NULL, OPT_FROM},
      {"to", required_argument, NULL, OPT_TO},
      {"history", no_argument, NULL, OPT_HISTORY},
      {"as-of", required_argument, NULL, OPT_AS_OF},
      {"verify", no_argument, NULL, OPT_VERIFY},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  bool filtered = false;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (opt) {
    case OPT_DATA_DIR: o->data_dir = optarg; break;
    case OPT_STREAM: o->stream = optarg; break;
    case OPT_TENANT: o->tenant = optarg; o->tenant_set = true; break;
    case OPT_FORMAT:
      if (!strcmp(optarg, "json")) o->format = FORMAT_JSON;
      else if (!strcmp(optarg, "table")) o->format = FORMAT_TABLE;
      else return usage_error("invalid --format \"%s\" (json or table)", optarg);
      break;
    case OPT_TYPE: o->types[o->type_count++] = optarg; filtered = true; break;
    case OPT_ACTOR: o->actor = optarg; filtered = true; break;
    case OPT_SINCE:
    case OPT_UNTIL: {
      int64_t *us = opt == OPT_SINCE ? &o->since_us : &o->until_us;
      if (!parse_time(optarg, us))
        return usage_error("invalid time \"%s\" (RFC 3339 or unix seconds)", optarg);
      *(opt == OPT_SINCE ? &o->since_set : &o->until_set) = true;
      filtered = true;
      break;
    }
    case OPT_FROM:
    case OPT_TO:
      if (!parse_u64(optarg, opt == OPT_FROM ? &o->from : &o->to))
        return usage_error("invalid position \"%s\"", optarg);
      filtered = true;
      break;
    case OPT_HISTORY: o->history = true; break;
    case OPT_AS_OF: o->as_of = optarg; break;
    case OPT_VERIFY: o->verify = true; break;
    case 'h': usage(stdout); return -1;
    default: usage(stderr); return 2;
    }
  }
  if (optind != argc) return usage_error("unexpected argument \"%s\"", argv[optind]);
  if (o->verify && (o->stream || o->history || o->as_of || o->tenant_set || filtered))
    return usage_error("--verify checks the whole log and takes no other option but "
                       "--data-dir and --format");
  if ((o->history || o->as_of) && !o->stream)
    return usage_error("--history and --as-of need --stream");
  if (o->history && o->as_of) return usage_error("--history and --as-of exclude each other");
  if (o->as_of && filtered)
    return usage_error("--as-of takes no filter (--type, --actor, --since, --until, --from, "
                       "--to)");
  return 0;
}

int cmd_replay(int argc, char **argv) {
  replay_opts o = {.tenant = "default", .types = pv_xcalloc((size_t)argc + 1, sizeof(char *)),
                   .to = UINT64_MAX,
                   .format = isatty(STDOUT_FILENO) ? FORMAT_TABLE : FORMAT_JSON};
  pv_error err = PV_ERROR_INIT;
  replay_run run = {.o = &o, .line = PV_BUF_INIT, .err = &err};
  hist_state_init(&run.state);
  log_t *log = NULL;
  int status = parse_options(argc, argv, &o), rc;
  if (status) {
    if (status < 0) status = 0;
    goto done;
  }
  if (o.as_of) {
    run.as_of_position = parse_u64(o.as_of, &run.as_of_pos);
    if (!run.as_of_position && !parse_time(o.as_of, &run.as_of_us)) {
      status = usage_error("invalid --as-of \"%s\" (a log position, RFC 3339 or @SECONDS)",
                           o.as_of);
      goto done;
    }
  }

  char log_dir[PATH_MAX];
  snprintf(log_dir, sizeof log_dir, "%s/log", cmd_pg_data_dir(o.data_dir));
  log_options lo = {.read_only = true};
  status = 1;
  if (log_open(&log, log_dir, &lo, &err) != 0) goto fail;

  if (o.verify) {
    if (verify(log, &o, &err) != 0) goto fail;
    status = 0;
    goto done;
  }
  run.last_position = log_head(log);
  if (o.stream) rc = walk_stream(log, &run);
  else rc = walk_log(log, &run);
  if (rc) goto fail;
  if (o.as_of) {
    print_as_of(&run);
    if (write_line(&run)) goto fail;
  }
  if (fflush(stdout) != 0) {
    pv_error_set(&err, PV_EIO, NULL, "could not write the output");
    goto fail;
  }
  status = 0;
  goto done;
fail:
  fflush(stdout);
  cmd_pg_print_error(&err);
done:
  hist_state_release(&run.state);
  pv_buf_release(&run.line);
  log_close(log);
  free(o.types);
  return status;
}
