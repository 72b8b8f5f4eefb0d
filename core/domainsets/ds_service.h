/*
 * ds_service — the domain-set worker: one thread that owns the candidate
 * indexes (one per tenant, folded from the log's account.* and contact.*
 * events and kept current by folding new events before every job) and
 * runs the jobs too long for a decide or an HTTP loop: an upload (parse,
 * normalize, match, record), a re-run, an expansion and a conversion to a
 * list. Each job ends by calling its done callback on the worker thread.
 *
 * Exact matches read the log's account_domain unique index (one short
 * read transaction per lookup, so the writer's map growth never waits on
 * a long match); fuzzy ones come from the index (ds.h). Contacts are folded
 * into a table per tenant: account, title key, seniority, department,
 * email's registrable domain, live; the per-account contact counts live in
 * the index.
 *
 * Thread: start/stop from one thread; submit from any; done callbacks on
 * the worker.
 */
#ifndef PV_DS_SERVICE_H
#define PV_DS_SERVICE_H

#include "core/domainsets/ds_set.h"

typedef struct ds_service ds_service;
typedef struct ds_job ds_job;

typedef enum ds_job_kind { DS_JOB_UPLOAD, DS_JOB_PROCESS, DS_JOB_EXPAND, DS_JOB_CONVERT } ds_job_kind;

/* Sample ids an expansion answers with: arbitrary, a page's worth. */
#define DS_EXPAND_SAMPLE 20

struct ds_job {
  /* in */
  ds_job_kind kind;
  char tenant[EVT_MAX_TENANT + 1];
  char actor[EVT_MAX_ACTOR + 1];
  char correlation[EVT_MAX_CORRELATION + 1];
  char client_id[DS_CLIENT_ID_MAX + 1]; /* "" for staff */
  char set_id[DS_SET_ID_LEN + 1];       /* process, expand, convert */
  /* upload */
  pv_buf file;
  ds_format format;
  char name[DS_SET_NAME_MAX + 1];
  char file_name[DS_SET_NAME_MAX + 1];
  bool create_stubs; /* upload, process */
  /* expand, convert */
  char title[256];        /* "" = any; else a substring of the title key */
  uint32_t seniority_mask; /* bits of norm_seniority; 0 = any */
  uint32_t department_mask; /* bits of norm_department; 0 = any */
  bool include_orphans;
  char list_name[DS_SET_NAME_MAX + 1];
  /* out */
  int status;
  pv_error error;
  char out_id[DS_SET_ID_LEN + 1]; /* the set (upload) or the list (convert) */
  uint64_t position, run;
  ds_report report;
  char set_status[16];
  uint64_t contacts, from_accounts, orphans, accounts;
  char sample[DS_EXPAND_SAMPLE][48];
  size_t sample_count;
  /* callback */
  void (*done)(ds_job *job);
  void *done_arg;
  ds_job *next_;
};

/* Returns: 0 or PV_EINTERNAL (no thread). The log and writer must outlive
 * the service. */
int ds_service_start(ds_service **out, log_t *log, writer_t *writer, pv_error *err);
/* Finishes the queued jobs, joins the thread and frees. NULL is fine. */
void ds_service_stop(ds_service *s);
/* Queues a job (owned by the caller until done). Returns: 0 or
 * PV_ESHUTDOWN. */
int ds_service_submit(ds_service *s, ds_job *job);

#endif
